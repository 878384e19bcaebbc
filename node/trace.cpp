#include "node/trace.h"

#include <pthread.h>

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "crypto/hex.h"

namespace hearsay {
namespace {

int64_t wall_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// `{"ev":"<ev>","t":<t>` — every line starts so; the caller appends fields and "}\n".
std::string begin_line(const char* ev, int64_t t) {
  std::string s;
  s.reserve(160);
  s += "{\"ev\":\"";
  s += ev;
  s += "\",\"t\":";
  s += std::to_string(t);
  return s;
}

void add_string(std::string& s, const char* key, std::string_view value) {
  s += ",\"";
  s += key;
  s += "\":\"";
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      s += '\\';
      s += c;
    } else if (u < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      s += "\\u00";
      s += kHex[u >> 4];
      s += kHex[u & 15];
    } else {
      s += c;
    }
  }
  s += '"';
}

void add_number(std::string& s, const char* key, uint64_t n) {
  s += ",\"";
  s += key;
  s += "\":";
  s += std::to_string(n);
}

void add_bool(std::string& s, const char* key, bool b) {
  s += ",\"";
  s += key;
  s += "\":";
  s += b ? "true" : "false";
}

std::string end_line(std::string s) {
  s += "}\n";
  return s;
}

}  // namespace

Result<std::unique_ptr<TraceWriter>, std::string> TraceWriter::open(const std::string& path,
                                                                    const PublicKey& node,
                                                                    TraceOptions options) {
  if (path.empty()) return fail(std::string("no trace file given (--trace FILE)"));
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    return fail("cannot open trace file " + path + ": " + std::strerror(errno) +
                " (check that its directory exists and is writable, or change --trace)");
  std::unique_ptr<TraceWriter> w(new TraceWriter(path, fd, options));
  std::string start = begin_line("start", wall_now_us());
  add_string(start, "node", to_hex(node));
  w->record(end_line(std::move(start)));
  w->m_thread = std::thread([p = w.get()] {
    pthread_setname_np(pthread_self(), "hs-trace");
    p->run();
  });
  return w;
}

TraceWriter::TraceWriter(std::string path, int fd, TraceOptions options)
    : m_path(std::move(path)), m_fd(fd), m_options(options) {}

TraceWriter::~TraceWriter() {
  close();
}

void TraceWriter::record(std::string line) {
  Event e;
  e.line = std::move(line);
  record(std::move(e));
}

void TraceWriter::record(Event&& e) {
  const size_t bytes = line_bytes(e);
  std::lock_guard lock(m_mutex);
  if (m_closed) {
    ++m_dropped;
    return;
  }
  std::string note;
  if (m_dropped_unreported > 0) {
    note = begin_line("dropped", wall_now_us());
    add_number(note, "n", m_dropped_unreported);
    note = end_line(std::move(note));
  }
  if (m_queued_bytes + m_in_flight + note.size() + bytes > m_options.max_buffer_bytes) {
    ++m_dropped;
    ++m_dropped_unreported;
    return;
  }
  if (!note.empty()) {
    m_queued_bytes += note.size();
    m_queue.push_back(Event{.line = std::move(note)});
    m_dropped_unreported = 0;
  }
  m_queued_bytes += bytes;
  m_queue.push_back(std::move(e));
  ++m_recorded;
  if (m_queued_bytes >= m_options.flush_bytes) m_wake.notify_one();
}

size_t TraceWriter::line_bytes(const Event& e) {
  // The fixed text of each line, plus 20 digits for each number and 64 for each hex field.
  constexpr size_t kNumber = 20, kHex = 64;
  switch (e.kind) {
    case Event::Kind::kLine:
      return e.line.size();
    case Event::Kind::kTxFirstSeen:
      return 48 + kNumber + 2 * kHex;
    case Event::Kind::kTxAccepted:
      return 40 + kNumber + kHex;
    case Event::Kind::kTxRejected:
      return 52 + kNumber + kHex + std::strlen(e.reason);
    case Event::Kind::kInv:
    case Event::Kind::kGetData:
      return 48 + 2 * kNumber + kHex;
  }
  return 0;
}

