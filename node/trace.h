// TraceWriter: the relay's events as JSON lines in a file (hearsayd --trace FILE), for the
// testnet's propagation report.
//
// Format: one JSON object per line, appended to the file. The first line a writer writes is
//   {"ev":"start","node":"<our public key hex>","t":<µs>}
// then one line per event, `t` being the event's time (microseconds since the unix epoch):
//   {"ev":"tx_first_seen","t":..,"id":"<txid hex>","from":"<peer pubkey hex>"|"rpc"}
//   {"ev":"tx_accepted","t":..,"id":".."}
//   {"ev":"tx_rejected","t":..,"id":"..","reason":".."}
//   {"ev":"inv_sent","t":..,"peer":"<pubkey hex>","n":<entries>}   (getdata_sent the same)
//   {"ev":"recon_round","t":..,"peer":"<pubkey hex>","round":N,"started":<µs>,"set_size":N,
//    "peer_set_size":N,"requests":N,"bisections":N,"exchanges":N,"sketch_bytes":N,
//    "differences":N,
//    "complete":true|false}   a reconciliation round this node asked for ended (p2p/tx_pool.h
//       ReconReport: requests and sketch_bytes are what it sent; complete: every part decoded)
// Block events (chainstub/block_relay.h's BlockObserver):
//   {"ev":"block_first_seen","t":..,"id":"<block id hex>","height":N,"from":"<peer hex>"|"local"}
//       the first time this node learns the block exists (header, inv, cmpctblock, block, or
//       produced here: "local")
//   {"ev":"block_reconstructed","t":..,"id":"..","txs":N,"prefilled":P,"from_mempool":M,
//    "missing":K}   a cmpctblock rebuilt: K transactions had to be asked for with getblocktxn
//   {"ev":"block_connected","t":..,"id":"..","height":N,"txs":N,"size":<bytes>}
//   {"ev":"block_disconnected","t":..,"id":"..","height":N}          (a reorganisation)
//   {"ev":"block_rejected","t":..,"id":"..","reason":"<BlockError name or relay reason>"}
//   {"ev":"dropped","t":..,"n":<events lost because the disk fell behind>}
//   {"ev":"stop","t":..,"dropped":<total>}                           (at close)
// Ids (transaction and block) are hex of the 32 id bytes in their stored order (as to_hex of
// TxId / BlockId), as everywhere in hearsay's RPC.
//
// Buffering: the caller's (relay) thread copies each event's fields into a queue under a mutex
// held only for the append; a background thread swaps the queue out, formats the lines and
// writes them, at least every flush_interval (100 ms), at once when the queue passes flush_bytes
// (64 KiB, counted as each event's formatted size at most), and at close(). So the relay thread
// neither formats (hex, numbers) nor waits for the disk. The rare events (reconciliation rounds,
// blocks) are formatted by the caller.
// Bound: when the bytes queued and being written exceed max_buffer_bytes (16 MiB: minutes of
// a busy node's events), new events are dropped and counted; the next write says how many.
// A write error (disk full) is logged once, and the events are counted as dropped.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "chainstub/block_relay.h"
#include "crypto/ed25519.h"
#include "crypto/result.h"
#include "p2p/tx_pool.h"

namespace hearsay {

// Buffer size that wakes the writer at once, bytes (a few hundred events).
inline constexpr size_t kTraceFlushBytes = 64 * 1024;
// Longest time an event waits in memory before it is written.
inline constexpr std::chrono::milliseconds kTraceFlushInterval{100};
// Most bytes of events held in memory (buffered or being written) before events are dropped.
inline constexpr size_t kTraceMaxBufferBytes = 16 * 1024 * 1024;
static_assert(kTraceFlushBytes * 4 <= kTraceMaxBufferBytes);

struct TraceOptions {
  size_t flush_bytes = kTraceFlushBytes;
  std::chrono::milliseconds flush_interval = kTraceFlushInterval;
  size_t max_buffer_bytes = kTraceMaxBufferBytes;
};

class TraceWriter final : public RelayObserver, public BlockObserver {
 public:
  // Opens `path` for appending (creating it, mode 0644), writes the start line and starts the
  // writer thread. The error names the path and the fix.
  static Result<std::unique_ptr<TraceWriter>, std::string> open(const std::string& path,
                                                                const PublicKey& node,
                                                                TraceOptions options = {});
  ~TraceWriter() override;  // close()s
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  void tx_first_seen(const TxId& id, const TxSource& from, Time now) override;
  void tx_accepted(const TxId& id, Time now) override;
  void tx_rejected(const TxId& id, const char* reason, Time now) override;
  void inv_sent(const PublicKey& peer, size_t count, Time now) override;
  void getdata_sent(const PublicKey& peer, size_t count, Time now) override;
  void recon_round(const PublicKey& peer, const ReconReport& report, Time now) override;

