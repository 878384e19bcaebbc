#include "node/logging.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

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

// Opens `path` for appending, creating its directories first; the error names the path.
Result<std::FILE*, std::string> open_append(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  std::FILE* f = std::fopen(path.c_str(), "ab");
  if (!f)
    return fail("cannot open log file " + path + ": " + std::strerror(errno) +
                " (check that its directory exists and is writable, or change --log-file; "
                "--log-file none writes no file)");
  return f;
}

// A file sink whose file can be opened again under the same path (for log rotation). A write
// that fails (a full disk) loses the line, never the node.
class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  ReopenableFileSink(std::string path, std::FILE* file) : m_path(std::move(path)), m_file(file) {}
  ~ReopenableFileSink() override { std::fclose(m_file); }
  ReopenableFileSink(const ReopenableFileSink&) = delete;
  ReopenableFileSink& operator=(const ReopenableFileSink&) = delete;

  Status reopen() {
    auto f = open_append(m_path);
    if (!f) return fail(f.error());
    std::lock_guard<std::mutex> lock(mutex_);
    std::fclose(m_file);
    m_file = *f;
    return {};
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    (void)std::fwrite(line.data(), 1, line.size(), m_file);
  }
  void flush_() override { std::fflush(m_file); }

 private:
  const std::string m_path;
  std::FILE* m_file;  // never null
};

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

Status setup_logging(LogLevel level, const std::string& file, bool to_stderr) {
  std::vector<spdlog::sink_ptr> sinks;
  if (to_stderr) sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (!file.empty()) {
    auto f = open_append(file);
    if (!f) return fail(f.error());
    sinks.push_back(std::make_shared<ReopenableFileSink>(file, *f));
  }
  auto logger = std::make_shared<spdlog::logger>("hearsay", sinks.begin(), sinks.end());
  logger->set_pattern(kPattern, spdlog::pattern_time_type::utc);
  logger->set_level(to_spdlog(level));
  // Warnings and worse reach the disk at once, the rest within kLogFlushInterval.
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
  spdlog::flush_every(kLogFlushInterval);
  return {};
}

Status setup_logging(std::string_view level, const std::string& file, bool to_stderr) {
  auto l = parse_log_level(level);
  if (!l) return fail(l.error());
  return setup_logging(*l, file, to_stderr);
}

Status reopen_log_file() {
  for (const spdlog::sink_ptr& sink : spdlog::default_logger()->sinks())
    if (auto* file = dynamic_cast<ReopenableFileSink*>(sink.get()))
      if (Status s = file->reopen(); !s) return s;
  return {};
}

void log_line(LogLevel level, std::string_view text) {
  spdlog::log(to_spdlog(level), "{}", text);
}

void flush_log() {
  spdlog::default_logger()->flush();
}

}  // namespace hearsay
