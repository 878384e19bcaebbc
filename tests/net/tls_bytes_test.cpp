// The TLS byte counters (TrafficCounters::tls_bytes_out / tls_bytes_in) against the bytes that
// really cross the sockets: two Hosts talk through a TCP relay that counts what it forwards each
// way. Once nothing is in flight, what one end says it wrote is what the relay carried and what
// the other end says it read; and TLS costs more than the frames it carries.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <thread>

#include "net/address.h"
#include "testing/host_access.h"
#include "testing/net_util.h"

namespace hearsay::test {
namespace {

namespace asio = boost::asio;
using boost::asio::ip::tcp;

// Accepts one connection on 127.0.0.1 and relays it to `upstream`, counting the bytes written
// on to each side. Runs on its own thread; the counters are read from the test's.
class CountingRelay {
 public:
  explicit CountingRelay(const NetAddress& upstream) : m_upstream(to_endpoint(upstream)) {
    tcp::endpoint local(asio::ip::make_address("127.0.0.1"), 0);
    m_acceptor.open(local.protocol());
    m_acceptor.bind(local);
    m_acceptor.listen();
    m_address = to_net_address(m_acceptor.local_endpoint());
    m_acceptor.async_accept(m_down, [this](const boost::system::error_code& ec) {
      if (ec) return;
      m_up.async_connect(m_upstream, [this](const boost::system::error_code& ec2) {
        if (ec2) {
          close();
          return;
        }
        pump(m_down, m_up, m_buf_up, m_to_listener);
        pump(m_up, m_down, m_buf_down, m_to_dialler);
      });
    });
    m_thread = std::thread([this] { m_io.run(); });
  }
  ~CountingRelay() {
    m_io.stop();
    m_thread.join();
    close();
  }
  CountingRelay(const CountingRelay&) = delete;
  CountingRelay& operator=(const CountingRelay&) = delete;

  const NetAddress& address() const { return m_address; }
  // Bytes the relay delivered to the listening Host (written by the dialling one), and back.
  uint64_t to_listener() const { return m_to_listener.load(); }
  uint64_t to_dialler() const { return m_to_dialler.load(); }

 private:
  using Buffer = std::array<uint8_t, 16 * 1024>;
  // Counted once written on: a byte read but not yet passed on has not crossed.
  void pump(tcp::socket& from, tcp::socket& to, Buffer& buf, std::atomic<uint64_t>& count) {
    from.async_read_some(asio::buffer(buf), [this, &from, &to, &buf, &count](
                                                const boost::system::error_code& ec, size_t n) {
      if (ec) {
        close();
        return;
      }
      asio::async_write(
          to, asio::buffer(buf.data(), n),
          [this, &from, &to, &buf, &count, n](const boost::system::error_code& ec2, size_t) {
            if (ec2) {
              close();
              return;
            }
            count += n;
            pump(from, to, buf, count);
          });
    });
  }
  void close() {
    boost::system::error_code ignored;
    m_down.close(ignored);
    m_up.close(ignored);
    m_acceptor.close(ignored);
  }

  asio::io_context m_io;
  tcp::endpoint m_upstream;
  tcp::acceptor m_acceptor{m_io};
  tcp::socket m_down{m_io};  // the dialling Host's connection to us
  tcp::socket m_up{m_io};    // ours to the listening Host
  NetAddress m_address;
  Buffer m_buf_up{}, m_buf_down{};
  std::atomic<uint64_t> m_to_listener{0}, m_to_dialler{0};
  std::thread m_thread;
};

std::optional<TrafficCounters> only_peer(Host& h) {
  auto peers = h.peer_stats();
  if (peers.size() != 1) return std::nullopt;
  return peers[0].traffic;
}

TEST(TlsBytes, CountTheCiphertextTheSocketsCarry) {
  HostConfig listen_cfg = loopback_config();
  Host listener(test_key(1), listen_cfg);
  ASSERT_TRUE(listener.start().ok());
  CountingRelay relay(*listener.listen_address());
  HostConfig dial_cfg = loopback_config();
  dial_cfg.listen.reset();
  dial_cfg.connect.push_back({relay.address(), std::nullopt});
  Host dialler(test_key(2), dial_cfg);
  ASSERT_TRUE(dialler.start().ok());
  ASSERT_TRUE(wait_until([&] { return ready_peers(listener) == 1 && ready_peers(dialler) == 1; }));

  // Frames the peer takes and ignores (these Hosts run no relay), each queued on its own: the
  // writes may still coalesce them into fewer TLS records, so only what is certain is asserted.
  constexpr size_t kFrames = 20;
  const PeerId id = listener.peer_stats().at(0).id;
  const TrafficCounters before = *only_peer(listener);
  InvMsg inv;
  inv.entries.resize(3);
  for (size_t i = 0; i < kFrames; ++i) {
    inv.entries[0].hash[0] = static_cast<uint8_t>(i);
    ASSERT_TRUE(HostTestAccess::send(listener, id, encode_frame(kTestNetwork, inv), MsgType::kInv));
  }
  const auto inv_type = static_cast<size_t>(MsgType::kInv);

  // Quiescence: every byte either end wrote has crossed the relay and been read by the other.
  TrafficCounters l, d;
  const bool agreed = wait_until([&] {
    auto lc = only_peer(listener);
    auto dc = only_peer(dialler);
    if (!lc || !dc) return false;
    l = *lc;
    d = *dc;
    return d.msgs_in[inv_type] >= before.msgs_out[inv_type] + kFrames &&
           l.tls_bytes_out == relay.to_dialler() && d.tls_bytes_in == relay.to_dialler() &&
           d.tls_bytes_out == relay.to_listener() && l.tls_bytes_in == relay.to_listener();
  });
  ASSERT_TRUE(agreed) << "listener out " << l.tls_bytes_out << " in " << l.tls_bytes_in
                      << ", dialler out " << d.tls_bytes_out << " in " << d.tls_bytes_in
                      << ", relay to dialler " << relay.to_dialler() << " to listener "
                      << relay.to_listener();

  // Ciphertext is more than the frames it carries, in both directions.
  EXPECT_GT(l.tls_bytes_out, l.total_bytes_out());
  EXPECT_GT(d.tls_bytes_out, d.total_bytes_out());
  EXPECT_GT(l.tls_bytes_in, l.total_bytes_in());
  // The frames sent since `before` went out in at least one TLS 1.3 record of their own, which
  // costs 22 bytes beyond its plaintext (5 header, 1 content type, 16 tag).
  const uint64_t frames = l.total_bytes_out() - before.total_bytes_out();
  EXPECT_GE(frames, kFrames * (kFrameHeaderSize + 1));
  EXPECT_GE(l.tls_bytes_out - before.tls_bytes_out, frames + 22);

  // A closed connection's counts stay in the Host's totals.
  dialler.stop();
  ASSERT_TRUE(wait_until([&] { return listener.connection_count() == 0; }));
  const TrafficCounters total = listener.total_traffic();
  EXPECT_GE(total.tls_bytes_in, l.tls_bytes_in);
  EXPECT_GE(total.tls_bytes_out, l.tls_bytes_out);
  listener.stop();
}

}  // namespace
}  // namespace hearsay::test
