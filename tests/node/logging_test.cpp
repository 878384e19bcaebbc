// Logging: level names, the file sink and its errors, and the per-key rate limiter.
#include "node/logging.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "testing/test_util.h"
#include "testing/wait.h"

namespace hearsay {
namespace {

using namespace std::chrono_literals;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Puts the default stderr logger back after a test that replaced it.
struct RestoreLogging {
  ~RestoreLogging() { (void)setup_logging(LogLevel::kInfo, ""); }
};

TEST(Logging, LevelNames) {
  const std::pair<const char*, LogLevel> names[] = {
      {"trace", LogLevel::kTrace},       {"debug", LogLevel::kDebug},  {"info", LogLevel::kInfo},
      {"warn", LogLevel::kWarn},         {"WARNING", LogLevel::kWarn}, {"Error", LogLevel::kError},
      {"critical", LogLevel::kCritical}, {"off", LogLevel::kOff}};
  for (const auto& [name, level] : names) {
    auto l = parse_log_level(name);
    ASSERT_TRUE(l) << name;
    EXPECT_EQ(*l, level) << name;
  }
  for (LogLevel l : {LogLevel::kTrace, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kOff})
    EXPECT_EQ(*parse_log_level(to_string(l)), l);
  auto bad = parse_log_level("loud");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("'loud'"), std::string::npos);
  EXPECT_NE(bad.error().find("trace, debug, info, warn, error, critical or off"),
            std::string::npos);
  Status s = setup_logging("loud", "");
  EXPECT_FALSE(s);
}

TEST(Logging, FileSinkAppendsAtTheLevel) {
  RestoreLogging restore;
  test::TempDir dir;
  const std::string path = dir.file("hearsay.log");
  { std::ofstream(path) << "earlier line\n"; }
  Status s = setup_logging(LogLevel::kWarn, path);
  ASSERT_TRUE(s) << s.message();
  log_line(LogLevel::kInfo, "not at this level");
  log_line(LogLevel::kWarn, "a warning 42");
  flush_log();
  const std::string text = slurp(path);
  EXPECT_TRUE(text.starts_with("earlier line\n")) << text;
  EXPECT_NE(text.find("[warning] a warning 42"), std::string::npos) << text;
  EXPECT_EQ(text.find("not at this level"), std::string::npos) << text;
  EXPECT_NE(text.find("Z [warning]"), std::string::npos) << text;  // UTC timestamps
}

TEST(Logging, UnopenableFileIsNamed) {
  RestoreLogging restore;
  test::TempDir dir;
  // spdlog creates missing directories; a regular file where a directory should be fails
  // (for root too).
  { std::ofstream(dir.file("plain")) << "x"; }
  const std::string path = dir.file("plain/hearsay.log");
  Status s = setup_logging(LogLevel::kInfo, path);
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("--log-file"), std::string::npos) << s.message();
}

// `tail -f` follows the file: an informational line reaches it with no warning and no explicit
// flush.
TEST(Logging, InfoLinesReachTheFileWithoutAWarning) {
  RestoreLogging restore;
  test::TempDir dir;
  const std::string path = dir.file("debug.log");
  ASSERT_TRUE(setup_logging(LogLevel::kInfo, path, /*to_stderr=*/false));
  log_line(LogLevel::kInfo, "an informational line 7");
  EXPECT_TRUE(test::wait_until([&] {
    return slurp(path).find("[info] an informational line 7") != std::string::npos;
  })) << slurp(path);
}

// logrotate: the file is renamed, then reopened: the lines go on in a new file of the old name.
TEST(Logging, ReopenAfterRenameWritesANewFile) {
  RestoreLogging restore;
  test::TempDir dir;
  const std::string path = dir.file("debug.log");
  ASSERT_TRUE(setup_logging(LogLevel::kInfo, path, /*to_stderr=*/false));
  log_line(LogLevel::kInfo, "before the rotation");
  ASSERT_EQ(std::rename(path.c_str(), (path + ".1").c_str()), 0);
  Status s = reopen_log_file();
  ASSERT_TRUE(s) << s.message();
  log_line(LogLevel::kInfo, "after the rotation");
  flush_log();
  const std::string fresh = slurp(path);
  const std::string rotated = slurp(path + ".1");
  EXPECT_NE(fresh.find("after the rotation"), std::string::npos) << fresh;
  EXPECT_EQ(fresh.find("before the rotation"), std::string::npos) << fresh;
  EXPECT_NE(rotated.find("before the rotation"), std::string::npos) << rotated;
  EXPECT_EQ(rotated.find("after the rotation"), std::string::npos) << rotated;
}

TEST(Logging, ReopenWithoutAFileDoesNothing) {
  RestoreLogging restore;
  ASSERT_TRUE(setup_logging(LogLevel::kInfo, ""));
  EXPECT_TRUE(reopen_log_file());
}

TEST(RateLimitedLog, WarnWritesThroughSpdlog) {
  RestoreLogging restore;
  test::TempDir dir;
  const std::string path = dir.file("warn.log");
  ASSERT_TRUE(setup_logging(LogLevel::kInfo, path));
  RateLimitedLog rl(1, std::chrono::hours(1));
  EXPECT_TRUE(rl.warn("k", "first"));
  EXPECT_FALSE(rl.warn("k", "second"));
  flush_log();
  const std::string text = slurp(path);
  EXPECT_NE(text.find("first"), std::string::npos);
  EXPECT_EQ(text.find("second"), std::string::npos);
}

}  // namespace
}  // namespace hearsay
