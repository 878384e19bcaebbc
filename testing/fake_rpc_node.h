// A fake hearsayd for the CLI tests: an in-process RpcServer on 127.0.0.1:0 whose
// sendrawtransaction decodes and verifies the transaction (as the real one does first) and
// whose getnextnonce answers a configurable number. It records what it received.
#pragma once

#include <boost/json.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

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

  std::vector<TxRef> received() {
    std::lock_guard lock(m_mutex);
    return m_txs;
  }
  std::vector<std::string> nonce_queries() {
    std::lock_guard lock(m_mutex);
    return m_nonce_queries;
  }

  // Set before starting requests.
  uint64_t next_nonce = 0;
  std::function<const char*(const Transaction&)> reject;  // a reason, or nullptr to accept

 private:
  RpcResult send(const boost::json::value& p) {
    auto bytes = from_hex(p.as_array().at(0).as_string());
    if (!bytes) return fail(RpcError{kRpcDeserializationError, "TX decode failed"});
    auto tx = Transaction::decode(std::move(*bytes));
    if (!tx) return fail(RpcError{kRpcDeserializationError, "TX decode failed"});
    if (!(*tx)->verify_signature()) return fail(RpcError{kRpcVerifyError, "bad-signature"});
    if (reject) {
      if (const char* why = reject(**tx)) return fail(RpcError{kRpcVerifyRejected, why});
    }
    std::lock_guard lock(m_mutex);
    m_txs.push_back(*tx);
    return boost::json::value(to_hex((*tx)->id()));
  }

  TempDir m_dir;
  std::mutex m_mutex;
  std::vector<TxRef> m_txs;
  std::vector<std::string> m_nonce_queries;
  std::unique_ptr<RpcServer> m_server;  // last: stopped first
};

}  // namespace hearsay::test
