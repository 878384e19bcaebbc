#include "p2p/phi_accrual.h"

#include <algorithm>

#include "crypto/result.h"

namespace hearsay {

PhiAccrualDetector::PhiAccrualDetector(Duration min_mean, Duration max_interval)
    : m_min_mean(std::max(min_mean, Duration(1))), m_max_interval(max_interval) {}

void PhiAccrualDetector::add_interval(int64_t us) {
  if (m_count == kPhiWindow) m_sum -= m_intervals[m_next];
  m_intervals[m_next] = us;
  m_sum += us;
  m_next = (m_next + 1) % kPhiWindow;
  m_count = std::min(m_count + 1, kPhiWindow);
}

void PhiAccrualDetector::heartbeat(Time now) {
  if (!m_started) {
    m_started = true;
    m_last = now;
    add_interval(m_min_mean.count());
    return;
  }
  if (now <= m_last) return;  // same instant (or a clock that went back): nothing learned
  const Duration interval = now - m_last;
  m_last = now;
  if (interval <= m_max_interval) add_interval(interval.count());
}

Duration PhiAccrualDetector::mean() const {
  if (m_count == 0) return m_min_mean;
  return std::max(Duration(m_sum / static_cast<int64_t>(m_count)), m_min_mean);
}

double PhiAccrualDetector::phi(Time now) const {
  if (!m_started || now <= m_last) return 0.0;
  const double silence = static_cast<double>((now - m_last).count());
  return kPhiFactor * silence / static_cast<double>(mean().count());
}

Duration PhiAccrualDetector::silence_for(double phi, Duration mean) {
  return Duration(static_cast<int64_t>(phi / kPhiFactor * static_cast<double>(mean.count())));
}

void PhiAccrualDetector::sanity_check() const {
  HEARSAY_CHECK(m_count <= kPhiWindow);
  HEARSAY_CHECK(m_next < kPhiWindow);
  HEARSAY_CHECK(m_started || m_count == 0);
  int64_t sum = 0;
  for (size_t i = 0; i < m_count; ++i) {
    const int64_t v = m_intervals[(m_next + kPhiWindow - 1 - i) % kPhiWindow];
    HEARSAY_CHECK(v > 0);
    sum += v;
  }
  HEARSAY_CHECK(sum == m_sum);
}

}  // namespace hearsay
