#include "node/flood.h"

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <ostream>
#include <span>
#include <thread>
#include <unordered_map>

#include "chainstub/params.h"
#include "crypto/hex.h"
#include "crypto/keyfile.h"
#include "crypto/random.h"
#include "mempool/policy.h"
#include "net/tls.h"
#include "p2p/peer_manager.h"
#include "p2p/serialize.h"
#include "p2p/transport.h"
#include "p2p/tx_relay.h"
#include "p2p/txrequest.h"

namespace hearsay {

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;

// How often the session checks for a stalled node and prints a progress line.
constexpr std::chrono::milliseconds kWatchInterval{250};
constexpr int kProgressEveryWatches = 4;
// --wait-accepted: how often the mempool is polled.
constexpr std::chrono::milliseconds kPollInterval{20};
// The RPC calls of --wait-accepted answer at once; a node that does not is not waited for long.
constexpr std::chrono::seconds kRpcTimeout{10};
constexpr size_t kReadBufferBytes = 16 * 1024;
// What a hearsay node keeps of one peer's announcements: tracked, then deferred (beyond, it
// ignores them).
constexpr uint64_t kFloodMaxUnfetched = kMaxPeerAnnouncements + kMaxDeferredPerPeer;
static_assert(kMaxInvPerMessage <= kMaxPeerAnnouncements,
              "one inv must fit under the node's per-peer announcement cap");
static_assert(kInjectMaxCount <= UINT32_MAX, "transactions are indexed by 32 bits");

int64_t wall_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double cpu_seconds_now() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  auto secs = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return secs(r.ru_utime) + secs(r.ru_stime);
}

struct IdPrefixHash {
  size_t operator()(const Hash256& id) const {
    uint64_t v = 0;
    std::memcpy(&v, id.data(), sizeof v);  // our own ids: uniformly random already
    return static_cast<size_t>(v);
  }
};

// Frames laid back to back in one buffer: frame i is bytes [offset[i], offset[i + 1]).
struct FrameRun {
  std::vector<uint8_t> bytes;
  std::vector<size_t> offset;
  asio::const_buffer slice(uint64_t first, uint64_t end) const {
    return asio::buffer(bytes.data() + offset[first], offset[end] - offset[first]);
  }
};

// Encodes frames 0..n-1 (make(i) gives message i) into one FrameRun, on `threads` threads.
FrameRun encode_run(uint64_t n, unsigned threads, uint32_t magic,
                    const std::function<Message(uint64_t)>& make,
                    const std::function<size_t(uint64_t)>& payload_size) {
  FrameRun run;
  run.offset.resize(n + 1);
  for (uint64_t i = 0; i < n; ++i)
    run.offset[i + 1] = run.offset[i] + kFrameHeaderSize + payload_size(i);
  run.bytes.resize(run.offset[n]);
  for_each_striped(n, threads, [&](uint64_t i) {
    SharedBytes f = encode_frame(magic, make(i));
    HEARSAY_CHECK(f->size() == run.offset[i + 1] - run.offset[i]);
    std::memcpy(run.bytes.data() + run.offset[i], f->data(), f->size());
  });
  return run;
}

// Everything prepared before the clock starts.
struct FloodPlan {
  const FloodOptions& o;
  uint32_t magic = 0;
  std::vector<TxId> ids{};
  FrameRun txs{};                                            // one tx frame per transaction
  FrameRun invs{};                                           // announce: inv frame k, ids k*C..
  size_t inv_size = 0;                                       // C
  std::unordered_map<TxId, uint32_t, IdPrefixHash> index{};  // announce: id -> transaction
  uint64_t per_tick = 0;                                     // --rate: offers per pace tick
};

// Offers per pace tick at `rate` (at least one); also the ids per inv in announce mode.
uint64_t offers_per_tick(double rate) {
  const double n = std::ceil(rate * std::chrono::duration<double>(kFloodPaceTick).count());
  return static_cast<uint64_t>(std::max(1.0, n));
}

