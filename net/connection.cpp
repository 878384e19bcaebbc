#include "net/connection.h"

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>

#include "crypto/hex.h"
#include "net/address.h"
#include "net/rate_limited_log.h"

namespace hearsay {

namespace asio = boost::asio;
using boost::system::error_code;

TrafficCounters& TrafficCounters::operator+=(const TrafficCounters& o) {
  for (size_t t = 0; t < kMsgTypeCount; ++t) {
    msgs_in[t] += o.msgs_in[t];
    bytes_in[t] += o.bytes_in[t];
    msgs_out[t] += o.msgs_out[t];
    bytes_out[t] += o.bytes_out[t];
  }
  tls_bytes_in += o.tls_bytes_in;
  tls_bytes_out += o.tls_bytes_out;
  return *this;
}

uint64_t TrafficCounters::total_bytes_in() const {
  uint64_t t = 0;
  for (uint64_t b : bytes_in)
    t += b;
  return t;
}
uint64_t TrafficCounters::total_bytes_out() const {
  uint64_t t = 0;
  for (uint64_t b : bytes_out)
    t += b;
  return t;
}

std::chrono::milliseconds frame_deadline(const ConnectionLimits& limits, size_t declared_length) {
  return limits.frame_grace +
         std::chrono::milliseconds(uint64_t(declared_length) * 1000 / limits.frame_min_rate);
}

const char* to_string(Connection::State s) {
  switch (s) {
    case Connection::State::kTlsHandshake:
      return "tls-handshake";
    case Connection::State::kOpen:
      return "open";
    case Connection::State::kClosing:
      return "closing";
    case Connection::State::kClosed:
      return "closed";
  }
  return "?";
}

std::shared_ptr<Connection> Connection::create(tcp::socket socket, TlsContext& tls,
                                               ConnectionObserver& observer, Options options) {
  return std::shared_ptr<Connection>(
      new Connection(std::move(socket), tls, observer, std::move(options)));
}

Connection::Connection(tcp::socket socket, TlsContext& tls, ConnectionObserver& observer,
                       Options options)
    : m_stream(std::move(socket), tls.context()),
      m_ssl(m_stream.native_handle()),
      m_observer(observer),
      m_opt(std::move(options)),
      m_decoder(m_opt.magic),
      m_read_held(m_opt.read_held),
      m_delay_timer(m_stream.get_executor()),
      m_rng(m_opt.id * 0x9e3779b97f4a7c15ULL + 1) {
  HEARSAY_CHECK(m_opt.frame_budget != nullptr && m_opt.limits.frame_min_rate > 0);
  error_code ec;
  tcp::endpoint ep = m_stream.lowest_layer().remote_endpoint(ec);
  if (!ec) m_remote = to_net_address(ep);
  m_verify.pinned = m_opt.pinned;
  m_verify.allow = m_opt.allow;
  TlsContext::attach(m_stream.native_handle(), &m_verify);
  m_created = m_last_read = m_read_paused_at = SteadyClock::now();
}

Connection::~Connection() {
  // The SSL object outlives nothing here, but never leave it pointing at freed state.
  TlsContext::attach(m_stream.native_handle(), nullptr);
  m_opt.frame_budget->release(id());  // a Connection dropped unclosed (the Host stopping)
}

// Asio's ssl engine puts the SSL object on one end of a BIO pair and moves the other end's
// bytes to and from the socket: what the TLS layer wrote into its BIO is the ciphertext it
// produced, what it read the ciphertext it consumed. Once the engine has flushed (no write in
// flight) and drained (no record half read), these are the socket's bytes exactly.
TrafficCounters Connection::counters() const {
  if (m_finished) return m_counters;  // the socket's final counts, kept by finish()
  TrafficCounters c = m_counters;
  c.tls_bytes_out = BIO_number_written(SSL_get_wbio(m_ssl));
  c.tls_bytes_in = BIO_number_read(SSL_get_rbio(m_ssl));
  return c;
}

std::string Connection::log_prefix() const {
  std::string who = m_verify.proven ? to_hex(*m_verify.proven).substr(0, 8) : "????????";
  return "peer=" + std::to_string(m_opt.id) + " " + who + " " + to_string(m_remote) +
         (m_opt.inbound ? " in" : " out");
}

void Connection::start() {
  on_own_thread([self = shared_from_this()] { self->do_start(); });
}

void Connection::do_start() {
  m_created = m_last_read = m_read_paused_at = SteadyClock::now();
  m_stream.async_handshake(
      m_opt.inbound ? asio::ssl::stream_base::server : asio::ssl::stream_base::client,
      [self = shared_from_this()](const error_code& ec) { self->on_handshake(ec); });
}

std::string Connection::handshake_failure(const error_code& ec) const {
  if (!m_verify.refusal.empty()) return m_verify.refusal;
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated)
    return "connection closed during the TLS handshake";
  return ec.message();
}

