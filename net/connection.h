// Connection: one authenticated peer link — owns its TLS stream, reads frames, writes a bounded
// queue of shared frames, counts traffic, enforces its own timeouts, and closes as told.
//
// Threading: a Connection lives on one thread, its socket's: the io_context it was created on is
// run by exactly one thread (the Host's network thread, or one of its I/O threads), so that
// context's implicit strand serialises every handler and no lock is taken here. The commands
// (start, send, close, hold_reading, check_timeouts, cut_partial_frame) may be given from any
// thread: on the Connection's own thread they act at once, from another they are posted to it,
// and commands from one thread are carried out in the order given. Observer calls are made on
// the Connection's thread; an observer on another thread hands them over itself (the Host
// posts them to its network thread). What another thread may read: id, inbound, remote, link
// and state at any time; identity and log_prefix once on_established was called; counters and
// frame_cut once on_closed was called; everything else through snapshot(), on its thread.
// Handlers keep the Connection alive through shared_from_this(), never a raw this.
//
// Lifecycle: kTlsHandshake → kOpen → (kClosing →) kClosed. The observer (the Host) hears
// on_established once the peer's identity is proven, on_input with what one socket read
// decoded (messages, and what did not decode, in order), and on_closed exactly once at the
// end, with the reason. close() never acts inside the caller's stack: it marks the state and
// posts the work, so the PeerManager may disconnect the peer whose message it is handling.
//
// Close is an explicit choice (Envoy): kFlush writes out what is queued, sends TLS
// close_notify and then closes, bounded by the shutdown timeout; kAbort closes the socket now.
// net/ itself aborts on transport faults (read or write error, write queue over its cap, a
// timeout). Bytes that do not decode are not a transport fault but the peer's doing: the
// Connection reports them (on_bad_message) and p2p decides, its decision arriving as a
// DisconnectAction. After a bad frame the stream cannot be parsed further, so the Connection
// reads no more; should nobody close it, the idle timeout does.
//
// Memory bounds, per connection (the adversary is the peer):
//  - receive: one read buffer (kReadBufferBytes) plus the FrameDecoder's message in progress,
//    at most kMaxMessagePayload (checked against the command's limit before buffering). Across
//    connections, partial frames share the Host's FrameBudget: before the decoder's allocation
//    grows the budget must have room (net/frame_budget.h), and a connection whose frame gives
//    way, or that cannot get room, is cut. A closing connection drops its partial frame at once.
//    Decoded messages wait for the observer's thread: at most kMaxInputInFlight reads of them;
//  - send: queued frames are shared with other peers, but a peer is charged their full size;
//    above the high watermark the connection stops reading (a peer that asks and does not
//    take its answers gets no more answers), it resumes below the low watermark, and over the
//    cap it is disconnected. Link emulation's delayed frames count against the same cap.
// Time bounds: TLS handshake, idle (nothing received), write stall (one write in flight too
// long), frame deadline (a frame not complete within frame_deadline() of its first header byte;
// the clock stops while we pause reading) and shutdown timeouts, checked by check_timeouts() on
// the Host's tick. A frame cut for its deadline or for the memory cap is a stall (frame_cut()),
// which the Host counts and remembers (net/stall_guard.h).
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "net/frame_budget.h"
#include "net/tls.h"
#include "p2p/transport.h"
#include "p2p/types.h"

