// Every RPC method of hearsayd against live in-process nodes (real RPC server, real network).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>

#include "crypto/hex.h"
#include "node/rpc_client.h"
#include "node/rpc_dispatch.h"
#include "node/rpc_methods.h"
#include "testing/testnet.h"

namespace hearsay::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// A network magic as the RPC prints it, formatted independently of the node's code.
std::string magic_text(uint32_t magic) {
  std::array<char, 16> buf{};
  std::snprintf(buf.data(), buf.size(), "0x%08x", magic);
  return buf.data();
}

class RpcMethods : public ::testing::Test {
 protected:
  void SetUp() override {
    auto with_rpc = [this](NodeConfig& c) {
      c.rpc_host = "127.0.0.1";
      c.rpc_port = 0;
      c.on_stop_request = [this] { ++m_stop_requests; };
      c.mempool.max_per_sender = kMaxPerSender;
    };
    m_net.start(0, {}, [&](NodeConfig& c) {
      with_rpc(c);
      make_producer(c);  // node 0 produces blocks; node 1 does not
    });
    m_net.start(1, {0}, with_rpc);
    ASSERT_TRUE(
        wait_until([&] { return ready_peers(m_net[0]) == 1 && ready_peers(m_net[1]) == 1; }));
  }

  RpcClient client(size_t i) {
    RpcClientConfig c;
    c.port = *m_net[i].rpc_port();
    c.datadir = m_net[i].config().datadir;  // cookie
    return RpcClient(c);
  }
  json::value call(size_t i, std::string_view method, json::array params = {}) {
    auto r = client(i).call(method, params);
    EXPECT_TRUE(r.ok()) << method << ": " << (r.ok() ? "" : r.error().one_line());
    return r.ok() ? *r : json::value();
  }
  // The message of the error `method` answers (empty, and a failure, on success).
  std::string error_message(size_t i, std::string_view method, json::array params = {}) {
    auto r = client(i).call(method, params);
    EXPECT_FALSE(r.ok()) << method << " succeeded";
    return r.ok() ? "" : r.error().message;
  }
  int error_code(size_t i, std::string_view method, json::array params = {}) {
    auto r = client(i).call(method, params);
    EXPECT_FALSE(r.ok()) << method << " succeeded";
    return r.ok() || !r.error().rpc_code ? 0 : *r.error().rpc_code;
  }

  static constexpr size_t kMaxPerSender = 3;
  TestNet m_net{2};
  std::atomic<int> m_stop_requests{0};
};

TEST_F(RpcMethods, GetInfoAndPeerInfo) {
  json::value info = call(0, "getinfo");
  EXPECT_EQ(info.at("identity").as_string(), to_hex(m_net[0].identity()));
  EXPECT_EQ(info.at("network").as_string(), "devnet");
  EXPECT_EQ(info.at("connections").to_number<int>(), 1);
  EXPECT_EQ(info.at("mempool_size").to_number<int>(), 0);
  EXPECT_TRUE(info.at("relay").is_object());
  EXPECT_EQ(info.at("blocks").to_number<int>(), 0);
  EXPECT_EQ(info.at("bestblockhash").as_string(), to_hex(devnet_params().genesis_id()));

  json::value peers = call(1, "getpeerinfo");
  ASSERT_EQ(peers.as_array().size(), 1u);
  const json::object& p = peers.as_array()[0].as_object();
  EXPECT_EQ(p.at("identity").as_string(), to_hex(m_net[0].identity()));
  EXPECT_EQ(p.at("direction").as_string(), "outbound");
  EXPECT_TRUE(p.at("handshake_done").as_bool());
  EXPECT_GT(p.at("bytes_sent").to_number<int64_t>(), 0);
  // TLS carries the frames and more (the handshake, record headers and tags).
  EXPECT_GT(p.at("tls_bytes_sent").to_number<int64_t>(), p.at("bytes_sent").to_number<int64_t>());
  EXPECT_GT(p.at("tls_bytes_recv").to_number<int64_t>(), p.at("bytes_recv").to_number<int64_t>());
  EXPECT_GT(info.at("tls_bytes_sent").to_number<int64_t>(), 0);
  EXPECT_GT(info.at("tls_bytes_recv").to_number<int64_t>(), 0);
  EXPECT_TRUE(p.at("messages").as_object().contains("version"));
  EXPECT_EQ(p.at("misbehaviour").to_number<int>(), 0);
  EXPECT_TRUE(p.at("link").as_object().contains("delay_ms"));
  // Pull mode (the default): no tree link, tree counters at zero.
  EXPECT_EQ(info.at("relay_mode").as_string(), "pull");
  EXPECT_FALSE(p.at("tree").as_bool());
  EXPECT_EQ(p.at("tree_pruned").to_number<int>(), 0);
  EXPECT_EQ(p.at("tree_parent_of").to_number<int>(), 0);
  for (const char* counter : {"tree_peers", "tree_pushed", "prunes_sent", "prunes_received",
                              "grafts_sent", "grafts_received", "tree_swaps", "withheld"})
    EXPECT_EQ(info.at("relay").at(counter).to_number<int>(), 0) << counter;
}

