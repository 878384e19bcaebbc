// The RPC server's HTTP side (Boost.Beast). Shape of Beast's example/advanced/server: one
// Session per connection, owning its stream, kept alive by shared_from_this in every handler;
// each do_X paired with an on_X that looks at the error first; a timeout on every operation.
//
// A request is read in two steps — the head, then (after credentials are checked and an
// `Expect: 100-continue` answered) the body — so an unauthenticated client never makes the
// server read a body. Answers that leave unread bytes behind (401 before the body, 413, 431,
// 400) close the connection after a bounded lingering drain.
//
// What to answer (credentials, limits, routes, the answers themselves) is node/rpc_http.h's;
// this file does the I/O and the threads.
#include "node/rpc_server.h"

#include <pthread.h>

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <future>
#include <optional>
#include <thread>
#include <vector>

#include "node/cookie.h"
#include "node/rpc_http.h"
#include "p2p/limits.h"

namespace hearsay {

static_assert(2 * kMaxTxSize + 1024 <= kRpcMaxBodyBytes,
              "sendrawtransaction of the largest transaction (hex) must fit one request body");
static_assert(kRpcLingerBytes >= kRpcMaxBodyBytes, "a refused body must be drainable");

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// How long the acceptor waits after a failed accept (e.g. out of file descriptors) before
// trying again, so an error does not become a busy loop.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};
// Bytes read per lingering read.
constexpr size_t kLingerChunkBytes = 64 * 1024;

// Immutable once the server has started; shared by every session and handler thread.
using Shared = rpc_http::Site;
using rpc_http::Response;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<const Shared> shared,
          asio::thread_pool::executor_type workers)
      : m_stream(std::move(socket)),
        m_io(m_stream.get_executor()),
        m_workers(std::move(workers)),
        m_shared(std::move(shared)),
        m_delay(m_io) {
    beast::error_code ec;
    const tcp::endpoint remote = m_stream.socket().remote_endpoint(ec);
    if (ec) {
      m_remote_ip = m_remote = "(unknown)";
      return;
    }
    m_remote_ip = remote.address().to_string();
    m_remote = (remote.address().is_v6() ? "[" + m_remote_ip + "]" : m_remote_ip) + ":" +
               std::to_string(remote.port());
  }

  void run() {
    asio::dispatch(m_io, beast::bind_front_handler(&Session::do_read_header, shared_from_this()));
  }

  // Called on the I/O thread at stop: every pending operation completes with an error.
  void close() {
    beast::error_code ignored;
    m_delay.cancel();
    m_stream.socket().close(ignored);
  }

  // Called on the I/O thread when stopping: an idle connection closes now; one whose request
  // is being handled or answered closes once its answer is written (so `stop` gets its reply).
  void stop_gracefully() {
    m_stopping = true;
    if (!m_busy) close();
  }

 private:
  void do_read_header() {
    m_parser.emplace();
    rpc_http::prepare_parser(*m_parser);
    m_stream.expires_after(kRpcReadTimeout);
    http::async_read_header(
        m_stream, m_buffer, *m_parser,
        beast::bind_front_handler(&Session::on_read_header, shared_from_this()));
  }

  void on_read_header(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream) return do_shutdown();
    if (ec) return on_read_error("read", ec);
    rpc_http::HeadDecision d = rpc_http::decide_head(*m_shared, *m_parser);
    switch (d.next) {
      case rpc_http::HeadDecision::Next::kRespond:
        if (d.auth_failed) return on_auth_failure(std::move(*d.response), d.linger);
        return send(std::move(*d.response), d.linger);
      case rpc_http::HeadDecision::Next::kComplete:
        return on_request();
      case rpc_http::HeadDecision::Next::kContinueAndRead: {
        const std::string_view c = rpc_http::kContinueResponse;
        m_stream.expires_after(kRpcWriteTimeout);
        asio::async_write(
            m_stream, asio::buffer(c.data(), c.size()),
            beast::bind_front_handler(&Session::on_continue_sent, shared_from_this()));
        return;
      }
      case rpc_http::HeadDecision::Next::kReadBody:
        break;
    }
    do_read_body();
  }

  // Wrong credentials: logged (rate-limited per address), answered after the configured delay
  // by a timer (no thread waits). Busy meanwhile, so a stopping server lets the answer go out.
  void on_auth_failure(Response res, bool linger) {
    if (m_shared->auth_log)
      m_shared->auth_log->warn(
          m_remote_ip, "rpc: authentication failed from " + m_remote + " (wrong user or password)");
    if (m_shared->auth_failure_delay.count() <= 0) return send(std::move(res), linger);
    m_busy = true;
    m_delay.expires_after(m_shared->auth_failure_delay);
    m_delay.async_wait(
        [self = shared_from_this(), res = std::move(res), linger](beast::error_code ec) mutable {
          if (ec) return;  // closed meanwhile
          self->send(std::move(res), linger);
        });
  }

  // A read failed: answer what the client got wrong (and close), or close.
  void on_read_error(const char* what, beast::error_code ec) {
    if (auto res = rpc_http::read_error_response(ec, *m_parser))
      return send(std::move(*res), /*linger=*/true);
    on_io_error(what, ec);
  }

  void on_continue_sent(beast::error_code ec, size_t) {
    if (ec) return on_io_error("write", ec);
    do_read_body();
  }

  void do_read_body() {
    m_stream.expires_after(kRpcReadTimeout);
    http::async_read(m_stream, m_buffer, *m_parser,
                     beast::bind_front_handler(&Session::on_read_body, shared_from_this()));
  }

  void on_read_body(beast::error_code ec, size_t) {
    if (ec) return on_read_error("read", ec);
    on_request();
  }

  // Routes a complete, authorised request.
  void on_request() {
    m_busy = true;
    m_request = m_parser->release();
    m_parser.reset();
    rpc_http::Route r = rpc_http::route(*m_shared, m_request);
    switch (r.kind) {
      case rpc_http::Route::Kind::kRespond:
        return send(std::move(*r.response), false);
      case rpc_http::Route::Kind::kRpc:
        return asio::post(m_workers, [self = shared_from_this()] {
          self->answer(rpc_http::answer_rpc(*self->m_shared, self->m_request));
        });
      case rpc_http::Route::Kind::kMetrics:
        return asio::post(m_workers, [self = shared_from_this()] {
          self->answer(rpc_http::answer_metrics(*self->m_shared, self->m_request));
        });
    }
  }

  // On a handler thread, with the answer computed there (the session is not touched by the
  // I/O thread meanwhile: no operation is pending, except close() at stop, which only touches
  // the socket): the answer goes back to the I/O thread.
  void answer(Response res) {
    asio::post(m_io, [self = shared_from_this(), res = std::move(res)]() mutable {
      self->send(std::move(res), false);
    });
  }

  void send(Response res, bool linger) {
    m_busy = true;
    if (linger || m_stopping) res.keep_alive(false);
    m_response = std::move(res);
    m_linger = linger;
    m_stream.expires_after(kRpcWriteTimeout);
    http::async_write(m_stream, *m_response,
                      beast::bind_front_handler(&Session::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, size_t) {
    if (ec) return on_io_error("write", ec);
    const bool close = m_response->need_eof();
    m_response.reset();
    m_request = {};
    m_busy = false;
    if (m_linger) return start_linger();
    if (close || m_stopping) return do_shutdown();
    do_read_header();
  }

  void start_linger() {
    beast::error_code ignored;
    m_stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    m_lingered = 0;
    m_stream.expires_after(kRpcLingerTimeout);  // one deadline for the whole drain
    do_linger();
  }

  void do_linger() {
    if (m_drain.empty()) m_drain.resize(kLingerChunkBytes);
    m_stream.async_read_some(asio::buffer(m_drain),
                             beast::bind_front_handler(&Session::on_linger, shared_from_this()));
  }

  void on_linger(beast::error_code ec, size_t n) {
    m_lingered += n;
    if (ec || m_lingered >= kRpcLingerBytes) return close();
    do_linger();
  }

  void do_shutdown() {
    beast::error_code ignored;
    m_stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    close();
  }

  void on_io_error(const char* what, beast::error_code ec) {
    if (ec != asio::error::operation_aborted)
      spdlog::debug("rpc: connection {} error: {}", what, ec.message());
    close();
  }

  beast::tcp_stream m_stream;
  const asio::any_io_executor m_io;
  const asio::thread_pool::executor_type m_workers;
  const std::shared_ptr<const Shared> m_shared;
  beast::flat_buffer m_buffer;
  std::optional<http::request_parser<http::string_body>> m_parser;
  http::request<http::string_body> m_request;
  std::optional<Response> m_response;
  bool m_linger = false;
  bool m_busy = false;      // a request is being handled or answered (I/O thread only)
  bool m_stopping = false;  // the server is stopping: close after the current answer
  size_t m_lingered = 0;
  std::vector<char> m_drain;   // allocated only when lingering
  asio::steady_timer m_delay;  // holds back the answer to wrong credentials
  std::string m_remote_ip;     // the client's address, the key of the auth log
  std::string m_remote;        // ... with its port, for the log line
};

}  // namespace

