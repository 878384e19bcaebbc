// Prometheus text exposition (format 0.0.4) and a latency histogram.
//
// MetricsWriter builds one scrape: each family is declared once (HELP and TYPE lines), then
// its samples follow. Names are checked against Prometheus' grammar (a bad name is a
// programming error: HEARSAY_CHECK); label values and HELP text are escaped, so any string —
// even one a peer chose — is safe as a label value. Counters' names end in `_total`
// (promtool's lint insists); units are spelled in names (`_bytes`, `_seconds`).
//
// Histogram accumulates observations into fixed buckets. observe() is lock-free (relaxed
// atomics) and may be called from any thread; snapshot() may run concurrently with it and
// returns a self-consistent view (count is the sum of the buckets read; the sum may miss or
// include an observation in flight). Memory: one counter per bucket, fixed at construction.
//
// RelayLatencyHistograms holds hearsay_relay_latency_seconds by source: each latency is observed
// into its lock-free Histogram as it is measured, so nothing waits for a scrape and a rare scrape
// loses nothing.
//
// render_node_metrics() renders every metric family hearsayd exposes, from a plain snapshot
// struct the daemon fills in on its network thread; the family names are fixed here, once.
#pragma once

#include <atomic>
#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "node/process_metrics.h"

namespace hearsay {

enum class MetricType { kCounter, kGauge, kHistogram };

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// Cumulative view of a histogram, as Prometheus wants it.
struct HistogramSnapshot {
  std::vector<double> upper_bounds;  // finite, strictly increasing; +Inf is implicit
  std::vector<uint64_t> cumulative;  // cumulative[i]: observations <= upper_bounds[i]
  uint64_t count = 0;                // all observations (the +Inf bucket)
  double sum = 0;
};

class MetricsWriter {
 public:
  // Starts a family. A name may be declared only once per writer.
  void family(std::string_view name, MetricType type, std::string_view help);
  // A sample of the current family (counter or gauge).
  void sample(double value, const MetricLabels& labels = {});
  template <std::integral T>
  requires(!std::same_as<T, bool>) void sample(T value, const MetricLabels& labels = {}) {
    sample_text(std::to_string(value), labels);
  }
  // The series of a histogram family (_bucket for every bound and +Inf, _sum, _count).
  void histogram(const HistogramSnapshot& h, const MetricLabels& labels = {});

  const std::string& text() const { return m_out; }
  std::string take() { return std::move(m_out); }

 private:
  void sample_text(std::string_view value, const MetricLabels& labels);
  void write_series(std::string_view suffix, const MetricLabels& labels,
                    const std::pair<std::string, std::string>* extra, std::string_view value);

  std::string m_out;
  std::string m_name;  // current family
  MetricType m_type = MetricType::kGauge;
  std::vector<std::string> m_declared;
};

// Prometheus' float syntax: shortest round-trip decimal, "+Inf", "-Inf", "NaN".
std::string format_metric_value(double v);
// Escapes a label value (backslash, double quote, newline).
std::string escape_label_value(std::string_view v);
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

// More buckets than this is a histogram nobody can read (and a slow scrape).
inline constexpr size_t kMaxHistogramBuckets = 64;

class Histogram {
 public:
  // upper_bounds: finite, strictly increasing (HEARSAY_CHECK), at most kMaxHistogramBuckets.
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);  // thread-safe
  HistogramSnapshot snapshot() const;
  const std::vector<double>& upper_bounds() const { return m_bounds; }

 private:
  std::vector<double> m_bounds;
  std::unique_ptr<std::atomic<uint64_t>[]> m_counts;  // m_bounds.size() + 1 (last: +Inf)
  std::atomic<double> m_sum{0};
};

// Relay latency buckets, seconds: 100 µs (loopback, no batching) to 30 s (privacy batching
// on a slow link).
std::vector<double> relay_latency_buckets_seconds();

// Where a relayed transaction came from: the `source` label of hearsay_relay_latency_seconds.
enum class RelaySource { kPeer, kRpc };

class RelayLatencyHistograms {
 public:
  RelayLatencyHistograms();
  // Thread-safe, lock-free.
  void observe(RelaySource source, double seconds);
  HistogramSnapshot snapshot(RelaySource source) const;

 private:
  Histogram m_peer;
  Histogram m_rpc;
};

// The compiler that built this program, e.g. "gcc 13.2.0" (a hearsay_build_info label).
std::string compiler_version();