// Calls `method` (no parameters) on node `n` over its RPC port; null when it fails (a test
// failure).
json::value call_rpc(Node& n, std::string_view method) {
  RpcClientConfig c;
  c.port = *n.rpc_port();
  c.datadir = n.config().datadir;
  auto r = RpcClient(c).call(method, json::array{});
  EXPECT_TRUE(r.ok()) << method << ": " << (r.ok() ? "" : r.error().one_line());
  return r.ok() ? *r : json::value();
}

// Two nodes in tree mode: the link is a tree link, the origin's transactions are pushed down it
// and the receiver names its parent; getinfo, getnetworkinfo and /metrics say so.
TEST(RpcMethodsTree, TreeLinkAndCountersAreReported) {
  TestNet net(2);
  auto tree = [](NodeConfig& c) {
    c.rpc_host = "127.0.0.1";
    c.rpc_port = 0;
    c.tree_relay = true;
  };
  net.start(0, {}, tree);
  net.start(1, {0}, tree);
  ASSERT_TRUE(wait_until([&] { return ready_peers(net[0]) == 1 && ready_peers(net[1]) == 1; }));
  auto call = [&](size_t i, std::string_view method) { return call_rpc(net[i], method); };
  EXPECT_EQ(call(0, "getinfo").at("relay_mode").as_string(), "tree");
  EXPECT_EQ(call(0, "getnetworkinfo").at("relay_mode").as_string(), "tree");
  EXPECT_EQ(call(1, "getinfo").at("relay").at("tree_peers").to_number<int>(), 1);

  TxRef tx = devnet_tx(5, 0);
  ASSERT_TRUE(net[0].submit(tx).ok());
  ASSERT_TRUE(wait_until([&] { return net[1].has_transaction(tx->id()); }));
  // Node 1's one peer pushed it node 0's origin: it is node 1's parent for that origin.
  json::value peers;
  ASSERT_TRUE(wait_until([&] {
    peers = call(1, "getpeerinfo");
    return peers.as_array().size() == 1 &&
           peers.as_array()[0].as_object().contains("tree_parent_of") &&
           peers.as_array()[0].at("tree_parent_of").to_number<int>() == 1;
  })) << json::serialize(peers);
  const json::object& p = peers.as_array()[0].as_object();
  EXPECT_TRUE(p.at("tree").as_bool());
  EXPECT_EQ(p.at("tree_pruned").to_number<int>(), 0);
  EXPECT_EQ(call(0, "getinfo").at("relay").at("tree_pushed").to_number<int>(), 1);

  RpcClientConfig rc;
  rc.port = *net[0].rpc_port();
  rc.datadir = net[0].config().datadir;
  auto reply = RpcClient(rc).request("/metrics", "", true);
  ASSERT_TRUE(reply.ok()) << reply.error();
  EXPECT_NE(reply->body.find("hearsay_relay_mode{mode=\"tree\"} 1\n"), std::string::npos)
      << reply->body;
  EXPECT_NE(reply->body.find("hearsay_tree_peers_total 1\n"), std::string::npos) << reply->body;
  EXPECT_NE(reply->body.find("hearsay_tree_pushed_total 1\n"), std::string::npos) << reply->body;
}