  void block_first_seen(const BlockId& id, uint64_t height, const TxSource& from,
                        Time now) override;
  void block_reconstructed(const BlockId& id, size_t txs, size_t prefilled, size_t from_mempool,
                           size_t missing, Time now) override;
  void block_connected(const BlockId& id, uint64_t height, size_t txs, size_t size,
                       Time now) override;
  void block_disconnected(const BlockId& id, uint64_t height, Time now) override;
  void block_rejected(const BlockId& id, const char* reason, Time now) override;

  // Blocks until every event recorded so far is written to the file (tests; shutdown).
  // Not while the writer is paused (pause_writer).
  void flush();
  // Writes the stop line and everything buffered, joins the thread, closes the file.
  // Idempotent. Events after close() are dropped (and counted).
  void close();

  uint64_t events() const;   // recorded (buffered or written)
  uint64_t dropped() const;  // lost: buffer full, write failed, or after close
  const std::string& path() const { return m_path; }

  // While paused, the writer thread writes nothing: events wait in the buffer, and those past
  // its limit are dropped as when the disk falls behind.
  void pause_writer(bool paused);

  // Each event's count is in events(); the start line counts as one.

 private:
  // One event as queued: the hot ones by their fields, formatted by the writer thread; the
  // rest (kLine) already formatted.
  struct Event {
    enum class Kind : uint8_t { kLine, kTxFirstSeen, kTxAccepted, kTxRejected, kInv, kGetData };
    Kind kind = Kind::kLine;
    bool local = false;            // kTxFirstSeen: from RPC
    int64_t t = 0;                 // µs
    uint64_t n = 0;                // kInv, kGetData: entries
    const char* reason = nullptr;  // kTxRejected: a static string
    Hash256 id{};                  // the transaction
    PublicKey peer{};              // the peer (kTxFirstSeen, kInv, kGetData)
    std::string line;              // kLine
  };
  // Bytes the event's line takes at most.
  static size_t line_bytes(const Event& e);
  static void format(const Event& e, std::string& out);

  TraceWriter(std::string path, int fd, TraceOptions options);
  void record(Event&& e);
  void record(std::string line);
  // inv_sent / getdata_sent.
  void record_sent(Event::Kind kind, const PublicKey& peer, size_t count, Time now);
  void run();
  // Writes `data` fully; false on an error (logged once).
  bool write_all(const std::string& data);

  const std::string m_path;
  const int m_fd;
  const TraceOptions m_options;

  mutable std::mutex m_mutex;
  std::condition_variable m_wake;     // to the writer: work, or stop
  std::condition_variable m_written;  // from the writer: a write finished
  std::vector<Event> m_queue;         // events not yet taken by the writer
  size_t m_queued_bytes = 0;          // their line_bytes()
  size_t m_in_flight = 0;             // bytes the writer is formatting and writing now
  uint64_t m_recorded = 0;            // events appended to m_buffer, ever
  uint64_t m_written_upto = 0;        // events written (or given up on), ever
  uint64_t m_taken_upto = 0;          // events taken by the writer, ever
  uint64_t m_flush_target = 0;        // flush(): write at once up to this many events
  uint64_t m_dropped = 0;             // events dropped, ever
  uint64_t m_dropped_unreported = 0;  // dropped since the last "dropped" line
  bool m_stop = false;
  bool m_closed = false;
  bool m_paused = false;
  bool m_write_failed = false;
  std::thread m_thread;
};

}  // namespace hearsay
