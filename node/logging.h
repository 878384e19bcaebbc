// Logging set-up (spdlog) and a rate limiter for log lines a peer can provoke.
//
// setup_logging() installs the process's default spdlog logger: one sink, a file (appended to)
// when a path is given, stderr otherwise; every line "2026-01-02T03:04:05.678901Z [warn] text"
// in UTC. Call it once at start-up, before other threads log.
//
// RateLimitedLog: a peer that misbehaves in a loop must not be able to fill the disk through
// our warnings. Each key (e.g. "bad-tx:<peer>") may log at most `max_lines` lines per
// `interval`; further lines are counted, not written, and the next line written for that key
// says how many were suppressed. Memory: at most `max_keys` keys (kRateLimitMaxKeys by
// default); when full, expired windows are dropped first, then every new key shares one
// overflow key, so an adversary choosing keys cannot grow the map. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "crypto/result.h"

namespace hearsay {

// Our own level names (spdlog's names, so --log-level reads the same), without spdlog's types.
enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kCritical, kOff };

// "trace", "debug", "info", "warn" (or "warning"), "error", "critical", "off"; any case.
// The error lists the accepted names.
Result<LogLevel, std::string> parse_log_level(std::string_view name);
const char* to_string(LogLevel level);

// Installs the default logger at `level`, writing to `file` (appending; created if missing)
// or to stderr when `file` is empty. The error names the file and why it cannot be opened.
Status setup_logging(LogLevel level, const std::string& file);
// The same, with the level by name (as --log-level gives it).
Status setup_logging(std::string_view level, const std::string& file);

// Writes one line at `level` through the default logger (for code that does not include
// spdlog, and tests), and flushes it.
void log_line(LogLevel level, std::string_view text);
void flush_log();

// Keys tracked at once by a RateLimitedLog by default (one per misbehaving peer is plenty).
inline constexpr size_t kRateLimitMaxKeys = 1024;
// The key that every key beyond max_keys shares.
inline constexpr std::string_view kRateLimitOverflowKey = "(other)";

class RateLimitedLog {
 public:
  using Clock = std::chrono::steady_clock;

  RateLimitedLog(size_t max_lines, Clock::duration interval, size_t max_keys = kRateLimitMaxKeys);

  struct Decision {
    bool log = false;         // write this line
    uint64_t suppressed = 0;  // lines of this key suppressed since its last written line
  };
  // Whether a line of `key` may be written at `now` (counts it either way).
  Decision check(std::string_view key, Clock::time_point now);

  // Logs `message` at warning level through spdlog when check(key, now()) allows it, adding
  // "(N similar lines suppressed)" when some were. Returns whether it logged.
  bool warn(std::string_view key, std::string_view message);

  // Lines suppressed in total since construction.
  uint64_t suppressed_total() const;
  size_t key_count() const;
  void sanity_check() const;

 private:
  struct Window {
    Clock::time_point start;
    size_t lines = 0;         // written in this window
    uint64_t suppressed = 0;  // not yet reported
  };
  void drop_expired(Clock::time_point now);

  const size_t m_max_lines;
  const Clock::duration m_interval;
  const size_t m_max_keys;
  mutable std::mutex m_mutex;
  std::unordered_map<std::string, Window> m_windows;
  uint64_t m_suppressed_total = 0;
};

}  // namespace hearsay
