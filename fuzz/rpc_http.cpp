// Fuzz target: the RPC server's HTTP request handling (node/rpc_http.h, the functions the
// server's sessions call), fed raw bytes as a client would send them on one connection.
//
// The input's first byte picks the configuration (metrics public or not, a metrics provider or
// none, one that throws) and the size of the pieces the bytes arrive in; the rest is the
// connection's bytes. The target does what a session of node/rpc_server.cpp does, with Beast's
// synchronous read algorithms over the bytes instead of a socket: read a head, decide_head(),
// read the body, route(), answer_rpc() / answer_metrics(), next request while the connection
// stays open (at most kMaxRequests).
// Oracle: nothing throws or crashes; every answer serialises to a well-formed HTTP response
// that Beast's response parser reads back whole with the same status and body; the status is
// one the rules name; every answer other than 400, 401 and 431 (the ones given before or
// without credentials) follows a head carrying the right credentials, or is a public GET
// /metrics; a head with the right credentials is never answered 401; a 401 carries
// WWW-Authenticate; every 200 to POST / is a JSON object or array.
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>

#include "fuzz/fuzz_util.h"
#include "node/cookie.h"
#include "node/rpc_http.h"

using namespace hearsay;
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

namespace {

constexpr size_t kMaxRequests = 8;
constexpr std::string_view kCredential = "user:pass";  // "Basic dXNlcjpwYXNz"

// The connection's bytes, handed out in pieces of at most `chunk` bytes; then end of stream.
class ByteStream {
 public:
  ByteStream(const uint8_t* data, size_t size, size_t chunk)
      : m_p(data), m_n(size), m_chunk(chunk) {}
  template <class Buffers>
  size_t read_some(const Buffers& buffers, beast::error_code& ec) {
    if (m_n == 0) {
      ec = net::error::eof;
      return 0;
    }
    ec = {};
    const size_t n = net::buffer_copy(buffers, net::buffer(m_p, std::min(m_n, m_chunk)));
    m_p += n;
    m_n -= n;
    return n;
  }
  template <class Buffers>
  size_t read_some(const Buffers& buffers) {
    beast::error_code ec;
    const size_t n = read_some(buffers, ec);
    if (ec) throw beast::system_error(ec);
    return n;
  }

