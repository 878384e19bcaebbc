// RpcServer over real loopback sockets (127.0.0.1, port 0), driven by fake methods.
#include "node/rpc_server.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <thread>

#include "node/cookie.h"
#include "node/rpc_client.h"
#include "testing/test_util.h"
#include "testing/wait.h"

namespace hearsay {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = net::ip::tcp;
using Response = http::response<http::string_body>;

// A plain blocking HTTP connection for exchanges RpcClient does not make (keep-alive reuse,
// no credentials, malformed requests, custom headers).
class RawConnection {
 public:
  explicit RawConnection(uint16_t port) : m_socket(m_ioc) {
    m_socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  }
  Response exchange(http::request<http::string_body> req) {
    if (!req.chunked()) req.prepare_payload();
    http::write(m_socket, req);
    return read();
  }
  Response read() {
    http::response_parser<http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    http::read(m_socket, m_buffer, parser);
    return parser.release();
  }
  void write_raw(std::string_view bytes) { net::write(m_socket, net::buffer(bytes)); }
  // Bytes the server has sent that are not read yet.
  size_t available() { return m_socket.available(); }
  // Waits for the server to close the connection; true on a clean end of stream or reset.
  // (Bytes the server sent before closing are skipped.)
  bool closed_by_server() {
    char buf[4096];
    beast::error_code ec;
    while (!ec)
      m_socket.read_some(net::buffer(buf), ec);
    EXPECT_TRUE(ec == net::error::eof || ec == net::error::connection_reset) << ec.message();
    return ec == net::error::eof || ec == net::error::connection_reset;
  }

 private:
  net::io_context m_ioc;
  tcp::socket m_socket;
  beast::flat_buffer m_buffer;
};

http::request<http::string_body> post(std::string body, const std::string& credential) {
  http::request<http::string_body> req{http::verb::post, "/", 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, "application/json");
  if (!credential.empty()) req.set(http::field::authorization, basic_auth_header(credential));
  req.body() = std::move(body);
  return req;
}

http::request<http::string_body> get(std::string target, const std::string& credential) {
  http::request<http::string_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!credential.empty()) req.set(http::field::authorization, basic_auth_header(credential));
  return req;
}

std::string metrics_text() {
  return "# HELP hearsay_up Whether the node runs.\n# TYPE hearsay_up gauge\nhearsay_up 1\n";
}

RpcResult echo(const json::value& params) {
  return params;
}

RpcResult greet(const json::value& params) {
  // Throws (invalid_argument / out_of_range) on wrong shapes: the dispatcher must catch it.
  return json::value("hello " + std::string(params.as_array().at(0).as_string()));
}

// A server on 127.0.0.1:0 with a cookie in a temporary data directory.
class RpcServerTest : public ::testing::Test {
 protected:
  void start(RpcServerConfig config = {}) {
    config.host = "127.0.0.1";
    config.port = 0;
    if (config.datadir.empty()) config.datadir = m_dir.str();
    if (!config.metrics) config.metrics = metrics_text;
    m_server = std::make_unique<RpcServer>(config);
    m_server->add_method("echo", echo);
    m_server->add_method("greet", greet);
    m_server->add_method("reject", [](const json::value&) -> RpcResult {
      return fail(RpcError{kRpcVerifyRejected, "tx rejected: fee too low"});
    });
    m_server->add_method(
        "boom", [](const json::value&) -> RpcResult { throw std::runtime_error("handler bug"); });
    m_server->add_method("block", [this](const json::value&) -> RpcResult {
      std::unique_lock lock(m_mutex);
      m_blocked = true;
      m_cv.notify_all();
      m_cv.wait(lock, [&] { return m_release; });
      m_returned = true;
      return json::value("released");
    });
    Status s = m_server->start();
    ASSERT_TRUE(s) << s.message();
  }
  std::string cookie() {
    auto c = read_cookie_file(m_dir.str());
    EXPECT_TRUE(c) << c.error();
    return c ? *c : "";
  }
  RpcClient client() {
    RpcClientConfig c;
    c.port = m_server->port();
    c.datadir = m_dir.str();
    c.connect_timeout = std::chrono::seconds(10);
    c.timeout = std::chrono::seconds(60);
    return RpcClient(c);
  }
  // Reads a JSON-RPC response body.
  static json::object parse(const std::string& body) {
    json::value v = json::parse(body);
    EXPECT_TRUE(v.is_object()) << body;
    return v.is_object() ? v.get_object() : json::object();
  }
  static int64_t error_code_of(const std::string& body) {
    json::object o = parse(body);
    if (!o.contains("error") || !o["error"].is_object()) return 0;
    return o["error"].as_object()["code"].as_int64();
  }

