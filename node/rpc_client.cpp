#include "node/rpc_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>

#include "node/cookie.h"

namespace hearsay {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

// Nesting accepted in a response (deeper than any request the server accepts).
constexpr size_t kMaxResponseJsonDepth = 64;

std::string seconds_text(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  return std::to_string(ms) + " ms";
}

std::string first_line(std::string_view text) {
  auto nl = text.find('\n');
  std::string line(text.substr(0, nl));
  if (line.size() > 200) line = line.substr(0, 200) + "...";
  return line;
}

void pretty(const json::value& v, int indent, std::string& out) {
  auto pad = [&](int n) { out.append(static_cast<size_t>(n) * 2, ' '); };
  switch (v.kind()) {
    case json::kind::object: {
      const json::object& o = v.get_object();
      if (o.empty()) {
        out += "{}";
        return;
      }
      out += "{\n";
      bool first = true;
      for (const auto& kv : o) {
        if (!first) out += ",\n";
        first = false;
        pad(indent + 1);
        out += json::serialize(json::string(kv.key()));
        out += ": ";
        pretty(kv.value(), indent + 1, out);
      }
      out += '\n';
      pad(indent);
      out += '}';
      return;
    }
    case json::kind::array: {
      const json::array& a = v.get_array();
      if (a.empty()) {
        out += "[]";
        return;
      }
      out += "[\n";
      bool first = true;
      for (const auto& e : a) {
        if (!first) out += ",\n";
        first = false;
        pad(indent + 1);
        pretty(e, indent + 1, out);
      }
      out += '\n';
      pad(indent);
      out += ']';
      return;
    }
    case json::kind::double_: {
      double d = v.get_double();
      if (!std::isfinite(d)) {
        out += "null";
        return;
      }
      char buf[64];
      auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d);
      out.append(buf, ec == std::errc() ? end : buf);
      return;
    }
    default:
      out += json::serialize(v);
  }
}

}  // namespace

std::string RpcClientError::one_line() const {
  std::string line =
      rpc_code ? "error code: " + std::to_string(*rpc_code) + ": " + message : "error: " + message;
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  return line;
}

std::string pretty_json(const json::value& v) {
  std::string out;
  pretty(v, 0, out);
  return out;
}

std::string format_rpc_result(const json::value& result) {
  if (result.is_null()) return "";
  if (const json::string* s = result.if_string()) return std::string(s->data(), s->size());
  return pretty_json(result);
}

struct RpcClient::Connection {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  bool used = false;  // at least one exchange completed on it
};

RpcClient::RpcClient(RpcClientConfig config) : m_config(std::move(config)) {}
RpcClient::~RpcClient() = default;
RpcClient::RpcClient(RpcClient&&) noexcept = default;
RpcClient& RpcClient::operator=(RpcClient&&) noexcept = default;

