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

}  // namespace hearsay
