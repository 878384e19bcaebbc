#include "node/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "crypto/result.h"

namespace hearsay {
namespace {

bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::string_view type_name(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

std::string escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

}  // namespace

bool valid_metric_name(std::string_view name) {
  if (name.empty() || !(is_name_start(name[0]) || name[0] == ':')) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return is_name_start(c) || is_digit(c) || c == ':'; });
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || !is_name_start(name[0]) || name.starts_with("__")) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return is_name_start(c) || is_digit(c); });
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string format_metric_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  HEARSAY_CHECK(ec == std::errc());
  return std::string(buf, end);
}

void MetricsWriter::family(std::string_view name, MetricType type, std::string_view help) {
  HEARSAY_CHECK(valid_metric_name(name));
  HEARSAY_CHECK(std::find(m_declared.begin(), m_declared.end(), name) == m_declared.end());
  // promtool lint: counters end in _total; nothing else does.
  HEARSAY_CHECK((type == MetricType::kCounter) == name.ends_with("_total"));
  m_declared.emplace_back(name);
  m_name = std::string(name);
  m_type = type;
  m_out += "# HELP ";
  m_out += name;
  m_out += ' ';
  m_out += escape_help(help);
  m_out += "\n# TYPE ";
  m_out += name;
  m_out += ' ';
  m_out += type_name(type);
  m_out += '\n';
}

void MetricsWriter::write_series(std::string_view suffix, const MetricLabels& labels,
                                 const std::pair<std::string, std::string>* extra,
                                 std::string_view value) {
  m_out += m_name;
  m_out += suffix;
  if (!labels.empty() || extra != nullptr) {
    m_out += '{';
    bool first = true;
    auto put = [&](const std::pair<std::string, std::string>& l) {
      HEARSAY_CHECK(valid_label_name(l.first));
      if (!first) m_out += ',';
      first = false;
      m_out += l.first;
      m_out += "=\"";
      m_out += escape_label_value(l.second);
      m_out += '"';
    };
    for (const auto& l : labels)
      put(l);
    if (extra != nullptr) put(*extra);
    m_out += '}';
  }
  m_out += ' ';
  m_out += value;
  m_out += '\n';
}

void MetricsWriter::sample(double value, const MetricLabels& labels) {
  HEARSAY_CHECK(!m_name.empty() && m_type != MetricType::kHistogram);
  write_series("", labels, nullptr, format_metric_value(value));
}

void MetricsWriter::sample_text(std::string_view value, const MetricLabels& labels) {
  HEARSAY_CHECK(!m_name.empty() && m_type != MetricType::kHistogram);
  write_series("", labels, nullptr, value);
}