struct RpcServer::Impl {
  explicit Impl(RpcServerConfig c) : config(std::move(c)) {}

  RpcServerConfig config;
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
  bool started = false;
  bool stopped = false;
  bool wrote_cookie = false;
  // Declaration order matters for destruction: the pool (whose queued work may hold
  // sessions) goes before the io_context the sessions' sockets belong to.
  asio::io_context ioc{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor{ioc};
  asio::steady_timer accept_retry{ioc};
  std::vector<std::weak_ptr<Session>> sessions;  // I/O thread only
  std::unique_ptr<asio::thread_pool> workers;
  std::thread io_thread;
  uint16_t port = 0;

  void do_accept() {
    acceptor.async_accept(ioc, [this](beast::error_code ec, tcp::socket socket) {
      on_accept(ec, std::move(socket));
    });
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) {
      spdlog::warn("rpc: accept failed: {}", ec.message());
      accept_retry.expires_after(kAcceptRetryDelay);
      accept_retry.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec) do_accept();
      });
      return;
    }
    std::erase_if(sessions, [](const std::weak_ptr<Session>& s) { return s.expired(); });
    if (sessions.size() >= kRpcMaxConnections) {
      spdlog::warn("rpc: {} connections open; refusing another", sessions.size());
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      auto session = std::make_shared<Session>(std::move(socket), shared, workers->get_executor());
      sessions.push_back(session);
      session->run();
    }
    do_accept();
  }

  // Stop accepting; let connections finish the answer in progress (stop_gracefully).
  void begin_close() {
    beast::error_code ignored;
    acceptor.close(ignored);
    accept_retry.cancel();
    for (auto& weak : sessions)
      if (auto s = weak.lock()) s->stop_gracefully();
  }
  bool all_closed() {
    std::erase_if(sessions, [](const std::weak_ptr<Session>& s) { return s.expired(); });
    return sessions.empty();
  }

  void close_all() {
    beast::error_code ignored;
    acceptor.close(ignored);
    accept_retry.cancel();
    for (auto& weak : sessions)
      if (auto s = weak.lock()) s->close();
    sessions.clear();
  }
};

