// Prometheus text exposition: format details, the histogram, and promtool's verdict on the
// complete set of families hearsayd exposes, rendered and scraped from a running Node.
#include "node/metrics.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <thread>

#include "testing/test_util.h"
#include "testing/testnet.h"

namespace hearsay {
namespace {

NodeMetricsSnapshot fake_snapshot() {
  NodeMetricsSnapshot s;
  s.peers_inbound = 12;
  s.peers_outbound = 8;
  for (const char* type : {"version", "verack", "inv", "getdata", "tx", "block", "ping", "pong"})
    s.messages.push_back({type, 100, 90, 12'345, 11'000});
  s.tx_accepted = 5'000;
  s.tx_rejected = {{"bad-signature", 3},
                   {"fee-too-low", 40},
                   {"nonce-too-low", 2},
                   {"expired", 1},
                   {"reason with \"quotes\" \\ and\nnewline", 1}};
  s.mempool_transactions = 4'321;
  s.mempool_bytes = 987'654;
  s.seen_set_entries = 120'000;
  s.verify_queue_depth = 17;
  Histogram h(relay_latency_buckets_seconds());
  for (double v : {0.00005, 0.0003, 0.002, 0.002, 0.04, 0.7, 3.0, 100.0})
    h.observe(v);
  s.relay_latency_peer = h.snapshot();
  s.relay_latency_rpc = Histogram(relay_latency_buckets_seconds()).snapshot();
  s.relay_mode = "tree";
  s.tree = {.peers = 8,
            .pushed = 900,
            .prunes_sent = 30,
            .prunes_received = 31,
            .grafts_sent = 4,
            .grafts_received = 5,
            .swaps = 2,
            .withheld = 1};
  s.recon = {.peers = 6,
             .rounds = 300,
             .requests_sent = 320,
             .requests_received = 310,
             .sketch_bytes_sent = 87'000,
             .sketch_bytes_received = 86'000,
             .differences = 1'234,
             .failures = 20,
             .bisections = 19,
             .refused = 3,
             .timeouts = 2,
             .announced = 1'100};
  s.chain_height = 42;
  s.blocks_connected = 43;
  s.block_reorgs = 1;
  s.block_reconstructions = 40;
  s.block_txs_requested = 17;
  s.block_collisions = 1;
  s.blocks_produced = 5;
  s.blocks_rejected = {{"bad-producer", 2}, {"tx-bad-signature", 1}};
  s.stalls = {.frame_deadline = 4,
              .memory_cap = 6,
              .discouragements = 1,
              .refused_discouraged = 2,
              .partial_frame_bytes = 1'000,
              .partial_frame_bytes_peak = 9'000,
              .partial_frame_cap = 67'108'864};
  s.inbound_evicted = 7;
  s.inbound_all_protected = 8;
  s.flow = {.reads_held = true,
            .read_holds = 3,
            .verify_backlog_peak = 20'040,
            .deferred_now = 12,
            .deferred = 7'000,
            .deferred_dropped = 5,
            .expedited = 4'000};
  s.version = "0.1.0";
  s.network = "devnet";
  s.compiler = compiler_version();
  s.process = ProcessMetrics{1.25, 50'000'000, 900'000'000, 42, 1024, 1.7e9};
  return s;
}

// The value of the series `series` (name and labels exactly as rendered) in a scrape.
std::optional<double> value_of(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.size() > series.size() && line.starts_with(series) && line[series.size()] == ' ')
      return std::stod(line.substr(series.size() + 1));
  return std::nullopt;
}

TEST(Metrics, NodeMetricsPassPromtool) {
  const std::string text = render_node_metrics(fake_snapshot());
  auto r = test::promtool_check(text);
  ASSERT_TRUE(r) << "promtool is not installed: contrib/install-deps.sh installs it (prometheus)";
  EXPECT_EQ(r->first, 0) << r->second << "\n--- input ---\n" << text;
  EXPECT_EQ(r->second, "") << text;
  // Every metric family the node exports is there.
  for (const char* family : {"hearsay_peers",
                             "hearsay_messages_total",
                             "hearsay_message_bytes_total",
                             "hearsay_transactions_accepted_total",
                             "hearsay_transactions_rejected_total",
                             "hearsay_mempool_transactions",
                             "hearsay_mempool_bytes",
                             "hearsay_mempool_store_writes_total",
                             "hearsay_mempool_store_batches_total",
                             "hearsay_mempool_unwritten",
                             "hearsay_seen_set_entries",
                             "hearsay_verify_queue_depth",
                             "hearsay_relay_latency_seconds",
                             "hearsay_relay_mode",
                             "hearsay_tree_peers_total",
                             "hearsay_tree_pushed_total",
                             "hearsay_tree_prunes_total",
                             "hearsay_tree_grafts_total",
                             "hearsay_tree_swaps_total",
                             "hearsay_tree_withheld_total",
                             "hearsay_recon_peers_total",
                             "hearsay_recon_rounds_total",
                             "hearsay_recon_requests_total",
                             "hearsay_recon_sketch_bytes_total",
                             "hearsay_recon_differences_total",
                             "hearsay_recon_failures_total",
                             "hearsay_recon_bisections_total",
                             "hearsay_recon_exchanges_total",
                             "hearsay_recon_refused_total",
                             "hearsay_recon_timeouts_total",
                             "hearsay_recon_announced_total",
                             "hearsay_chain_height",
                             "hearsay_blocks_connected_total",
                             "hearsay_block_reorgs_total",
                             "hearsay_block_reconstructions_total",
                             "hearsay_block_txs_requested_total",
                             "hearsay_block_collisions_total",
                             "hearsay_blocks_rejected_total",
                             "hearsay_blocks_produced_total",
                             "hearsay_stalls_total",
                             "hearsay_discouragements_total",
                             "hearsay_discouraged_refusals_total",
                             "hearsay_partial_frame_bytes",
                             "hearsay_partial_frame_bytes_peak",
                             "hearsay_partial_frame_bytes_cap",
                             "hearsay_inbound_evictions_total",
                             "hearsay_reads_held",
                             "hearsay_read_holds_total",
                             "hearsay_verify_backlog_peak",
                             "hearsay_deferred_announcements",
                             "hearsay_deferred_announcements_total",
                             "hearsay_expedited_announcements_total",
                             "hearsay_build_info",
                             "process_cpu_seconds_total",
                             "process_resident_memory_bytes",
                             "process_virtual_memory_bytes",
                             "process_open_fds",
                             "process_max_fds",
                             "process_start_time_seconds"})
    EXPECT_NE(text.find(std::string("# TYPE ") + family + " "), std::string::npos) << family;
  EXPECT_NE(text.find("hearsay_chain_height 42\n"), std::string::npos);
  EXPECT_EQ(value_of(text, "hearsay_stalls_total{cause=\"memory_cap\"}"), 6);
  EXPECT_EQ(value_of(text, "hearsay_partial_frame_bytes_peak"), 9'000);
  EXPECT_EQ(value_of(text, "hearsay_inbound_evictions_total{outcome=\"evicted\"}"), 7);
  EXPECT_EQ(value_of(text, "hearsay_inbound_evictions_total{outcome=\"all_protected\"}"), 8);
  EXPECT_EQ(value_of(text, "hearsay_reads_held"), 1);
  EXPECT_EQ(value_of(text, "hearsay_verify_backlog_peak"), 20'040);
  EXPECT_EQ(value_of(text, "hearsay_deferred_announcements_total{outcome=\"dropped\"}"), 5);
  EXPECT_EQ(value_of(text, "hearsay_expedited_announcements_total"), 4'000);
  EXPECT_EQ(value_of(text, "hearsay_relay_latency_seconds_count{source=\"peer\"}"), 8);
  EXPECT_EQ(value_of(text, "hearsay_relay_latency_seconds_count{source=\"rpc\"}"), 0);
  EXPECT_EQ(value_of(text, "hearsay_build_info{version=\"0.1.0\",network=\"devnet\",compiler=\"" +
                               compiler_version() + "\"}"),
            1);
  EXPECT_EQ(value_of(text, "process_resident_memory_bytes"), 50'000'000);
  EXPECT_EQ(value_of(text, "process_start_time_seconds"), 1.7e9);
  EXPECT_NE(text.find("hearsay_blocks_rejected_total{reason=\"bad-producer\"} 2\n"),
            std::string::npos);
  EXPECT_EQ(value_of(text, "hearsay_relay_mode{mode=\"tree\"}"), 1);
  EXPECT_EQ(value_of(text, "hearsay_tree_peers_total"), 8);
  EXPECT_EQ(value_of(text, "hearsay_tree_pushed_total"), 900);
  EXPECT_EQ(value_of(text, "hearsay_tree_prunes_total{direction=\"sent\"}"), 30);
  EXPECT_EQ(value_of(text, "hearsay_tree_prunes_total{direction=\"received\"}"), 31);
  EXPECT_EQ(value_of(text, "hearsay_tree_grafts_total{direction=\"sent\"}"), 4);
  EXPECT_EQ(value_of(text, "hearsay_tree_grafts_total{direction=\"received\"}"), 5);
  EXPECT_EQ(value_of(text, "hearsay_tree_swaps_total"), 2);
  EXPECT_EQ(value_of(text, "hearsay_tree_withheld_total"), 1);
  EXPECT_EQ(value_of(text, "hearsay_recon_peers_total"), 6);
  EXPECT_EQ(value_of(text, "hearsay_recon_rounds_total"), 300);
  EXPECT_EQ(value_of(text, "hearsay_recon_requests_total{direction=\"sent\"}"), 320);
  EXPECT_EQ(value_of(text, "hearsay_recon_requests_total{direction=\"received\"}"), 310);
  EXPECT_EQ(value_of(text, "hearsay_recon_sketch_bytes_total{direction=\"sent\"}"), 87'000);
  EXPECT_EQ(value_of(text, "hearsay_recon_sketch_bytes_total{direction=\"received\"}"), 86'000);
  EXPECT_EQ(value_of(text, "hearsay_recon_differences_total"), 1'234);
  EXPECT_EQ(value_of(text, "hearsay_recon_failures_total"), 20);
  EXPECT_EQ(value_of(text, "hearsay_recon_bisections_total"), 19);
  EXPECT_EQ(value_of(text, "hearsay_recon_refused_total"), 3);
  EXPECT_EQ(value_of(text, "hearsay_recon_timeouts_total"), 2);
  EXPECT_EQ(value_of(text, "hearsay_recon_announced_total"), 1'100);
}

TEST(Metrics, EmptySnapshotPassesPromtool) {
  NodeMetricsSnapshot s;
  s.relay_latency_peer = Histogram(relay_latency_buckets_seconds()).snapshot();
  s.relay_latency_rpc = s.relay_latency_peer;
  const std::string text = render_node_metrics(s);
  EXPECT_EQ(text.find("process_"), std::string::npos);  // no /proc: no process families
  auto r = test::promtool_check(text);
  ASSERT_TRUE(r) << "promtool is not installed: contrib/install-deps.sh installs it (prometheus)";
  EXPECT_EQ(r->first, 0) << r->second;
}

TEST(Metrics, PromtoolCatchesABadExposition) {
  // The check is real: a counter without _total fails it.
  auto r = test::promtool_check("# HELP bad x\n# TYPE bad counter\nbad 1\n");
  ASSERT_TRUE(r) << "promtool is not installed: contrib/install-deps.sh installs it (prometheus)";
  EXPECT_NE(r->first, 0);
}

TEST(Metrics, WriterFormat) {
  MetricsWriter w;
  w.family("x_requests_total", MetricType::kCounter, "Requests.\nWith a \\ newline.");
  w.sample(uint64_t{3}, {{"method", "a\"b\\c\nd"}, {"code", "200"}});
  w.sample(uint64_t{18446744073709551615ull});
  w.family("x_temperature", MetricType::kGauge, "Temperature.");
  w.sample(-1.5);
  w.sample(std::numeric_limits<double>::infinity(), {{"k", "inf"}});
  w.sample(std::numeric_limits<double>::quiet_NaN(), {{"k", "nan"}});
  w.family("x_latency_seconds", MetricType::kHistogram, "Latency.");
  HistogramSnapshot h{{0.5, 1}, {1, 3}, 4, 5.25};
  w.histogram(h, {{"peer", "p1"}});
  EXPECT_EQ(w.text(),
            "# HELP x_requests_total Requests.\\nWith a \\\\ newline.\n"
            "# TYPE x_requests_total counter\n"
            "x_requests_total{method=\"a\\\"b\\\\c\\nd\",code=\"200\"} 3\n"
            "x_requests_total 18446744073709551615\n"
            "# HELP x_temperature Temperature.\n"
            "# TYPE x_temperature gauge\n"
            "x_temperature -1.5\n"
            "x_temperature{k=\"inf\"} +Inf\n"
            "x_temperature{k=\"nan\"} NaN\n"
            "# HELP x_latency_seconds Latency.\n"
            "# TYPE x_latency_seconds histogram\n"
            "x_latency_seconds_bucket{peer=\"p1\",le=\"0.5\"} 1\n"
            "x_latency_seconds_bucket{peer=\"p1\",le=\"1\"} 3\n"
            "x_latency_seconds_bucket{peer=\"p1\",le=\"+Inf\"} 4\n"
            "x_latency_seconds_sum{peer=\"p1\"} 5.25\n"
            "x_latency_seconds_count{peer=\"p1\"} 4\n");
  auto r = test::promtool_check(w.text());
  ASSERT_TRUE(r) << "promtool is not installed: contrib/install-deps.sh installs it (prometheus)";
  EXPECT_EQ(r->first, 0) << r->second << "\n--- input ---\n" << w.text();
}

TEST(Metrics, IntegerSamplesOfAnyWidth) {
  MetricsWriter w;
  w.family("g", MetricType::kGauge, "G.");
  w.sample(-3);
  w.sample(size_t{7});
  w.sample(int64_t{-9'000'000'000});
  EXPECT_EQ(w.text(), "# HELP g G.\n# TYPE g gauge\ng -3\ng 7\ng -9000000000\n");
}

TEST(Metrics, Names) {
  EXPECT_TRUE(valid_metric_name("hearsay_peers"));
  EXPECT_TRUE(valid_metric_name("a:b_c9"));
  EXPECT_FALSE(valid_metric_name("9a"));
  EXPECT_FALSE(valid_metric_name("a-b"));
  EXPECT_FALSE(valid_metric_name(""));
  EXPECT_TRUE(valid_label_name("direction"));
  EXPECT_FALSE(valid_label_name("__name__"));
  EXPECT_FALSE(valid_label_name("a:b"));
  EXPECT_EQ(format_metric_value(0.1), "0.1");
  EXPECT_EQ(format_metric_value(-std::numeric_limits<double>::infinity()), "-Inf");
}

TEST(MetricsDeath, ProgrammingErrorsAbort) {
  MetricsWriter w;
  EXPECT_DEATH(w.family("bad name", MetricType::kGauge, ""), "invariant");
  EXPECT_DEATH(w.family("requests", MetricType::kCounter, ""), "invariant");  // no _total
  w.family("g", MetricType::kGauge, "");
  EXPECT_DEATH(w.family("g", MetricType::kGauge, ""), "invariant");  // declared twice
  EXPECT_DEATH(w.sample(1.0, {{"bad-label", "x"}}), "invariant");
  EXPECT_DEATH(Histogram({1, 1}), "invariant");
}

TEST(Histogram, CumulativeBuckets) {
  Histogram h({1, 2, 5});
  for (double v : {0.5, 1.0, 1.5, 2.0, 4.0, 7.0, -3.0})
    h.observe(v);
  h.observe(std::numeric_limits<double>::quiet_NaN());  // ignored
  HistogramSnapshot s = h.snapshot();
  EXPECT_EQ(s.upper_bounds, (std::vector<double>{1, 2, 5}));
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{3, 5, 6}));  // le is inclusive
  EXPECT_EQ(s.count, 7u);
  EXPECT_DOUBLE_EQ(s.sum, 0.5 + 1 + 1.5 + 2 + 4 + 7 - 3);
}

TEST(Histogram, ConcurrentObserversLoseNothing) {
  Histogram h(relay_latency_buckets_seconds());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&h, t] {
      for (int i = 0; i < kPerThread; ++i)
        h.observe(0.001 * (t + 1));
    });
  for (int i = 0; i < 100; ++i) {  // concurrent snapshots are self-consistent
    HistogramSnapshot s = h.snapshot();
    ASSERT_GE(s.count, s.cumulative.back());
    for (size_t k = 1; k < s.cumulative.size(); ++k)
      ASSERT_LE(s.cumulative[k - 1], s.cumulative[k]);
  }
  for (auto& t : threads)
    t.join();
  HistogramSnapshot s = h.snapshot();
  EXPECT_EQ(s.count, uint64_t{kThreads * kPerThread});
  EXPECT_NEAR(s.sum, kPerThread * 0.001 * (1 + 2 + 3 + 4), 1e-6);
}

// Each latency is observed as it is measured: however many come between two scrapes (here more
// than the 65,536 the relay once buffered for the scrape to drain), one scrape counts them all.
TEST(RelayLatency, EveryObservationReachesTheScrape) {
  RelayLatencyHistograms latency;
  constexpr uint64_t kPeer = 70'000;
  for (uint64_t i = 0; i < kPeer; ++i)
    latency.observe(RelaySource::kPeer, 0.001 * static_cast<double>(i % 100));
  for (int i = 0; i < 3; ++i)
    latency.observe(RelaySource::kRpc, 0.002);
  NodeMetricsSnapshot s;
  s.relay_latency_peer = latency.snapshot(RelaySource::kPeer);
  s.relay_latency_rpc = latency.snapshot(RelaySource::kRpc);
  const std::string text = render_node_metrics(s);
  EXPECT_EQ(value_of(text, "hearsay_relay_latency_seconds_count{source=\"peer\"}"), kPeer);
  EXPECT_EQ(value_of(text, "hearsay_relay_latency_seconds_bucket{source=\"peer\",le=\"+Inf\"}"),
            kPeer);
  EXPECT_EQ(value_of(text, "hearsay_relay_latency_seconds_count{source=\"rpc\"}"), 3);
  EXPECT_NEAR(*value_of(text, "hearsay_relay_latency_seconds_sum{source=\"rpc\"}"), 0.006, 1e-9);
}

// A running node's scrape: a transaction submitted over the RPC path is timed from the
// hand-over (signature check and admission included: never 0) under source="rpc"; build info
// and the process families are there and plausible; promtool accepts the whole scrape.
TEST(NodeMetrics, RpcSubmissionTimedAndProcessFamiliesExported) {
  test::TestNet net(1);
  Node& node = net.start(0, {});
  ASSERT_TRUE(node.submit(test::devnet_tx(1, 0)).ok());
  const std::string text = node.metrics();
  EXPECT_EQ(value_of(text, "hearsay_relay_latency_seconds_count{source=\"rpc\"}"), 1) << text;
  EXPECT_GT(value_of(text, "hearsay_relay_latency_seconds_sum{source=\"rpc\"}").value_or(0), 0);
  EXPECT_EQ(value_of(text, "hearsay_relay_latency_seconds_count{source=\"peer\"}"), 0);
  EXPECT_EQ(value_of(text, "hearsay_transactions_accepted_total"), 1);
  // Answered only once written: one transaction with the writer idle is written inline.
  EXPECT_EQ(value_of(text, "hearsay_mempool_unwritten"), 0);
  EXPECT_GE(value_of(text, "hearsay_mempool_store_writes_total{thread=\"protocol\"}").value_or(0),
            1)
      << text;
  EXPECT_TRUE(value_of(text, "hearsay_mempool_store_writes_total{thread=\"writer\"}"));
  EXPECT_GE(value_of(text, "hearsay_mempool_store_batches_total").value_or(0), 1);
  EXPECT_EQ(value_of(text, "hearsay_build_info{version=\"0.1.0\",network=\"devnet\",compiler=\"" +
                               compiler_version() + "\"}"),
            1)
      << text;
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_GT(value_of(text, "process_resident_memory_bytes").value_or(0), 0);
  EXPECT_GT(value_of(text, "process_open_fds").value_or(0), 0);
  EXPECT_GE(value_of(text, "process_max_fds").value_or(0),
            value_of(text, "process_open_fds").value_or(1));
  EXPECT_GT(value_of(text, "process_start_time_seconds").value_or(0), 0);
  EXPECT_LE(value_of(text, "process_start_time_seconds").value_or(now + 1), now);
  auto r = test::promtool_check(text);
  ASSERT_TRUE(r) << "promtool is not installed: contrib/install-deps.sh installs it (prometheus)";
  EXPECT_EQ(r->first, 0) << r->second << "\n--- input ---\n" << text;
}

// An RPC submission with a bad signature never reaches the relay (Node::submit checks it
// first), yet it is a rejection like any other.
TEST(NodeMetrics, RpcForgeryCountsAsABadSignatureRejection) {
  test::TestNet net(1);
  Node& node = net.start(0, {});
  const PoolResult r = node.submit(test::forged(test::devnet_tx(1, 0)));
  ASSERT_EQ(r.answer, PoolAnswer::kRejected);
  const std::string text = node.metrics();
  EXPECT_EQ(value_of(text, "hearsay_transactions_rejected_total{reason=\"bad-signature\"}"), 1)
      << text;
  EXPECT_EQ(value_of(text, "hearsay_relay_latency_seconds_count{source=\"rpc\"}"), 0) << text;
}

}  // namespace
}  // namespace hearsay