 private:
  const uint8_t* m_p;
  size_t m_n;
  size_t m_chunk;
};

rpc_http::Site make_site(uint8_t mode) {
  rpc_http::Site site;
  site.credential = std::string(kCredential);
  site.metrics_public = mode & 1;
  if (mode & 2) site.metrics = [] { return std::string("hearsay_up 1\n"); };
  if (mode & 4) site.metrics = []() -> std::string { throw std::runtime_error("provider failed"); };
  site.dispatcher.add_method("echo", [](const boost::json::value& p) -> RpcResult { return p; });
  site.dispatcher.add_method("fail", [](const boost::json::value&) -> RpcResult {
    return fail(RpcError{kRpcMiscError, "it failed"});
  });
  site.dispatcher.add_method("throw", [](const boost::json::value&) -> RpcResult {
    throw std::runtime_error("handler threw");
  });
  return site;
}

const rpc_http::Site& site_for(uint8_t mode) {
  static const rpc_http::Site sites[8] = {make_site(0), make_site(1), make_site(2), make_site(3),
                                          make_site(4), make_site(5), make_site(6), make_site(7)};
  return sites[mode % 8];
}

// The right credentials, as a client sends them ("Basic", any case, spaces, the token).
bool has_credentials(const rpc_http::Parser::value_type& head) {
  auto it = head.find(http::field::authorization);
  if (it == head.end()) return false;
  std::string_view v(it->value().data(), it->value().size());
  if (v.size() < 6 || !beast::iequals(v.substr(0, 6), "basic ")) return false;
  v.remove_prefix(6);
  while (!v.empty() && v.front() == ' ')
    v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ')
    v.remove_suffix(1);
  return v == base64_encode(kCredential);
}

bool public_metrics(const rpc_http::Site& site, const rpc_http::Parser::value_type& head) {
  std::string_view t(head.target().data(), head.target().size());
  return site.metrics_public && head.method() == http::verb::get &&
         t.substr(0, t.find('?')) == "/metrics";
}

// The answer is well-formed HTTP and obeys the rules; `head` is null when none was read.
void check_response(const rpc_http::Site& site, const rpc_http::Response& res,
                    const rpc_http::Parser::value_type* head, bool post_root) {
  const unsigned status = res.result_int();
  FUZZ_ASSERT(status == 200 || status == 204 || status == 400 || status == 401 || status == 404 ||
              status == 405 || status == 413 || status == 431 || status == 500);
  std::ostringstream os;
  os << res;
  const std::string wire = os.str();
  http::response_parser<http::string_body> parser;
  parser.eager(true);
  beast::error_code ec;
  const size_t used = parser.put(net::buffer(wire), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  FUZZ_ASSERT(!ec);
  FUZZ_ASSERT(parser.is_done());
  FUZZ_ASSERT(used == wire.size());
  FUZZ_ASSERT(parser.get().result_int() == status);
  FUZZ_ASSERT(parser.get().body() == res.body());

  if (status == 401) {
    FUZZ_ASSERT(res.find(http::field::www_authenticate) != res.end());
    FUZZ_ASSERT(head && !has_credentials(*head));
  } else if (status != 400 && status != 431) {
    FUZZ_ASSERT(head && (has_credentials(*head) || public_metrics(site, *head)));
  }
  if (status == 200 && post_root) {
    boost::json::error_code jec;
    const boost::json::value v = boost::json::parse(res.body(), jec);
    FUZZ_ASSERT(!jec);
    FUZZ_ASSERT(v.is_object() || v.is_array());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const rpc_http::Site& site = site_for(data[0]);
  const size_t chunk = 1 + (data[0] >> 3) * 37;  // 1 .. 1,148 bytes per read
  ByteStream stream(data + 1, size - 1, chunk);
  beast::flat_buffer buffer;

  for (size_t n = 0; n < kMaxRequests; ++n) {
    rpc_http::Parser parser;
    rpc_http::prepare_parser(parser);
    beast::error_code ec;
    http::read_header(stream, buffer, parser, ec);
    if (ec == http::error::end_of_stream) return 0;
    if (ec) {
      auto refusal = rpc_http::read_error_response(ec, parser);
      if (refusal) {
        FUZZ_ASSERT(!refusal->keep_alive());
        check_response(site, *refusal, nullptr, false);
      }
      return 0;  // the connection closes
    }
    const rpc_http::Parser::value_type head = parser.get();  // a copy, for the oracle
    rpc_http::HeadDecision d = rpc_http::decide_head(site, parser);
    if (d.next == rpc_http::HeadDecision::Next::kRespond) {
      FUZZ_ASSERT(d.response.has_value());
      check_response(site, *d.response, &head, false);
      if (d.linger || d.response->need_eof()) return 0;
      continue;
    }
    FUZZ_ASSERT(has_credentials(head) || public_metrics(site, head));
    if (d.next != rpc_http::HeadDecision::Next::kComplete) {
      http::read(stream, buffer, parser, ec);
      if (ec) {
        auto refusal = rpc_http::read_error_response(ec, parser);
        if (refusal) {
          FUZZ_ASSERT(!refusal->keep_alive());
          check_response(site, *refusal, &head, false);
        }
        return 0;
      }
    }
    const rpc_http::Request request = parser.release();
    const bool post_root = request.method() == http::verb::post &&
                           std::string_view(request.target().data(), request.target().size())
                                   .substr(0, request.target().find('?')) == "/";
    rpc_http::Route r = rpc_http::route(site, request);
    rpc_http::Response res;
    switch (r.kind) {
      case rpc_http::Route::Kind::kRespond:
        FUZZ_ASSERT(r.response.has_value());
        res = std::move(*r.response);
        break;
      case rpc_http::Route::Kind::kRpc:
        FUZZ_ASSERT(post_root);
        res = rpc_http::answer_rpc(site, request);
        break;
      case rpc_http::Route::Kind::kMetrics:
        res = rpc_http::answer_metrics(site, request);
        break;
    }
    check_response(site, res, &head, post_root);
    if (res.need_eof()) return 0;
  }
  return 0;
}