void Connection::on_handshake(const error_code& ec) {
  if (m_state != State::kTlsHandshake) return;  // closed meanwhile (timeout, stop)
  if (ec || !m_verify.proven) {
    std::string why = ec ? handshake_failure(ec) : "no identity proven";
    abort_now("TLS handshake refused: " + why);
    return;
  }
  m_state = State::kOpen;
  m_established = true;
  m_last_read = SteadyClock::now();
  spdlog::info("{} TLS 1.3 established", log_prefix());
  m_observer.on_established(shared_from_this());
  if (m_state != State::kOpen) return;
  do_read();
  do_write();
}

void Connection::do_read() {
  if (m_reading || reads_stopped() || m_read_broken || m_state != State::kOpen) return;
  m_reading = true;
  m_stream.async_read_some(
      asio::buffer(m_read_buf),
      [self = shared_from_this()](const error_code& ec, size_t n) { self->on_read(ec, n); });
}

void Connection::on_read(const error_code& ec, size_t n) {
  m_reading = false;
  if (m_state == State::kClosed) return;
  if (m_state == State::kClosing) {
    if (m_shutting_down) tls_shutdown();  // the read was cancelled to make way for it
    return;
  }
  if (ec) {
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated)
      abort_now("peer closed the connection");
    else
      abort_now("read failed: " + (m_verify.refusal.empty() ? ec.message() : m_verify.refusal));
    return;
  }
  m_last_read = SteadyClock::now();
  const bool more = process_bytes(std::span<const uint8_t>(m_read_buf.data(), n), m_last_read);
  // One hand-over per read: the observer may be on another thread. Counted before it is made:
  // an observer on this thread is done before on_input returns.
  if (!m_input.empty()) {
    m_input_in_flight.fetch_add(1);
    m_observer.on_input(shared_from_this(), std::exchange(m_input, {}));
    if (m_input_in_flight.load() >= kMaxInputInFlight) set_read_stop(m_input_full, true);
  }
  if (!more || m_state != State::kOpen) return;
  if (queued_bytes() > m_opt.limits.send_high_watermark) {
    spdlog::debug("{} reading paused: {} bytes queued", log_prefix(), queued_bytes());
    set_read_stop(m_read_paused, true);
    return;
  }
  do_read();
}

void Connection::hold_reading(bool hold) {
  on_own_thread(
      [self = shared_from_this(), hold] { self->set_read_stop(self->m_read_held, hold); });
}

// From the observer's thread. The one that brings the count below the limit resumes reading:
// if it came before this thread stopped, the resume is queued behind the stop.
void Connection::input_delivered() {
  if (m_input_in_flight.fetch_sub(1) != kMaxInputInFlight) return;
  on_own_thread([self = shared_from_this()] {
    if (self->m_input_in_flight.load() < kMaxInputInFlight)
      self->set_read_stop(self->m_input_full, false);
  });
}

// Sets one of the reasons to stop reading. When the first starts, the clocks stop; when
// the last ends, neither the idle clock nor the frame's deadline counts the time we did not read,
// and reading resumes.
void Connection::set_read_stop(bool& reason, bool stop) {
  if (reason == stop) return;
  const bool was = reads_stopped();
  reason = stop;
  const SteadyTime now = SteadyClock::now();
  if (!was && reads_stopped()) {
    m_read_paused_at = now;
  } else if (was && !reads_stopped()) {
    m_last_read = now;
    m_frame_started += now - m_read_paused_at;
    do_read();
  }
}

