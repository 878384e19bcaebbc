// A fake hearsayd for the CLI tests: an in-process RpcServer on 127.0.0.1:0 whose
// sendrawtransaction decodes and verifies the transaction (as the real one does first), answers
// "already-held" for one it holds, and enforces an optional per-sender limit; whose
// getnextnonce answers a configurable number; whose getmempoolinfo reports that limit and
// getnetworkinfo a configurable magic; and whose getpeerinfo is documented for the server's
// own help RPC (node/rpc_help.cpp). It records what it received.
#pragma once

#include <boost/json.hpp>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "chainstub/params.h"
#include "crypto/hex.h"
#include "node/rpc_server.h"
#include "p2p/transaction.h"
#include "testing/test_util.h"

namespace hearsay::test {

class FakeNode {
 public:
  // With user/password when `user` is set; otherwise a cookie in a temporary datadir.
  explicit FakeNode(std::string user = "u", std::string password = "p") {
    RpcServerConfig c;
    c.host = "127.0.0.1";
    c.port = 0;
    c.datadir = m_dir.str();
    c.user = std::move(user);
    c.password = std::move(password);
    m_server = std::make_unique<RpcServer>(c);
    m_server->add_method("sendrawtransaction",
                         [this](const boost::json::value& p) { return send(p); });
    m_server->add_method("getnextnonce", [this](const boost::json::value& p) -> RpcResult {
      std::lock_guard lock(m_mutex);
      m_nonce_queries.emplace_back(p.as_array().at(0).as_string());
      return boost::json::value(next_nonce);
    });
    m_server->add_method("getinfo", [](const boost::json::value&) -> RpcResult {
      return boost::json::value(boost::json::object{{"version", "fake"}, {"peers", 0}});
    });
    m_server->add_method("getmempoolinfo",
                         [this](const boost::json::value&) { return mempool_info(); });
    m_server->add_method("getnetworkinfo", [this](const boost::json::value&) -> RpcResult {
      char hex[16];
      std::snprintf(hex, sizeof hex, "0x%08x", magic);
      return boost::json::value(boost::json::object{{"network", "fake"}, {"magic", hex}});
    });
    RpcMethodSpec peers;
    peers.name = "getpeerinfo";
    peers.summary = "The fake node's peers: none.";
    peers.result = "[] (the fake has no peers)";
    peers.example = "hearsay-cli getpeerinfo";
    peers.handler = [](const boost::json::value&) -> RpcResult {
      return boost::json::value(boost::json::array());
    };
    m_server->add_method(std::move(peers));
    m_server->add_method("echo", [](const boost::json::value& p) -> RpcResult { return p; });
    m_server->add_method("getbestblock", [](const boost::json::value&) -> RpcResult {
      return boost::json::value("00ff");
    });
    m_server->add_method(
        "stop", [](const boost::json::value&) -> RpcResult { return boost::json::value(nullptr); });
    Status s = m_server->start();
    HEARSAY_CHECK(s.ok());
  }

  uint16_t port() const { return m_server->port(); }
  std::string rpc() const { return "127.0.0.1:" + std::to_string(port()); }
  std::string datadir() const { return m_dir.str(); }

  // Every transaction it took (accepted or already held), in order of arrival.
  std::vector<TxRef> received() {
    std::lock_guard lock(m_mutex);
    return m_txs;
  }
  // How many distinct transactions it holds.
  size_t held() {
    std::lock_guard lock(m_mutex);
    return m_held.size();
  }
  std::vector<std::string> nonce_queries() {
    std::lock_guard lock(m_mutex);
    return m_nonce_queries;
  }

  // Set before starting requests.
  uint64_t next_nonce = 0;
  uint32_t magic = kDevnetMagic;  // getnetworkinfo's "magic"
  // Most transactions held per sender (sender-limit beyond); 0: no limit. Reported by
  // getmempoolinfo as max_per_sender unless `report_max_per_sender` is false.
  size_t max_per_sender = 0;
  bool report_max_per_sender = true;
  std::function<const char*(const Transaction&)> reject;  // a reason, or nullptr to accept

 private:
  RpcResult send(const boost::json::value& p) {
    const boost::json::array& params = p.as_array();
    auto bytes = from_hex(params.at(0).as_string());
    if (!bytes) return fail(RpcError{kRpcDeserializationError, "TX decode failed"});
    auto tx = Transaction::decode(std::move(*bytes));
    if (!tx) return fail(RpcError{kRpcDeserializationError, "TX decode failed"});
    if (!(*tx)->verify_signature()) return fail(RpcError{kRpcVerifyError, "bad-signature"});
    if (reject) {
      if (const char* why = reject(**tx)) return fail(RpcError{kRpcVerifyRejected, why});
    }
    const bool verbose = params.size() > 1 && params.at(1).is_bool() && params.at(1).as_bool();
    std::lock_guard lock(m_mutex);
    const bool already = m_held.count((*tx)->id()) > 0;
    size_t& of_sender = m_per_sender[(*tx)->sender()];
    if (!already && max_per_sender > 0 && of_sender >= max_per_sender)
      return fail(RpcError{kRpcVerifyRejected, "sender-limit: the sender already has " +
                                                   std::to_string(of_sender) +
                                                   " transactions in the mempool"});
    if (!already) {
      m_held.insert((*tx)->id());
      ++of_sender;
    }
    m_txs.push_back(*tx);
    const std::string id = to_hex((*tx)->id());
    if (!verbose) return boost::json::value(id);
    return boost::json::value(
        boost::json::object{{"txid", id}, {"result", already ? "already-held" : "accepted"}});
  }

  RpcResult mempool_info() {
    std::lock_guard lock(m_mutex);
    boost::json::object o{{"size", m_held.size()}};
    if (max_per_sender > 0 && report_max_per_sender) o["max_per_sender"] = max_per_sender;
    return boost::json::value(std::move(o));
  }

  TempDir m_dir;
  std::mutex m_mutex;
  std::vector<TxRef> m_txs;
  std::set<TxId> m_held;
  std::map<PublicKey, size_t> m_per_sender;
  std::vector<std::string> m_nonce_queries;
  std::unique_ptr<RpcServer> m_server;  // last: stopped first
};

}  // namespace hearsay::test