void prepare_frames(FloodPlan& plan, const std::vector<TxRef>& txs, unsigned threads) {
  const FloodOptions& o = plan.o;
  plan.ids.resize(txs.size());
  for (size_t i = 0; i < txs.size(); ++i)
    plan.ids[i] = txs[i]->id();
  plan.per_tick = o.rate > 0 ? offers_per_tick(o.rate) : o.count;
  plan.txs = encode_run(
      txs.size(), threads, plan.magic, [&](uint64_t i) { return Message(TxMsg{txs[i]}); },
      [&](uint64_t i) { return txs[i]->size(); });
  if (o.mode != FloodMode::kAnnounce) return;
  plan.inv_size = std::min<uint64_t>(kMaxInvPerMessage, plan.per_tick);
  const uint64_t chunks = (txs.size() + plan.inv_size - 1) / plan.inv_size;
  auto chunk_len = [&](uint64_t k) {
    return std::min<uint64_t>(plan.inv_size, txs.size() - k * plan.inv_size);
  };
  plan.invs = encode_run(
      chunks, threads, plan.magic,
      [&](uint64_t k) {
        InvMsg inv;
        for (uint64_t i = k * plan.inv_size; i < k * plan.inv_size + chunk_len(k); ++i)
          inv.entries.push_back(InvEntry{InvType::kTx, plan.ids[i]});
        return Message(std::move(inv));
      },
      [&](uint64_t k) { return compact_size_len(chunk_len(k)) + chunk_len(k) * kInvEntrySize; });
  plan.index.reserve(plan.ids.size());
  for (size_t i = 0; i < plan.ids.size(); ++i)
    plan.index.emplace(plan.ids[i], static_cast<uint32_t>(i));
}

std::string describe_close(const error_code& ec) {
  if (ec == asio::error::eof) return "it closed the connection";
  if (ec == asio::ssl::error::stream_truncated)
    return "it closed the connection without a TLS close_notify";
  if (ec == asio::error::connection_reset) return "it reset the connection";
  return ec.message();
}

// One P2P session with the node. Runs on the io thread only; handlers hold shared_from_this.
class FloodSession : public std::enable_shared_from_this<FloodSession> {
 public:
  using Stream = asio::ssl::stream<asio::ip::tcp::socket>;

  FloodSession(asio::io_context& io, TlsContext& tls, const FloodPlan& plan, std::ostream& progress)
      : m_io(io),
        m_plan(plan),
        m_o(plan.o),
        m_progress(progress),
        m_stream(io, tls.context()),
        m_decoder(plan.magic),
        m_pace(io),
        m_watch(io),
        m_t_sent(plan.ids.size(), 0),
        m_t_requested(plan.ids.size(), 0) {
    m_verify.pinned = m_o.target.identity;
    TlsContext::attach(m_stream.native_handle(), &m_verify);
  }
  ~FloodSession() { TlsContext::attach(m_stream.native_handle(), nullptr); }
  FloodSession(const FloodSession&) = delete;
  FloodSession& operator=(const FloodSession&) = delete;

  void start() {
    m_session_deadline = Clock::now() + kFloodSessionTimeout;
    watch();
    m_stream.lowest_layer().async_connect(
        to_endpoint(m_o.target.address),
        [self = shared_from_this()](const error_code& ec) { self->on_connect(ec); });
  }

  // Ends the session by closing the socket (an abort: no TLS close_notify). Nothing is lost by
  // it: by now the node answered the closing ping, so it has read everything, or the session
  // has failed already.
  void close() {
    m_closing = true;
    m_pace.cancel();
    m_watch.cancel();
    shut_socket();
  }

  bool established() const { return m_established; }
  bool drained() const { return m_drained; }
  const std::string& failure() const { return m_failure; }
  const std::vector<int64_t>& t_sent() const { return m_t_sent; }
  const std::vector<int64_t>& t_requested() const { return m_t_requested; }

