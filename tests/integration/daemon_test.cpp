// The real programs: hearsayd started, injected into by hearsay-cli, stopped by SIGTERM in the
// middle of the injection, restarted: nothing it acknowledged is lost.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>

#include "node/rpc_client.h"
#include "testing/daemon.h"
#include "testing/process.h"
#include "testing/testnet.h"

namespace hearsay::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

size_t mempool_size(uint16_t port, const std::string& datadir) {
  auto r = daemon_client(port, datadir).call("getmempoolinfo", json::array{});
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
  auto pool = daemon_client(port2, datadir).call("getrawmempool", json::array{});
  ASSERT_TRUE(pool.ok()) << pool.error().one_line();
  std::set<std::string> held;
  for (const json::value& id : pool->as_array())
    held.insert(std::string(id.as_string()));
  size_t lost = 0;
  for (const std::string& id : acknowledged)
    lost += held.count(id) == 0;
  EXPECT_EQ(lost, 0u) << "of " << acknowledged.size() << " acknowledged transactions";

  // The stop RPC gets its answer, then the daemon exits cleanly.
  auto stopped = daemon_client(port2, datadir).call("stop", json::array{});
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

// Runs hearsay-cli to the end; returns its exit status (-1 if it did not finish) and stdout.
std::pair<int, std::string> run_cli(const TempDir& dir, const std::string& tag,
                                    std::vector<std::string> args) {
  args.insert(args.begin(), bin_path("hearsay-cli"));
  Process p(args, dir.file(tag + ".out"), dir.file(tag + ".err"));
  const auto status = p.wait(60s);
  EXPECT_EQ(status, std::optional<int>(0)) << tag << ": " << p.err();
  return {status.value_or(-1), p.out()};
}

TEST(Daemon, ProducerOnANewNetworkGeneratesABlockThroughTheCli) {
  TempDir dir;
  const std::string net = dir.file("net");
  auto made = run_cli(dir, "network-new",
                      {"network", "new", "--producers", "2", "--out", net, "--name", "daemonnet"});
  ASSERT_EQ(made.first, 0);
  EXPECT_NE(made.second.find("genesis  "), std::string::npos) << made.second;

  const std::string datadir = dir.file("node");
  std::unique_ptr<Process> daemon;
  const uint16_t port =
      start_daemon(daemon, dir, datadir, "producer",
                   {"--network", net + "/network.json", "--producer-key", net + "/producer-1.key"});
  ASSERT_NE(port, 0);
  EXPECT_NE(daemon->out().find("hearsayd 0.1.0 on daemonnet"), std::string::npos) << daemon->out();
  EXPECT_NE(daemon->out().find("chain    network daemonnet, genesis "), std::string::npos)
      << daemon->out();
  EXPECT_NE(daemon->out().find("tip height 0, producer "), std::string::npos) << daemon->out();

  const std::vector<std::string> rpc = {"--datadir", datadir, "--rpc",
                                        "127.0.0.1:" + std::to_string(port)};
  auto with = [&](std::vector<std::string> rest) {
    std::vector<std::string> a = rpc;
    a.insert(a.end(), rest.begin(), rest.end());
    return a;
  };
  auto gen = run_cli(dir, "generateblock", with({"generateblock"}));
  ASSERT_EQ(gen.first, 0);
  json::value block = json::parse(gen.second);
  EXPECT_EQ(block.at("height").to_number<int>(), 1);
  const std::string hash(block.at("hash").as_string());

  auto info = run_cli(dir, "getchaininfo", with({"getchaininfo"}));
  ASSERT_EQ(info.first, 0);
  json::value chain = json::parse(info.second);
  EXPECT_EQ(chain.at("network").as_string(), "daemonnet");
  EXPECT_EQ(chain.at("blocks").to_number<int>(), 1);
  EXPECT_EQ(chain.at("bestblockhash").as_string(), hash);
  EXPECT_TRUE(chain.at("producer").as_bool());

  auto header = run_cli(dir, "getblockheader", with({"getblockheader", hash, "false"}));
  ASSERT_EQ(header.first, 0);
  EXPECT_EQ(header.second.size(), 2 * kBlockHeaderSize + 1) << header.second;

  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait(10s), std::optional<int>(0)) << daemon->err();
}

TEST(Daemon, UnauthorisedProducerKeyIsRefusedAtStartNamingTheFile) {
  TempDir dir;
  const std::string net = dir.file("net");
  ASSERT_EQ(run_cli(dir, "network-new",
                    {"network", "new", "--producers", "1", "--out", net, "--name", "refusenet"})
                .first,
            0);
  const std::string stranger = dir.file("stranger.key");
  ASSERT_EQ(run_cli(dir, "keygen", {"keygen", "--out", stranger}).first, 0);
  Process p(
      {bin_path("hearsayd"), "--datadir", dir.file("node"), "--listen", "127.0.0.1:0", "--rpc",
       "127.0.0.1:0", "--network", net + "/network.json", "--producer-key", stranger},
      dir.file("out"), dir.file("err"));
  EXPECT_EQ(p.wait(30s), std::optional<int>(1));
  EXPECT_NE(p.err().find("--producer-key"), std::string::npos) << p.err();
  EXPECT_NE(p.err().find(stranger), std::string::npos) << p.err();
  EXPECT_NE(p.err().find("refusenet"), std::string::npos) << p.err();
}

}  // namespace
}  // namespace hearsay::test
