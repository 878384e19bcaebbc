// A synchronous JSON-RPC client for hearsayd (used by hearsay-cli and the tests).
//
// One HTTP/1.1 connection per call by default (the CLI makes one call per run); with
// `keep_alive` the connection stays open between calls (a load generator making thousands of
// calls), and a reused connection the server closed while idle is reopened once, transparently.
// Every step — resolve,
// connect, write, read — has a deadline (connect_timeout for the first two, timeout for the
// rest), so a wedged daemon cannot hang the CLI. Credentials: user/password when given,
// otherwise `<datadir>/.cookie`, re-read on every call (a restarted daemon has a new cookie).
// A response is read up to kRpcClientMaxResponseBytes.
//
// Errors: an RpcClientError is either the daemon's JSON-RPC error (rpc_code set, message from
// the daemon) or a failure to talk to it at all (rpc_code empty; the message names the
// address or file and what to check). Not thread-safe: one client per thread.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"

namespace hearsay {

// Largest response accepted, bytes (a getrawmempool of a full 300 MB mempool is ~70 bytes
// per entry times millions; 256 MiB leaves room and still bounds a broken daemon).
inline constexpr size_t kRpcClientMaxResponseBytes = 256 * 1024 * 1024;

struct RpcClientConfig {
  std::string host = "127.0.0.1";  // IP literal or name
  uint16_t port = 0;
  std::string datadir;  // cookie location, used when user is empty
  std::string user;
  std::string password;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds timeout{900'000};  // whole request; bitcoin-cli waits 900 s too
  bool keep_alive = false;                     // reuse one connection across calls
};

// One call of a batch.
struct RpcCall {
  std::string method;
  boost::json::value params;  // an array or an object
};

struct RpcClientError {
  std::optional<int> rpc_code;  // set when the daemon answered with a JSON-RPC error
  std::string message;
  // One line for stderr: "error code: -26: message" or "error: <transport message>"
  // (newlines in the daemon's message become spaces).
  std::string one_line() const;
};

class RpcClient {
 public:
  explicit RpcClient(RpcClientConfig config);
  ~RpcClient();
  RpcClient(RpcClient&&) noexcept;
  RpcClient& operator=(RpcClient&&) noexcept;

  // Calls `method` with `params` (an array or an object) and returns "result".
  Result<boost::json::value, RpcClientError> call(std::string_view method,
                                                  const boost::json::value& params);

  // Sends `calls` as one JSON-RPC batch (at most kRpcMaxBatchRequests, see rpc_dispatch.h)
  // and returns one result per call, in the order of `calls`. The outer error is a failure of
  // the whole exchange (transport, credentials, an answer that is not a batch response).
  using CallResult = Result<boost::json::value, RpcClientError>;
  Result<std::vector<CallResult>, RpcClientError> call_batch(std::span<const RpcCall> calls);

  // The raw exchange, for tests of the server: POSTs `body` to `target` (or GETs it when
  // body is empty and `get` is true) and returns (HTTP status, response body).
  struct HttpReply {
    unsigned status = 0;
    std::string content_type;
    std::string body;
  };
  Result<HttpReply, std::string> request(std::string_view target, std::string_view body,
                                         bool get = false, bool authenticate = true);

  std::string address() const;

 private:
  Result<std::string, std::string> credential() const;
  // POSTs a JSON-RPC body to "/" and returns the parsed JSON answer (401 and non-JSON answers
  // become errors).
  Result<boost::json::value, RpcClientError> post_json(const std::string& body);

  struct Connection;  // an open keep-alive connection (io_context and stream)
  // Resolves the host and connects, each within connect_timeout.
  Result<std::unique_ptr<Connection>, std::string> connect() const;
  RpcClientConfig m_config;
  uint64_t m_next_id = 1;
  std::unique_ptr<Connection> m_conn;
};

// bitcoin-cli's output convention: a string is printed bare, null as nothing, numbers and
// booleans as JSON, objects and arrays as JSON indented by two spaces. No trailing newline.
std::string format_rpc_result(const boost::json::value& result);
// JSON with two-space indentation, one member or element per line (UniValue::write(2) style).
std::string pretty_json(const boost::json::value& v);

}  // namespace hearsay