std::string RpcClient::address() const {
  const std::string& h = m_config.host;
  return (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" +
         std::to_string(m_config.port);
}

Result<std::string, std::string> RpcClient::credential() const {
  if (!m_config.user.empty()) return m_config.user + ":" + m_config.password;
  if (m_config.datadir.empty())
    return fail(std::string(
        "no RPC credentials: pass --datadir (to read its .cookie) or --rpc-user/--rpc-password"));
  return read_cookie_file(m_config.datadir);
}

Result<std::unique_ptr<RpcClient::Connection>, std::string> RpcClient::connect() const {
  const std::string where = address();
  auto conn = std::make_unique<Connection>();
  asio::io_context& ioc = conn->ioc;
  // Resolve (no timeout of its own: bounded by running the context for connect_timeout).
  tcp::resolver resolver(ioc);
  beast::error_code ec;
  tcp::resolver::results_type endpoints;
  bool resolved = false;
  resolver.async_resolve(m_config.host, std::to_string(m_config.port),
                         [&](beast::error_code e, tcp::resolver::results_type r) {
                           ec = e;
                           endpoints = std::move(r);
                           resolved = true;
                         });
  ioc.run_for(m_config.connect_timeout);
  if (!resolved) {
    resolver.cancel();
    ioc.restart();
    ioc.run();
    return fail("cannot resolve RPC host " + m_config.host + " within " +
                seconds_text(m_config.connect_timeout) + " (is --rpc right?)");
  }
  if (ec)
    return fail("cannot resolve RPC host " + m_config.host + ": " + ec.message() +
                " (is --rpc right?)");

  conn->stream.expires_after(m_config.connect_timeout);
  conn->stream.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
  ioc.restart();
  ioc.run();
  if (ec == beast::error::timeout)
    return fail("cannot connect to hearsayd at " + where + ": no answer within " +
                seconds_text(m_config.connect_timeout) + " (is hearsayd running? is --rpc right?)");
  if (ec)
    return fail("cannot connect to hearsayd at " + where + ": " + ec.message() +
                " (is hearsayd running? is --rpc right?)");
  return conn;
}

Result<RpcClient::HttpReply, std::string> RpcClient::request(std::string_view target,
                                                             std::string_view body, bool get,
                                                             bool authenticate) {
  http::request<http::string_body> req{get ? http::verb::get : http::verb::post,
                                       beast::string_view(target.data(), target.size()), 11};
  req.set(http::field::host, address());
  req.set(http::field::user_agent, "hearsay-cli");
  if (authenticate) {
    auto cred = credential();
    if (!cred) return fail(cred.error());
    req.set(http::field::authorization, basic_auth_header(*cred));
  }
  if (!get) {
    req.set(http::field::content_type, "application/json");
    req.body() = std::string(body);
  }
  req.keep_alive(m_config.keep_alive);
  req.prepare_payload();

  const std::string where = address();
  // A kept connection may have been closed by the server while idle: if the exchange on a
  // reused connection fails before any answer arrived, open a new one and try once more.
  for (int attempt = 0;; ++attempt) {
    if (!m_conn) {
      auto conn = connect();
      if (!conn) return fail(conn.error());
      m_conn = std::move(*conn);
    }

    Connection& c = *m_conn;
    const bool reused = c.used;
    beast::error_code ec;
    c.stream.expires_after(m_config.timeout);
    c.buffer.clear();
    http::response_parser<http::string_body> parser;
    parser.body_limit(kRpcClientMaxResponseBytes);
    bool wrote = false;
    http::async_write(c.stream, req, [&](beast::error_code e, size_t) {
      ec = e;
      wrote = true;
      // Read even when the write failed part-way: the server may have answered (401, 413) and
      // stopped reading; its answer is more useful than the broken pipe.
      http::async_read(c.stream, c.buffer, parser, [&](beast::error_code re, size_t) {
        if (!re)
          ec = {};  // the answer arrived: a write error does not matter
        else if (!ec)
          ec = re;
      });
    });
    c.ioc.restart();
    c.ioc.run();
    if (ec) {
      const bool got_some = parser.got_some();
      m_conn.reset();
      if (reused && !got_some && attempt == 0 && ec != beast::error::timeout) continue;
      if (ec == beast::error::timeout)
        return fail("no answer from hearsayd at " + where + " within " +
                    seconds_text(m_config.timeout));
      return fail(std::string("lost the connection to hearsayd at ") + where + " while " +
                  (wrote && got_some ? "reading its answer" : "talking to it") + ": " +
                  ec.message());
    }

    HttpReply reply;
    const auto& res = parser.get();
    reply.status = res.result_int();
    reply.content_type = std::string(res[http::field::content_type]);
    reply.body = res.body();
    if (m_config.keep_alive && res.keep_alive()) {
      c.used = true;
    } else {
      beast::error_code ignored;
      c.stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      m_conn.reset();
    }
    return reply;
  }
}

Result<json::value, RpcClientError> RpcClient::post_json(const std::string& body) {
  auto reply = request("/", body);
  if (!reply) return fail(RpcClientError{std::nullopt, reply.error()});
  const std::string where = address();
  if (reply->status == 401)
    return fail(RpcClientError{
        std::nullopt,
        "hearsayd at " + where + " refused the credentials (HTTP 401): check --rpc-user/" +
            "--rpc-password, or that --datadir is the daemon's (its cookie is read from " +
            (m_config.datadir.empty() ? std::string("<datadir>/.cookie")
                                      : cookie_path(m_config.datadir)) +
            ")"});

  json::error_code ec;
  json::parse_options opts;
  opts.max_depth = kMaxResponseJsonDepth;
  json::value doc = json::parse(reply->body, ec, {}, opts);
  if (ec || !(doc.is_object() || doc.is_array())) {
    std::string what = "hearsayd at " + where + " answered HTTP " + std::to_string(reply->status);
    if (!reply->body.empty()) what += ": " + first_line(reply->body);
    if (reply->status == 200) what += " (not a JSON-RPC response)";
    return fail(RpcClientError{std::nullopt, what});
  }
  if (reply->status != 200 && doc.is_array())
    return fail(RpcClientError{std::nullopt, "hearsayd at " + where + " answered HTTP " +
                                                 std::to_string(reply->status) + ": " +
                                                 first_line(reply->body)});
  if (reply->status != 200) {
    // An error object (413 carries one) says more than the status; anything else is HTTP.
    const json::value* err = doc.get_object().if_contains("error");
    if (err == nullptr || err->is_null())
      return fail(RpcClientError{std::nullopt, "hearsayd at " + where + " answered HTTP " +
                                                   std::to_string(reply->status) + ": " +
                                                   first_line(reply->body)});
  }
  return doc;
}

namespace {

// The result of one JSON-RPC response object.
Result<json::value, RpcClientError> unpack_response(const json::object& obj,
                                                    const std::string& where) {
  if (const json::value* err = obj.if_contains("error"); err != nullptr && !err->is_null()) {
    RpcClientError e;
    const json::object* eo = err->if_object();
    const json::value* code = eo ? eo->if_contains("code") : nullptr;
    const json::value* msg = eo ? eo->if_contains("message") : nullptr;
    if (code != nullptr && code->is_int64()) e.rpc_code = static_cast<int>(code->get_int64());
    e.message =
        msg != nullptr && msg->is_string() ? std::string(msg->get_string()) : json::serialize(*err);
    if (!e.rpc_code) e.message = "hearsayd at " + where + " answered an error: " + e.message;
    return fail(std::move(e));
  }
  const json::value* result = obj.if_contains("result");
  if (result == nullptr)
    return fail(RpcClientError{
        std::nullopt, "hearsayd at " + where +
                          " answered without a result: " + first_line(json::serialize(obj))});
  return *result;
}

}  // namespace

Result<json::value, RpcClientError> RpcClient::call(std::string_view method,
                                                    const json::value& params) {
  json::object req;
  req["jsonrpc"] = "2.0";
  req["id"] = m_next_id++;
  req["method"] = method;
  req["params"] = params;
  auto doc = post_json(json::serialize(req));
  if (!doc) return fail(doc.error());
  const std::string where = address();
  const json::object* obj = doc->if_object();
  if (obj == nullptr)
    return fail(RpcClientError{std::nullopt,
                               "hearsayd at " + where + " answered a batch to a single call"});
  return unpack_response(*obj, where);
}

Result<std::vector<RpcClient::CallResult>, RpcClientError> RpcClient::call_batch(
    std::span<const RpcCall> calls) {
  std::vector<CallResult> out;
  if (calls.empty()) return out;
  const uint64_t first_id = m_next_id;
  json::array batch;
  batch.reserve(calls.size());
  for (const RpcCall& c : calls) {
    json::object req;
    req["jsonrpc"] = "2.0";
    req["id"] = m_next_id++;
    req["method"] = c.method;
    req["params"] = c.params;
    batch.emplace_back(std::move(req));
  }
  auto doc = post_json(json::serialize(batch));
  if (!doc) return fail(doc.error());
  const std::string where = address();
  if (const json::object* obj = doc->if_object()) {
    // A whole-batch error (batch too large, body too large): every call failed with it.
    auto one = unpack_response(*obj, where);
    if (one)
      return fail(RpcClientError{std::nullopt,
                                 "hearsayd at " + where + " answered a batch with one result"});
    return fail(one.error());
  }
  const json::array& answers = doc->get_array();
  std::vector<const json::object*> by_index(calls.size(), nullptr);
  for (const json::value& a : answers) {
    const json::object* o = a.if_object();
    const json::value* id = o ? o->if_contains("id") : nullptr;
    if (id == nullptr || !id->is_number()) continue;
    json::error_code ec;
    uint64_t n = id->to_number<uint64_t>(ec);
    if (ec || n < first_id || n - first_id >= calls.size()) continue;
    by_index[n - first_id] = o;
  }
  out.reserve(calls.size());
  for (size_t i = 0; i < calls.size(); ++i) {
    if (by_index[i] == nullptr)
      out.emplace_back(fail(RpcClientError{
          std::nullopt, "hearsayd at " + where + " did not answer call " + std::to_string(i + 1) +
                            " of a batch (" + calls[i].method + ")"}));
    else
      out.emplace_back(unpack_response(*by_index[i], where));
  }
  return out;
}

}  // namespace hearsay