// Decodes each complete message into m_input, and what does not decode too: the observer
// (through p2p) decides what becomes of the peer. The memory the decoder is about to take comes
// from the frame budget first. False when reading must stop: the connection is no longer open,
// the framing failed, or the budget had no room for this frame.
bool Connection::process_bytes(std::span<const uint8_t> data, SteadyTime now) {
  while (!data.empty()) {
    if (!reserve_frame_memory(data, now)) return false;
    if (!m_decoder.in_frame()) m_frame_started = now;
    const bool ok = m_decoder.received_bytes(data);
    m_opt.frame_budget->settle(id(), m_decoder.reserved_bytes());
    if (!ok) {
      m_read_broken = true;
      const DecodeError err = m_decoder.error();
      drop_partial_frame();  // nothing after a bad frame can be parsed
      m_input.emplace_back(BadInput{err, std::nullopt});
      return false;
    }
    if (!m_decoder.message_complete()) continue;
    RawMessage raw = m_decoder.take_message();
    m_opt.frame_budget->release(id());
    auto t = static_cast<size_t>(raw.type);
    m_counters.msgs_in[t] += 1;
    m_counters.bytes_in[t] += raw.wire_size;
    const MsgType type = raw.type;
    auto msg = decode_payload(type, std::move(raw.payload));
    if (msg)
      m_input.emplace_back(std::move(*msg));
    else
      m_input.emplace_back(BadInput{msg.error(), type});
    if (m_state != State::kOpen) return false;
  }
  return true;
}

// Finds room in the frame budget for what the decoder will hold once it has taken `data`.
// Refused: this frame is the one that gives way, and the connection is cut.
bool Connection::reserve_frame_memory(std::span<const uint8_t> data, SteadyTime now) {
  const size_t want = m_decoder.reserved_after(data);
  if (m_opt.frame_budget->charge(id(), *this, want, now)) return true;
  m_frame_cut = FrameCut::kAtMemoryCap;
  do_close(CloseMode::kAbort, "partial frames at their memory cap (" +
                                  std::to_string(m_opt.frame_budget->cap()) +
                                  " bytes): this frame's " + std::to_string(want) +
                                  " bytes found no larger or stalled frame to give way");
  return false;
}

// Called by the budget, under its lock, from whichever thread grew a frame: the budget has
// already taken the charge back. On another thread the Connection may be on its way out (its
// destructor waits for the budget's lock in release()): then there is nothing left to cut.
void Connection::cut_partial_frame(std::string reason, bool stalled) {
  auto self = weak_from_this().lock();
  if (!self) return;
  on_own_thread([self, reason = std::move(reason), stalled]() mutable {
    self->do_cut_partial_frame(std::move(reason), stalled);
  });
}

void Connection::do_cut_partial_frame(std::string reason, bool stalled) {
  if (m_state == State::kClosed) return;
  m_frame_cut = stalled ? FrameCut::kStalledAtMemoryCap : FrameCut::kAtMemoryCap;
  drop_partial_frame();
  do_close(CloseMode::kAbort, std::move(reason));
}

// Frees the frame in progress and its charge: the connection will read no more of it.
void Connection::drop_partial_frame() {
  m_decoder = FrameDecoder(m_opt.magic);
  m_opt.frame_budget->release(id());
}

void Connection::send(SharedBytes frame, MsgType type) {
  std::vector<OutFrame> one;
  one.push_back({std::move(frame), type});
  send(std::move(one));
}

void Connection::send(std::vector<OutFrame>&& frames) {
  on_own_thread([self = shared_from_this(), frames = std::move(frames)]() mutable {
    for (OutFrame& f : frames)
      if (!self->queue_frame(std::move(f.frame), f.type)) return;
    self->do_write();
  });
}

// Queues one frame; false when the connection is not open (any more: over the cap it aborts).
bool Connection::queue_frame(SharedBytes frame, MsgType type) {
  if (m_state != State::kOpen) return false;
  if (!frame || frame->empty()) return true;
  auto t = static_cast<size_t>(type);
  m_counters.msgs_out[t] += 1;
  m_counters.bytes_out[t] += frame->size();
  if (m_opt.link.enabled())
    delay(std::move(frame));
  else
    m_queue.push(std::move(frame));
  if (queued_bytes() > m_opt.limits.send_queue_cap) {
    do_close(CloseMode::kAbort, "send queue over its cap of " +
                                    std::to_string(m_opt.limits.send_queue_cap) +
                                    " bytes: the peer does not read");
    return false;
  }
  return true;
}