RpcServer::RpcServer(RpcServerConfig config) : m_impl(std::make_unique<Impl>(std::move(config))) {}

// stop() throws only when its thread cannot be joined, after which nothing is consistent.
RpcServer::~RpcServer() {  // NOLINT(bugprone-exception-escape)
  stop();
}

void RpcServer::add_method(RpcMethodSpec spec) {
  HEARSAY_CHECK(!m_impl->started);
  m_impl->shared->dispatcher.add_method(std::move(spec));
}

void RpcServer::add_method(std::string name, RpcHandler handler) {
  HEARSAY_CHECK(!m_impl->started);
  m_impl->shared->dispatcher.add_method(std::move(name), std::move(handler));
}

uint16_t RpcServer::port() const {
  return m_impl->port;
}

std::string RpcServer::address() const {
  const std::string& host = m_impl->config.host;
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(m_impl->port);
}

Status RpcServer::start() {
  Impl& m = *m_impl;
  HEARSAY_CHECK(!m.started);
  const RpcServerConfig& c = m.config;
  const std::string where = (c.host.find(':') != std::string::npos ? "[" + c.host + "]" : c.host) +
                            ":" + std::to_string(c.port);
  if (c.handler_threads < 1 || c.handler_threads > kRpcMaxHandlerThreads)
    return fail("RPC handler threads must be 1.." + std::to_string(kRpcMaxHandlerThreads) +
                ", got " + std::to_string(c.handler_threads));
  if (c.user.empty() != c.password.empty())
    return fail(std::string("--rpc-user and --rpc-password must be given together"));
  if (c.user.find(':') != std::string::npos)
    return fail(std::string("--rpc-user must not contain ':' (HTTP Basic separates on it)"));
  if (c.user.empty() && c.datadir.empty())
    return fail(
        std::string("the RPC server needs a data directory for its cookie file, or "
                    "--rpc-user/--rpc-password"));

  beast::error_code ec;
  auto ip = asio::ip::make_address(c.host, ec);
  if (ec)
    return fail("RPC address " + where + " is not an IP address (use e.g. 127.0.0.1:" +
                std::to_string(c.port) + " or [::1]:" + std::to_string(c.port) + ")");
  tcp::endpoint endpoint(ip, c.port);
  auto failed = [&](const char* step) -> Status {
    std::string msg = "cannot " + std::string(step) + " RPC address " + where + ": " + ec.message();
    if (ec == asio::error::address_in_use)
      msg += " (is another hearsayd running? choose another --rpc port)";
    if (ec == boost::system::errc::address_not_available)
      msg += " (is this address one of this machine's?)";
    beast::error_code ignored;
    m.acceptor.close(ignored);
    return Status::error(msg);
  };
  if (m.acceptor.open(endpoint.protocol(), ec); ec) return failed("open");
  if (m.acceptor.set_option(asio::socket_base::reuse_address(true), ec); ec) return failed("open");
  if (m.acceptor.bind(endpoint, ec); ec) return failed("bind");
  if (m.acceptor.listen(asio::socket_base::max_listen_connections, ec); ec)
    return failed("listen on");
  m.port = m.acceptor.local_endpoint(ec).port();
  if (ec) return failed("query");

  if (c.user.empty()) {
    auto cookie = write_cookie_file(c.datadir);
    if (!cookie) {
      beast::error_code ignored;
      m.acceptor.close(ignored);
      return fail(cookie.error());
    }
    m.shared->credential = std::move(cookie).value();
    m.wrote_cookie = true;
  } else {
    m.shared->credential = c.user + ":" + c.password;
  }
  m.shared->metrics_public = c.metrics_public;
  m.shared->metrics = c.metrics;
  m.shared->auth_failure_delay = c.auth_failure_delay;
  m.shared->auth_log = std::make_shared<RateLimitedLog>(kRpcAuthLogLines, kRpcAuthLogInterval);

  m.started = true;
  m.workers = std::make_unique<asio::thread_pool>(c.handler_threads);
  m.work.emplace(m.ioc.get_executor());
  m.do_accept();
  m.io_thread = std::thread([&m] {
    pthread_setname_np(pthread_self(), "hs-rpc");
    m.ioc.run();
  });
  spdlog::info("rpc: listening on {}", address());
  return Status();
}