void TraceWriter::format(const Event& e, std::string& out) {
  switch (e.kind) {
    case Event::Kind::kLine:
      out += e.line;
      return;
    case Event::Kind::kTxFirstSeen: {
      std::string s = begin_line("tx_first_seen", e.t);
      add_string(s, "id", to_hex(e.id));
      add_string(s, "from", e.local ? std::string("rpc") : to_hex(e.peer));
      out += end_line(std::move(s));
      return;
    }
    case Event::Kind::kTxAccepted: {
      std::string s = begin_line("tx_accepted", e.t);
      add_string(s, "id", to_hex(e.id));
      out += end_line(std::move(s));
      return;
    }
    case Event::Kind::kTxRejected: {
      std::string s = begin_line("tx_rejected", e.t);
      add_string(s, "id", to_hex(e.id));
      add_string(s, "reason", e.reason);
      out += end_line(std::move(s));
      return;
    }
    case Event::Kind::kInv:
    case Event::Kind::kGetData: {
      std::string s = begin_line(e.kind == Event::Kind::kInv ? "inv_sent" : "getdata_sent", e.t);
      add_string(s, "peer", to_hex(e.peer));
      add_number(s, "n", e.n);
      out += end_line(std::move(s));
      return;
    }
  }
}

void TraceWriter::tx_first_seen(const TxId& id, const TxSource& from, Time now) {
  Event e;
  e.kind = Event::Kind::kTxFirstSeen;
  e.local = from.local;
  e.t = now.count();
  e.id = id;
  if (!from.local) e.peer = from.peer;
  record(std::move(e));
}

void TraceWriter::tx_accepted(const TxId& id, Time now) {
  Event e;
  e.kind = Event::Kind::kTxAccepted;
  e.t = now.count();
  e.id = id;
  record(std::move(e));
}

void TraceWriter::tx_rejected(const TxId& id, const char* reason, Time now) {
  Event e;
  e.kind = Event::Kind::kTxRejected;
  e.t = now.count();
  e.reason = reason != nullptr ? reason : "";
  e.id = id;
  record(std::move(e));
}

void TraceWriter::record_sent(Event::Kind kind, const PublicKey& peer, size_t count, Time now) {
  Event e;
  e.kind = kind;
  e.t = now.count();
  e.n = count;
  e.peer = peer;
  record(std::move(e));
}

void TraceWriter::inv_sent(const PublicKey& peer, size_t count, Time now) {
  record_sent(Event::Kind::kInv, peer, count, now);
}

void TraceWriter::getdata_sent(const PublicKey& peer, size_t count, Time now) {
  record_sent(Event::Kind::kGetData, peer, count, now);
}

void TraceWriter::recon_round(const PublicKey& peer, const ReconReport& report, Time now) {
  std::string s = begin_line("recon_round", now.count());
  add_string(s, "peer", to_hex(peer));
  add_number(s, "round", report.round);
  add_number(s, "started", static_cast<uint64_t>(report.started.count()));
  add_number(s, "set_size", report.set_size);
  add_number(s, "peer_set_size", report.peer_set_size);
  add_number(s, "requests", report.requests);
  add_number(s, "bisections", report.bisections);
  add_number(s, "exchanges", report.exchanges);
  add_number(s, "sketch_bytes", report.sketch_bytes);
  add_number(s, "differences", report.differences);
  add_bool(s, "complete", report.complete);
  record(end_line(std::move(s)));
}

void TraceWriter::block_first_seen(const BlockId& id, uint64_t height, const TxSource& from,
                                   Time now) {
  std::string s = begin_line("block_first_seen", now.count());
  add_string(s, "id", to_hex(id));
  add_number(s, "height", height);
  add_string(s, "from", from.local ? std::string("local") : to_hex(from.peer));
  record(end_line(std::move(s)));
}