  // The session's part of the summary (counts, times, CPU over the span so far).
  void fill(FloodSummary& s) const {
    s.node_identity = m_verify.proven ? to_hex(*m_verify.proven) : "";
    s.announced = m_announced;
    s.sent = m_sent;
    s.requested = m_requested;
    s.notfound = m_notfound;
    s.first_send_us = m_first_offer_us;
    s.last_send_us = m_last_offer_us;
    s.first_request_us = m_first_request_us;
    s.last_request_us = m_last_request_us;
    const uint64_t offered = m_o.mode == FloodMode::kPush ? m_next_tx : m_announced;
    const double window = static_cast<double>(m_last_offer_us - m_first_offer_us) / 1e6;
    s.offered_rate = window > 0 ? static_cast<double>(offered) / window : 0;
    s.closed_by_node = m_closed_by_node;
    if (m_established) {
      s.duration_seconds = std::chrono::duration<double>(Clock::now() - m_start).count();
      s.cpu_seconds = cpu_seconds_now() - m_cpu_start;
    }
    s.drained = m_drained;
  }

 private:
  // --- session set-up ------------------------------------------------------------------------
  void on_connect(const error_code& ec) {
    if (ec) return fail("cannot connect: " + ec.message() + " (is the node listening there?)");
    error_code ignored;
    m_stream.lowest_layer().set_option(asio::ip::tcp::no_delay(true), ignored);
    m_stream.async_handshake(asio::ssl::stream_base::client,
                             [self = shared_from_this()](const error_code& e) { self->on_tls(e); });
  }

  void on_tls(const error_code& ec) {
    if (ec)
      return fail("TLS handshake failed: " +
                  (m_verify.refusal.empty() ? ec.message() : m_verify.refusal));
    VersionMsg v;
    v.protocol_version = kProtocolVersion;
    v.network_magic = m_plan.magic;
    v.services = m_o.mode == FloodMode::kPush ? kServicePushTx : 0;
    v.time = wall_now_us() / 1'000'000;
    v.user_agent = "/hearsay-cli:0.1/flood/";
    m_control.push_back(encode_frame(m_plan.magic, v));
    m_control.push_back(encode_frame(m_plan.magic, VerackMsg{}));
    pump();
    read_more();
  }

  void on_ready() {
    m_established = true;
    m_start = Clock::now();
    m_cpu_start = cpu_seconds_now();
    m_last_progress = m_start;
    m_progress << "flood: connected to " << to_string(m_o.target.address) << " (identity "
               << to_hex(*m_verify.proven) << "); offering " << m_o.count << " transactions ("
               << (m_o.mode == FloodMode::kPush ? "push" : "announce") << ")\n";
    m_progress.flush();
    if (m_o.rate > 0) pace();
    pump();
  }

  // --- reading -------------------------------------------------------------------------------
  void read_more() {
    m_stream.async_read_some(
        asio::buffer(m_rbuf),
        [self = shared_from_this()](const error_code& ec, size_t n) { self->on_read(ec, n); });
  }

  void on_read(const error_code& ec, size_t n) {
    if (m_closing) return;
    if (ec) {
      m_closed_by_node = describe_close(ec);
      if (m_drained) return;
      return fail("the node ended the session: " + m_closed_by_node);
    }
    std::span<const uint8_t> data(m_rbuf.data(), n);
    const int64_t now_us = wall_now_us();
    while (!data.empty()) {
      if (!m_decoder.received_bytes(data)) {
        const DecodeError e = m_decoder.error();
        return fail(
            std::string("cannot read the node's frames: ") + to_string(e) +
            (e == DecodeError::kBadMagic ? " (the node is on another network: --network)" : ""));
      }
      if (!m_decoder.message_complete()) continue;
      if (!handle(m_decoder.take_message(), now_us)) return;
    }
    pump();
    read_more();
  }

  // One message from the node; false when the session failed on it.
  bool handle(RawMessage raw, int64_t now_us) {
    const MsgType type = raw.type;
    if (type != MsgType::kVerack && type != MsgType::kPing && type != MsgType::kPong &&
        type != MsgType::kGetData)
      return true;  // version (its magic is the frame's, checked), announcements, addresses
    auto msg = decode_payload(type, std::move(raw.payload));
    if (!msg) {
      fail(std::string("the node sent a malformed ") + command_name(type) + ": " +
           to_string(msg.error()));
      return false;
    }
    if (type == MsgType::kVerack) {
      if (!m_established) on_ready();
    } else if (const auto* ping = std::get_if<PingMsg>(&*msg)) {
      m_control.push_back(encode_frame(m_plan.magic, PongMsg{ping->nonce}));
    } else if (const auto* pong = std::get_if<PongMsg>(&*msg)) {
      if (m_barrier_nonce != 0 && pong->nonce == m_barrier_nonce) on_drained();
    } else if (const auto* getdata = std::get_if<GetDataMsg>(&*msg)) {
      answer(*getdata, now_us);
    }
    return true;
  }