void Connection::delay(SharedBytes frame) {
  const LinkEmulation& link = m_opt.link;
  SteadyTime now = SteadyClock::now();
  std::chrono::microseconds transmit{0};
  if (link.bandwidth_kbps)  // bits / (kbps · 1000) seconds = bytes · 8000 / kbps µs
    transmit = std::chrono::microseconds(frame->size() * 8000 / link.bandwidth_kbps);
  m_link_free = std::max(m_link_free, now) + transmit;
  int64_t delay_us = int64_t(link.delay_ms) * 1000;
  if (link.jitter_ms) {
    int64_t j = int64_t(link.jitter_ms) * 1000;
    delay_us += std::uniform_int_distribution<int64_t>(-j, j)(m_rng);
  }
  SteadyTime release = m_link_free + std::chrono::microseconds(std::max<int64_t>(0, delay_us));
  release = std::max(release, m_last_release);  // a link does not reorder
  m_last_release = release;
  m_delayed_bytes += frame->size();
  m_delayed.push_back({release, std::move(frame)});
  arm_delay_timer();
}

void Connection::arm_delay_timer() {
  if (m_delay_timer_armed || m_delayed.empty() || m_state == State::kClosed) return;
  m_delay_timer_armed = true;
  m_delay_timer.expires_at(m_delayed.front().release);
  m_delay_timer.async_wait([self = shared_from_this()](const error_code& ec) {
    self->m_delay_timer_armed = false;
    if (ec || self->m_state == State::kClosed) return;
    self->release_delayed();
  });
}

void Connection::release_delayed() {
  SteadyTime now = SteadyClock::now();
  while (!m_delayed.empty() && m_delayed.front().release <= now) {
    m_delayed_bytes -= m_delayed.front().frame->size();
    m_queue.push(std::move(m_delayed.front().frame));
    m_delayed.pop_front();
  }
  do_write();
  arm_delay_timer();
}

void Connection::do_write() {
  if (m_writing || m_shutting_down) return;
  if (m_state != State::kOpen && m_state != State::kClosing) return;
  if (m_queue.empty()) {
    if (m_state == State::kClosing && m_delayed.empty()) begin_shutdown();
    return;
  }
  std::array<std::span<const uint8_t>, kMaxGatherFrames> spans;
  size_t n = m_queue.buffers_to_send(spans);
  m_write_bufs.clear();
  for (size_t i = 0; i < n; ++i)
    m_write_bufs.emplace_back(spans[i].data(), spans[i].size());
  m_writing = true;
  m_write_started = SteadyClock::now();
  asio::async_write(m_stream, m_write_bufs,
                    [self = shared_from_this()](const error_code& ec, size_t written) {
                      self->on_write(ec, written);
                    });
}

void Connection::on_write(const error_code& ec, size_t n) {
  m_writing = false;
  if (m_state == State::kClosed) return;
  if (ec) {
    abort_now("write failed: " + ec.message());
    return;
  }
  m_queue.mark_bytes_sent(n);
  if (m_read_paused && queued_bytes() <= m_opt.limits.send_low_watermark)
    set_read_stop(m_read_paused, false);
  do_write();
}

void Connection::close(CloseMode mode, std::string reason) {
  on_own_thread([self = shared_from_this(), mode, reason = std::move(reason)]() mutable {
    self->do_close(mode, std::move(reason));
  });
}

void Connection::do_close(CloseMode mode, std::string reason) {
  if (m_state == State::kClosed) return;
  if (m_state == State::kClosing &&
      (mode == CloseMode::kFlush || m_close_mode == CloseMode::kAbort))
    return;
  if (m_close_reason.empty()) m_close_reason = std::move(reason);
  bool nothing_to_flush = m_state == State::kTlsHandshake;
  m_state = State::kClosing;
  drop_partial_frame();  // a closing connection reads no more
  m_close_started = SteadyClock::now();
  if (mode == CloseMode::kAbort || nothing_to_flush) {
    m_close_mode = CloseMode::kAbort;
    asio::post(m_stream.get_executor(),
               [self = shared_from_this()] { self->abort_now(self->m_close_reason); });
    return;
  }
  m_close_mode = CloseMode::kFlush;
  asio::post(m_stream.get_executor(), [self = shared_from_this()] { self->do_write(); });
}

