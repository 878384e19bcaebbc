// The real programs: hearsayd started, injected into by hearsay-cli, stopped by SIGTERM in the
// middle of the injection, restarted: nothing it acknowledged is lost.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>

#include "node/rpc_client.h"
#include "tests/integration/process_util.h"
#include "tests/integration/testnet_util.h"

namespace hearsay::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// Starts hearsayd on an ephemeral P2P and RPC port and returns its RPC port (read from the
// lines it prints at start), or 0.
uint16_t start_daemon(std::unique_ptr<Process>& p, const TempDir& dir, const std::string& datadir,
                      const std::string& tag) {
  p = std::make_unique<Process>(
      std::vector<std::string>{bin_path("hearsayd"), "--datadir", datadir, "--listen",
                               "127.0.0.1:0", "--rpc", "127.0.0.1:0", "--log-level", "warn"},
      dir.file(tag + ".out"), dir.file(tag + ".err"));
  uint16_t port = 0;
  wait_until(
      [&] {
        std::istringstream lines(p->out());
        for (std::string line; std::getline(lines, line);)
          if (line.rfind("rpc ", 0) == 0)
            port = static_cast<uint16_t>(std::stoi(line.substr(line.rfind(':') + 1)));
        return port != 0 || !p->running();
      },
      30s);
  EXPECT_NE(port, 0) << "hearsayd printed no RPC address; stderr: " << p->err();
  return port;
}

RpcClient client(uint16_t port, const std::string& datadir) {
  RpcClientConfig c;
  c.port = port;
  c.datadir = datadir;
  return RpcClient(c);
}

size_t mempool_size(uint16_t port, const std::string& datadir) {
  auto r = client(port, datadir).call("getmempoolinfo", json::array{});
  return r.ok() ? r->at("size").to_number<size_t>() : 0;
}

TEST(Daemon, SigtermDuringInjectionLosesNoAcknowledgedTransaction) {
  TempDir dir;
  const std::string datadir = dir.file("node");
  std::unique_ptr<Process> daemon;
  const uint16_t port = start_daemon(daemon, dir, datadir, "first");
  ASSERT_NE(port, 0);

  const std::string acks = dir.file("acks.jsonl");
  Process inject({bin_path("hearsay-cli"), "--datadir", datadir, "--rpc",
                  "127.0.0.1:" + std::to_string(port), "inject", "--count", "10000", "--rate",
                  "2500", "--senders", "200", "--size", "200", "--out", acks},
                 dir.file("inject.out"), dir.file("inject.err"));
  // Stop the daemon once a good part of the injection is in.
  ASSERT_TRUE(wait_until([&] { return mempool_size(port, datadir) >= 2000; }, 60s)) << inject.err();
  daemon->signal(SIGTERM);
  const auto status = daemon->wait(10s);
  ASSERT_TRUE(status.has_value()) << "hearsayd did not exit within 10 s of SIGTERM";
  EXPECT_EQ(*status, 0) << daemon->err();
  ASSERT_TRUE(inject.wait(120s).has_value()) << "inject did not finish";

  std::set<std::string> acknowledged;
  size_t lines = 0;
  std::istringstream in(read_file(acks));
  for (std::string line; std::getline(in, line);) {
    ++lines;
    json::value v = json::parse(line);
    if (v.at("accepted").as_bool()) acknowledged.insert(std::string(v.at("id").as_string()));
  }
  EXPECT_EQ(lines, 10000u);
  EXPECT_GE(acknowledged.size(), 2000u);
  EXPECT_LT(acknowledged.size(), 10000u) << "the daemon stopped after the injection ended";

  const uint16_t port2 = start_daemon(daemon, dir, datadir, "second");
  ASSERT_NE(port2, 0);
  auto pool = client(port2, datadir).call("getrawmempool", json::array{});
  ASSERT_TRUE(pool.ok()) << pool.error().one_line();
  std::set<std::string> held;
  for (const json::value& id : pool->as_array())
    held.insert(std::string(id.as_string()));
  size_t lost = 0;
  for (const std::string& id : acknowledged)
    lost += held.count(id) == 0;
  EXPECT_EQ(lost, 0u) << "of " << acknowledged.size() << " acknowledged transactions";

  // The stop RPC gets its answer, then the daemon exits cleanly.
  auto stopped = client(port2, datadir).call("stop", json::array{});
  ASSERT_TRUE(stopped.ok()) << stopped.error().one_line();
  EXPECT_EQ(stopped->as_string(), "hearsayd stopping");
  EXPECT_EQ(daemon->wait(10s), std::optional<int>(0));
}

TEST(Daemon, BadOptionFailsAtStartNamingIt) {
  TempDir dir;
  Process p({bin_path("hearsayd"), "--datadir", dir.file("d"), "--max-outbound", "1000"},
            dir.file("out"), dir.file("err"));
  EXPECT_EQ(p.wait(30s), std::optional<int>(1));
  EXPECT_NE(p.err().find("--max-outbound"), std::string::npos) << p.err();
}

TEST(Daemon, SecondDaemonOnTheSameDatadirIsRefused) {
  TempDir dir;
  const std::string datadir = dir.file("node");
  std::unique_ptr<Process> first;
  ASSERT_NE(start_daemon(first, dir, datadir, "first"), 0);
  Process second({bin_path("hearsayd"), "--datadir", datadir, "--listen", "127.0.0.1:0", "--rpc",
                  "127.0.0.1:0"},
                 dir.file("second.out"), dir.file("second.err"));
  EXPECT_EQ(second.wait(30s), std::optional<int>(1));
  EXPECT_NE(second.err().find(datadir), std::string::npos) << second.err();
  first->signal(SIGTERM);
  EXPECT_EQ(first->wait(10s), std::optional<int>(0));
}

}  // namespace
}  // namespace hearsay::test