void TraceWriter::block_reconstructed(const BlockId& id, size_t txs, size_t prefilled,
                                      size_t from_mempool, size_t missing, Time now) {
  std::string s = begin_line("block_reconstructed", now.count());
  add_string(s, "id", to_hex(id));
  add_number(s, "txs", txs);
  add_number(s, "prefilled", prefilled);
  add_number(s, "from_mempool", from_mempool);
  add_number(s, "missing", missing);
  record(end_line(std::move(s)));
}

void TraceWriter::block_connected(const BlockId& id, uint64_t height, size_t txs, size_t size,
                                  Time now) {
  std::string s = begin_line("block_connected", now.count());
  add_string(s, "id", to_hex(id));
  add_number(s, "height", height);
  add_number(s, "txs", txs);
  add_number(s, "size", size);
  record(end_line(std::move(s)));
}

void TraceWriter::block_disconnected(const BlockId& id, uint64_t height, Time now) {
  std::string s = begin_line("block_disconnected", now.count());
  add_string(s, "id", to_hex(id));
  add_number(s, "height", height);
  record(end_line(std::move(s)));
}

void TraceWriter::block_rejected(const BlockId& id, const char* reason, Time now) {
  std::string s = begin_line("block_rejected", now.count());
  add_string(s, "id", to_hex(id));
  add_string(s, "reason", reason != nullptr ? reason : "");
  record(end_line(std::move(s)));
}

bool TraceWriter::write_all(const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(m_fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (!m_write_failed)
        spdlog::error("trace: cannot write to {}: {} (events are being dropped)", m_path,
                      n < 0 ? std::strerror(errno) : "no progress");
      m_write_failed = true;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

void TraceWriter::run() {
  std::vector<Event> events;
  std::string chunk;
  std::unique_lock lock(m_mutex);
  for (;;) {
    m_wake.wait_for(lock, m_options.flush_interval, [&] {
      return m_stop || (!m_paused &&
                        (m_queued_bytes >= m_options.flush_bytes || m_taken_upto < m_flush_target));
    });
    if (m_paused && !m_stop) continue;
    if (m_queue.empty()) {
      if (m_stop) return;
      continue;
    }
    events.clear();
    events.swap(m_queue);
    m_in_flight = std::exchange(m_queued_bytes, 0);
    const uint64_t taken = m_recorded;
    const uint64_t events_in_chunk = taken - m_taken_upto;
    m_taken_upto = taken;
    lock.unlock();
    chunk.clear();
    for (const Event& e : events)
      format(e, chunk);
    const bool ok = write_all(chunk);
    lock.lock();
    m_in_flight = 0;
    if (!ok) {
      m_dropped += events_in_chunk;
      m_dropped_unreported += events_in_chunk;
    }
    m_written_upto = taken;
    m_written.notify_all();
  }
}

void TraceWriter::flush() {
  std::unique_lock lock(m_mutex);
  m_flush_target = m_recorded;
  m_wake.notify_one();
  m_written.wait(lock, [&] { return m_written_upto >= m_flush_target || m_stop; });
}

void TraceWriter::close() {
  {
    std::lock_guard lock(m_mutex);
    if (m_closed) return;
    std::string s = begin_line("stop", wall_now_us());
    add_number(s, "dropped", m_dropped);
    m_queue.push_back(Event{.line = end_line(std::move(s))});  // past the bound if need be
    ++m_recorded;
    m_closed = true;
    m_stop = true;
  }
  m_wake.notify_one();
  if (m_thread.joinable()) m_thread.join();
  ::close(m_fd);
}

uint64_t TraceWriter::events() const {
  std::lock_guard lock(m_mutex);
  return m_recorded;
}

uint64_t TraceWriter::dropped() const {
  std::lock_guard lock(m_mutex);
  return m_dropped;
}

void TraceWriter::pause_writer(bool paused) {
  {
    std::lock_guard lock(m_mutex);
    m_paused = paused;
  }
  m_wake.notify_one();
}

}  // namespace hearsay
