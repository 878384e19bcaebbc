// Logging set-up (spdlog) and a rate limiter for log lines a peer can provoke.
//
// setup_logging() installs the process's default spdlog logger: stderr and, when a path is
// given, a file (appended to); either may be left out. Every line reads
// "2026-01-02T03:04:05.678901Z [warn] text" in UTC. The file is flushed at once for warnings and
// worse and at least every kLogFlushInterval otherwise, so `tail -f` follows it; a crash loses
// at most that interval of informational lines. reopen_log_file() closes the file and opens its
// path again (after logrotate renamed it: the lines go on in a new file of the same name).
// Call setup_logging() at start-up before other threads log; it starts spdlog's flush thread,
// which inherits the caller's signal mask.
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

// The longest an informational line waits in the file's buffer.
inline constexpr std::chrono::seconds kLogFlushInterval{1};

// Installs the default logger at `level`, writing to `file` (appending; created with its
// directories if missing; empty: no file) and to stderr when `to_stderr`. The error names the
// file and why it cannot be opened.
Status setup_logging(LogLevel level, const std::string& file, bool to_stderr = true);
// The same, with the level by name (as --log-level gives it).
Status setup_logging(std::string_view level, const std::string& file, bool to_stderr = true);

// Closes the default logger's file and opens its path again, appending (creating it if it was
// renamed or removed). Without a file, nothing to do. On failure the old file stays in use and
// the error names the path.
Status reopen_log_file();

// Writes one line at `level` through the default logger (for code that does not include
// spdlog, and tests); flush_log() flushes every sink at once.
void log_line(LogLevel level, std::string_view text);
void flush_log();

}  // namespace hearsay
