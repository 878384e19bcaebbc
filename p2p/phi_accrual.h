// PhiAccrualDetector: failure detection over message arrival times, as Cassandra does it.
//
// Rules. The detector keeps the last kPhiWindow intervals between arrivals of a peer's
// messages (any message: pongs, relay traffic). Assuming exponentially distributed intervals
// with the observed mean (Cassandra's FailureDetector), the suspicion level after a silence of
// t is
//     phi(t) = -log10(P(interval > t)) = t / mean * log10(e)
// so phi 1 means "a silence this long happens one time in 10", phi 8 "one time in 10^8".
// The mean is never taken below `min_mean`: the caller pings every ping interval, so a live
// peer answers at least that often, and a burst of relay traffic (many messages per second)
// must not make an ordinary pause between pings look like failure. Intervals longer than
// `max_interval` are not recorded (Cassandra ignores them too): a peer that was silent once
// and came back must not teach the detector to tolerate ever longer silences. The first
// arrival seeds the window with one interval of `min_mean`.
//
// Bounds that follow: a silent peer reaches phi p after exactly
//     silence_for(p) = p * max(mean, min_mean) / log10(e)
// (with the defaults of PeerManager — ping every 5 s — phi 8 after 92 s, phi 16 after 184 s).
// A peer whose messages arrive steadily every T (however slow) never exceeds
// phi = log10(e) ≈ 0.43 at the moment its next message is due, once the window holds its
// intervals.
//
// Adversary: the peer controls when its messages arrive, so it can stretch the mean (by
// sending rarely) up to max_interval and thereby delay suspicion; the caller's hard idle
// timeout is the backstop. Memory: kPhiWindow intervals (constant); every call O(1).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "p2p/types.h"

namespace hearsay {

// Intervals remembered per peer (Cassandra keeps 1,000 for 1 s gossip; our heartbeats are a
// few seconds apart, so 100 cover several minutes of history at 800 bytes per peer).
inline constexpr size_t kPhiWindow = 100;
// log10(e): converts "silence / mean" to phi under the exponential model.
inline constexpr double kPhiFactor = 0.4342944819032518;

class PhiAccrualDetector {
 public:
  PhiAccrualDetector(Duration min_mean, Duration max_interval);

  // A message from the peer arrived at `now` (monotonic: `now` earlier than the last arrival
  // is treated as the same instant).
  void heartbeat(Time now);
  // Suspicion level at `now`; 0 before the first heartbeat.
  double phi(Time now) const;
  // The mean interval used by phi() (never below min_mean).
  Duration mean() const;
  bool started() const { return m_started; }
  Time last_arrival() const { return m_last; }
  size_t samples() const { return m_count; }

  // How long a silence must last for phi to reach `phi` with mean interval `mean`.
  static Duration silence_for(double phi, Duration mean);

  void sanity_check() const;

 private:
  void add_interval(int64_t us);

  Duration m_min_mean;
  Duration m_max_interval;
  std::array<int64_t, kPhiWindow> m_intervals{};  // ring buffer, microseconds
  size_t m_next = 0;                              // where the next interval goes
  size_t m_count = 0;                             // valid intervals, ≤ kPhiWindow
  int64_t m_sum = 0;                              // sum of the valid intervals
  Time m_last{};
  bool m_started = false;
};

}  // namespace hearsay