// Two nodes that reconcile (the default): node 1 dialled, so it asks; node 0 held a transaction
// before they met, and node 1 learns it by reconciliation. getnetworkinfo, getpeerinfo, getinfo,
// /metrics and node 1's trace say so.
TEST(RpcMethodsRecon, ReconciliationLinkAndCountersAreReported) {
  TestNet net(2);
  auto with_rpc = [](NodeConfig& c) {
    c.rpc_host = "127.0.0.1";
    c.rpc_port = 0;
  };
  net.start(0, {}, with_rpc);
  const TxRef tx = devnet_tx(5, 0);
  ASSERT_TRUE(net[0].submit(tx).ok());
  TempDir dir;
  const std::string trace = dir.file("trace.jsonl");
  net.start(1, {0}, [&](NodeConfig& c) {
    with_rpc(c);
    c.trace_path = trace;
  });
  auto call = [&](size_t i, std::string_view method) { return call_rpc(net[i], method); };
  const json::value info = call(0, "getnetworkinfo");
  EXPECT_TRUE(info.at("reconcile").as_bool());
  EXPECT_EQ(info.at("reconcile_interval_ms").to_number<int>(), 2000);
  EXPECT_EQ(info.at("flood_peers").to_number<int>(), 0);

  // The link reconciles once short ids are on at both ends.
  auto link = [&](size_t i) {
    json::value peers = call(i, "getpeerinfo");
    if (peers.as_array().size() != 1) return json::object();
    return peers.as_array()[0].as_object();
  };
  json::object p0, p1;
  ASSERT_TRUE(wait_until([&] {
    p0 = link(0);
    p1 = link(1);
    return p0.contains("reconciles") && p0.at("reconciles").as_bool() &&
           p1.contains("reconciles") && p1.at("reconciles").as_bool();
  })) << json::serialize(p0)
      << "\n"
      << json::serialize(p1);
  EXPECT_TRUE(p1.at("recon_asker").as_bool());
  EXPECT_FALSE(p0.at("recon_asker").as_bool());
  EXPECT_TRUE(p0.at("flood").as_bool());  // --flood-peers 0: every peer gets announcements
  EXPECT_TRUE(p1.at("flood").as_bool());
  EXPECT_EQ(p0.at("request_window").to_number<uint64_t>(), kMaxPeerInFlight);  // the floor
  EXPECT_EQ(p0.at("deferred_announcements").to_number<uint64_t>(), 0u);
  EXPECT_TRUE(p0.contains("link_rate_tps") && p0.contains("link_min_rtt_ms"));

  ASSERT_TRUE(wait_until([&] { return net[1].has_transaction(tx->id()); }));
  json::value relay1;
  ASSERT_TRUE(wait_until([&] {
    relay1 = call(1, "getinfo").at("relay");
    return relay1.at("recon_rounds").to_number<int>() >= 1;
  })) << json::serialize(relay1);
  EXPECT_EQ(relay1.at("recon_peers").to_number<int>(), 1);
  EXPECT_GE(relay1.at("recon_requests_sent").to_number<int>(), 1);
  const json::value relay0 = call(0, "getinfo").at("relay");
  EXPECT_EQ(relay0.at("recon_peers").to_number<int>(), 1);
  EXPECT_EQ(relay0.at("recon_rounds").to_number<int>(), 0);  // it answers
  EXPECT_GE(relay0.at("recon_requests_received").to_number<int>(), 1);
  EXPECT_EQ(relay0.at("recon_announced").to_number<int>(), 1);  // the one node 1 lacked

  RpcClientConfig rc;
  rc.port = *net[0].rpc_port();
  rc.datadir = net[0].config().datadir;
  auto reply = RpcClient(rc).request("/metrics", "", true);
  ASSERT_TRUE(reply.ok()) << reply.error();
  EXPECT_NE(reply->body.find("hearsay_recon_peers_total 1\n"), std::string::npos) << reply->body;
  EXPECT_NE(reply->body.find("hearsay_recon_announced_total 1\n"), std::string::npos)
      << reply->body;

  // Stopping flushes the trace: node 1's round with node 0 is there.
  net.stop(1);
  std::ifstream in(trace);
  bool found = false;
  for (std::string line; std::getline(in, line);) {
    const json::object e = json::parse(line).as_object();
    if (e.at("ev") != "recon_round") continue;
    found = true;
    EXPECT_EQ(e.at("peer"), json::value(to_hex(net[0].identity()))) << line;
    EXPECT_GE(e.at("requests").to_number<int>(), 1) << line;
  }
  EXPECT_TRUE(found) << "no recon_round in " << trace;
}

TEST_F(RpcMethods, SendRawTransactionThenQueryIt) {
  TxRef tx = devnet_tx(1, 0);
  json::value id = call(0, "sendrawtransaction", {json::value(to_hex(tx->encoding()))});
  EXPECT_EQ(id.as_string(), to_hex(tx->id()));
  // Sending it again answers the same id (idempotent).
  EXPECT_EQ(call(0, "sendrawtransaction", {json::value(to_hex(tx->encoding()))}).as_string(),
            to_hex(tx->id()));
  ASSERT_TRUE(wait_until([&] { return m_net[1].has_transaction(tx->id()); }));

  json::value got = call(1, "gettransaction", {json::value(to_hex(tx->id()))});
  EXPECT_EQ(got.at("hex").as_string(), to_hex(tx->encoding()));
  EXPECT_EQ(got.at("nonce").to_number<int>(), 0);
  EXPECT_EQ(got.at("sender").as_string(), to_hex(tx->sender()));

  json::value pool = call(1, "getrawmempool");
  ASSERT_EQ(pool.as_array().size(), 1u);
  EXPECT_EQ(pool.as_array()[0].as_string(), to_hex(tx->id()));
  json::value mi = call(1, "getmempoolinfo");
  EXPECT_EQ(mi.at("size").to_number<int>(), 1);
  EXPECT_EQ(mi.at("bytes").to_number<size_t>(), tx->size());
  EXPECT_EQ(call(0, "getnextnonce", {json::value(to_hex(tx->sender()))}).to_number<int>(), 1);
  EXPECT_EQ(call(0, "getbestblock").at("height").to_number<int>(), 0);
}