  test::TempDir m_dir;
  std::unique_ptr<RpcServer> m_server;
  std::mutex m_mutex;
  std::condition_variable m_cv;
  bool m_blocked = false;
  bool m_release = false;
  bool m_returned = false;  // the "block" handler has been released and returns
};

TEST_F(RpcServerTest, CookieIsWrittenWithMode0600AndDeletedAtStop) {
  start();
  const std::string path = cookie_path(m_dir.str());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string c = cookie();
  ASSERT_EQ(c.size(), std::string("__cookie__:").size() + 64) << c;
  EXPECT_TRUE(c.starts_with("__cookie__:"));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  m_server->stop();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(RpcServerTest, MissingOrWrongCredentialsGet401) {
  start();
  RawConnection conn(m_server->port());
  Response r = conn.exchange(post(R"({"jsonrpc":"2.0","id":1,"method":"echo"})", ""));
  EXPECT_EQ(r.result_int(), 401u);
  EXPECT_EQ(r[http::field::www_authenticate], "Basic realm=\"hearsay\"");

  RawConnection conn2(m_server->port());
  r = conn2.exchange(post(R"({"jsonrpc":"2.0","id":1,"method":"echo"})", "__cookie__:wrong"));
  EXPECT_EQ(r.result_int(), 401u);

  // A malformed Authorization header is a 401 too, not a crash.
  auto req = post("{}", "");
  req.set(http::field::authorization, "Basic !!!not-base64");
  RawConnection conn3(m_server->port());
  EXPECT_EQ(conn3.exchange(req).result_int(), 401u);
  // Every path needs credentials (no route is revealed without them).
  RawConnection conn4(m_server->port());
  EXPECT_EQ(conn4.exchange(get("/nowhere", "")).result_int(), 401u);
}

// Collects what spdlog's default logger writes while it is attached.
class CaptureSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::string text() {
    std::lock_guard lock(mutex_);
    return m_text;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    m_text.append(msg.payload.data(), msg.payload.size());
    m_text += '\n';
  }
  void flush_() override {}

 private:
  std::string m_text;
};

class LogCapture {
 public:
  LogCapture() : m_sink(std::make_shared<CaptureSink>()), m_level(spdlog::get_level()) {
    if (m_level > spdlog::level::warn) spdlog::set_level(spdlog::level::warn);
    spdlog::default_logger()->sinks().push_back(m_sink);
  }
  ~LogCapture() {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), m_sink), sinks.end());
    spdlog::set_level(m_level);
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  std::string text() { return m_sink->text(); }

 private:
  std::shared_ptr<CaptureSink> m_sink;
  spdlog::level::level_enum m_level;
};

TEST_F(RpcServerTest, WrongCredentialsAreLoggedAndAnswered401) {
  LogCapture log;
  RpcServerConfig config;
  config.auth_failure_delay = std::chrono::milliseconds(300);
  start(config);
  RawConnection conn(m_server->port());
  Response r = conn.exchange(post(R"({"id":1,"method":"echo"})", "__cookie__:wrong"));
  EXPECT_EQ(r.result_int(), 401u);
  const std::string logged = log.text();
  EXPECT_NE(logged.find("rpc: authentication failed from 127.0.0.1:"), std::string::npos) << logged;
  // No credentials at all guess nothing: answered 401, not logged.
  RawConnection conn2(m_server->port());
  EXPECT_EQ(conn2.exchange(post(R"({"id":1,"method":"echo"})", "")).result_int(), 401u);
  const std::string after = log.text();
  EXPECT_EQ(after.find("authentication failed", logged.find("authentication failed") + 1),
            std::string::npos)
      << after;
}

