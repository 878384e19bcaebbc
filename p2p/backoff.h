// Small timing helpers of the peer logic: exponential back-off with jitter, and a token
// bucket. Pure functions of their arguments and a caller-owned seeded generator.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>

#include "p2p/types.h"

namespace hearsay {

// Delay before the next attempt after `failures` consecutive failures (≥ 1): the base
// min·2^(failures−1), capped at max, with "equal jitter" — uniform in [base/2, base] — so
// nodes that failed together do not retry together, and the delay never shrinks as failures
// grow (each draw is ≥ the previous base ≥ the previous draw).
inline Duration backoff_delay(uint32_t failures, Duration min, Duration max, std::mt19937_64& rng) {
  if (failures == 0) return Duration(0);
  if (max < min) max = min;
  Duration base = min;
  for (uint32_t i = 1; i < failures && base < max; ++i)
    base *= 2;
  base = std::min(base, max);
  const int64_t half = base.count() / 2;
  std::uniform_int_distribution<int64_t> jitter(0, base.count() - half);
  return Duration(half + jitter(rng));
}

// Token bucket: `rate` tokens per second, at most `cap` stored. Refilled lazily from `now`.
class TokenBucket {
 public:
  TokenBucket(double rate_per_second, double cap, double initial, Time now)
      : m_rate(rate_per_second), m_cap(cap), m_tokens(std::min(initial, cap)), m_last(now) {}

  void refill(Time now) {
    if (now <= m_last) return;
    const double seconds = static_cast<double>((now - m_last).count()) / 1e6;
    m_tokens = std::min(m_cap, m_tokens + seconds * m_rate);
    m_last = now;
  }
  // Takes one token if there is one.
  bool take() {
    if (m_tokens < 1.0) return false;
    m_tokens -= 1.0;
    return true;
  }
  // Grants extra tokens (e.g. for an answer we asked for), still capped.
  void add(double n) { m_tokens = std::min(m_cap, m_tokens + n); }
  double tokens() const { return m_tokens; }

 private:
  double m_rate;
  double m_cap;
  double m_tokens;
  Time m_last;
};

}  // namespace hearsay
