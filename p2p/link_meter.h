// LinkMeter: what one peer's link delivers, measured from the answers to our requests, and the
// request window that keeps it busy. Sans-IO: it is handed times, never reads a clock.
//
// Each answered request gives a round-trip sample (request sent → answer handled) and counts one
// delivery. Deliveries are counted over samples of at least kRateSamplePeriod, each closed by
// the first answer after that span or by the caller's timer (close_sample: answers that came in
// one burst and then stopped, because nothing else was asked yet, are measured too); the rate is
// the best sample, the round trip the shortest, both over the last one to two kLinkFilterPeriods
// (two buckets: this period's and the last, as BBR's windowed filters). The window is twice
// their product, the link's bandwidth-delay product, between a floor and a ceiling: when the
// window is what limits the link, the rate grows with it and the window doubles each round trip
// (slow start); when the link or the answering node is the limit, the window stops at twice
// what fills it, so more requests would only queue.
//
// Adversary: the peer controls both measures (it can answer fast, then slowly); neither lifts
// the window above the ceiling, and the floor is what every peer gets anyway.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>

#include "p2p/types.h"

namespace hearsay {

inline constexpr Duration kRateSamplePeriod = std::chrono::milliseconds(100);
inline constexpr Duration kLinkFilterPeriod = std::chrono::seconds(5);

class LinkMeter {
 public:
  // A request sent at `asked` was answered at `now`. True when a rate sample closed (the
  // window may have changed).
  bool delivered(Time asked, Time now) {
    rotate(now);
    const Duration rtt = std::max(Duration::zero(), now - asked);
    m_rtt[0] = m_rtt[0] ? std::min(*m_rtt[0], rtt) : rtt;
    if (!m_sample_start) {  // the first delivery opens a sample; those after it are counted
      m_sample_start = now;
      return false;
    }
    ++m_count;
    return close_sample(now);
  }

  // Closes the open sample if it spans kRateSamplePeriod by `now`, answers or not (the caller's
  // timer: a burst of answers followed by silence is still measured). True when it closed.
  bool close_sample(Time now) {
    if (!m_sample_start || m_count == 0) return false;
    const Duration span = now - *m_sample_start;
    if (span < kRateSamplePeriod) return false;
    rotate(now);
    const double rate = double(m_count) / std::chrono::duration<double>(span).count();
    m_rate[0] = std::max(m_rate[0], rate);
    m_count = 0;
    m_sample_start = now;
    return true;
  }

  // Deliveries per second (0: no sample closed yet in the last two periods).
  double rate() const { return std::max(m_rate[0], m_rate[1]); }
  std::optional<Duration> min_rtt() const {
    if (m_rtt[0] && m_rtt[1]) return std::min(*m_rtt[0], *m_rtt[1]);
    return m_rtt[0] ? m_rtt[0] : m_rtt[1];
  }

  // 2 × rate × shortest round trip, within [floor, ceiling] (floor until both are measured).
  size_t window(size_t floor, size_t ceiling) const {
    const auto rtt = min_rtt();
    if (!rtt || rate() <= 0) return floor;
    const double bdp = rate() * std::chrono::duration<double>(*rtt).count();
    const double w = std::ceil(2 * bdp);
    const size_t top = std::max(floor, ceiling);
    return w >= double(top) ? top : std::max(floor, size_t(w));
  }

  // True when `backlog` requests would be answered within `within` at the measured rate
  // (false while the rate is unknown).
  bool drains_within(size_t backlog, Duration within) const {
    return rate() > 0 && double(backlog) < rate() * std::chrono::duration<double>(within).count();
  }

 private:
  void rotate(Time now) {
    if (!m_period_start) m_period_start = now;
    if (now - *m_period_start < kLinkFilterPeriod) return;
    // A whole period or more went by since this one began: shift (twice if two went by).
    const bool two = now - *m_period_start >= 2 * kLinkFilterPeriod;
    m_rate[1] = two ? 0 : m_rate[0];
    m_rtt[1] = two ? std::nullopt : m_rtt[0];
    m_rate[0] = 0;
    m_rtt[0].reset();
    m_period_start = now;
  }

  std::optional<Time> m_period_start;
  std::optional<Time> m_sample_start;
  size_t m_count = 0;
  double m_rate[2] = {0, 0};
  std::optional<Duration> m_rtt[2];
};

}  // namespace hearsay
