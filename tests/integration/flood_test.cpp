// hearsay-cli flood, the real program, against an in-process node: it connects as a peer with
// its own identity, and every transaction it pushes or announces ends up in the node's mempool;
// a node that proves another identity than the pinned one, and a bad option, are refused. Under
// overload (verification behind, announcements over the tracker's cap) nothing is lost.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>
#include <sstream>

#include "crypto/hex.h"
#include "net/address.h"
#include "net/connection.h"
#include "testing/host_access.h"
#include "testing/process.h"
#include "testing/testnet.h"
#include "testing/tx_factory.h"

namespace hearsay::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

struct FloodRun {
  std::optional<int> status;
  std::string out, err;
};

// Runs `hearsay-cli flood ARGS...` to the end (within 120 s).
FloodRun flood(const TempDir& dir, const std::string& tag, std::vector<std::string> args) {
  args.insert(args.begin(), {bin_path("hearsay-cli"), "flood"});
  Process p(args, dir.file(tag + ".out"), dir.file(tag + ".err"));
  FloodRun r;
  r.status = p.wait(120s);
  r.out = p.out();
  r.err = p.err();
  return r;
}

// PUBKEY@HOST:PORT of node `n`.
std::string pinned(Node& n) {
  return to_hex(n.identity()) + "@" + to_string(*n.listen_address());
}

// The --out lines: id -> (t_sent, t_requested or 0).
std::map<TxId, std::pair<int64_t, int64_t>> read_records(const std::string& path) {
  std::map<TxId, std::pair<int64_t, int64_t>> records;
  std::istringstream in(read_file(path));
  for (std::string line; std::getline(in, line);) {
    json::value v = json::parse(line);
    const json::value& req = v.at("t_requested");
    records[*from_hex_array<32>(v.at("id").as_string())] = {
        v.at("t_sent").to_number<int64_t>(), req.is_null() ? 0 : req.to_number<int64_t>()};
  }
  return records;
}

// Every recorded transaction is in the node's mempool, and nothing else is.
void expect_all_held(Node& node, const std::map<TxId, std::pair<int64_t, int64_t>>& records,
                     size_t count) {
  ASSERT_EQ(records.size(), count);
  ASSERT_TRUE(wait_until([&] { return node.mempool_size() == count; }, 60s))
      << node.mempool_size() << " of " << count;
  for (const auto& [id, times] : records)
    EXPECT_TRUE(node.has_transaction(id)) << to_hex(id);
}

TEST(Flood, PushModeDeliversEveryTransactionAndWaitsForTheMempool) {
  TestNet net(1);
  Node& node = net.start(0, {}, [](NodeConfig& c) {
    c.rpc_host = "127.0.0.1";
    c.rpc_port = 0;
  });
  TempDir dir;
  const std::string out = dir.file("push.jsonl");
  const FloodRun r =
      flood(dir, "push",
            {pinned(node), "--count", "2000", "--out", out, "--wait-accepted", "--rpc",
             "127.0.0.1:" + std::to_string(*node.rpc_port()), "--datadir", net.config(0).datadir});
  ASSERT_EQ(r.status, std::optional<int>(0)) << r.err;
  const json::value s = json::parse(r.out);
  EXPECT_EQ(s.at("mode").as_string(), "push");
  EXPECT_EQ(s.at("sent").to_number<uint64_t>(), 2000u);
  EXPECT_EQ(s.at("requested").to_number<uint64_t>(), 0u);
  EXPECT_TRUE(s.at("drained").as_bool());
  EXPECT_EQ(s.at("held").to_number<uint64_t>(), 2000u);
  EXPECT_FALSE(s.at("all_held_us").is_null());
  EXPECT_GT(s.at("offered_rate").to_number<double>(), 0);
  EXPECT_EQ(s.at("node_identity").as_string(), to_hex(node.identity()));
  const auto records = read_records(out);
  ASSERT_NO_FATAL_FAILURE(expect_all_held(node, records, 2000));
  for (const auto& [id, times] : records) {
    EXPECT_GE(times.first, s.at("first_send_us").to_number<int64_t>());
    EXPECT_EQ(times.second, 0) << "nothing is requested in push mode";
  }
}

TEST(Flood, AnnounceModeAnswersEveryGetdata) {
  TestNet net(1);
  Node& node = net.start(0, {});
  TempDir dir;
  const std::string out = dir.file("announce.jsonl");
  // Unpinned: any identity the node proves is taken.
  const FloodRun r = flood(dir, "announce",
                           {to_string(*node.listen_address()), "--mode", "announce", "--count",
                            "2000", "--seed", "7", "--out", out});
  ASSERT_EQ(r.status, std::optional<int>(0)) << r.err;
  const json::value s = json::parse(r.out);
  EXPECT_EQ(s.at("mode").as_string(), "announce");
  EXPECT_EQ(s.at("announced").to_number<uint64_t>(), 2000u);
  EXPECT_EQ(s.at("requested").to_number<uint64_t>(), 2000u);
  EXPECT_GE(s.at("sent").to_number<uint64_t>(), 2000u);
  EXPECT_TRUE(s.at("drained").as_bool());
  const auto records = read_records(out);
  ASSERT_NO_FATAL_FAILURE(expect_all_held(node, records, 2000));
  for (const auto& [id, times] : records) {
    EXPECT_GT(times.first, 0);
    EXPECT_GE(times.second, times.first) << "requested before it was announced: " << to_hex(id);
  }
}

