// Logging set-up (spdlog) and a rate limiter for log lines a peer can provoke.
//
// setup_logging() installs the process's default spdlog logger: one sink, a file (appended to)
// when a path is given, stderr otherwise; every line "2026-01-02T03:04:05.678901Z [warn] text"
// in UTC. Call it once at start-up, before other threads log.
//
// RateLimitedLog (net/rate_limited_log.h, where the network code uses it) limits the lines a
// peer can provoke.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "crypto/result.h"
#include "net/rate_limited_log.h"

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

}  // namespace hearsay