  void answer(const GetDataMsg& m, int64_t now_us) {
    NotFoundMsg missing;
    for (const InvEntry& e : m.entries) {
      auto it = e.type == InvType::kTx ? m_plan.index.find(e.hash) : m_plan.index.end();
      if (it == m_plan.index.end()) {
        missing.entries.push_back(e);
        continue;
      }
      const uint32_t i = it->second;
      if (m_t_requested[i] == 0) {
        m_t_requested[i] = now_us;
        ++m_requested;
        if (m_first_request_us == 0) m_first_request_us = now_us;
        m_last_request_us = now_us;
        m_last_progress = Clock::now();
      }
      if (!m_answers.empty() && m_answers.back().second == i)
        ++m_answers.back().second;
      else
        m_answers.emplace_back(i, i + 1);
    }
    if (!missing.entries.empty()) {
      m_notfound += missing.entries.size();
      m_control.push_back(encode_frame(m_plan.magic, missing));
    }
  }

  // --- writing: one write in flight, control frames first, then answers, then offers ----------
  void pump() {
    if (m_writing || m_closing || !m_failure.empty()) return;
    m_bufs.clear();
    m_owned.clear();
    size_t bytes = 0;
    while (!m_control.empty() && bytes < kFloodMaxWriteBytes) {
      bytes += m_control.front()->size();
      m_bufs.push_back(asio::buffer(*m_control.front()));
      m_owned.push_back(std::move(m_control.front()));
      m_control.pop_front();
    }
    if (m_established) {
      while (!m_answers.empty() && bytes < kFloodMaxWriteBytes) {
        auto& [first, end] = m_answers.front();
        const uint64_t last = take_frames(m_plan.txs, first, end, bytes);
        m_sent += last - first;
        first = static_cast<uint32_t>(last);
        if (first == end) m_answers.pop_front();
      }
      m_write_offers = offer(bytes);
    }
    if (m_bufs.empty()) return maybe_barrier();
    m_writing = true;
    asio::async_write(m_stream, m_bufs, [self = shared_from_this()](const error_code& ec, size_t) {
      self->on_write(ec);
    });
  }

  // Adds frames [first, end) of `run` to the write while it stays under kFloodMaxWriteBytes
  // (at least one); returns the end of what it added.
  uint64_t take_frames(const FrameRun& run, uint64_t first, uint64_t end, size_t& bytes) {
    uint64_t last = first;
    while (last < end && (last == first ||
                          bytes + run.offset[last + 1] - run.offset[first] <= kFloodMaxWriteBytes))
      ++last;
    bytes += run.offset[last] - run.offset[first];
    m_bufs.push_back(run.slice(first, last));
    return last;
  }

  // The offers that are due (--rate) and allowed (announce: the node's announcement cap) go
  // into the write; returns whether any did.
  bool offer(size_t& bytes) {
    const uint64_t due = offers_due();
    const int64_t now_us = wall_now_us();
    uint64_t from = 0, to = 0;
    if (m_o.mode == FloodMode::kPush) {
      if (m_next_tx >= due || bytes >= kFloodMaxWriteBytes) return false;
      from = m_next_tx;
      to = m_next_tx = take_frames(m_plan.txs, m_next_tx, due, bytes);
      m_sent += to - from;
    } else {
      from = m_announced;
      const uint64_t size = m_plan.inv_size;
      while (m_announced < due && bytes < kFloodMaxWriteBytes) {
        const uint64_t len = std::min(size, m_o.count - m_announced);
        // Ids asked for are answered in this write or an earlier one, ahead of this inv: the
        // node has dropped their announcements by the time it reads it.
        if (m_announced - m_requested + len > kFloodMaxUnfetched) break;
        take_frames(m_plan.invs, m_announced / size, m_announced / size + 1, bytes);
        m_announced += len;
      }
      to = m_announced;
    }
    if (to == from) return false;
    std::fill(m_t_sent.begin() + static_cast<ptrdiff_t>(from),
              m_t_sent.begin() + static_cast<ptrdiff_t>(to), now_us);
    if (m_first_offer_us == 0) m_first_offer_us = now_us;
    return true;
  }

