// WirePeer: a hand-made peer of a real node for the integration tests — a TLS client (an
// Ed25519 identity, as a node's) that completes the version handshake with the services it is
// told to claim, answers pings so it stays connected, records every message the node sends it,
// and sends whatever the test gives it, however dishonest (a body tagged with any origin, a
// forged signature). It relays nothing on its own: what a test does not send, it withholds.
//
// Threading: the peer runs its own io thread (reads, writes, pongs); send(), received() and
// the other accessors are thread-safe and never block on the network.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "chainstub/params.h"
#include "crypto/cert.h"
#include "net/address.h"
#include "p2p/peer_manager.h"
#include "p2p/transport.h"
#include "testing/check.h"
#include "testing/net_util.h"
#include "testing/tx_factory.h"

namespace hearsay::test {

class WirePeer {
 public:
  struct Options {
    uint8_t key_index = 0xa0;       // its identity: test_key(key_index)
    uint32_t magic = kDevnetMagic;  // the network of the test nodes
    uint64_t services = 0;          // claimed in its version (kServiceTree, ...)
    std::string user_agent = "/wire-peer/";
  };

  explicit WirePeer(Options o)
      : m_opt(std::move(o)),
        m_key(test_key(m_opt.key_index)),
        m_ctx(boost::asio::ssl::context::tls),
        m_decoder(m_opt.magic) {
    m_ctx.set_verify_mode(boost::asio::ssl::verify_none);  // a test peer trusts any node
    auto id = make_tls_identity(m_key);
    HEARSAY_EXPECT(id.ok(), "a TLS identity for the wire peer");
    m_ctx.use_certificate(boost::asio::buffer(id->certificate_pem), boost::asio::ssl::context::pem);
    m_ctx.use_private_key(boost::asio::buffer(id->private_key_pem), boost::asio::ssl::context::pem);
    m_stream = std::make_unique<Stream>(m_io, m_ctx);
  }
  ~WirePeer() {
    m_io.stop();
    if (m_thread.joinable()) m_thread.join();
    boost::system::error_code ec;
    m_stream->lowest_layer().close(ec);
  }
  WirePeer(const WirePeer&) = delete;
  WirePeer& operator=(const WirePeer&) = delete;

  const PublicKey& identity() const { return m_key.public_key(); }

  // TCP, TLS, then our version and verack; the node's own version and verack arrive later
  // (the node marks us ready on our verack). Returns false when the connection or the TLS
  // handshake fails within `timeout` (a node that banned us refuses it). Call once.
  bool connect(const NetAddress& node,
               std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    boost::system::error_code result = boost::asio::error::timed_out;
    m_stream->lowest_layer().async_connect(to_endpoint(node), [&](const auto& ec) {
      if (ec) {
        result = ec;
        return;
      }
      m_stream->async_handshake(boost::asio::ssl::stream_base::client,
                                [&](const auto& ec2) { result = ec2; });
    });
    m_io.run_for(timeout);
    if (!m_io.stopped()) {  // the deadline passed with an operation pending
      boost::system::error_code ec;
      m_stream->lowest_layer().close(ec);
      m_io.restart();
      m_io.run_for(std::chrono::seconds(1));
      return false;
    }
    if (result) return false;
    m_io.restart();
    VersionMsg v;
    v.protocol_version = kProtocolVersion;
    v.network_magic = m_opt.magic;
    v.services = m_opt.services;
    v.time = static_cast<int64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
    v.user_agent = m_opt.user_agent;
    queue(encode_frame(m_opt.magic, v));
    queue(encode_frame(m_opt.magic, VerackMsg{}));
    read_more();
    m_thread = std::thread([this] {
      auto work = boost::asio::make_work_guard(m_io);  // runs until the destructor stops it
      m_io.run();
    });
    return true;
  }

  // Sends `m` (in order with everything sent before).
  void send(const Message& m) {
    SharedBytes frame = encode_frame(m_opt.magic, m);
    boost::asio::post(m_io, [this, frame] { queue(frame); });
  }

  // Whether the node sent a message for which `match` holds (all received so far).
  bool received(const std::function<bool(const Message&)>& match) const {
    std::lock_guard lock(m_mutex);
    for (const Message& m : m_inbox)
      if (match(m)) return true;
    return false;
  }
  // How many messages of type `t` the node sent.
  size_t count(MsgType t) const {
    std::lock_guard lock(m_mutex);
    size_t n = 0;
    for (const Message& m : m_inbox)
      if (static_cast<MsgType>(m.index()) == t) ++n;
    return n;
  }
  // The node's verack arrived: it has accepted our version (and marked us ready).
  bool ready() const { return count(MsgType::kVerack) != 0; }
  // The node closed the connection (or the stream broke).
  bool closed() const { return m_closed; }

 private:
  using Stream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

  // On the io thread from here on.
  void queue(SharedBytes frame) {
    m_out.push_back(std::move(frame));
    if (m_out.size() == 1) write_front();
  }
  void write_front() {
    boost::asio::async_write(*m_stream, boost::asio::buffer(*m_out.front()),
                             [this](const boost::system::error_code& ec, size_t) {
                               if (ec) {
                                 m_closed = true;
                                 return;
                               }
                               m_out.pop_front();
                               if (!m_out.empty()) write_front();
                             });
  }
  void read_more() {
    m_stream->async_read_some(boost::asio::buffer(m_buf),
                              [this](const boost::system::error_code& ec, size_t n) {
                                if (ec || !decode(n)) {
                                  m_closed = true;
                                  return;
                                }
                                read_more();
                              });
  }
  // Decodes the first n bytes of m_buf; false when the stream is broken.
  bool decode(size_t n) {
    return decode_received(m_decoder, std::span<const uint8_t>(m_buf.data(), n), [&](Message&& m) {
      if (const auto* ping = std::get_if<PingMsg>(&m))
        queue(encode_frame(m_opt.magic, PongMsg{ping->nonce}));
      std::lock_guard lock(m_mutex);
      m_inbox.push_back(std::move(m));
    });
  }

  Options m_opt;
  KeyPair m_key;
  boost::asio::io_context m_io;
  boost::asio::ssl::context m_ctx;
  std::unique_ptr<Stream> m_stream;
  std::thread m_thread;
  std::array<uint8_t, 16384> m_buf{};
  FrameDecoder m_decoder;
  std::deque<SharedBytes> m_out;  // the front one is being written
  mutable std::mutex m_mutex;
  std::vector<Message> m_inbox;  // guarded by m_mutex
  std::atomic<bool> m_closed{false};
};

}  // namespace hearsay::test