void RpcServer::stop() {
  Impl& m = *m_impl;
  if (!m.started || m.stopped) return;
  m.stopped = true;
  auto on_io = [&m](auto f) {
    std::promise<decltype(f())> done;
    asio::post(m.ioc, [&] {
      if constexpr (std::is_void_v<decltype(f())>) {
        f();
        done.set_value();
      } else {
        done.set_value(f());
      }
    });
    return done.get_future().get();
  };
  // 1. On the I/O thread: stop accepting; idle connections close, the others once the answer
  //    in progress is written (the `stop` method's own answer among them).
  on_io([&m] { m.begin_close(); });
  // 2. Let every handler started or queued return (bounded: one request per connection).
  m.workers->join();
  // 3. Give the answers kRpcStopGrace to be written, then close whatever is left (pending
  //    reads, writes and drains complete with operation_aborted).
  const auto deadline = std::chrono::steady_clock::now() + kRpcStopGrace;
  while (!on_io([&m] { return m.all_closed(); }) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  on_io([&m] { m.close_all(); });
  // 4. Stop the I/O thread. Sessions still referenced by queued completions are destroyed
  //    with the io_context and the pool, in the Impl's destructor.
  m.work.reset();
  m.ioc.stop();
  m.io_thread.join();
  if (m.wrote_cookie) {
    Status s = delete_cookie_file(m.config.datadir);
    if (!s) spdlog::warn("rpc: {}", s.message());
  }
  spdlog::info("rpc: stopped");
}

}  // namespace hearsay