void Connection::begin_shutdown() {
  if (m_shutting_down || m_state != State::kClosing) return;
  m_shutting_down = true;
  if (m_reading) {
    // Let the pending read finish (cancelled) before the TLS shutdown reads close_notify.
    error_code ec;
    m_stream.lowest_layer().cancel(ec);
    return;
  }
  tls_shutdown();
}

void Connection::tls_shutdown() {
  m_stream.async_shutdown(
      [self = shared_from_this()](const error_code&) { self->abort_now(self->m_close_reason); });
}

void Connection::abort_now(const std::string& reason) {
  if (m_state == State::kClosed) return;
  m_state = State::kClosed;
  drop_partial_frame();  // a read error closes without close()
  error_code ec;
  m_stream.lowest_layer().close(ec);
  m_delay_timer.cancel();
  finish(reason);
}

void Connection::finish(const std::string& reason) {
  if (m_finished) return;
  m_counters = counters();  // the TLS counts, final: other threads read them after on_closed
  m_finished = true;
  // A peer reconnecting in a loop must not flood the log: rate-limited per identity (or IP).
  const std::string key = identity() ? to_hex(*identity()) : ip_to_string(remote());
  if (m_established)
    peer_log().info(key,
                    fmt::format("{} disconnected: {} (in {} B, out {} B)", log_prefix(), reason,
                                m_counters.total_bytes_in(), m_counters.total_bytes_out()));
  else
    peer_log().info(key, fmt::format("{} refused: {}", log_prefix(), reason));
  m_observer.on_closed(shared_from_this(), reason, m_established);
}

// Why the frame in progress is past its deadline; nullopt when it is not, or when there is no
// frame in progress or we are not reading.
std::optional<std::string> Connection::frame_overdue(SteadyTime now) const {
  if (!m_decoder.in_frame() || reads_stopped()) return std::nullopt;
  const size_t declared = m_decoder.declared_length();
  const auto deadline = frame_deadline(m_opt.limits, declared);
  if (now - m_frame_started <= deadline) return std::nullopt;
  const std::string what =
      declared != 0 ? "a " + std::to_string(declared) + "-byte frame" : "a frame header";
  return "stalled: " + what + " not complete within its deadline of " +
         std::to_string(deadline.count()) + " ms (" + std::to_string(m_decoder.buffered_bytes()) +
         " bytes arrived)";
}

void Connection::check_timeouts(SteadyTime now) {
  on_own_thread([self = shared_from_this(), now] { self->do_check_timeouts(now); });
}

void Connection::do_check_timeouts(SteadyTime now) {
  auto post_abort = [this](std::string why) {
    asio::post(m_stream.get_executor(),
               [self = shared_from_this(), why = std::move(why)] { self->abort_now(why); });
  };
  switch (m_state) {
    case State::kTlsHandshake:
      if (now - m_created > m_opt.limits.tls_handshake_timeout)
        do_close(CloseMode::kAbort, "TLS handshake timeout");
      break;
    case State::kOpen:
      if (!reads_stopped() && now - m_last_read > m_opt.limits.idle_timeout) {
        do_close(CloseMode::kAbort, "idle: nothing received within the timeout");
      } else if (m_writing && now - m_write_started > m_opt.limits.write_stall_timeout) {
        do_close(CloseMode::kAbort, "write stalled: the peer does not read");
      } else if (auto why = frame_overdue(now)) {
        m_frame_cut = FrameCut::kDeadline;
        do_close(CloseMode::kAbort, std::move(*why));
      }
      break;
    case State::kClosing:
      if (now - m_close_started > m_opt.limits.shutdown_timeout)
        post_abort(m_close_reason + " (shutdown timed out)");
      break;
    case State::kClosed:
      break;
  }
}

}  // namespace hearsay