TEST_F(RpcMethods, TypedErrors) {
  EXPECT_EQ(error_code(0, "sendrawtransaction", {json::value("zz")}), kRpcDeserializationError);
  EXPECT_EQ(error_code(0, "sendrawtransaction", {json::value("00ff")}), kRpcDeserializationError);
  EXPECT_EQ(error_code(0, "sendrawtransaction"), kRpcInvalidParams);
  EXPECT_EQ(error_code(0, "sendrawtransaction", {json::value(42)}), kRpcTypeError);
  // A forged signature and a policy refusal are -26 with the rule's name.
  auto r = client(0).call("sendrawtransaction",
                          json::array{json::value(to_hex(forged(devnet_tx(2, 0))->encoding()))});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().rpc_code, kRpcVerifyRejected);
  EXPECT_NE(r.error().message.find("bad-signature"), std::string::npos);
  TxRef wrong_net = make_tx(3, 0);  // the test network, not the devnet
  r = client(0).call("sendrawtransaction", json::array{json::value(to_hex(wrong_net->encoding()))});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "wrong-network: the transaction is for network " +
                                   magic_text(wrong_net->network()) + ", this node is on devnet (" +
                                   magic_text(kDevnetMagic) + ")");
  EXPECT_EQ(error_code(0, "gettransaction", {json::value(std::string(64, 'a'))}),
            kRpcInvalidAddressOrKey);
  EXPECT_EQ(error_code(0, "gettransaction", {json::value("abc")}), kRpcInvalidParameter);
  EXPECT_EQ(error_message(0, "gettransaction", {json::value("abc")}),
            "txid must be 64 hex digits (got 3)");
  EXPECT_EQ(error_code(0, "nosuchmethod"), kRpcMethodNotFound);
}

TEST_F(RpcMethods, BansAddListRemoveClear) {
  const std::string target = to_hex(m_net[1].identity());
  EXPECT_TRUE(call(0, "listbanned").as_array().empty());
  call(0, "setban", {json::value(target), json::value("add"), json::value(3600)});
  json::value bans = call(0, "listbanned");
  ASSERT_EQ(bans.as_array().size(), 1u);
  EXPECT_EQ(bans.as_array()[0].at("target").as_string(), target);
  // The banned peer is disconnected and stays out.
  EXPECT_TRUE(wait_until([&] { return ready_peers(m_net[0]) == 0; }));
  call(0, "setban", {json::value("10.1.2.3"), json::value("add")});
  EXPECT_EQ(call(0, "listbanned").as_array().size(), 2u);
  call(0, "setban", {json::value(target), json::value("remove")});
  EXPECT_EQ(call(0, "listbanned").as_array().size(), 1u);
  EXPECT_EQ(error_code(0, "setban", {json::value(target), json::value("remove")}),
            kRpcInvalidAddressOrKey);
  EXPECT_EQ(error_code(0, "setban", {json::value(target), json::value("maybe")}),
            kRpcInvalidParameter);
  EXPECT_EQ(error_code(0, "setban", {json::value("127.0.0.1"), json::value("add")}),
            kRpcInvalidParameter);
  call(0, "clearbanned");
  EXPECT_TRUE(call(0, "listbanned").as_array().empty());
  // Node 1 redials node 0 (its --connect target) once it is allowed again.
  EXPECT_TRUE(wait_until([&] { return ready_peers(m_net[0]) == 1; }, 20s));
}

TEST_F(RpcMethods, DisconnectAndAddPeer) {
  EXPECT_EQ(error_code(0, "disconnectpeer", {json::value(std::string(64, 'b'))}),
            kRpcInvalidAddressOrKey);
  call(0, "disconnectpeer", {json::value(to_hex(m_net[1].identity()))});
  // Node 1 keeps its --connect target and comes back; node 0 adds node 1 as its own target.
  EXPECT_TRUE(wait_until([&] { return ready_peers(m_net[0]) == 1; }, 20s));
  const std::string target =
      to_hex(m_net[1].identity()) + "@" + to_string(*m_net[1].listen_address());
  call(0, "addpeer", {json::value(target)});
  EXPECT_EQ(error_code(0, "addpeer", {json::value(target)}), kRpcInvalidParameter);
  EXPECT_EQ(error_code(0, "addpeer", {json::value("nonsense")}), kRpcInvalidParameter);
}

TEST_F(RpcMethods, StopAsksTheDaemonToStop) {
  EXPECT_EQ(call(0, "stop").as_string(), "hearsayd stopping");
  EXPECT_EQ(m_stop_requests.load(), 1);
}

TEST_F(RpcMethods, MetricsReflectTheNode) {
  TxRef tx = devnet_tx(4, 0);
  ASSERT_TRUE(m_net[0].submit(tx).ok());
  ASSERT_TRUE(wait_until([&] { return m_net[1].has_transaction(tx->id()); }));
  auto reply = client(1).request("/metrics", "", true);
  ASSERT_TRUE(reply.ok()) << reply.error();
  EXPECT_EQ(reply->status, 200u);
  EXPECT_NE(reply->body.find("hearsay_transactions_accepted_total 1"), std::string::npos)
      << reply->body;
  EXPECT_NE(reply->body.find("hearsay_mempool_transactions 1"), std::string::npos);
  EXPECT_NE(reply->body.find("hearsay_peers{direction=\"outbound\"} 1"), std::string::npos);
  EXPECT_NE(reply->body.find("hearsay_chain_height 0\n"), std::string::npos);
  EXPECT_NE(reply->body.find("hearsay_blocks_connected_total 0\n"), std::string::npos);
  EXPECT_NE(reply->body.find("hearsay_relay_mode{mode=\"pull\"} 1\n"), std::string::npos);
  EXPECT_NE(reply->body.find("hearsay_tree_pushed_total 0\n"), std::string::npos);
  auto check = promtool_check(reply->body);
  ASSERT_TRUE(check)
      << "promtool is not installed: contrib/install-deps.sh installs it (prometheus)";
  EXPECT_EQ(check->first, 0) << check->second;
}