  uint64_t offers_due() const {
    if (m_o.rate <= 0) return m_o.count;
    const double elapsed = std::chrono::duration<double>(Clock::now() - m_start).count();
    const auto paced = static_cast<uint64_t>(m_o.rate * elapsed) + m_plan.per_tick;
    return std::min<uint64_t>(m_o.count, paced);
  }

  void on_write(const error_code& ec) {
    m_writing = false;
    if (m_closing) return;
    if (ec) {
      m_closed_by_node = describe_close(ec);
      return fail("writing to the node failed: " + m_closed_by_node);
    }
    if (m_write_offers) {
      m_last_offer_us = wall_now_us();
      m_last_progress = Clock::now();
    }
    pump();
  }

  // Everything offered (and, announcing, fetched) and written: a ping whose pong proves the
  // node has read it all.
  void maybe_barrier() {
    if (!m_established || m_barrier_nonce != 0) return;
    const bool offered =
        m_o.mode == FloodMode::kPush ? m_next_tx == m_o.count : m_requested == m_o.count;
    if (!offered || !m_answers.empty()) return;
    m_pace.cancel();
    m_barrier_nonce = random_u64() | 1;
    m_control.push_back(encode_frame(m_plan.magic, PingMsg{m_barrier_nonce}));
    pump();
  }

  void on_drained() {
    m_drained = true;
    m_last_progress = Clock::now();
    m_watch.cancel();
    m_io.stop();  // back to run_flood, which decides what follows
  }

  // --- timers --------------------------------------------------------------------------------
  void pace() {
    m_pace.expires_after(kFloodPaceTick);
    m_pace.async_wait([self = shared_from_this()](const error_code& ec) {
      if (ec || self->m_closing || self->m_barrier_nonce != 0) return;
      self->pump();
      self->pace();
    });
  }

  void watch() {
    m_watch.expires_after(kWatchInterval);
    m_watch.async_wait([self = shared_from_this()](const error_code& ec) {
      if (ec || self->m_closing || self->m_drained || !self->m_failure.empty()) return;
      self->check_progress();
      self->watch();
    });
  }

  void check_progress() {
    const auto now = Clock::now();
    if (!m_established) {
      if (now > m_session_deadline)
        fail("no session within " + std::to_string(kFloodSessionTimeout.count()) +
             " s (connect, TLS and version handshake)");
      return;
    }
    // Only time spent waiting on the node counts: a slow --rate is not a stalled node.
    const bool waiting_on_node = m_writing || m_barrier_nonce != 0 ||
                                 (m_o.mode == FloodMode::kAnnounce && m_announced > m_requested);
    if (!waiting_on_node) m_last_progress = now;
    if (now - m_last_progress > m_o.timeout) {
      std::string what = m_barrier_nonce != 0 ? "the closing ping got no pong"
                         : m_o.mode == FloodMode::kPush
                             ? std::to_string(m_next_tx) + " of " + std::to_string(m_o.count) +
                                   " transactions written"
                             : std::to_string(m_requested) + " of " + std::to_string(m_announced) +
                                   " announced transactions fetched (does the node hold them "
                                   "already? try another --seed)";
      return fail("the node made no progress for " + std::to_string(m_o.timeout.count()) +
                  " s: " + what);
    }
    if (++m_watches % kProgressEveryWatches == 0) {
      m_progress << "flood: " << (m_o.mode == FloodMode::kPush ? m_next_tx : m_announced) << "/"
                 << m_o.count << " offered, " << m_requested << " requested, " << m_sent
                 << " sent\n";
      m_progress.flush();
    }
  }