namespace hearsay {

using SteadyClock = std::chrono::steady_clock;
using SteadyTime = SteadyClock::time_point;

// One TLS record's worth of plaintext: Asio's ssl stream returns at most one record per read.
inline constexpr size_t kReadBufferBytes = 16 * 1024;
// Reads handed to the observer and not yet delivered (input_delivered) before the Connection
// stops reading: one being handled on the network thread while the next is decoded. It bounds
// what waits for the network thread (per connection: this many reads, each at most a read
// buffer's worth of messages plus one message that completed in it) and how far reading runs
// past a hold_reading(true) decided while handling them.
inline constexpr uint32_t kMaxInputInFlight = 2;
// Frames gathered into one async_write.
inline constexpr size_t kMaxGatherFrames = 16;
// Send queue watermarks and cap, bytes. The high watermark is Bitcoin's DEFAULT_MAXSENDBUFFER;
// the cap leaves room above it for one maximal message (a block) so a legitimate burst is not
// mistaken for a peer that does not read.
inline constexpr size_t kSendQueueHighWatermark = 1'000'000;
inline constexpr size_t kSendQueueLowWatermark = kSendQueueHighWatermark / 4;
inline constexpr size_t kSendQueueCap =
    kSendQueueHighWatermark + kFrameHeaderSize + kMaxMessagePayload;
static_assert(kSendQueueLowWatermark < kSendQueueHighWatermark);
static_assert(kSendQueueCap >= kSendQueueHighWatermark + kFrameHeaderSize + kMaxMessagePayload);
// Frame deadline: a frame must be complete within kFrameGrace + its declared payload length /
// kFrameMinRate of its first header byte, or the connection is cut. 50 kB/s (400 kbit/s) is a
// slow mobile link, and what a node uploading a block to 25 peers at once over 10 Mbit/s still
// gives each; the grace covers round trips, TCP's slow start and the sender's queue ahead of
// the frame. A maximal frame (a block) gets 10 + 4,000,000 / 50,000 = 90 s: half the 184 s
// after which the PeerManager's liveness check drops a peer whose pongs stopped (a stalled
// frame holds back every message behind it, pongs included: p2p/peer_manager.h).
inline constexpr std::chrono::seconds kFrameGrace{10};
inline constexpr size_t kFrameMinRate = 50'000;  // bytes per second
inline constexpr std::chrono::seconds kMaxFrameDeadline =
    kFrameGrace + std::chrono::seconds(kMaxMessagePayload / kFrameMinRate);
static_assert(kMaxFrameDeadline <= std::chrono::seconds(184) / 2);

struct ConnectionLimits {
  size_t send_queue_cap = kSendQueueCap;
  size_t send_high_watermark = kSendQueueHighWatermark;
  size_t send_low_watermark = kSendQueueLowWatermark;
  // TLS handshake from TCP accept/connect to a proven identity (geth: 5 s for its handshake).
  std::chrono::milliseconds tls_handshake_timeout{5'000};
  // Nothing received for this long: the peer is gone (Bitcoin's TIMEOUT_INTERVAL is 20 min;
  // the PeerManager's pings find dead peers much sooner).
  std::chrono::milliseconds idle_timeout{20 * 60'000};
  // One write in flight this long: the peer stopped reading (geth's frameWriteTimeout).
  std::chrono::milliseconds write_stall_timeout{20'000};
  // Flush and TLS close_notify exchange on a graceful close.
  std::chrono::milliseconds shutdown_timeout{3'000};
  // Frame deadline: frame_grace + declared length / frame_min_rate (bytes/s, > 0).
  std::chrono::milliseconds frame_grace = kFrameGrace;
  size_t frame_min_rate = kFrameMinRate;
};

// How long a frame declaring `declared_length` payload bytes may take from its first header
// byte (a header still incomplete declares 0).
std::chrono::milliseconds frame_deadline(const ConnectionLimits& limits, size_t declared_length);

// Why a connection was cut over a partial frame. The Host counts each kind, and remembers the
// ones the peer is to blame for (stalled: net/stall_guard.h); a progressing frame cut at the
// memory cap may be an honest block that was simply the largest.
enum class FrameCut { kNone, kDeadline, kStalledAtMemoryCap, kAtMemoryCap };

// Optional emulated link: every outgoing frame waits delay ± jitter, and the link carries at
// most bandwidth_kbps (0 = unlimited), before it reaches the socket. Order is preserved.
struct LinkEmulation {
  uint32_t delay_ms = 0;
  uint32_t jitter_ms = 0;
  uint32_t bandwidth_kbps = 0;
  bool enabled() const { return delay_ms || jitter_ms || bandwidth_kbps; }
};

// Frames by message type (bytes_*: the 24-byte frame header plus the payload), and the TLS
// ciphertext the connection wrote and read: records, their headers and tags, the handshake and
// close_notify included. What a frame costs on the wire beyond its own bytes is the difference.
struct TrafficCounters {
  std::array<uint64_t, kMsgTypeCount> msgs_in{}, bytes_in{}, msgs_out{}, bytes_out{};
  uint64_t tls_bytes_in = 0, tls_bytes_out = 0;
  uint64_t total_bytes_in() const;
  uint64_t total_bytes_out() const;
  TrafficCounters& operator+=(const TrafficCounters& o);
};

enum class CloseMode { kFlush, kAbort };

class Connection;

// What the peer sent does not decode. `command`: the message's type when its frame was intact
// and only the payload failed; nullopt when the framing failed (the Connection then reads no
// more). The Connection closes nothing itself: the observer may call close().
struct BadInput {
  DecodeError error;
  std::optional<MsgType> command;
};
// One item of what a socket read carried: a decoded message, or input that does not decode.
using Inbound = std::variant<Message, BadInput>;

// A frame to send, counted under `type`.
struct OutFrame {
  SharedBytes frame;
  MsgType type;
};

// Implemented by the Host. Called on the Connection's thread.
class ConnectionObserver {
 public:
  virtual ~ConnectionObserver() = default;
  virtual void on_established(const std::shared_ptr<Connection>& c) = 0;
  // Everything one socket read decoded, in the order it arrived (never empty). Decoding, the
  // checksum and transaction ids were computed on the Connection's thread.
  virtual void on_input(const std::shared_ptr<Connection>& c, std::vector<Inbound>&& input) = 0;
  // Exactly once per connection. `established`: on_established was called before.
  virtual void on_closed(const std::shared_ptr<Connection>& c, const std::string& reason,
                         bool established) = 0;
};

class Connection final : public std::enable_shared_from_this<Connection>,
                         private FrameBudget::Holder {
 public:
  using Stream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;
  enum class State { kTlsHandshake, kOpen, kClosing, kClosed };

  struct Options {
    PeerId id = 0;
    bool inbound = false;
    uint32_t magic = 0;
    std::optional<PublicKey> pinned;         // outbound: the identity the dial insists on
    std::shared_ptr<const AllowList> allow;  // null: any identity
    ConnectionLimits limits;
    LinkEmulation link;
    FrameBudget* frame_budget = nullptr;  // the Host's; required, outlives the Connection
    bool read_held = false;               // starts as hold_reading(true) would leave it
  };

  // `socket` is connected; the TLS handshake starts with start().
  static std::shared_ptr<Connection> create(boost::asio::ip::tcp::socket socket, TlsContext& tls,
                                            ConnectionObserver& observer, Options options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // --- commands: from any thread (see Threading) ---
  void start();
  // Queues a frame (counted under `type`). Ignored unless open; over the cap: abort.
  void send(SharedBytes frame, MsgType type);
  // Queues frames in order, and writes them together.
  void send(std::vector<OutFrame>&& frames);
  // Idempotent; the first call's mode and reason win (an abort may upgrade a flush).
  void close(CloseMode mode, std::string reason);
  // Stops (true) or resumes (false) reading for the protocol's flow control (ReadHoldAction).
  // Independent of the send-queue pause: reading resumes once neither holds it. The idle and
  // frame-deadline clocks stop while reading is stopped for either reason.
  void hold_reading(bool hold);
  // Enforces the time limits; called periodically by the Host.
  void check_timeouts(SteadyTime now);
  // The observer is done with one on_input (kMaxInputInFlight).
  void input_delivered();
  // Runs f() on the Connection's thread: at once when called there, posted otherwise.
  template <class F>
  void on_own_thread(F f) {
    boost::asio::dispatch(m_stream.get_executor(), std::move(f));
  }

  // --- any thread ---
  PeerId id() const { return m_opt.id; }
  bool inbound() const { return m_opt.inbound; }
  State state() const { return m_state.load(std::memory_order_relaxed); }
  const NetAddress& remote() const { return m_remote; }
  const LinkEmulation& link() const { return m_opt.link; }
  // --- once on_established was called ---
  const std::optional<PublicKey>& identity() const { return m_verify.proven; }
  // "a1b2c3d4 127.0.0.1:1234 in": the prefix of every log line about this peer.
  std::string log_prefix() const;
  // --- once on_closed was called (on its own thread: at any time) ---
  // The TLS byte counts are read from the SSL object while open, kept from the close after.
  TrafficCounters counters() const;
  FrameCut frame_cut() const { return m_frame_cut; }

  // --- on its own thread ---
  struct Snapshot {
    TrafficCounters traffic;
    size_t queued_bytes = 0;
    bool read_paused = false;
  };
  Snapshot snapshot() const { return {counters(), queued_bytes(), m_read_paused}; }
  // Bytes charged to this peer's send side: queued plus delayed by link emulation.
  size_t queued_bytes() const { return m_queue.queued_bytes() + m_delayed_bytes; }

 private:
  Connection(boost::asio::ip::tcp::socket socket, TlsContext& tls, ConnectionObserver& observer,
             Options options);
  void do_start();
  void do_close(CloseMode mode, std::string reason);
  void do_check_timeouts(SteadyTime now);
  bool queue_frame(SharedBytes frame, MsgType type);
  void do_cut_partial_frame(std::string reason, bool stalled);
  void on_handshake(const boost::system::error_code& ec);
  void do_read();
  bool reads_stopped() const { return m_read_paused || m_read_held || m_input_full; }
  void set_read_stop(bool& reason, bool stop);
  void on_read(const boost::system::error_code& ec, size_t n);
  bool process_bytes(std::span<const uint8_t> data, SteadyTime now);
  bool reserve_frame_memory(std::span<const uint8_t> data, SteadyTime now);
  void cut_partial_frame(std::string reason, bool stalled) override;
  void drop_partial_frame();
  std::optional<std::string> frame_overdue(SteadyTime now) const;
  void enqueue(SharedBytes frame);
  void release_delayed();
  void arm_delay_timer();
  void do_write();
  void on_write(const boost::system::error_code& ec, size_t n);
  void delay(SharedBytes frame);
  void begin_shutdown();
  void tls_shutdown();
  void abort_now(const std::string& reason);
  void finish(const std::string& reason);
  std::string handshake_failure(const boost::system::error_code& ec) const;

  Stream m_stream;
  SSL* m_ssl;  // m_stream's, for the ciphertext counts of its BIO pair
  ConnectionObserver& m_observer;
  Options m_opt;
  TlsVerify m_verify;
  NetAddress m_remote;
  std::atomic<State> m_state = State::kTlsHandshake;
  bool m_established = false;
  bool m_finished = false;

  FrameDecoder m_decoder;
  std::vector<Inbound> m_input;  // what the read being processed decoded
  std::array<uint8_t, kReadBufferBytes> m_read_buf{};
  bool m_reading = false;
  bool m_read_paused = false;  // the send queue is over its high watermark
  bool m_read_held = false;    // the protocol holds reading (hold_reading)
  bool m_input_full = false;   // kMaxInputInFlight reads wait for the observer
  std::atomic<uint32_t> m_input_in_flight{0};
  bool m_read_broken = false;    // a bad frame: nothing after it can be parsed, so no more reads
  SteadyTime m_frame_started{};  // the first header byte of the frame in progress
  SteadyTime m_read_paused_at{};
  FrameCut m_frame_cut = FrameCut::kNone;

  SendQueue m_queue;
  bool m_writing = false;
  bool m_shutting_down = false;
  std::vector<boost::asio::const_buffer> m_write_bufs;

  // Link emulation: frames waiting for their release time.
  struct Delayed {
    SteadyTime release;
    SharedBytes frame;
  };
  std::deque<Delayed> m_delayed;
  size_t m_delayed_bytes = 0;
  SteadyTime m_last_release{};
  SteadyTime m_link_free{};  // when the emulated link finishes carrying what was released
  boost::asio::steady_timer m_delay_timer;
  bool m_delay_timer_armed = false;
  std::mt19937_64 m_rng;

  CloseMode m_close_mode = CloseMode::kFlush;
  std::string m_close_reason;
  SteadyTime m_created;
  SteadyTime m_last_read;
  SteadyTime m_write_started{};
  SteadyTime m_close_started{};

  TrafficCounters m_counters;
};

const char* to_string(Connection::State s);

}  // namespace hearsay