TEST_F(RpcMethods, GenerateBlockThenQueryItOnThePeer) {
  TxRef tx = devnet_tx(5, 0);
  ASSERT_TRUE(m_net[0].submit(tx).ok());
  ASSERT_TRUE(wait_until([&] { return m_net[1].has_transaction(tx->id()); }));
  const std::string genesis = to_hex(devnet_params().genesis_id());

  json::value g = call(0, "generateblock");
  const std::string hash(g.at("hash").as_string());
  EXPECT_EQ(g.at("height").to_number<int>(), 1);
  EXPECT_EQ(g.at("txs").to_number<int>(), 1);
  const size_t size = g.at("size").to_number<size_t>();
  EXPECT_GT(size, tx->size());
  ASSERT_TRUE(wait_until([&] { return to_hex(tip_of(m_net[1])) == hash; }));
  ASSERT_TRUE(wait_until([&] { return m_net[1].mempool_size() == 0; }));

  json::value best = call(1, "getbestblock");
  EXPECT_EQ(best.at("hash").as_string(), hash);
  EXPECT_EQ(best.at("height").to_number<int>(), 1);
  EXPECT_GE(best.at("time").to_number<uint64_t>(), kDevnetGenesisTime);

  // getblock, verbosity 1 (the default): header fields and transaction ids.
  json::value b = call(1, "getblock", {json::value(hash)});
  EXPECT_EQ(b.at("hash").as_string(), hash);
  EXPECT_EQ(b.at("height").to_number<int>(), 1);
  EXPECT_EQ(b.at("time"), best.at("time"));
  EXPECT_EQ(b.at("prev").as_string(), genesis);
  EXPECT_EQ(b.at("merkle_root").as_string(), to_hex(merkle_root(std::vector<TxRef>{tx})));
  EXPECT_EQ(b.at("producer").as_string(), to_hex(devnet_producer_key(0).public_key()));
  EXPECT_EQ(b.at("confirmations").to_number<int>(), 1);
  EXPECT_EQ(b.at("size").to_number<size_t>(), size);
  EXPECT_EQ(b.at("ntx").to_number<int>(), 1);
  ASSERT_EQ(b.at("tx").as_array().size(), 1u);
  EXPECT_EQ(b.at("tx").as_array()[0].as_string(), to_hex(tx->id()));
  EXPECT_FALSE(b.as_object().contains("next"));
  // verbosity 0: the block's encoding; 2: transaction objects.
  json::value raw = call(1, "getblock", {json::value(hash), json::value(0)});
  EXPECT_EQ(raw.as_string().size(), 2 * size);
  json::value full = call(1, "getblock", {json::value(hash), json::value(2)});
  ASSERT_EQ(full.at("tx").as_array().size(), 1u);
  EXPECT_EQ(full.at("tx").as_array()[0].at("txid").as_string(), to_hex(tx->id()));
  EXPECT_EQ(full.at("tx").as_array()[0].at("hex").as_string(), to_hex(tx->encoding()));

  // getblockheader: the same header fields; hex when verbose is false; genesis shows "next".
  json::value h = call(1, "getblockheader", {json::value(hash)});
  EXPECT_EQ(h.at("hash").as_string(), hash);
  EXPECT_EQ(h.at("prev").as_string(), genesis);
  EXPECT_EQ(h.at("confirmations").to_number<int>(), 1);
  EXPECT_FALSE(h.as_object().contains("size"));
  json::value hh = call(1, "getblockheader", {json::value(hash), json::value(false)});
  EXPECT_EQ(hh.as_string().size(), 2 * kBlockHeaderSize);
  json::value gh = call(1, "getblockheader", {json::value(genesis)});
  EXPECT_EQ(gh.at("height").to_number<int>(), 0);
  EXPECT_EQ(gh.at("confirmations").to_number<int>(), 2);
  EXPECT_EQ(gh.at("next").as_string(), hash);

  json::value ci = call(1, "getchaininfo");
  EXPECT_EQ(ci.at("network").as_string(), "devnet");
  EXPECT_EQ(ci.at("blocks").to_number<int>(), 1);
  EXPECT_EQ(ci.at("headers").to_number<int>(), 1);
  EXPECT_EQ(ci.at("bestblockhash").as_string(), hash);
  EXPECT_EQ(ci.at("time"), best.at("time"));
  EXPECT_EQ(ci.at("orphans").to_number<int>(), 0);
  EXPECT_EQ(ci.at("reorgs").to_number<int>(), 0);
  EXPECT_EQ(ci.at("txs").to_number<int>(), 1);
  EXPECT_FALSE(ci.at("producer").as_bool());
  EXPECT_TRUE(call(0, "getchaininfo").at("producer").as_bool());

  json::value info = call(1, "getinfo");
  EXPECT_EQ(info.at("blocks").to_number<int>(), 1);
  EXPECT_EQ(info.at("bestblockhash").as_string(), hash);

  auto reply = client(0).request("/metrics", "", true);
  ASSERT_TRUE(reply.ok()) << reply.error();
  EXPECT_NE(reply->body.find("hearsay_chain_height 1\n"), std::string::npos) << reply->body;
  EXPECT_NE(reply->body.find("hearsay_blocks_produced_total 1\n"), std::string::npos);
  EXPECT_NE(reply->body.find("hearsay_blocks_connected_total 1\n"), std::string::npos);
  auto check = promtool_check(reply->body);
  ASSERT_TRUE(check) << "promtool is not installed";
  EXPECT_EQ(check->first, 0) << check->second;
}