  void fail(std::string why) {
    if (!m_failure.empty()) return;
    m_failure = std::move(why);
    m_pace.cancel();
    m_watch.cancel();
    error_code ignored;
    m_stream.lowest_layer().close(ignored);
    m_io.stop();
  }

  void shut_socket() {
    error_code ignored;
    m_stream.lowest_layer().close(ignored);
  }

  asio::io_context& m_io;
  const FloodPlan& m_plan;
  const FloodOptions& m_o;
  std::ostream& m_progress;
  TlsVerify m_verify;
  Stream m_stream;
  FrameDecoder m_decoder;
  std::array<uint8_t, kReadBufferBytes> m_rbuf{};
  asio::steady_timer m_pace, m_watch;
  Clock::time_point m_session_deadline, m_start, m_last_progress;
  double m_cpu_start = 0;
  unsigned m_watches = 0;

  std::deque<SharedBytes> m_control;                    // version, verack, pongs, notfound, ping
  std::deque<std::pair<uint32_t, uint32_t>> m_answers;  // tx frames asked for: [first, end)
  std::vector<asio::const_buffer> m_bufs;               // the write in flight
  std::vector<SharedBytes> m_owned;                     // its control frames
  bool m_writing = false, m_write_offers = false;

  std::vector<int64_t> m_t_sent, m_t_requested;
  uint64_t m_next_tx = 0;    // push: next transaction to write
  uint64_t m_announced = 0;  // announce: ids put in inv
  uint64_t m_sent = 0, m_requested = 0, m_notfound = 0;
  int64_t m_first_offer_us = 0, m_last_offer_us = 0;
  int64_t m_first_request_us = 0, m_last_request_us = 0;
  uint64_t m_barrier_nonce = 0;

  bool m_established = false, m_drained = false, m_closing = false;
  std::string m_failure, m_closed_by_node;
};

// --- RPC (--wait-accepted) ---------------------------------------------------------------------

Result<uint64_t, ToolError> mempool_size(RpcClient& client) {
  auto r = client.call("getmempoolinfo", json::array());
  if (!r)
    return fail(ToolError{
        r.error().rpc_code ? kCliFailure : kCliUnreachable,
        "error: flood: getmempoolinfo: " + r.error().message + " (check --rpc and --datadir)"});
  const json::object* o = r->if_object();
  const json::value* v = o != nullptr ? o->if_contains("size") : nullptr;
  json::error_code ec;
  const uint64_t n = v != nullptr && v->is_number() ? v->to_number<uint64_t>(ec) : 0;
  if (v == nullptr || !v->is_number() || ec)
    return fail(ToolError{kCliFailure, "error: flood: getmempoolinfo has no size"});
  return n;
}

