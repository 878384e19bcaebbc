#include "node/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <memory>

namespace hearsay {
namespace {

struct LevelName {
  const char* name;
  LogLevel level;
};
constexpr LevelName kLevels[] = {
    {"trace", LogLevel::kTrace},       {"debug", LogLevel::kDebug},  {"info", LogLevel::kInfo},
    {"warn", LogLevel::kWarn},         {"warning", LogLevel::kWarn}, {"error", LogLevel::kError},
    {"critical", LogLevel::kCritical}, {"off", LogLevel::kOff},
};

spdlog::level::level_enum to_spdlog(LogLevel l) {
  switch (l) {
    case LogLevel::kTrace:
      return spdlog::level::trace;
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
    case LogLevel::kCritical:
      return spdlog::level::critical;
    case LogLevel::kOff:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

// ISO 8601 UTC with microseconds, then the level and the text.
constexpr const char* kPattern = "%Y-%m-%dT%H:%M:%S.%fZ [%l] %v";

}  // namespace

Result<LogLevel, std::string> parse_log_level(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const LevelName& l : kLevels)
    if (lower == l.name) return l.level;
  return fail("unknown log level '" + std::string(name) +
              "': use trace, debug, info, warn, error, critical or off");
}

const char* to_string(LogLevel level) {
  for (const LevelName& l : kLevels)
    if (l.level == level) return l.name;
  return "info";
}

Status setup_logging(LogLevel level, const std::string& file) {
  std::shared_ptr<spdlog::logger> logger;
  try {
    if (file.empty()) {
      logger = std::make_shared<spdlog::logger>("hearsay",
                                                std::make_shared<spdlog::sinks::stderr_sink_mt>());
    } else {
      logger = std::make_shared<spdlog::logger>(
          "hearsay", std::make_shared<spdlog::sinks::basic_file_sink_mt>(file, false));
    }
  } catch (const spdlog::spdlog_ex& e) {
    return fail("cannot open log file " + file + ": " + e.what() +
                " (check that its directory exists and is writable, or change --log-file)");
  }
  logger->set_pattern(kPattern, spdlog::pattern_time_type::utc);
  logger->set_level(to_spdlog(level));
  // Warnings and worse reach the disk at once; a crash loses at most informational lines.
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
  return {};
}

Status setup_logging(std::string_view level, const std::string& file) {
  auto l = parse_log_level(level);
  if (!l) return fail(l.error());
  return setup_logging(*l, file);
}

void log_line(LogLevel level, std::string_view text) {
  spdlog::log(to_spdlog(level), "{}", text);
}

void flush_log() {
  spdlog::default_logger()->flush();
}

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

bool RateLimitedLog::warn(std::string_view key, std::string_view message) {
  Decision d = check(key, Clock::now());
  if (!d.log) return false;
  if (d.suppressed > 0)
    spdlog::warn("{} ({} similar lines suppressed)", message, d.suppressed);
  else
    spdlog::warn("{}", message);
  return true;
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

}  // namespace hearsay
