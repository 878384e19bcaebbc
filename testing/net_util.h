// Helpers for the net/ tests (waiting on conditions: testing/wait.h): host configurations for
// loopback, and a hand-driven TLS client that can misbehave in every way the tests need
// (no certificate, a certificate of another key type, TLS 1.2, garbage frames, silence) and
// read the messages a node sends it.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "crypto/cert.h"
#include "net/host.h"
#include "p2p/transport.h"
#include "testing/test_util.h"
#include "testing/wait.h"

namespace hearsay::test {

// A host on 127.0.0.1, ephemeral port, timeouts short enough for tests. Its connections run on
// an I/O thread (hearsayd's default is the network thread), so the network tests, under
// ThreadSanitizer too, cover the hand-overs; the node tests cover the other way.
inline HostConfig loopback_config() {
  HostConfig c;
  c.listen = "127.0.0.1:0";
  c.io_threads = 1;
  c.limits.tls_handshake_timeout = std::chrono::milliseconds(2'000);
  c.limits.shutdown_timeout = std::chrono::milliseconds(500);
  c.tick_interval = std::chrono::milliseconds(20);
  c.connect_timeout = std::chrono::milliseconds(2'000);
  c.peer_manager.network_magic = kTestNetwork;
  c.peer_manager.handshake_timeout = std::chrono::seconds(2);
  c.peer_manager.dial_backoff_min = std::chrono::milliseconds(200);
  c.peer_manager.dial_backoff_max = std::chrono::seconds(1);
  return c;
}

inline bool contains(const std::deque<std::string>& lines, const std::string& needle) {
  for (const auto& l : lines)
    if (l.find(needle) != std::string::npos) return true;
  return false;
}

// Peers of `h` whose version handshake is complete.
inline size_t ready_peers(Host& h) {
  size_t n = 0;
  for (const auto& p : h.peer_stats())
    if (p.protocol && p.protocol->handshake_done) ++n;
  return n;
}

// Feeds bytes read from a peer to `decoder` and hands every message that decodes to
// `on_message`, in order; frames whose payload does not decode are skipped. False when the
// stream is broken (a bad frame header).
template <class F>
bool decode_received(FrameDecoder& decoder, std::span<const uint8_t> data, F&& on_message) {
  while (!data.empty()) {
    if (!decoder.received_bytes(data)) return false;
    if (!decoder.message_complete()) continue;
    RawMessage raw = decoder.take_message();
    auto msg = decode_payload(raw.type, std::move(raw.payload));
    if (msg) on_message(std::move(*msg));
  }
  return true;
}

enum class ClientCert { kEd25519, kNone, kRsa, kEcdsa };

// A self-signed certificate with a key of the given type (RSA 2048 or ECDSA P-256), as PEMs.
inline std::pair<std::string, std::string> foreign_certificate(ClientCert kind) {
  EVP_PKEY* key = kind == ClientCert::kRsa
                      ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})
                      : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  X509* x = X509_new();
  X509_set_version(x, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("x"),
                             -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_sign(x, key, EVP_sha256());
  BIO* cb = BIO_new(BIO_s_mem());
  BIO* kb = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(cb, x);
  PEM_write_bio_PrivateKey(kb, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* p = nullptr;
  long n = BIO_get_mem_data(cb, &p);
  std::string cert(p, static_cast<size_t>(n));
  n = BIO_get_mem_data(kb, &p);
  std::string pkey(p, static_cast<size_t>(n));
  BIO_free(cb);
  BIO_free(kb);
  X509_free(x);
  EVP_PKEY_free(key);
  return {cert, pkey};
}

// A client driven by hand, on its own io_context; every operation is bounded by a deadline.
class TestClient {
 public:
  struct Options {
    ClientCert cert = ClientCert::kEd25519;
    uint8_t key_index = 200;  // test_key(key_index) for kEd25519
    int max_version = TLS1_3_VERSION;
  };

  explicit TestClient(Options o) : m_ctx(boost::asio::ssl::context::tls), m_opt(o) {
    SSL_CTX* ctx = m_ctx.native_handle();
    SSL_CTX_set_max_proto_version(ctx, o.max_version);
    m_ctx.set_verify_mode(boost::asio::ssl::verify_none);
    std::string cert, key;
    if (o.cert == ClientCert::kEd25519) {
      auto id = make_tls_identity(test_key(o.key_index));
      cert = id->certificate_pem;
      key = id->private_key_pem;
    } else if (o.cert != ClientCert::kNone) {
      std::tie(cert, key) = foreign_certificate(o.cert);
    }
    if (!cert.empty()) {
      m_ctx.use_certificate(boost::asio::buffer(cert), boost::asio::ssl::context::pem);
      m_ctx.use_private_key(boost::asio::buffer(key), boost::asio::ssl::context::pem);
    }
    m_stream = std::make_unique<Stream>(m_io, m_ctx);
  }

  boost::system::error_code connect(const NetAddress& addr) {
    boost::system::error_code result = boost::asio::error::timed_out;
    m_stream->lowest_layer().async_connect(
        to_endpoint(addr), [&](const boost::system::error_code& ec) { result = ec; });
    run();
    return result;
  }
  boost::system::error_code handshake() {
    boost::system::error_code result = boost::asio::error::timed_out;
    m_stream->async_handshake(boost::asio::ssl::stream_base::client,
                              [&](const boost::system::error_code& ec) { result = ec; });
    run();
    return result;
  }
  // Raw bytes on the TCP socket (below TLS).
  boost::system::error_code write_plain(const std::vector<uint8_t>& bytes) {
    boost::system::error_code result = boost::asio::error::timed_out;
    boost::asio::async_write(m_stream->next_layer(), boost::asio::buffer(bytes),
                             [&](const boost::system::error_code& ec, size_t) { result = ec; });
    run();
    return result;
  }
  // Bytes inside TLS.
  boost::system::error_code write(const std::vector<uint8_t>& bytes) {
    boost::system::error_code result = boost::asio::error::timed_out;
    boost::asio::async_write(*m_stream, boost::asio::buffer(bytes),
                             [&](const boost::system::error_code& ec, size_t) { result = ec; });
    run();
    return result;
  }
  // Reads (TLS, or plain TCP when `plain`) until the peer closes or `timeout`; true if closed.
  bool wait_closed(std::chrono::milliseconds timeout, bool plain = false) {
    bool closed = false;
    std::function<void()> read_more;
    read_more = [&] {
      auto handler = [&](const boost::system::error_code& ec, size_t) {
        if (ec) {
          closed = ec != boost::asio::error::operation_aborted;  // aborted: our deadline
          return;
        }
        read_more();
      };
      if (plain)
        m_stream->next_layer().async_read_some(boost::asio::buffer(m_buf), handler);
      else
        m_stream->async_read_some(boost::asio::buffer(m_buf), handler);
    };
    read_more();
    run(timeout);
    return closed;
  }
  // Reads messages (TLS, network kTestNetwork) until `match` holds for one, the peer closes, or
  // `timeout` passes; true if one matched. Frames that do not decode are skipped; messages
  // after the match stay queued for the next call.
  bool read_until(const std::function<bool(const Message&)>& match,
                  std::chrono::milliseconds timeout) {
    bool matched = false;
    auto take_inbox = [&] {
      while (!matched && !m_inbox.empty()) {
        matched = match(m_inbox.front());
        m_inbox.pop_front();
      }
    };
    take_inbox();
    if (matched) return true;
    std::function<void()> read_more;
    read_more = [&] {
      m_stream->async_read_some(boost::asio::buffer(m_buf),
                                [&](const boost::system::error_code& ec, size_t n) {
                                  if (ec || !decode(n)) return;
                                  take_inbox();
                                  if (!matched) read_more();
                                });
    };
    read_more();
    run(timeout);
    return matched;
  }
  void close() {
    boost::system::error_code ec;
    m_stream->lowest_layer().close(ec);
  }

 private:
  using Stream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;
  // Decodes the first n bytes of m_buf into m_inbox; false when the stream is broken.
  bool decode(size_t n) {
    return decode_received(m_decoder, std::span<const uint8_t>(m_buf.data(), n),
                           [&](Message&& m) { m_inbox.push_back(std::move(m)); });
  }
  void run(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    m_io.restart();
    m_io.run_for(timeout);
    if (!m_io.stopped()) {
      // Deadline passed with an operation pending: cancel it and let its handler run.
      boost::system::error_code ec;
      m_stream->lowest_layer().cancel(ec);
      m_io.restart();
      m_io.run_for(std::chrono::seconds(1));
    }
  }

  boost::asio::io_context m_io;
  boost::asio::ssl::context m_ctx;
  Options m_opt;
  std::unique_ptr<Stream> m_stream;
  std::array<uint8_t, 16384> m_buf{};
  FrameDecoder m_decoder{kTestNetwork};
  std::deque<Message> m_inbox;  // decoded, not yet matched
};

}  // namespace hearsay::test
