// Every RPC method of hearsayd against live in-process nodes (real RPC server, real network).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "crypto/hex.h"
#include "node/rpc_client.h"
#include "node/rpc_dispatch.h"
#include "tests/integration/testnet_util.h"

namespace hearsay::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

class RpcMethods : public ::testing::Test {
 protected:
  void SetUp() override {
    auto with_rpc = [this](NodeConfig& c) {
      c.rpc_host = "127.0.0.1";
      c.rpc_port = 0;
      c.on_stop_request = [this] { ++m_stop_requests; };
    };
    m_net.start(0, {}, with_rpc);
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
  int error_code(size_t i, std::string_view method, json::array params = {}) {
    auto r = client(i).call(method, params);
    EXPECT_FALSE(r.ok()) << method << " succeeded";
    return r.ok() || !r.error().rpc_code ? 0 : *r.error().rpc_code;
  }

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

  json::value peers = call(1, "getpeerinfo");
  ASSERT_EQ(peers.as_array().size(), 1u);
  const json::object& p = peers.as_array()[0].as_object();
  EXPECT_EQ(p.at("identity").as_string(), to_hex(m_net[0].identity()));
  EXPECT_EQ(p.at("direction").as_string(), "outbound");
  EXPECT_TRUE(p.at("handshake_done").as_bool());
  EXPECT_GT(p.at("bytes_sent").to_number<int64_t>(), 0);
  EXPECT_TRUE(p.at("messages").as_object().contains("version"));
  EXPECT_EQ(p.at("misbehaviour").to_number<int>(), 0);
  EXPECT_TRUE(p.at("link").as_object().contains("delay_ms"));
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
  EXPECT_EQ(r.error().message, "wrong-network");
  EXPECT_EQ(error_code(0, "gettransaction", {json::value(std::string(64, 'a'))}),
            kRpcInvalidAddressOrKey);
  EXPECT_EQ(error_code(0, "gettransaction", {json::value("abc")}), kRpcInvalidParameter);
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
  auto check = promtool_check(reply->body);
  ASSERT_TRUE(check)
      << "promtool is not installed: contrib/install-deps.sh installs it (prometheus)";
  EXPECT_EQ(check->first, 0) << check->second;
}

}  // namespace
}  // namespace hearsay::test
