#include "node/rpc_http.h"

#include <spdlog/spdlog.h>

#include <boost/beast/core.hpp>
#include <charconv>
#include <cstdint>
#include <string_view>

#include "node/cookie.h"
#include "node/rpc_server.h"

namespace hearsay::rpc_http {

namespace {

namespace beast = boost::beast;

constexpr std::string_view kServerName = "hearsayd";
constexpr std::string_view kJsonType = "application/json";
constexpr std::string_view kTextType = "text/plain; charset=utf-8";
constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";

bool is_http_parse_error(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

std::string_view path_of(beast::string_view target) {
  std::string_view t(target.data(), target.size());
  return t.substr(0, t.find('?'));
}

template <class Head>
Response make_response(const Head& head, http::status status, std::string_view type,
                       std::string body) {
  Response res{status, head.version()};
  res.set(http::field::server, kServerName);
  res.set(http::field::content_type, type);
  res.keep_alive(head.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

// An answer after which the connection closes.
Response refusal(const Parser& parser, http::status status, std::string_view type,
                 std::string body) {
  Response res = make_response(parser.get(), status, type, std::move(body));
  res.keep_alive(false);
  return res;
}

// The body size a head declares, 0 when chunked or absent. Read from the field (whose syntax
// Beast has checked) rather than through parser.content_length(): GCC's -O1 flow analysis
// calls that boost::optional maybe-uninitialized. An unreadable number counts as 0: the
// parser's body_limit() still stops the body as it arrives.
uint64_t declared_length(const Parser& parser) {
  std::string_view field = parser.get()[http::field::content_length];
  uint64_t n = 0;
  std::from_chars(field.data(), field.data() + field.size(), n);
  return n;
}

Response large_body_refusal(const Parser& parser) {
  return refusal(parser, http::status::payload_too_large, kJsonType,
                 RpcDispatcher::error_body(
                     kRpcInvalidRequest,
                     "request body larger than " + std::to_string(kRpcMaxBodyBytes) + " bytes"));
}

enum class Auth : uint8_t { kOk, kMissing, kWrong };

Auth authorize(const Site& site, const Parser::value_type& head) {
  if (site.metrics_public && head.method() == http::verb::get &&
      path_of(head.target()) == "/metrics")
    return Auth::kOk;
  auto it = head.find(http::field::authorization);
  if (it == head.end()) return Auth::kMissing;
  auto credential = parse_basic_auth({it->value().data(), it->value().size()});
  return credential && credentials_equal(*credential, site.credential) ? Auth::kOk : Auth::kWrong;
}

// 405, naming the one method the path takes.
Response method_not_allowed(const Request& request, std::string_view allow, std::string text) {
  Response res =
      make_response(request, http::status::method_not_allowed, kTextType, std::move(text));
  res.set(http::field::allow, allow);
  return res;
}

}  // namespace

void prepare_parser(Parser& parser) {
  parser.header_limit(kRpcMaxHeaderBytes);
  // The body limit is applied after the credentials are checked (so that an unauthenticated
  // client learns nothing but 401); a declared length over it is refused in decide_head().
  parser.body_limit(boost::none);
}

std::optional<Response> read_error_response(const beast::error_code& ec, const Parser& parser) {
  if (ec == http::error::header_limit)
    return refusal(
        parser, http::status::request_header_fields_too_large, kTextType,
        "request headers larger than " + std::to_string(kRpcMaxHeaderBytes) + " bytes\n");
  if (ec == http::error::body_limit) return large_body_refusal(parser);
  if (is_http_parse_error(ec))
    return refusal(parser, http::status::bad_request, kTextType,
                   "malformed HTTP request: " + ec.message() + "\n");
  return std::nullopt;
}

HeadDecision decide_head(const Site& site, Parser& parser) {
  HeadDecision d;
  const auto& head = parser.get();
  if (const Auth auth = authorize(site, head); auth != Auth::kOk) {
    Response res =
        make_response(head, http::status::unauthorized, kTextType, "authorization required\n");
    res.set(http::field::www_authenticate, "Basic realm=\"hearsay\"");
    d.linger = !parser.is_done();
    d.response = std::move(res);
    d.auth_failed = auth == Auth::kWrong;
    return d;
  }
  if (parser.is_done()) {
    d.next = HeadDecision::Next::kComplete;
    return d;
  }
  if (declared_length(parser) > kRpcMaxBodyBytes) {
    d.response = large_body_refusal(parser);
    d.linger = true;
    return d;
  }
  parser.body_limit(kRpcMaxBodyBytes);  // for chunked bodies, counted as they arrive
  d.next = beast::iequals(head[http::field::expect], "100-continue")
               ? HeadDecision::Next::kContinueAndRead
               : HeadDecision::Next::kReadBody;
  return d;
}

Route route(const Site& site, const Request& request) {
  Route r;
  const std::string_view path = path_of(request.target());
  const http::verb verb = request.method();
  if (path == "/") {
    if (verb != http::verb::post) {
      r.response = method_not_allowed(request, "POST", "JSON-RPC requests are POSTed to /\n");
      return r;
    }
    r.kind = Route::Kind::kRpc;
    return r;
  }
  if (path == "/metrics") {
    if (verb != http::verb::get) {
      r.response = method_not_allowed(request, "GET", "metrics are read with GET\n");
      return r;
    }
    if (!site.metrics) {
      r.response = make_response(request, http::status::not_found, kTextType, "no metrics\n");
      return r;
    }
    r.kind = Route::Kind::kMetrics;
    return r;
  }
  r.response = make_response(request, http::status::not_found, kTextType, "not found\n");
  return r;
}

Response answer_rpc(const Site& site, const Request& request) {
  std::optional<std::string> body = site.dispatcher.handle(request.body());
  return body ? make_response(request, http::status::ok, kJsonType, std::move(*body))
              : make_response(request, http::status::no_content, kJsonType, "");
}

Response answer_metrics(const Site& site, const Request& request) {
  try {
    return make_response(request, http::status::ok, kMetricsType, site.metrics());
  } catch (const std::exception& e) {
    spdlog::error("rpc: metrics provider threw: {}", e.what());
    return make_response(request, http::status::internal_server_error, kTextType,
                         std::string("metrics failed: ") + e.what() + "\n");
  }
}

}  // namespace hearsay::rpc_http