// A forger (--forge: every signature invalid) is banned at its first transaction, and the node
// holds none of them.
TEST(Flood, AForgerIsBannedAndNothingItSentIsHeld) {
  TestNet net(1);
  Node& node = net.start(0, {});
  TempDir dir;
  const FloodRun r = flood(dir, "forge", {pinned(node), "--count", "200", "--forge"});
  // It may finish (everything read) before the first verdict closes its session: either way.
  ASSERT_TRUE(r.status == 0 || r.status == 1) << r.out << r.err;
  const json::value s = json::parse(r.out);
  EXPECT_TRUE(s.at("forged").as_bool());
  const std::string forger = std::string(s.at("identity").as_string());
  EXPECT_TRUE(wait_until([&] {
    for (const BanEntry& b : node.host().list_bans())
      if (ban_target_string(b.target) == forger) return true;
    return false;
  }));
  EXPECT_EQ(node.mempool_size(), 0u);
  EXPECT_GE(node.relay_stats().bad_signatures, 1u);
}

// Verification falls behind (its workers paused) while one peer pushes 10,000 transactions: the
// node holds reading at its high watermark, so what it has not verified waits in TCP, not in its
// memory; once verification resumes every transaction arrives, none dropped.
TEST(Flood, OverloadIsHeldBackInTcpAndNothingIsLost) {
  constexpr size_t kCount = 10'000, kHigh = 1'000;
  TestNet net(1);
  Node& node = net.start(0, {}, [](NodeConfig& c) {
    c.host.verify_threads = 1;
    c.relay.verify_hold_high = kHigh;
    c.relay.verify_hold_low = kHigh / 2;
  });
  HostTestAccess::pause_verification(node.host(), true);
  TempDir dir;
  Process p({bin_path("hearsay-cli"), "flood", pinned(node), "--count", std::to_string(kCount)},
            dir.file("overload.out"), dir.file("overload.err"));
  ASSERT_TRUE(wait_until([&] { return node.host().net_stats().reads_held; }, 60s))
      << node.relay_stats().verifying << " under verification";
  EXPECT_GE(node.relay_stats().verifying, kHigh);
  HostTestAccess::pause_verification(node.host(), false);
  ASSERT_EQ(p.wait(120s), std::optional<int>(0)) << p.err();
  ASSERT_TRUE(wait_until([&] { return node.mempool_size() == kCount; }, 120s))
      << node.mempool_size() << " of " << kCount;
  const TxRelayStats s = node.relay_stats();
  EXPECT_EQ(s.verify_dropped, 0u);
  EXPECT_GE(node.host().net_stats().read_holds, 1u);
  // The node's own accounting: never more under verification than the high watermark plus
  // what the reads handed to the network thread (a TLS record each) already held when the hold
  // began — each frame at least a header.
  EXPECT_LE(s.verifying_peak, kHigh + kMaxInputInFlight * kReadBufferBytes / kFrameHeaderSize);
  EXPECT_FALSE(node.host().net_stats().reads_held);
}

// 12,000 announcements at once from one peer: the tracker takes 5,000 (its per-peer cap), the
// rest wait as deferred announcements, and every one is fetched.
TEST(Flood, AnnouncementsOverThePerPeerCapAreAllFetched) {
  constexpr size_t kCount = 12'000;
  TestNet net(1);
  Node& node = net.start(0, {});
  TempDir dir;
  const FloodRun r = flood(dir, "announce",
                           {pinned(node), "--mode", "announce", "--count", std::to_string(kCount)});
  ASSERT_EQ(r.status, std::optional<int>(0)) << r.err;
  const json::value s = json::parse(r.out);
  EXPECT_EQ(s.at("requested").to_number<uint64_t>(), kCount);
  ASSERT_TRUE(wait_until([&] { return node.mempool_size() == kCount; }, 120s))
      << node.mempool_size() << " of " << kCount;
  const TxRelayStats st = node.relay_stats();
  EXPECT_GE(st.deferred, kCount - kMaxPeerAnnouncements);
  EXPECT_EQ(st.deferred_dropped, 0u);
  EXPECT_EQ(st.deferred_now, 0u);
}

TEST(Flood, PinnedIdentityThatTheNodeDoesNotProveIsRefused) {
  TestNet net(1);
  Node& node = net.start(0, {});
  TempDir dir;
  const std::string other = to_hex(test_key(0x77).public_key());
  const FloodRun r =
      flood(dir, "pinned", {other + "@" + to_string(*node.listen_address()), "--count", "10"});
  EXPECT_EQ(r.status, std::optional<int>(3)) << r.err;
  EXPECT_NE(r.err.find("the dial expected " + other), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(to_hex(node.identity())), std::string::npos) << r.err;
  EXPECT_EQ(node.mempool_size(), 0u);
}

TEST(Flood, BadOptionsAreRefusedNamingThem) {
  TempDir dir;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"127.0.0.1:1", "--count", "0"}, "--count"},
      {{"127.0.0.1:1", "--mode", "pull"}, "--mode"},
      {{"127.0.0.1:1", "--timeout", "0"}, "--timeout"},
      {{"127.0.0.1:1", "--rate", "-5"}, "--rate"},
      {{"127.0.0.1:1", "--bogus", "1"}, "--bogus"},
      {{"nokey@127.0.0.1:1"}, "public key"},
      {{"--count", "5"}, "HOST:PORT"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& [args, named] = cases[i];
    const FloodRun r = flood(dir, "bad" + std::to_string(i), args);
    EXPECT_EQ(r.status, std::optional<int>(2)) << named << ": " << r.err;
    EXPECT_NE(r.err.find(named), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace hearsay::test