// The delay holds back one answer, not a thread: while a wrong attempt waits (for longer than
// the test runs), another client is served.
TEST_F(RpcServerTest, AWaitingWrongAttemptBlocksNobody) {
  LogCapture log;
  RpcServerConfig config;
  config.auth_failure_delay = std::chrono::minutes(10);
  start(config);
  RawConnection waiting(m_server->port());
  auto req = post(R"({"id":1,"method":"echo"})", "__cookie__:wrong");
  req.prepare_payload();
  std::ostringstream raw;
  raw << req;
  waiting.write_raw(raw.str());
  ASSERT_TRUE(test::wait_until(
      [&] { return log.text().find("authentication failed") != std::string::npos; }));
  auto ok = client().call("echo", json::array{1});
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(*ok, (json::array{1}));
  // ... and the wrong attempt, logged before that whole exchange, is still unanswered: the
  // delay holds its 401 back (no duration is measured).
  EXPECT_EQ(waiting.available(), 0u);
}

TEST_F(RpcServerTest, CookieCredentialsWork) {
  start();
  RpcClient c = client();
  auto r = c.call("echo", json::array{1, "two"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, (json::array{1, "two"}));
  // The raw way, with the credential read from the file as a client would.
  RawConnection conn(m_server->port());
  Response res =
      conn.exchange(post(R"({"jsonrpc":"2.0","id":7,"method":"echo","params":[3]})", cookie()));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res[http::field::content_type], "application/json");
  json::object o = parse(res.body());
  EXPECT_EQ(o["id"], 7);
  EXPECT_EQ(o["result"], json::array{3});
  EXPECT_EQ(o["jsonrpc"], "2.0");
}

TEST_F(RpcServerTest, UserPasswordWorksAndNoCookieIsWritten) {
  RpcServerConfig config;
  config.user = "alice";
  config.password = "s3cret";
  start(config);
  EXPECT_FALSE(std::filesystem::exists(cookie_path(m_dir.str())));
  RpcClientConfig cc;
  cc.port = m_server->port();
  cc.user = "alice";
  cc.password = "s3cret";
  RpcClient good(cc);
  auto r = good.call("greet", json::array{"bob"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, "hello bob");

  cc.password = "s3cre";
  RpcClient bad(cc);
  auto e = bad.call("greet", json::array{"bob"});
  ASSERT_FALSE(e);
  EXPECT_FALSE(e.error().rpc_code);
  EXPECT_NE(e.error().message.find("401"), std::string::npos) << e.error().message;
}

TEST_F(RpcServerTest, HandlerErrorsCarryTheirCode) {
  start();
  RpcClient c = client();
  auto r = c.call("reject", json::array());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().rpc_code, kRpcVerifyRejected);
  EXPECT_EQ(r.error().message, "tx rejected: fee too low");
  EXPECT_EQ(r.error().one_line(), "error code: -26: tx rejected: fee too low");

  r = c.call("nosuchmethod", json::array());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().rpc_code, kRpcMethodNotFound);
  EXPECT_NE(r.error().message.find("nosuchmethod"), std::string::npos);
}

TEST_F(RpcServerTest, WrongTypedParamsAreInvalidParamsAndTheServerSurvives) {
  start();
  RpcClient c = client();
  auto r = c.call("greet", json::array{42});  // as_string() on a number throws
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().rpc_code, kRpcInvalidParams);
  r = c.call("greet", json::array());  // at(0) on an empty array throws
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().rpc_code, kRpcInvalidParams);
  r = c.call("greet", json::object{{"name", "x"}});  // as_array() on an object throws
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().rpc_code, kRpcInvalidParams);
  r = c.call("boom", json::array());  // any other exception: internal error
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().rpc_code, kRpcInternalError);
  r = c.call("greet", json::array{"again"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, "hello again");
}

