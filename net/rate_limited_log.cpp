#include "net/rate_limited_log.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "crypto/result.h"

namespace hearsay {

RateLimitedLog::RateLimitedLog(size_t max_lines, Clock::duration interval, size_t max_keys)
    : m_max_lines(max_lines), m_interval(interval), m_max_keys(std::max<size_t>(max_keys, 1)) {}

void RateLimitedLog::drop_expired(Clock::time_point now) {
  // A window whose interval passed and that has nothing left to report is forgotten; its
  // suppressed count (if any) was counted in m_suppressed_total already.
  std::erase_if(m_windows, [&](const auto& kv) { return now - kv.second.start >= m_interval; });
}

RateLimitedLog::Decision RateLimitedLog::check(std::string_view key, Clock::time_point now) {
  std::lock_guard lock(m_mutex);
  auto it = m_windows.find(std::string(key));
  if (it == m_windows.end()) {
    if (m_windows.size() >= m_max_keys) drop_expired(now);
    std::string k(key);
    if (m_windows.size() >= m_max_keys) {
      k = std::string(kRateLimitOverflowKey);
      it = m_windows.find(k);
      if (it == m_windows.end() && m_windows.size() >= m_max_keys) {
        // Full of live keys and no overflow entry yet: make room for it by sacrificing one
        // (its pending suppressed count is still in m_suppressed_total).
        m_windows.erase(m_windows.begin());
      }
    }
    if (it == m_windows.end()) it = m_windows.emplace(std::move(k), Window{now, 0, 0}).first;
  }
  Window& w = it->second;
  if (now - w.start >= m_interval) {
    w.start = now;
    w.lines = 0;
  }
  Decision d;
  if (w.lines < m_max_lines) {
    ++w.lines;
    d.log = true;
    d.suppressed = w.suppressed;
    w.suppressed = 0;
  } else {
    ++w.suppressed;
    ++m_suppressed_total;
  }
  return d;
}

bool RateLimitedLog::log(int level, std::string_view key, std::string_view message) {
  Decision d = check(key, Clock::now());
  if (!d.log) return false;
  const auto lvl = static_cast<spdlog::level::level_enum>(level);
  if (d.suppressed > 0)
    spdlog::log(lvl, "{} ({} similar lines suppressed)", message, d.suppressed);
  else
    spdlog::log(lvl, "{}", message);
  return true;
}

bool RateLimitedLog::warn(std::string_view key, std::string_view message) {
  return log(spdlog::level::warn, key, message);
}

bool RateLimitedLog::info(std::string_view key, std::string_view message) {
  return log(spdlog::level::info, key, message);
}

uint64_t RateLimitedLog::suppressed_total() const {
  std::lock_guard lock(m_mutex);
  return m_suppressed_total;
}

size_t RateLimitedLog::key_count() const {
  std::lock_guard lock(m_mutex);
  return m_windows.size();
}

void RateLimitedLog::sanity_check() const {
  std::lock_guard lock(m_mutex);
  HEARSAY_CHECK(m_windows.size() <= m_max_keys);
  for (const auto& [key, w] : m_windows)
    HEARSAY_CHECK(w.lines <= m_max_lines);
}

RateLimitedLog& peer_log() {
  static RateLimitedLog log(kPeerLogLines, kPeerLogInterval);
  return log;
}

}  // namespace hearsay
