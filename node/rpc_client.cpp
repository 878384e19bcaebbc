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

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = net::ip::tcp;

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

RpcClient::RpcClient(RpcClientConfig config) : m_config(std::move(config)) {}

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
  req.keep_alive(false);
  req.prepare_payload();

  net::io_context ioc;
  const std::string where = address();

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

  beast::tcp_stream stream(ioc);
  stream.expires_after(m_config.connect_timeout);
  stream.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
  ioc.restart();
  ioc.run();
  if (ec == beast::error::timeout)
    return fail("cannot connect to hearsayd at " + where + ": no answer within " +
                seconds_text(m_config.connect_timeout) + " (is hearsayd running? is --rpc right?)");
  if (ec)
    return fail("cannot connect to hearsayd at " + where + ": " + ec.message() +
                " (is hearsayd running? is --rpc right?)");

  stream.expires_after(m_config.timeout);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kRpcClientMaxResponseBytes);
  bool wrote = false;
  http::async_write(stream, req, [&](beast::error_code e, size_t) {
    ec = e;
    wrote = true;
    // Read even when the write failed part-way: the server may have answered (401, 413) and
    // stopped reading; its answer is more useful than the broken pipe.
    http::async_read(stream, buffer, parser, [&](beast::error_code re, size_t) {
      if (!re)
        ec = {};  // the answer arrived: a write error does not matter
      else if (!ec)
        ec = re;
    });
  });
  ioc.restart();
  ioc.run();
  if (ec == beast::error::timeout)
    return fail("no answer from hearsayd at " + where + " within " +
                seconds_text(m_config.timeout));
  if (ec)
    return fail(std::string("lost the connection to hearsayd at ") + where + " while " +
                (wrote && parser.got_some() ? "reading its answer" : "talking to it") + ": " +
                ec.message());

  HttpReply reply;
  const auto& res = parser.get();
  reply.status = res.result_int();
  reply.content_type = std::string(res[http::field::content_type]);
  reply.body = res.body();
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return reply;
}

Result<json::value, RpcClientError> RpcClient::call(std::string_view method,
                                                    const json::value& params) {
  json::object req;
  req["jsonrpc"] = "2.0";
  req["id"] = m_next_id++;
  req["method"] = method;
  req["params"] = params;
  auto reply = request("/", json::serialize(req));
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
  const json::object* obj = ec ? nullptr : doc.if_object();
  if (obj == nullptr) {
    std::string what = "hearsayd at " + where + " answered HTTP " + std::to_string(reply->status);
    if (!reply->body.empty()) what += ": " + first_line(reply->body);
    if (reply->status == 200) what += " (not a JSON-RPC response)";
    return fail(RpcClientError{std::nullopt, what});
  }
  if (const json::value* err = obj->if_contains("error"); err != nullptr && !err->is_null()) {
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
  if (reply->status != 200)
    return fail(RpcClientError{std::nullopt, "hearsayd at " + where + " answered HTTP " +
                                                 std::to_string(reply->status) + ": " +
                                                 first_line(reply->body)});
  const json::value* result = obj->if_contains("result");
  if (result == nullptr)
    return fail(RpcClientError{
        std::nullopt,
        "hearsayd at " + where + " answered without a result: " + first_line(reply->body)});
  return *result;
}

}  // namespace hearsay