TEST_F(RpcServerTest, MalformedJsonIsAParseErrorAndTheConnectionKeepsServing) {
  start();
  RawConnection conn(m_server->port());
  const std::string cred = cookie();
  for (const std::string& bad :
       std::vector<std::string>{"{", "not json", "[1,2", "\"\\x\"", std::string("{\"a\":\0}", 7),
                                std::string(100, '[')}) {
    Response r = conn.exchange(post(bad, cred));
    EXPECT_EQ(r.result_int(), 200u) << bad;
    EXPECT_EQ(error_code_of(r.body()), kRpcParseError) << r.body();
    EXPECT_TRUE(parse(r.body())["id"].is_null());
    EXPECT_TRUE(r.keep_alive());
  }
  // Not a request at all: invalid request.
  Response r = conn.exchange(post("42", cred));
  EXPECT_EQ(error_code_of(r.body()), kRpcInvalidRequest);
  // Same connection, a good request.
  r = conn.exchange(post(R"({"jsonrpc":"2.0","id":"x","method":"echo","params":{"k":1}})", cred));
  EXPECT_EQ(r.result_int(), 200u);
  EXPECT_EQ(parse(r.body())["result"], (json::object{{"k", 1}}));
  EXPECT_EQ(parse(r.body())["id"], "x");
}

TEST_F(RpcServerTest, OversizeBodyIs413AndTheServerKeepsServing) {
  start();
  const std::string cred = cookie();
  std::string big = R"({"jsonrpc":"2.0","id":1,"method":"echo","params":[")" +
                    std::string(kRpcMaxBodyBytes, 'a') + "\"]}";
  {
    RawConnection conn(m_server->port());
    Response r = conn.exchange(post(big, cred));
    EXPECT_EQ(r.result_int(), 413u);
    EXPECT_EQ(error_code_of(r.body()), kRpcInvalidRequest) << r.body();
    EXPECT_FALSE(r.keep_alive());
    EXPECT_TRUE(conn.closed_by_server());
  }
  {  // A chunked body is counted as it arrives.
    RawConnection conn(m_server->port());
    auto req = post(big, cred);
    req.chunked(true);
    Response r = conn.exchange(req);
    EXPECT_EQ(r.result_int(), 413u);
    EXPECT_EQ(error_code_of(r.body()), kRpcInvalidRequest) << r.body();
  }
  {  // Through the client: the daemon's error comes back, not a broken pipe.
    RpcClient c = client();
    auto r = c.call("echo", json::array{std::string(kRpcMaxBodyBytes, 'b')});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().rpc_code, kRpcInvalidRequest) << r.error().message;
    EXPECT_NE(r.error().message.find("larger than"), std::string::npos) << r.error().message;
  }
  {  // A body just under the cap is served.
    RpcClient c = client();
    std::string fits(kRpcMaxBodyBytes - 200, 'c');
    auto r = c.call("echo", json::array{fits});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ((*r).as_array().at(0).as_string().size(), fits.size());
  }
  // Without credentials, a big body is refused before it is read.
  RawConnection conn(m_server->port());
  EXPECT_EQ(conn.exchange(post(big, "")).result_int(), 401u);
  RpcClient c = client();
  EXPECT_TRUE(c.call("echo", json::array()));
}

TEST_F(RpcServerTest, OversizeHeadersAndMalformedHttpAreRefused) {
  start();
  {
    RawConnection conn(m_server->port());
    auto req = post("{}", cookie());
    req.set("X-Padding", std::string(kRpcMaxHeaderBytes, 'p'));
    EXPECT_EQ(conn.exchange(req).result_int(), 431u);
  }
  {
    RawConnection conn(m_server->port());
    conn.write_raw("GARBAGE\x01 / HTTP/1.1\r\n\r\n");
    EXPECT_EQ(conn.read().result_int(), 400u);
    EXPECT_TRUE(conn.closed_by_server());
  }
  RpcClient c = client();
  EXPECT_TRUE(c.call("echo", json::array()));
}

TEST_F(RpcServerTest, RoutesAndMethods) {
  start();
  const std::string cred = cookie();
  RawConnection conn(m_server->port());
  EXPECT_EQ(conn.exchange(get("/nowhere", cred)).result_int(), 404u);
  Response r = conn.exchange(get("/", cred));
  EXPECT_EQ(r.result_int(), 405u);
  EXPECT_EQ(r[http::field::allow], "POST");
  auto p = post("{}", cred);
  p.target("/metrics");
  EXPECT_EQ(conn.exchange(p).result_int(), 405u);
}

