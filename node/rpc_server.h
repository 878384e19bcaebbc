// hearsayd's HTTP server: JSON-RPC 2.0 on POST /, Prometheus metrics on GET /metrics.
//
// Rules:
//  - Listens on one address (127.0.0.1 by default; the host must be an IP literal). Port 0
//    picks an ephemeral port; port() tells which.
//  - Authentication is HTTP Basic. With user and password configured, those are the only
//    credentials; otherwise a cookie `<datadir>/.cookie` (node/cookie.h) is written at start()
//    and deleted at stop(), as bitcoind does. Credentials are compared in constant time. A
//    request without valid credentials gets 401 with `WWW-Authenticate: Basic realm="hearsay"`
//    whatever its path, except GET /metrics when `metrics_public` is set. Credentials are
//    checked on the request head, before the body is read or its size judged.
//  - Wrong credentials (an Authorization header that does not match) are logged with the
//    client's address (at most kRpcAuthLogLines per address per kRpcAuthLogInterval) and
//    answered 401 only after `auth_failure_delay` (default kRpcAuthFailureDelay, as bitcoind's
//    250 ms), so guessing a password costs time. The delay is a timer on the connection: no
//    thread waits, and other clients are answered meanwhile. A request without credentials
//    is answered 401 at once and not logged (it guesses nothing).
//  - Routes: POST / → JSON-RPC (RpcDispatcher); GET /metrics → `metrics()` as
//    `text/plain; version=0.0.4` (404 when no provider is set); any other method on / → 405;
//    any other path → 404.
//  - HTTP status codes are for HTTP-level outcomes only: every JSON-RPC answer, success or
//    error (including -32700 for malformed JSON), is HTTP 200 with a JSON-RPC body; a body of
//    notifications only is answered 204. A body over kRpcMaxBodyBytes is 413 with a JSON-RPC
//    error body (-32600), headers over kRpcMaxHeaderBytes 431, an unparsable HTTP request 400;
//    these three close the connection (after a bounded lingering read so the client sees the
//    answer rather than a reset).
//  - HTTP/1.1 keep-alive; one request at a time per connection (no pipelined concurrency).
//
// Threads: the server owns one I/O thread (its own io_context, separate from the node's
// network thread) and a pool of `handler_threads` threads (default 1). The I/O thread only
// parses HTTP, checks credentials and writes answers; JSON-RPC dispatch and the metrics
// provider run on the pool, so a slow handler (one that posts to the node's thread and waits)
// never blocks another connection's I/O. With the default of one handler thread, calls are
// serialised and handlers need no locking among themselves; with more, handlers run
// concurrently and must be thread-safe.
//
// Adversary: any local process can connect. Before authentication it can only make the server
// read at most kRpcMaxHeaderBytes + kRpcMaxBodyBytes per request, within kRpcReadTimeout, on
// at most kRpcMaxConnections connections (more are closed at accept). Nothing a client sends
// reaches an assert; handler exceptions are caught by the dispatcher.
//
// Memory: at most kRpcMaxConnections × (kRpcMaxHeaderBytes + kRpcMaxBodyBytes) of requests,
// plus the responses being written.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "crypto/result.h"
#include "node/rpc_dispatch.h"

namespace hearsay {

// Largest request body, bytes: a sendrawtransaction of the largest transaction is ~131 KiB of
// hex; 1 MiB leaves room for a batch of several (checked against kMaxTxSize in the .cpp).
inline constexpr size_t kRpcMaxBodyBytes = 1024 * 1024;
// Largest request head (request line + headers), bytes; curl and bitcoin-cli send < 1 KiB.
inline constexpr size_t kRpcMaxHeaderBytes = 8 * 1024;
// Time allowed to receive a whole request, and the keep-alive idle limit (bitcoind's
// -rpcservertimeout default is 30 s).
inline constexpr std::chrono::seconds kRpcReadTimeout{30};
// Time allowed to write a response.
inline constexpr std::chrono::seconds kRpcWriteTimeout{30};
// After answering 413/431/400 the server drains the client's unread bytes (at most this many,
// for at most kRpcLingerTimeout) before closing, so the client reads the answer, not a reset.
inline constexpr size_t kRpcLingerBytes = 4 * kRpcMaxBodyBytes;
inline constexpr std::chrono::seconds kRpcLingerTimeout{5};
// At stop, answers being computed or written get this long to reach their clients (the `stop`
// method's own answer among them) before every connection is closed.
inline constexpr std::chrono::seconds kRpcStopGrace{2};
// Most simultaneous connections; more are closed as soon as accepted. The RPC is for one
// operator and their scripts, not the public.
inline constexpr size_t kRpcMaxConnections = 64;
// How long a request with wrong credentials waits for its 401 (bitcoind waits 250 ms).
inline constexpr std::chrono::milliseconds kRpcAuthFailureDelay{250};
// Failed authentications logged per client address per interval; further ones are counted
// and reported with the next line written (net/rate_limited_log.h).
inline constexpr size_t kRpcAuthLogLines = 5;
inline constexpr std::chrono::seconds kRpcAuthLogInterval{60};
// Most handler threads a configuration may ask for.
inline constexpr unsigned kRpcMaxHandlerThreads = 16;

struct RpcServerConfig {
  std::string host = "127.0.0.1";  // an IPv4 or IPv6 literal
  uint16_t port = 0;               // 0: ephemeral
  std::string datadir;             // where .cookie goes when no user/password is set
  std::string user;                // both set: Basic auth with these, no cookie
  std::string password;
  bool metrics_public = false;           // GET /metrics without credentials
  std::function<std::string()> metrics;  // Prometheus text; empty: /metrics is 404
  unsigned handler_threads = 1;          // 1..kRpcMaxHandlerThreads
  // Wrong credentials are answered 401 after this (0: at once).
  std::chrono::milliseconds auth_failure_delay = kRpcAuthFailureDelay;
};

class RpcServer {
 public:
  explicit RpcServer(RpcServerConfig config);
  ~RpcServer();  // stop()s  NOLINT(bugprone-exception-escape): see rpc_server.cpp
  RpcServer(const RpcServer&) = delete;
  RpcServer& operator=(const RpcServer&) = delete;

  // Only before start() (HEARSAY_CHECK). See RpcDispatcher::add_method.
  void add_method(RpcMethodSpec spec);
  void add_method(std::string name, RpcHandler handler);

  // Validates the configuration, writes the cookie (unless user/password), binds and listens,
  // and starts the threads. The error names the address or file and the fix. Call once.
  Status start();
  // The port listened on (after a successful start()).
  uint16_t port() const;
  // "HOST:PORT" actually listened on.
  std::string address() const;

  // Closes the listener and idle connections, lets running and queued handlers return and
  // their answers be written (at most kRpcStopGrace), closes the rest, joins the threads and
  // deletes the cookie. Idempotent; called by the destructor. Never call it from a
  // handler or the metrics provider (it joins their thread): a `stop` RPC should signal the
  // daemon's main thread, which then calls stop(). Stop the RPC server before the node's
  // network thread, so that handlers waiting on that thread can still return.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace hearsay
