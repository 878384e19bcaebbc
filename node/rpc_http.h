// The RPC server's HTTP decisions, without a socket: what a session of node/rpc_server.cpp
// does with a request head, a read error and a complete request. The server reads with
// Beast's asynchronous algorithms and calls these; fuzz/rpc_http.cpp feeds raw bytes to the
// same parser synchronously and calls the same functions, so the fuzzed code is the server's.
//
// The rules (authentication, routes, status codes, limits) are node/rpc_server.h's. A session
// does, per request:
//   1. prepare_parser(), read the head;
//   2. on a read error: read_error_response() — an answer, after which the connection closes
//      (lingering), or nothing (end of stream or an I/O error: close);
//   3. decide_head(): answer now (401, 413), the request is complete, or read the body (after
//      sending "100 Continue" when asked);
//   4. on a read error of the body: as 2;
//   5. route() the complete request: an answer, or the JSON-RPC dispatcher or metrics provider
//      (answer_rpc(), answer_metrics(), on a handler thread).
// Internal to the node library: Beast types appear here, never in rpc_server.h.
#pragma once

#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "net/rate_limited_log.h"
#include "node/rpc_dispatch.h"

namespace hearsay::rpc_http {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using Parser = http::request_parser<http::string_body>;

// Immutable once the server has started; shared by every session and handler thread.
struct Site {
  RpcDispatcher dispatcher;
  std::string credential;  // "user:password" accepted
  bool metrics_public = false;
  std::function<std::string()> metrics;             // empty: /metrics is 404
  std::chrono::milliseconds auth_failure_delay{0};  // before a 401 for wrong credentials
  // Where failed authentications are logged (one limiter per server); null: not logged.
  std::shared_ptr<RateLimitedLog> auth_log;
};

// A fresh parser's limits for reading a head (the body limit is set by decide_head()).
void prepare_parser(Parser& parser);

// The answer to a failed read of a head or body: 431 (head too large), 413 (body too large)
// or 400 (malformed), to be sent with keep-alive off and a lingering drain; nullopt for end of
// stream and I/O errors (nothing to answer).
std::optional<Response> read_error_response(const boost::beast::error_code& ec,
                                            const Parser& parser);

struct HeadDecision {
  enum class Next : uint8_t {
    kRespond,          // send `response`; linger when `linger` (an unread body is left)
    kComplete,         // the request has no body: route() it
    kReadBody,         // read the body, then route()
    kContinueAndRead,  // send "HTTP/1.1 100 Continue", read the body, then route()
  };
  Next next = Next::kRespond;
  std::optional<Response> response;
  bool linger = false;
  // Wrong credentials were presented: log it, and send `response` (401) only after
  // site.auth_failure_delay.
  bool auth_failed = false;
};
// Checks the credentials and the declared body size of a head just read (sets the parser's
// body limit when the body is to be read).
HeadDecision decide_head(const Site& site, Parser& parser);

// The bytes a session sends for "Expect: 100-continue".
inline constexpr std::string_view kContinueResponse = "HTTP/1.1 100 Continue\r\n\r\n";

struct Route {
  enum class Kind : uint8_t { kRespond, kRpc, kMetrics };
  Kind kind = Kind::kRespond;
  std::optional<Response> response;  // for kRespond
};
// Where a complete, authorised request goes.
Route route(const Site& site, const Request& request);

// The JSON-RPC answer (200 with a JSON-RPC body, or 204 for notifications only). Never throws.
Response answer_rpc(const Site& site, const Request& request);
// GET /metrics: 200 with the provider's text, 500 when it throws.
Response answer_metrics(const Site& site, const Request& request);

}  // namespace hearsay::rpc_http