TEST_F(RpcServerTest, NotificationsAndBatches) {
  start();
  const std::string cred = cookie();
  RawConnection conn(m_server->port());
  // A notification (no id) is not answered: 204, even for an unknown method.
  Response r = conn.exchange(post(R"({"jsonrpc":"2.0","method":"echo","params":[1]})", cred));
  EXPECT_EQ(r.result_int(), 204u);
  EXPECT_TRUE(r.body().empty());
  r = conn.exchange(post(R"({"jsonrpc":"2.0","method":"nosuch"})", cred));
  EXPECT_EQ(r.result_int(), 204u);
  // A batch: answers for the requests with ids, in order.
  r = conn.exchange(post(R"([{"jsonrpc":"2.0","id":1,"method":"echo","params":["a"]},
                             {"jsonrpc":"2.0","method":"echo"},
                             {"jsonrpc":"2.0","id":2,"method":"nosuch"},
                             5])",
                         cred));
  EXPECT_EQ(r.result_int(), 200u);
  json::array a = json::parse(r.body()).as_array();
  ASSERT_EQ(a.size(), 3u) << r.body();
  EXPECT_EQ(a[0].as_object().at("result"), json::array{"a"});
  EXPECT_EQ(a[1].as_object().at("error").as_object().at("code"), kRpcMethodNotFound);
  EXPECT_EQ(a[2].as_object().at("error").as_object().at("code"), kRpcInvalidRequest);
  r = conn.exchange(post("[]", cred));
  EXPECT_EQ(error_code_of(r.body()), kRpcInvalidRequest);
}

TEST_F(RpcServerTest, ExpectContinueIsHonoured) {
  start();
  RawConnection conn(m_server->port());
  const std::string body = R"({"jsonrpc":"2.0","id":1,"method":"echo","params":[9]})";
  // The head only, then wait for 100 Continue before sending the body (as curl does).
  conn.write_raw(
      "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + basic_auth_header(cookie()) +
      "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nExpect: 100-continue\r\n\r\n");
  Response cont = conn.read();
  EXPECT_EQ(cont.result_int(), 100u);
  conn.write_raw(body);
  Response r = conn.read();
  EXPECT_EQ(r.result_int(), 200u);
  EXPECT_EQ(parse(r.body())["result"], json::array{9});
}