// What hearsayd exposes on /metrics. Plain data; the daemon fills it on its network thread.
struct NodeMetricsSnapshot {
  uint64_t peers_inbound = 0;
  uint64_t peers_outbound = 0;
  struct MessageStats {
    std::string type;  // wire command, e.g. "inv"
    uint64_t received = 0, sent = 0;
    uint64_t received_bytes = 0, sent_bytes = 0;  // frame header included
  };
  std::vector<MessageStats> messages;
  uint64_t tx_accepted = 0;
  std::vector<std::pair<std::string, uint64_t>> tx_rejected;  // by reason, e.g. "bad-signature"
  uint64_t mempool_transactions = 0;
  uint64_t mempool_bytes = 0;
  // The mempool's store writes: by its writer thread (mempool/store_writer.h) and inline (small
  // batches while the writer was idle); batches they carried; transactions accepted whose write
  // has not settled yet (not yet relayed or answered).
  uint64_t mempool_store_writes = 0;
  uint64_t mempool_store_inline_writes = 0;
  uint64_t mempool_store_batches = 0;
  uint64_t mempool_unwritten = 0;
  uint64_t seen_set_entries = 0;
  uint64_t verify_queue_depth = 0;
  // Seconds. peer: body first seen → verified, admitted and queued for announcement; rpc: the
  // RPC handed the transaction over → signature checked, admitted and queued for announcement.
  HistogramSnapshot relay_latency_peer;
  HistogramSnapshot relay_latency_rpc;
  // The relay mode (--relay-mode: "pull", "push" or "tree") and tree relay's counters
  // (p2p/tx_relay.h's TxRelayStats; zero outside tree mode).
  std::string relay_mode;
  struct TreeStats {
    uint64_t peers = 0;   // peers that relayed by tree with us (since start)
    uint64_t pushed = 0;  // treetx messages pushed
    uint64_t prunes_sent = 0, prunes_received = 0;  // origins
    uint64_t grafts_sent = 0, grafts_received = 0;  // origins
    uint64_t swaps = 0;                             // parents replaced by a faster lazy peer
    uint64_t withheld = 0;                          // bodies a parent owed and never sent
  };
  TreeStats tree;
  // Set reconciliation's counters (TxRelayStats' recon_*; zero when no link reconciles).
  struct ReconStats {
    uint64_t peers = 0;                                 // peers we reconciled with (since start)
    uint64_t rounds = 0;                                // rounds we asked for
    uint64_t requests_sent = 0, requests_received = 0;  // reqrecon (one per part)
    uint64_t sketch_bytes_sent = 0, sketch_bytes_received = 0;  // sketches in reqrecon
    uint64_t differences = 0;                                   // elements that differed
    uint64_t failures = 0;    // sketches that could not be decoded
    uint64_t bisections = 0;  // parts split after a failure
    uint64_t exchanges = 0;   // failed parts announced whole instead
    uint64_t refused = 0;     // requests over a peer's budget
    uint64_t timeouts = 0;    // rounds abandoned unanswered
    uint64_t announced = 0;   // ids announced because a peer lacked them
  };
  ReconStats recon;
  // Blocks (chainstub/block_relay.h's BlockRelayStats, and the node's BlockObserver counts).
  uint64_t chain_height = 0;
  uint64_t blocks_connected = 0;
  uint64_t block_reorgs = 0;
  uint64_t block_reconstructions = 0;  // cmpctblocks rebuilt
  uint64_t block_txs_requested = 0;    // transactions asked for with getblocktxn
  uint64_t block_collisions = 0;       // cmpctblocks that fell back to the full block
  uint64_t blocks_produced = 0;
  std::vector<std::pair<std::string, uint64_t>> blocks_rejected;  // by reason, e.g. "bad-producer"
  // Stalled frames and the memory in partial frames (net/host.h's NetStats).
  struct StallStats {
    uint64_t frame_deadline = 0;       // connections cut: a frame missed its deadline
    uint64_t memory_cap = 0;           // connections cut: partial frames at their memory cap
    uint64_t discouragements = 0;      // identities and IPs discouraged for stalling
    uint64_t refused_discouraged = 0;  // connections refused while discouraged
    uint64_t partial_frame_bytes = 0, partial_frame_bytes_peak = 0, partial_frame_cap = 0;
  };
  StallStats stalls;
  // Inbound eviction (p2p/eviction.h): newcomers that took an unprotected peer's slot, and
  // those refused because every inbound peer was protected.
  uint64_t inbound_evicted = 0;
  uint64_t inbound_all_protected = 0;
  // Flow control (p2p/tx_relay.h): reading from peers held now, holds since start; the peak
  // verification backlog; deferred announcements now, deferred and dropped since start; delayed
  // announcements brought forward.
  struct FlowStats {
    bool reads_held = false;
    uint64_t read_holds = 0;
    uint64_t verify_backlog_peak = 0;
    uint64_t deferred_now = 0;
    uint64_t deferred = 0;
    uint64_t deferred_dropped = 0;
    uint64_t expedited = 0;
  };
  FlowStats flow;
  // hearsay_build_info's labels.
  std::string version;
  std::string network;
  std::string compiler;
  std::optional<ProcessMetrics> process;  // nullopt: the process_* families are left out
};

// Families (all prefixed hearsay_): peers{direction}, messages_total{type,direction},
// message_bytes_total{type,direction}, transactions_accepted_total,
// transactions_rejected_total{reason}, mempool_transactions, mempool_bytes,
// mempool_store_writes_total{thread}, mempool_store_batches_total, mempool_unwritten,
// seen_set_entries,
// verify_queue_depth, relay_latency_seconds{source} (histogram; source "peer" or "rpc"),
// relay_mode{mode} (always 1), tree_peers_total, tree_pushed_total,
// tree_prunes_total{direction}, tree_grafts_total{direction}, tree_swaps_total,
// tree_withheld_total, recon_peers_total, recon_rounds_total, recon_requests_total{direction},
// recon_sketch_bytes_total{direction}, recon_differences_total, recon_failures_total,
// recon_bisections_total, recon_refused_total, recon_timeouts_total, recon_announced_total,
// chain_height, blocks_connected_total, block_reorgs_total, block_reconstructions_total,
// block_txs_requested_total, block_collisions_total, blocks_rejected_total{reason},
// blocks_produced_total, stalls_total{cause}, discouragements_total, discouraged_refusals_total,
// partial_frame_bytes, partial_frame_bytes_peak, partial_frame_bytes_cap,
// inbound_evictions_total{outcome},
// build_info{version,network,compiler} (always 1); and, unprefixed, the
// client libraries' process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds, process_start_time_seconds.
std::string render_node_metrics(const NodeMetricsSnapshot& s);

}  // namespace hearsay