void MetricsWriter::histogram(const HistogramSnapshot& h, const MetricLabels& labels) {
  HEARSAY_CHECK(!m_name.empty() && m_type == MetricType::kHistogram);
  HEARSAY_CHECK(h.upper_bounds.size() == h.cumulative.size());
  for (const auto& l : labels)
    HEARSAY_CHECK(l.first != "le");
  for (size_t i = 0; i < h.upper_bounds.size(); ++i) {
    std::pair<std::string, std::string> le{"le", format_metric_value(h.upper_bounds[i])};
    write_series("_bucket", labels, &le, std::to_string(h.cumulative[i]));
  }
  std::pair<std::string, std::string> inf{"le", "+Inf"};
  write_series("_bucket", labels, &inf, std::to_string(h.count));
  write_series("_sum", labels, nullptr, format_metric_value(h.sum));
  write_series("_count", labels, nullptr, std::to_string(h.count));
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : m_bounds(std::move(upper_bounds)),
      m_counts(std::make_unique<std::atomic<uint64_t>[]>(m_bounds.size() + 1)) {
  HEARSAY_CHECK(m_bounds.size() <= kMaxHistogramBuckets);
  for (size_t i = 0; i < m_bounds.size(); ++i) {
    HEARSAY_CHECK(std::isfinite(m_bounds[i]));
    if (i > 0) HEARSAY_CHECK(m_bounds[i - 1] < m_bounds[i]);
  }
  for (size_t i = 0; i <= m_bounds.size(); ++i)
    m_counts[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) {
  if (std::isnan(value)) return;  // would poison the sum forever
  size_t i = std::lower_bound(m_bounds.begin(), m_bounds.end(), value) - m_bounds.begin();
  m_counts[i].fetch_add(1, std::memory_order_relaxed);
  m_sum.fetch_add(value, std::memory_order_relaxed);
}

HistogramSnapshot Histogram::snapshot() const {
  HistogramSnapshot s;
  s.upper_bounds = m_bounds;
  s.cumulative.resize(m_bounds.size());
  uint64_t running = 0;
  for (size_t i = 0; i < m_bounds.size(); ++i) {
    running += m_counts[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  running += m_counts[m_bounds.size()].load(std::memory_order_relaxed);
  s.count = running;
  s.sum = m_sum.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> relay_latency_buckets_seconds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30};
}

RelayLatencyHistograms::RelayLatencyHistograms()
    : m_peer(relay_latency_buckets_seconds()), m_rpc(relay_latency_buckets_seconds()) {}

void RelayLatencyHistograms::observe(RelaySource source, double seconds) {
  (source == RelaySource::kPeer ? m_peer : m_rpc).observe(seconds);
}

HistogramSnapshot RelayLatencyHistograms::snapshot(RelaySource source) const {
  return (source == RelaySource::kPeer ? m_peer : m_rpc).snapshot();
}

std::string compiler_version() {
#if defined(__clang__)
  return "clang " + std::to_string(__clang_major__) + "." + std::to_string(__clang_minor__) + "." +
         std::to_string(__clang_patchlevel__);
#elif defined(__GNUC__)
  return "gcc " + std::to_string(__GNUC__) + "." + std::to_string(__GNUC_MINOR__) + "." +
         std::to_string(__GNUC_PATCHLEVEL__);
#else
  return "unknown";
#endif
}

namespace {

void render_traffic(MetricsWriter& w, const NodeMetricsSnapshot& s) {
  w.family("hearsay_peers", MetricType::kGauge, "Connected peers by direction.");
  w.sample(s.peers_inbound, {{"direction", "inbound"}});
  w.sample(s.peers_outbound, {{"direction", "outbound"}});

  w.family("hearsay_messages_total", MetricType::kCounter,
           "P2P messages by wire command and direction.");
  for (const auto& m : s.messages) {
    w.sample(m.received, {{"type", m.type}, {"direction", "received"}});
    w.sample(m.sent, {{"type", m.type}, {"direction", "sent"}});
  }
  w.family("hearsay_message_bytes_total", MetricType::kCounter,
           "P2P message bytes (frame header included) by wire command and direction.");
  for (const auto& m : s.messages) {
    w.sample(m.received_bytes, {{"type", m.type}, {"direction", "received"}});
    w.sample(m.sent_bytes, {{"type", m.type}, {"direction", "sent"}});
  }
}

void render_relay(MetricsWriter& w, const NodeMetricsSnapshot& s) {
  w.family("hearsay_transactions_accepted_total", MetricType::kCounter,
           "Transactions accepted into the mempool.");
  w.sample(s.tx_accepted);
  w.family("hearsay_transactions_rejected_total", MetricType::kCounter,
           "Transactions rejected, by reason.");
  for (const auto& [reason, n] : s.tx_rejected)
    w.sample(n, {{"reason", reason}});

  w.family("hearsay_mempool_transactions", MetricType::kGauge, "Transactions in the mempool.");
  w.sample(s.mempool_transactions);
  w.family("hearsay_mempool_bytes", MetricType::kGauge,
           "Encoded size of the transactions in the mempool.");
  w.sample(s.mempool_bytes);
  w.family("hearsay_mempool_store_writes_total", MetricType::kCounter,
           "Writes of the mempool's store (LevelDB), each carrying one or more batches, by the "
           "thread that made them: its writer, or the protocol thread (small batches while the "
           "writer was idle).");
  w.sample(s.mempool_store_writes, {{"thread", "writer"}});
  w.sample(s.mempool_store_inline_writes, {{"thread", "protocol"}});
  w.family("hearsay_mempool_store_batches_total", MetricType::kCounter,
           "Batches of mempool changes written (an admission burst, or removals).");
  w.sample(s.mempool_store_batches);
  w.family("hearsay_mempool_unwritten", MetricType::kGauge,
           "Transactions accepted whose store write has not completed: not yet relayed or "
           "acknowledged.");
  w.sample(s.mempool_unwritten);
  w.family("hearsay_seen_set_entries", MetricType::kGauge, "Item ids in the seen-set.");
  w.sample(s.seen_set_entries);
  w.family("hearsay_verify_queue_depth", MetricType::kGauge,
           "Signature verifications queued or running.");
  w.sample(s.verify_queue_depth);

  w.family("hearsay_relay_latency_seconds", MetricType::kHistogram,
           "Time to accept a new transaction and queue it for announcement to peers. "
           "source=\"peer\": from its body's arrival from a peer, through the signature check "
           "and admission. source=\"rpc\": from the RPC handing it over, through the signature "
           "check and admission.");
  w.histogram(s.relay_latency_peer, {{"source", "peer"}});
  w.histogram(s.relay_latency_rpc, {{"source", "rpc"}});
}

void render_tree(MetricsWriter& w, const NodeMetricsSnapshot& s) {
  w.family("hearsay_relay_mode", MetricType::kGauge,
           "Always 1; the label says how transactions travel (--relay-mode): pull, push or tree.");
  w.sample(1, {{"mode", s.relay_mode}});
  const NodeMetricsSnapshot::TreeStats& t = s.tree;
  w.family("hearsay_tree_peers_total", MetricType::kCounter,
           "Peers that relayed transactions by tree with this node (both set the tree service "
           "bit).");
  w.sample(t.peers);
  w.family("hearsay_tree_pushed_total", MetricType::kCounter,
           "Transactions pushed whole down a tree (treetx messages sent).");
  w.sample(t.pushed);
  w.family("hearsay_tree_prunes_total", MetricType::kCounter,
           "Origins pruned (prune entries): sent, this node asked a peer to stop pushing that "
           "origin's transactions (a duplicate body, a faster parent, a withheld body); "
           "received, a peer asked this node.");
  w.sample(t.prunes_sent, {{"direction", "sent"}});
  w.sample(t.prunes_received, {{"direction", "received"}});
  w.family("hearsay_tree_grafts_total", MetricType::kCounter,
           "Origins grafted (a peer asked to push them again): sent by graft message, received "
           "by graft message or by a request on a tree link.");
  w.sample(t.grafts_sent, {{"direction", "sent"}});
  w.sample(t.grafts_received, {{"direction", "received"}});
  w.family("hearsay_tree_swaps_total", MetricType::kCounter,
           "Tree parents replaced by a lazy peer whose announcements kept beating their bodies.");
  w.sample(t.swaps);
  w.family("hearsay_tree_withheld_total", MetricType::kCounter,
           "Bodies a tree parent owed and never sent (the parent was pruned and scored).");
  w.sample(t.withheld);
}

void render_recon(MetricsWriter& w, const NodeMetricsSnapshot& s) {
  const NodeMetricsSnapshot::ReconStats& r = s.recon;
  w.family("hearsay_recon_peers_total", MetricType::kCounter,
           "Peers that reconciled mempools with this node (both set the reconciliation service "
           "bit and use short ids).");
  w.sample(r.peers);
  w.family("hearsay_recon_rounds_total", MetricType::kCounter,
           "Reconciliation rounds this node asked for (it asks on the links it dialled).");
  w.sample(r.rounds);
  w.family("hearsay_recon_requests_total", MetricType::kCounter,
           "Reconciliation requests (reqrecon: one per part of a round's set): sent, as the asker; "
           "received, as the answerer.");
  w.sample(r.requests_sent, {{"direction", "sent"}});
  w.sample(r.requests_received, {{"direction", "received"}});
  w.family("hearsay_recon_sketch_bytes_total", MetricType::kCounter,
           "Bytes of the sketches in reconciliation requests, sent and received.");
  w.sample(r.sketch_bytes_sent, {{"direction", "sent"}});
  w.sample(r.sketch_bytes_received, {{"direction", "received"}});
  w.family("hearsay_recon_differences_total", MetricType::kCounter,
           "Transactions one side of a reconciling link lacked, found by decoding sketches.");
  w.sample(r.differences);
  w.family("hearsay_recon_failures_total", MetricType::kCounter,
           "Sketches that could not be decoded (more differences than their capacity).");
  w.sample(r.failures);
  w.family("hearsay_recon_bisections_total", MetricType::kCounter,
           "Parts of a round's set split into smaller parts after a failed decode.");
  w.sample(r.bisections);
  w.family("hearsay_recon_exchanges_total", MetricType::kCounter,
           "Failed parts small enough that both sides announced them whole instead of splitting.");
  w.sample(r.exchanges);
  w.family("hearsay_recon_refused_total", MetricType::kCounter,
           "Reconciliation requests refused: over the asking peer's work budget.");
  w.sample(r.refused);
  w.family("hearsay_recon_timeouts_total", MetricType::kCounter,
           "Reconciliation rounds abandoned unanswered.");
  w.sample(r.timeouts);
  w.family("hearsay_recon_announced_total", MetricType::kCounter,
           "Transactions announced to a peer because reconciliation found that it lacked them.");
  w.sample(r.announced);
}

void render_blocks(MetricsWriter& w, const NodeMetricsSnapshot& s) {
  w.family("hearsay_chain_height", MetricType::kGauge, "Height of the best block (the tip).");
  w.sample(s.chain_height);
  w.family("hearsay_blocks_connected_total", MetricType::kCounter,
           "Blocks connected to the best chain (reorganisations included).");
  w.sample(s.blocks_connected);
  w.family("hearsay_block_reorgs_total", MetricType::kCounter,
           "Reorganisations: the tip moved to another branch.");
  w.sample(s.block_reorgs);
  w.family("hearsay_block_reconstructions_total", MetricType::kCounter,
           "Compact blocks rebuilt into blocks.");
  w.sample(s.block_reconstructions);
  w.family("hearsay_block_txs_requested_total", MetricType::kCounter,
           "Transactions of compact blocks asked for with getblocktxn (missing from the mempool).");
  w.sample(s.block_txs_requested);
  w.family("hearsay_block_collisions_total", MetricType::kCounter,
           "Compact blocks that fell back to the full block (short-id collision or failure).");
  w.sample(s.block_collisions);
  w.family("hearsay_blocks_rejected_total", MetricType::kCounter, "Blocks rejected, by reason.");
  for (const auto& [reason, n] : s.blocks_rejected)
    w.sample(n, {{"reason", reason}});
  w.family("hearsay_blocks_produced_total", MetricType::kCounter, "Blocks this node produced.");
  w.sample(s.blocks_produced);
}

void render_inbound_limits(MetricsWriter& w, const NodeMetricsSnapshot& s) {
  const NodeMetricsSnapshot::StallStats& st = s.stalls;
  w.family("hearsay_stalls_total", MetricType::kCounter,
           "Connections cut over a partial frame, by cause: frame_deadline, a frame not complete "
           "within its deadline (grace + declared length / minimum rate); memory_cap, a frame "
           "that gave way, or found no room, when partial frames reached their memory cap.");
  w.sample(st.frame_deadline, {{"cause", "frame_deadline"}});
  w.sample(st.memory_cap, {{"cause", "memory_cap"}});
  w.family("hearsay_discouragements_total", MetricType::kCounter,
           "Identities and IP addresses discouraged (refused for a while, not banned) for "
           "stalling frames repeatedly.");
  w.sample(st.discouragements);
  w.family("hearsay_discouraged_refusals_total", MetricType::kCounter,
           "Connections refused because their identity or IP address was discouraged.");
  w.sample(st.refused_discouraged);
  w.family("hearsay_partial_frame_bytes", MetricType::kGauge,
           "Memory held in partial frames (received in part) across all peers, as allocated.");
  w.sample(st.partial_frame_bytes);
  w.family("hearsay_partial_frame_bytes_peak", MetricType::kGauge,
           "The most memory partial frames have held at once since start.");
  w.sample(st.partial_frame_bytes_peak);
  w.family("hearsay_partial_frame_bytes_cap", MetricType::kGauge,
           "The cap on memory in partial frames (--max-partial-frame-memory).");
  w.sample(st.partial_frame_cap);
  w.family("hearsay_inbound_evictions_total", MetricType::kCounter,
           "Newcomers at full inbound slots, by outcome: evicted, an unprotected inbound peer "
           "made room; all_protected, every inbound peer was protected and the newcomer was "
           "refused.");
  w.sample(s.inbound_evicted, {{"outcome", "evicted"}});
  w.sample(s.inbound_all_protected, {{"outcome", "all_protected"}});
}

void render_flow(MetricsWriter& w, const NodeMetricsSnapshot& s) {
  const NodeMetricsSnapshot::FlowStats& f = s.flow;
  w.family("hearsay_reads_held", MetricType::kGauge,
           "1 while the node reads nothing from its peers because signature verification is "
           "behind (flow control: what peers send waits in TCP), else 0.");
  w.sample(f.reads_held ? 1 : 0);
  w.family("hearsay_read_holds_total", MetricType::kCounter,
           "Times reading from peers was held for verification to catch up.");
  w.sample(f.read_holds);
  w.family("hearsay_verify_backlog_peak", MetricType::kGauge,
           "The most transactions ever waiting for or under signature verification at once.");
  w.sample(f.verify_backlog_peak);
  w.family("hearsay_deferred_announcements", MetricType::kGauge,
           "Announcements over a peer's tracked cap, waiting to be tracked and fetched.");
  w.sample(f.deferred_now);
  w.family("hearsay_deferred_announcements_total", MetricType::kCounter,
           "Announcements over a peer's tracked cap, by outcome: deferred, kept to be fetched "
           "later; dropped, lost because that peer's deferred queue was full too.");
  w.sample(f.deferred, {{"outcome", "deferred"}});
  w.sample(f.deferred_dropped, {{"outcome", "dropped"}});
  w.family("hearsay_expedited_announcements_total", MetricType::kCounter,
           "Announcements delayed because their peer looked overloaded, brought forward once "
           "its measured rate showed it keeps up.");
  w.sample(f.expedited);
}

// The families and names of Prometheus' client libraries, so that their dashboards work.
void render_process(MetricsWriter& w, const ProcessMetrics& p) {
  w.family("process_cpu_seconds_total", MetricType::kCounter,
           "Total user and system CPU time spent in seconds.");
  w.sample(p.cpu_seconds);
  w.family("process_resident_memory_bytes", MetricType::kGauge, "Resident memory size in bytes.");
  w.sample(p.resident_memory_bytes);
  w.family("process_virtual_memory_bytes", MetricType::kGauge, "Virtual memory size in bytes.");
  w.sample(p.virtual_memory_bytes);
  w.family("process_open_fds", MetricType::kGauge, "Number of open file descriptors.");
  w.sample(p.open_fds);
  w.family("process_max_fds", MetricType::kGauge, "Maximum number of open file descriptors.");
  w.sample(p.max_fds);
  w.family("process_start_time_seconds", MetricType::kGauge,
           "Start time of the process since unix epoch in seconds.");
  w.sample(p.start_time_seconds);
}

}  // namespace

std::string render_node_metrics(const NodeMetricsSnapshot& s) {
  MetricsWriter w;
  render_traffic(w, s);
  render_relay(w, s);
  render_tree(w, s);
  render_recon(w, s);
  render_blocks(w, s);
  render_inbound_limits(w, s);
  render_flow(w, s);
  w.family("hearsay_build_info", MetricType::kGauge,
           "Always 1; the labels say which build runs: version, network, compiler.");
  w.sample(1, {{"version", s.version}, {"network", s.network}, {"compiler", s.compiler}});
  if (s.process) render_process(w, *s.process);
  return w.take();
}

}  // namespace hearsay