TEST_F(RpcServerTest, MetricsNeedCredentialsUnlessPublic) {
  start();
  {
    RawConnection conn(m_server->port());
    EXPECT_EQ(conn.exchange(get("/metrics", "")).result_int(), 401u);
  }
  RawConnection conn(m_server->port());
  Response r = conn.exchange(get("/metrics", cookie()));
  EXPECT_EQ(r.result_int(), 200u);
  EXPECT_EQ(r[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.body(), metrics_text());
}

TEST_F(RpcServerTest, PublicMetricsNeedNoCredentialsButRpcStillDoes) {
  RpcServerConfig config;
  config.metrics_public = true;
  start(config);
  RawConnection conn(m_server->port());
  Response r = conn.exchange(get("/metrics?x=1", ""));
  EXPECT_EQ(r.result_int(), 200u);
  EXPECT_EQ(r.body(), metrics_text());
  EXPECT_EQ(conn.exchange(post(R"({"id":1,"method":"echo"})", "")).result_int(), 401u);
}

TEST_F(RpcServerTest, FailingMetricsProviderIs500) {
  RpcServerConfig config;
  config.metrics = []() -> std::string { throw std::runtime_error("no node"); };
  start(config);
  RawConnection conn(m_server->port());
  EXPECT_EQ(conn.exchange(get("/metrics", cookie())).result_int(), 500u);
}

TEST_F(RpcServerTest, SlowHandlerDoesNotBlockOtherConnections) {
  start();
  std::thread caller([&] {
    RpcClient c = client();
    auto r = c.call("block", json::array());
    EXPECT_TRUE(r);
  });
  {
    std::unique_lock lock(m_mutex);
    m_cv.wait(lock, [&] { return m_blocked; });
  }
  // The I/O thread still answers while the handler thread is busy.
  RawConnection conn(m_server->port());
  EXPECT_EQ(conn.exchange(get("/metrics", "")).result_int(), 401u);
  EXPECT_EQ(conn.exchange(get("/nowhere", cookie())).result_int(), 404u);
  {
    std::lock_guard lock(m_mutex);
    m_release = true;
  }
  m_cv.notify_all();
  caller.join();
}

TEST_F(RpcServerTest, StopClosesOpenKeepAliveConnections) {
  start();
  RawConnection busy(m_server->port());
  Response r = busy.exchange(post(R"({"jsonrpc":"2.0","id":1,"method":"echo"})", cookie()));
  ASSERT_EQ(r.result_int(), 200u);
  ASSERT_TRUE(r.keep_alive());
  RawConnection idle(m_server->port());  // connected, never sent anything
  busy.write_raw("POST / HTTP/1.1\r\nAuthorization: " + basic_auth_header(cookie()) +
                 "\r\nContent-Length: 100\r\n\r\n{");  // half a request
  m_server->stop();
  EXPECT_TRUE(busy.closed_by_server());
  EXPECT_TRUE(idle.closed_by_server());
  m_server->stop();  // idempotent
}

TEST_F(RpcServerTest, StopWhileAHandlerRunsWaitsForIt) {
  start();
  std::thread caller([&] {
    RpcClient c = client();
    (void)c.call("block", json::array());  // answered or cut off: either is fine here
  });
  {
    std::unique_lock lock(m_mutex);
    m_cv.wait(lock, [&] { return m_blocked; });
  }
  RawConnection idle(m_server->port());
  std::atomic<bool> stop_returned{false};
  bool returned_before_stop = false;
  std::thread stopper([&] {
    m_server->stop();
    std::lock_guard lock(m_mutex);
    returned_before_stop = m_returned;
    stop_returned = true;
  });
  // stop() closes idle connections first, then waits for the handler, which is still blocked.
  // Were it not waiting for handlers, it would give up on this one after kRpcStopGrace.
  EXPECT_TRUE(idle.closed_by_server());
  EXPECT_FALSE(test::wait_until([&] { return stop_returned.load(); },
                                kRpcStopGrace + std::chrono::seconds(1)))
      << "stop() returned while a handler was still running";
  {
    std::lock_guard lock(m_mutex);
    m_release = true;
  }
  m_cv.notify_all();
  stopper.join();
  caller.join();
  EXPECT_TRUE(returned_before_stop) << "stop() did not wait for the handler";
}

TEST(RpcServerStart, ErrorsNameTheAddress) {
  test::TempDir dir;
  RpcServerConfig c;
  c.datadir = dir.str();
  c.host = "localhost";
  c.port = 1234;
  RpcServer not_ip(c);
  Status s = not_ip.start();
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("localhost:1234"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("not an IP address"), std::string::npos) << s.message();

  c.host = "127.0.0.1";
  c.port = 0;
  RpcServer first(c);
  ASSERT_TRUE(first.start());
  c.port = first.port();
  test::TempDir dir2;
  c.datadir = dir2.str();
  RpcServer second(c);
  s = second.start();
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("127.0.0.1:" + std::to_string(first.port())), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("another hearsayd"), std::string::npos) << s.message();
  EXPECT_FALSE(std::filesystem::exists(cookie_path(dir2.str())));  // no cookie on failure

  RpcServerConfig half;
  half.user = "u";
  RpcServer bad(half);
  s = bad.start();
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("together"), std::string::npos);
}

TEST(RpcServerStart, ListensOnIpv6Loopback) {
  test::TempDir dir;
  RpcServerConfig c;
  c.datadir = dir.str();
  c.host = "::1";
  RpcServer server(c);
  Status s = server.start();
  if (!s) GTEST_SKIP() << "no IPv6 loopback here: " << s.message();
  RpcClientConfig cc;
  cc.host = "::1";
  cc.port = server.port();
  cc.datadir = dir.str();
  RpcClient client(cc);
  EXPECT_EQ(server.address(), "[::1]:" + std::to_string(server.port()));
  EXPECT_TRUE(client.call("nosuch", json::array()).error().rpc_code == kRpcMethodNotFound);
}

}  // namespace
}  // namespace hearsay
