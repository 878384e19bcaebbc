// The real hearsayd as an operator runs it: its debug.log in the data directory, written while
// it runs; SIGHUP reopens the log (logrotate) and never stops it; SIGTERM and the `stop` RPC
// each stop it cleanly and say which one did.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>

#include "node/rpc_client.h"
#include "testing/daemon.h"
#include "testing/process.h"
#include "testing/testnet.h"

namespace hearsay::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

bool contains(const std::string& path, const std::string& needle) {
  return read_file(path).find(needle) != std::string::npos;
}

TEST(DaemonOps, DebugLogInTheDatadirSurvivesSighupRotationAndSigtermSavesState) {
  TempDir dir;
  const std::string datadir = dir.file("node");
  const std::string log = datadir + "/debug.log";
  std::unique_ptr<Process> daemon;
  ASSERT_NE(start_daemon(daemon, dir, datadir, "daemon", {}, "info"), 0);

  // The start-up lines reach debug.log while the node runs (no warning, no stop to flush them).
  EXPECT_TRUE(wait_until([&] { return contains(log, "hearsayd 0.1.0 on devnet"); }))
      << read_file(log);
  EXPECT_TRUE(contains(log, "data directory " + datadir)) << read_file(log);
  EXPECT_TRUE(daemon->running());

  // logrotate: rename, then SIGHUP: a new debug.log, the node still running.
  ASSERT_EQ(std::rename(log.c_str(), (log + ".1").c_str()), 0);
  daemon->signal(SIGHUP);
  EXPECT_TRUE(wait_until([&] { return contains(log, "SIGHUP received: log file"); }))
      << "stderr: " << daemon->err();
  EXPECT_TRUE(daemon->running()) << "exit " << daemon->wait(0ms).value_or(-1);
  EXPECT_FALSE(contains(log, "hearsayd 0.1.0 on devnet")) << "the old lines stay in debug.log.1";
  EXPECT_TRUE(contains(log + ".1", "hearsayd 0.1.0 on devnet"));

  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait(10s), std::optional<int>(0)) << daemon->err();
  EXPECT_TRUE(contains(log, "SIGTERM received: stopping")) << read_file(log);
  EXPECT_TRUE(contains(log, "stopped")) << read_file(log);
  EXPECT_TRUE(std::filesystem::exists(datadir + "/peers.dat"));
  EXPECT_TRUE(std::filesystem::exists(datadir + "/banlist.dat"));
}

TEST(DaemonOps, StopRpcIsLoggedAsRequestedByRpc) {
  TempDir dir;
  const std::string datadir = dir.file("node");
  std::unique_ptr<Process> daemon;
  const uint16_t port = start_daemon(daemon, dir, datadir, "daemon", {}, "info");
  ASSERT_NE(port, 0);
  auto stopped = daemon_client(port, datadir).call("stop", json::array{});
  ASSERT_TRUE(stopped.ok()) << stopped.error().one_line();
  EXPECT_EQ(daemon->wait(10s), std::optional<int>(0)) << daemon->err();
  const std::string text = read_file(datadir + "/debug.log");
  EXPECT_NE(text.find("stop requested by RPC"), std::string::npos) << text;
  EXPECT_EQ(text.find("SIGTERM"), std::string::npos) << text;
}

TEST(DaemonOps, LogFileNoneWritesNoFileAndLogFileElsewhere) {
  TempDir dir;
  const std::string datadir = dir.file("node");
  const std::string elsewhere = dir.file("logs/hearsayd.log");
  std::unique_ptr<Process> daemon;
  ASSERT_NE(start_daemon(daemon, dir, datadir, "elsewhere", {"--log-file", elsewhere}, "info"), 0);
  EXPECT_TRUE(wait_until([&] { return contains(elsewhere, "hearsayd 0.1.0 on devnet"); }));
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait(10s), std::optional<int>(0)) << daemon->err();
  EXPECT_FALSE(std::filesystem::exists(datadir + "/debug.log"));

  ASSERT_NE(start_daemon(daemon, dir, datadir, "none", {"--log-file", "none"}, "info"), 0);
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait(10s), std::optional<int>(0)) << daemon->err();
  EXPECT_FALSE(std::filesystem::exists(datadir + "/debug.log"));
  EXPECT_FALSE(std::filesystem::exists(datadir + "/none"));
  EXPECT_NE(daemon->err().find("SIGTERM received"), std::string::npos) << "stderr stays on";
}

}  // namespace
}  // namespace hearsay::test