// Polls the mempool until it holds `count` more than `baseline`, or it stops growing for
// `timeout`; fills held and all_held_us.
void wait_accepted(RpcClient& client, uint64_t baseline, const FloodOptions& o, FloodSummary& s) {
  uint64_t last = baseline;
  auto last_growth = Clock::now();
  for (;;) {
    auto size = mempool_size(client);
    const uint64_t now_size = size ? *size : last;
    if (now_size != last) last_growth = Clock::now();
    last = now_size;
    s.held = now_size > baseline ? now_size - baseline : 0;
    if (*s.held >= o.count) {
      s.all_held_us = wall_now_us();
      return;
    }
    if (Clock::now() - last_growth > o.timeout) {
      s.failure = "the node holds " + std::to_string(*s.held) + " of " + std::to_string(o.count) +
                  " after its mempool stopped growing for " + std::to_string(o.timeout.count()) +
                  " s" + (size ? "" : " (getmempoolinfo: " + size.error().message + ")");
      return;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

Status write_records(const std::string& path, const FloodPlan& plan, const FloodSession& session) {
  std::ofstream out(path, std::ios::out | std::ios::trunc);
  char line[160];
  for (size_t i = 0; i < plan.ids.size(); ++i) {
    const int64_t req = session.t_requested()[i];
    const std::string id = to_hex(plan.ids[i]);
    const std::string requested = req != 0 ? std::to_string(req) : "null";
    std::snprintf(line, sizeof line, "{\"id\":\"%s\",\"t_sent\":%lld,\"t_requested\":%s}\n",
                  id.c_str(), static_cast<long long>(session.t_sent()[i]), requested.c_str());
    out << line;
  }
  out.flush();
  if (!out) return fail("flood: writing " + path + " failed: " + std::strerror(errno));
  return {};
}

// `v` with `decimals` decimals (0.1 s, not 0.10000000000000001).
double rounded(double v, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

}  // namespace

std::string FloodSummary::to_json() const {
  json::object o;
  o["mode"] = mode;
  o["node"] = node;
  o["node_identity"] = node_identity;
  o["identity"] = identity;
  o["count"] = count;
  o["senders"] = senders;
  o["forged"] = forged;
  o["sign_seconds"] = rounded(sign_seconds, 3);
  o["announced"] = announced;
  o["sent"] = sent;
  o["requested"] = requested;
  o["notfound"] = notfound;
  o["offered_rate"] = rounded(offered_rate, 1);
  auto time_or_null = [](int64_t us) { return us != 0 ? json::value(us) : json::value(nullptr); };
  o["first_send_us"] = time_or_null(first_send_us);
  o["last_send_us"] = time_or_null(last_send_us);
  o["first_request_us"] = time_or_null(first_request_us);
  o["last_request_us"] = time_or_null(last_request_us);
  o["duration_seconds"] = rounded(duration_seconds, 3);
  o["cpu_seconds"] = rounded(cpu_seconds, 3);
  o["drained"] = drained;
  o["held"] = held ? json::value(*held) : json::value(nullptr);
  o["all_held_us"] = time_or_null(all_held_us);
  const double accept_window = static_cast<double>(all_held_us - first_send_us) / 1e6;
  o["accept_rate"] = all_held_us != 0 && accept_window > 0
                         ? json::value(rounded(static_cast<double>(count) / accept_window, 1))
                         : json::value(nullptr);
  o["closed_by_node"] = closed_by_node.empty() ? json::value(nullptr) : json::value(closed_by_node);
  o["failure"] = failure.empty() ? json::value(nullptr) : json::value(failure);
  return pretty_json(o);
}

Result<FloodSummary, ToolError> run_flood(const FloodOptions& options, std::ostream& progress) {
  crypto_init();
  FloodOptions o = options;
  if (o.senders == 0) o.senders = load_sender_count(o.count, kDefaultMaxPerSender);
  auto local = [](std::string m) { return fail(ToolError{kCliFailure, std::move(m)}); };
  if (!o.out_file.empty() && !std::ofstream(o.out_file, std::ios::out | std::ios::trunc))
    return local("flood: cannot write " + o.out_file + ": " + std::strerror(errno) +
                 " (check the directory, or change --out)");
  auto key = o.key_file.empty() ? Result<KeyPair, std::string>(KeyPair::generate())
                                : load_key_file(o.key_file);
  if (!key) return local(key.error());
  FloodPlan plan{.o = o};
  plan.magic = o.network.value_or(kDevnetMagic);
  const bool needs_rpc = o.wait_accepted || !o.start_nonce;
  std::optional<RpcClient> rpc;
  uint64_t baseline = 0;
  if (needs_rpc) {
    RpcClientConfig c = o.rpc;
    c.timeout = kRpcTimeout;
    c.keep_alive = true;
    rpc.emplace(c);
    auto size = mempool_size(*rpc);
    if (!size) return fail(size.error());
    baseline = *size;
  }
  auto signed_load = sign_load(o, needs_rpc ? &o.rpc : nullptr, "flood", progress);
  if (!signed_load) return fail(ToolError{kCliUnreachable, "error: " + signed_load.error()});
  if (o.forge) {
    for (TxRef& tx : signed_load->txs) {
      std::vector<uint8_t> raw(tx->encoding().begin(), tx->encoding().end());
      raw[raw.size() - std::tuple_size_v<Signature>] ^= 0x01;  // its first byte
      auto bad = Transaction::decode(std::move(raw));
      if (!bad) return local("flood: --forge: " + std::string(to_string(bad.error())));
      tx = std::move(*bad);
    }
  }
  prepare_frames(plan, signed_load->txs, load_sign_threads(o));
  std::vector<TxRef>().swap(signed_load->txs);  // the frames hold all that is sent

  auto tls = TlsContext::create(*key);
  if (!tls) return local("flood: " + tls.error());
  FloodSummary summary;
  summary.mode = o.mode == FloodMode::kPush ? "push" : "announce";
  summary.node = to_string(o.target.address);
  summary.identity = to_hex(key->public_key());
  summary.count = o.count;
  summary.forged = o.forge;
  summary.senders = o.senders;
  summary.sign_seconds = signed_load->sign_seconds;

  asio::io_context io;
  auto session = std::make_shared<FloodSession>(io, **tls, plan, progress);
  session->start();
  io.run();
  if (!session->established())
    return fail(
        ToolError{kCliUnreachable, "error: flood: " + summary.node + ": " + session->failure()});
  summary.failure = session->failure();
  io.restart();
  if (session->drained() && o.wait_accepted) {
    // The io thread keeps the session alive (pongs) while this one asks the node's RPC.
    std::thread io_thread([&io] { io.run(); });
    wait_accepted(*rpc, baseline, o, summary);
    asio::post(io, [session] { session->close(); });
    io_thread.join();
  } else {
    asio::post(io, [session] { session->close(); });
    io.run();
  }
  session->fill(summary);
  if (!o.out_file.empty()) {
    if (Status w = write_records(o.out_file, plan, *session); !w) return local(w.message());
  }
  return summary;
}

Result<FloodOptions, std::string> parse_flood_args(const std::vector<std::string>& args,
                                                   const RpcClientConfig& base) {
  static const CliOptionSpec kSpecs[] = {
      {"mode", true},    {"count", true},          {"rate", true},
      {"size", true},    {"senders", true},        {"seed", true},
      {"fee", true},     {"start-nonce", true},    {"network", true},
      {"key", true},     {"sign-threads", true},   {"out", true},
      {"timeout", true}, {"wait-accepted", false}, {"rpc", true},
      {"datadir", true}, {"forge", false},
  };
  auto parsed = parse_cli_options("flood", args, kSpecs);
  if (!parsed) return fail(parsed.error());
  const CliParsedArgs& p = *parsed;
  if (p.positional.size() != 1)
    return fail(std::string(p.positional.empty()
                                ? "flood: the node's [PUBKEY@]HOST:PORT is missing"
                                : "flood: unexpected argument '" + p.positional[1] + "'") +
                " (see hearsay-cli help flood)");
  auto load = parse_load_options(p);
  if (!load) return fail(load.error());
  FloodOptions o;
  static_cast<LoadOptions&>(o) = std::move(*load);
  auto target = parse_dial_target(p.positional[0]);
  if (!target) return fail("flood: " + target.error());
  o.target = *target;
  if (const std::string* m = p.get("mode")) {
    if (*m != "push" && *m != "announce")
      return fail("--mode: '" + *m + "' is neither push nor announce");
    o.mode = *m == "push" ? FloodMode::kPush : FloodMode::kAnnounce;
  }
  if (const std::string* k = p.get("key")) {
    if (k->empty()) return fail(std::string("--key: must not be empty"));
    o.key_file = *k;
  }
  if (const std::string* t = p.get("timeout")) {
    auto v = parse_uint("--timeout", *t, 1, kFloodMaxTimeout);
    if (!v) return fail(v.error() + " (seconds)");
    o.timeout = std::chrono::seconds(*v);
  }
  o.wait_accepted = p.has("wait-accepted");
  o.forge = p.has("forge");
  o.rpc = base;
  if (const std::string* r = p.get("rpc")) {
    auto hp = parse_host_port(*r, base.port);
    if (!hp) return fail("--rpc: " + hp.error());
    o.rpc.host = hp->host;
    o.rpc.port = hp->port;
  }
  if (const std::string* d = p.get("datadir")) o.rpc.datadir = *d;
  return o;
}

}  // namespace hearsay