TEST_F(RpcMethods, BlockErrorsAreTyped) {
  auto r = client(1).call("generateblock", json::array{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().rpc_code, kRpcMiscError);
  EXPECT_EQ(r.error().message, kNotAProducerError);

  const std::string unknown(64, 'a');
  for (const char* method : {"getblock", "getblockheader"}) {
    r = client(0).call(method, json::array{json::value(unknown)});
    ASSERT_FALSE(r.ok()) << method;
    EXPECT_EQ(r.error().rpc_code, kRpcInvalidAddressOrKey) << method;
    EXPECT_EQ(r.error().message, "block not found") << method;

    r = client(0).call(method, json::array{json::value("abc")});
    ASSERT_FALSE(r.ok()) << method;
    EXPECT_EQ(r.error().rpc_code, kRpcInvalidParameter) << method;
    EXPECT_EQ(r.error().message, "blockhash must be of length 64 (not 3, for 'abc')");

    r = client(0).call(method, json::array{json::value(std::string(64, 'z'))});
    ASSERT_FALSE(r.ok()) << method;
    EXPECT_EQ(r.error().rpc_code, kRpcInvalidParameter) << method;
    EXPECT_EQ(r.error().message, "blockhash must be hexadecimal string (not '" +
                                     std::string(64, 'z') + "'): 'z' at position 0");

    EXPECT_EQ(error_code(0, method), kRpcInvalidParams) << method;
    EXPECT_EQ(error_code(0, method, {json::value(42)}), kRpcTypeError) << method;
  }
  const std::string genesis = to_hex(devnet_params().genesis_id());
  EXPECT_EQ(error_code(0, "getblock", {json::value(genesis), json::value(3)}),
            kRpcInvalidParameter);
  EXPECT_EQ(error_code(0, "getblock", {json::value(genesis), json::value("1")}), kRpcTypeError);
  EXPECT_EQ(error_code(0, "getblockheader", {json::value(genesis), json::value("x")}),
            kRpcTypeError);
  // Genesis is a block like any other (no transactions).
  EXPECT_EQ(call(0, "getblock", {json::value(genesis)}).at("ntx").to_number<int>(), 0);
}

TEST_F(RpcMethods, EveryMethodHasHelpThatRenders) {
  RpcDispatcher d;
  for (RpcMethodSpec& spec : rpc_method_table(m_net[0], [] {}))
    d.add_method(std::move(spec));
  const std::vector<std::string> names = d.method_names();
  for (const char* expected :
       {"help", "getinfo", "getnetworkinfo", "getblockchaininfo", "getblockcount",
        "getconnectioncount", "uptime", "sendrawtransaction", "getmempoolinfo", "getblock", "stop"})
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  auto help = [&](const std::string& params) {
    auto r = d.handle(R"({"id":1,"method":"help","params":)" + params + "}");
    EXPECT_TRUE(r);
    return r ? json::parse(*r) : json::value();
  };
  const std::string all(help("[]").at("result").as_string());
  for (const std::string& name : names) {
    EXPECT_NE(all.find("  " + name + " "), std::string::npos) << name;
    json::value one = help(R"([")" + name + R"("])");
    ASSERT_TRUE(one.as_object().contains("result")) << name << ": " << json::serialize(one);
    const std::string text(one.at("result").as_string());
    EXPECT_EQ(text.rfind(name, 0), 0u) << text;  // the usage line first
    EXPECT_NE(text.find("\nArguments:"), std::string::npos) << text;
    EXPECT_NE(text.find("\nResult:\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\nExample:\n  hearsay-cli " + name), std::string::npos) << text;
    EXPECT_EQ(text.find("( ... )"), std::string::npos) << name << " has no spec of its own";
  }
  // The live node answers the same.
  const std::string getblock(call(0, "help", {json::value("getblock")}).as_string());
  EXPECT_EQ(getblock.rfind("getblock \"blockhash\" ( verbosity )\n", 0), 0u) << getblock;
  EXPECT_NE(getblock.find("2. verbosity  (number, optional, default=1)"), std::string::npos)
      << getblock;
  auto r = client(0).call("help", json::array{json::value("foo")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().rpc_code, kRpcMethodNotFound);
  EXPECT_EQ(r.error().message, "help: unknown method 'foo'");
}

TEST_F(RpcMethods, ParameterCountsAreChecked) {
  auto r = client(0).call("getinfo", json::array{json::value("extra")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().rpc_code, kRpcInvalidParams);
  EXPECT_EQ(r.error().message, "getinfo takes no parameters (got 1); see help getinfo");
  r = client(0).call("getblock", json::array{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().rpc_code, kRpcInvalidParams);
  EXPECT_EQ(r.error().message,
            "getblock needs at least 1 parameter (got 0): getblock \"blockhash\" ( verbosity ); "
            "see help getblock");
  EXPECT_EQ(
      error_code(0, "sendrawtransaction", {json::value("00"), json::value(true), json::value(1)}),
      kRpcInvalidParams);
}

TEST_F(RpcMethods, HabitualBitcoindMethods) {
  const std::string magic = magic_text(kDevnetMagic);
  json::value ni = call(0, "getnetworkinfo");
  EXPECT_EQ(ni.at("version").as_string(), kHearsayVersion);
  EXPECT_EQ(ni.at("subversion").as_string(), m_net[0].config().host.peer_manager.user_agent);
  EXPECT_EQ(ni.at("protocolversion").to_number<uint32_t>(), kProtocolVersion);
  EXPECT_EQ(ni.at("network").as_string(), "devnet");
  EXPECT_EQ(ni.at("magic").as_string(), magic);
  EXPECT_EQ(ni.at("identity").as_string(), to_hex(m_net[0].identity()));
  EXPECT_EQ(ni.at("listen").as_string(), to_string(*m_net[0].listen_address()));
  EXPECT_EQ(ni.at("connections").to_number<int>(), 1);
  EXPECT_EQ(ni.at("connections_in").to_number<int>(), 1);
  EXPECT_EQ(ni.at("connections_out").to_number<int>(), 0);
  EXPECT_EQ(ni.at("relayfee").to_number<uint64_t>(), m_net[0].config().mempool.min_fee_rate);
  EXPECT_EQ(ni.at("min_fee_rate"), ni.at("relayfee"));
  EXPECT_EQ(ni.at("relay_mode").as_string(), "pull");
  EXPECT_EQ(ni.at("push_peers").to_number<int>(), 0);
  EXPECT_EQ(ni.at("graft_timeout_ms").to_number<int>(), 100);
  EXPECT_EQ(ni.at("lazy_interval_ms").to_number<int>(), 500);

  json::value bci = call(0, "getblockchaininfo");
  EXPECT_EQ(bci.at("chain").as_string(), "devnet");
  EXPECT_EQ(bci.at("magic").as_string(), magic);
  EXPECT_EQ(bci.at("blocks").to_number<int>(), 0);
  EXPECT_EQ(bci.at("headers").to_number<int>(), 0);
  EXPECT_EQ(bci.at("bestblockhash").as_string(), to_hex(devnet_params().genesis_id()));
  EXPECT_TRUE(bci.as_object().contains("time"));
  EXPECT_EQ(call(0, "getchaininfo").at("magic").as_string(), magic);

  EXPECT_EQ(call(0, "getblockcount").to_number<int>(), 0);
  call(0, "generateblock");
  EXPECT_EQ(call(0, "getblockcount").to_number<int>(), 1);
  EXPECT_EQ(call(1, "getconnectioncount").to_number<int>(), 1);
  const json::value up = call(0, "uptime");
  ASSERT_TRUE(up.is_int64()) << json::serialize(up);
  EXPECT_GE(up.get_int64(), 0);
  EXPECT_EQ(call(0, "getmempoolinfo").at("max_per_sender").to_number<size_t>(), kMaxPerSender);
}

TEST_F(RpcMethods, SendRawTransactionVerboseTellsAcceptedFromAlreadyHeld) {
  TxRef tx = devnet_tx(6, 0);
  const json::value hex(to_hex(tx->encoding()));
  json::value first = call(0, "sendrawtransaction", {hex, json::value(true)});
  EXPECT_EQ(first, (json::value{{"txid", to_hex(tx->id())}, {"result", "accepted"}}));
  json::value again = call(0, "sendrawtransaction", {hex, json::value(true)});
  EXPECT_EQ(again, (json::value{{"txid", to_hex(tx->id())}, {"result", "already-held"}}));
  EXPECT_EQ(call(0, "sendrawtransaction", {hex, json::value(false)}).as_string(), to_hex(tx->id()));
  EXPECT_EQ(call(0, "gettransaction", {json::value(to_hex(tx->id()))}).at("network").as_string(),
            magic_text(kDevnetMagic));
  EXPECT_EQ(error_code(0, "sendrawtransaction", {hex, json::value("yes")}), kRpcTypeError);
}

// Bitcoin Core's disconnectnode (by address or by id, exactly one) and setnetworkactive.
TEST_F(RpcMethods, DisconnectNodeAndSetNetworkActive) {
  EXPECT_EQ(error_code(0, "disconnectnode", {}), kRpcInvalidParams);
  EXPECT_EQ(error_code(0, "disconnectnode", {json::value("1.2.3.4:5"), json::value(1)}),
            kRpcInvalidParams);
  EXPECT_EQ(error_code(0, "disconnectnode", {json::value("1.2.3.4:5")}), kRpcInvalidAddressOrKey);
  EXPECT_EQ(error_code(0, "disconnectnode", {json::value(""), json::value(999)}),
            kRpcInvalidAddressOrKey);
  EXPECT_EQ(error_code(0, "disconnectnode", {json::value(""), json::value("one")}), kRpcTypeError);
  auto peer_of_node0 = [&] {
    const json::array peers = call(0, "getpeerinfo").as_array();
    return peers.empty() ? json::value(nullptr) : peers[0];
  };
  ASSERT_TRUE(wait_until([&] { return ready_peers(m_net[0]) == 1; }));
  json::value p = peer_of_node0();
  call(0, "disconnectnode", {p.at("address")});
  EXPECT_TRUE(wait_until(
      [&] {
        json::value q = peer_of_node0();
        return !q.is_null() && q.at("id") != p.at("id");  // node 1 redialled: a new connection
      },
      20s));
  p = peer_of_node0();
  call(0, "disconnectnode", {json::value(nullptr), p.at("id")});
  EXPECT_TRUE(wait_until(
      [&] {
        json::value q = peer_of_node0();
        return !q.is_null() && q.at("id") != p.at("id");
      },
      20s));

  EXPECT_TRUE(call(0, "getnetworkinfo").at("networkactive").as_bool());
  EXPECT_EQ(call(0, "setnetworkactive", {json::value(false)}), json::value(false));
  EXPECT_FALSE(call(0, "getnetworkinfo").at("networkactive").as_bool());
  EXPECT_TRUE(wait_until([&] { return call(0, "getconnectioncount") == json::value(0); }));
  EXPECT_EQ(error_code(0, "setnetworkactive", {}), kRpcInvalidParams);
  EXPECT_EQ(call(0, "setnetworkactive", {json::value(true)}), json::value(true));
  EXPECT_TRUE(wait_until([&] { return ready_peers(m_net[0]) == 1; }, 20s));
}

TEST_F(RpcMethods, HexErrorsSayWhatIsWrong) {
  EXPECT_EQ(error_message(0, "sendrawtransaction", {json::value("abc")}),
            "transaction hex has an odd number of digits (3)");
  EXPECT_EQ(error_message(0, "sendrawtransaction", {json::value("00ffzz")}),
            "transaction hex is not hex: 'z' at position 4");
  EXPECT_EQ(error_message(0, "getnextnonce", {json::value(std::string(63, 'a') + "g")}),
            "sender is not hex: 'g' at position 63");
  EXPECT_EQ(error_message(0, "disconnectpeer", {json::value("ab")}),
            "peer must be 64 hex digits (got 2)");
}

TEST_F(RpcMethods, RejectionsCarryTheirNumbers) {
  const uint64_t min_rate = m_net[0].config().mempool.min_fee_rate;
  TxRef cheap = make_tx(7, 0, 1, 100, 0, kDevnetMagic);
  EXPECT_EQ(error_message(0, "sendrawtransaction", {json::value(to_hex(cheap->encoding()))}),
            "fee-rate-too-low: " + std::to_string(cheap->fee_rate()) +
                " per 1,000 bytes, the minimum is " + std::to_string(min_rate));

  // The sender's nonce 0 is confirmed; a second transaction with nonce 0 is too low.
  TxRef first = devnet_tx(8, 0);
  call(0, "sendrawtransaction", {json::value(to_hex(first->encoding()))});
  call(0, "generateblock");
  TxRef stale = make_tx(8, 0, 2000, 100, 0, kDevnetMagic);
  EXPECT_EQ(error_message(0, "sendrawtransaction", {json::value(to_hex(stale->encoding()))}),
            "nonce-too-low: nonce 0, the sender's next nonce is 1");

  // A held nonce: a replacement must pay 10% more per byte.
  TxRef held = devnet_tx(9, 0);
  call(0, "sendrawtransaction", {json::value(to_hex(held->encoding()))});
  TxRef same = make_tx(9, 0, 1001, 100, 0, kDevnetMagic);
  EXPECT_EQ(error_message(0, "sendrawtransaction", {json::value(to_hex(same->encoding()))}),
            "conflict: the sender already holds nonce 0 paying " +
                std::to_string(held->fee_rate()) + " per 1,000 bytes; this one pays " +
                std::to_string(same->fee_rate()) + ", a replacement must pay at least " +
                std::to_string((held->fee_rate() * 110 + 99) / 100));

  // The sender limit.
  for (uint64_t nonce = 1; nonce < kMaxPerSender; ++nonce)
    call(0, "sendrawtransaction", {json::value(to_hex(devnet_tx(9, nonce)->encoding()))});
  TxRef over = devnet_tx(9, kMaxPerSender);
  EXPECT_EQ(error_message(0, "sendrawtransaction", {json::value(to_hex(over->encoding()))}),
            "sender-limit: the sender holds 3 transactions, the limit is 3");

  // Expired at a height.
  TxRef old = make_tx(10, 0, 1000, 100, 1, kDevnetMagic);
  EXPECT_EQ(error_message(0, "sendrawtransaction", {json::value(to_hex(old->encoding()))}),
            "expired: the transaction's last valid height is 1, the tip is at 1");
}

}  // namespace
}  // namespace hearsay::test
