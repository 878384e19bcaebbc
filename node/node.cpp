#include "node/node.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "chainstub/params.h"
#include "crypto/hex.h"
#include "crypto/keyfile.h"
#include "crypto/random.h"
#include "mempool/relay_pool.h"
#include "mempool/store.h"
#include "net/address.h"
#include "net/tls.h"
#include "node/datadir.h"
#include "node/metrics.h"
#include "node/rpc_methods.h"
#include "node/rpc_server.h"
#include "node/trace.h"

namespace hearsay {

namespace fs = std::filesystem;

// Counts accepted / rejected-by-reason for metrics, then forwards to the trace (if any); observes
// each relay latency into its histogram as the relay (peers) or Node::submit (RPC) measures it.
class Node::Counter : public RelayObserver, public RelayLatencySink {
 public:
  explicit Counter(RelayObserver* next) : m_next(next) {}
  void tx_first_seen(const TxId& id, const TxSource& from, Time now) override {
    if (m_next) m_next->tx_first_seen(id, from, now);
  }
  void tx_accepted(const TxId& id, Time now) override {
    {
      std::lock_guard lock(m_mu);
      ++m_accepted;
    }
    if (m_next) m_next->tx_accepted(id, now);
  }
  void tx_rejected(const TxId& id, const char* reason, Time now) override {
    {
      std::lock_guard lock(m_mu);
      ++m_rejected[reason];
    }
    if (m_next) m_next->tx_rejected(id, reason, now);
  }
  void inv_sent(const PublicKey& peer, size_t count, Time now) override {
    if (m_next) m_next->inv_sent(peer, count, now);
  }
  void getdata_sent(const PublicKey& peer, size_t count, Time now) override {
    if (m_next) m_next->getdata_sent(peer, count, now);
  }
  void recon_round(const PublicKey& peer, const ReconReport& report, Time now) override {
    if (m_next) m_next->recon_round(peer, report, now);
  }
  NodeTxCounters counters() const {
    std::lock_guard lock(m_mu);
    NodeTxCounters c;
    c.accepted = m_accepted;
    c.rejected.assign(m_rejected.begin(), m_rejected.end());
    return c;
  }
  void tx_relay_latency(Duration latency) override {
    m_latency.observe(RelaySource::kPeer, std::chrono::duration<double>(latency).count());
  }
  void rpc_latency(std::chrono::steady_clock::duration latency) {
    m_latency.observe(RelaySource::kRpc, std::chrono::duration<double>(latency).count());
  }
  const RelayLatencyHistograms& latency() const { return m_latency; }

 private:
  RelayObserver* m_next;
  mutable std::mutex m_mu;
  uint64_t m_accepted = 0;
  std::map<std::string, uint64_t> m_rejected;
  RelayLatencyHistograms m_latency;
};

// Counts block events for metrics (rejections by reason), then forwards to the trace (if any).
class Node::BlockCounter : public BlockObserver {
 public:
  explicit BlockCounter(BlockObserver* next) : m_next(next) {}
  void block_first_seen(const BlockId& id, uint64_t height, const TxSource& from,
                        Time now) override {
    if (m_next) m_next->block_first_seen(id, height, from, now);
  }
  void block_reconstructed(const BlockId& id, size_t txs, size_t prefilled, size_t from_mempool,
                           size_t missing, Time now) override {
    {
      std::lock_guard lock(m_mu);
      ++m_counters.reconstructed;
    }
    if (m_next) m_next->block_reconstructed(id, txs, prefilled, from_mempool, missing, now);
  }
  void block_connected(const BlockId& id, uint64_t height, size_t txs, size_t size,
                       Time now) override {
    {
      std::lock_guard lock(m_mu);
      ++m_counters.connected;
    }
    if (m_next) m_next->block_connected(id, height, txs, size, now);
  }
  void block_disconnected(const BlockId& id, uint64_t height, Time now) override {
    {
      std::lock_guard lock(m_mu);
      ++m_counters.disconnected;
    }
    if (m_next) m_next->block_disconnected(id, height, now);
  }
  void block_rejected(const BlockId& id, const char* reason, Time now) override {
    {
      std::lock_guard lock(m_mu);
      ++m_rejected[reason != nullptr ? reason : ""];
    }
    if (m_next) m_next->block_rejected(id, reason, now);
  }
  NodeBlockCounters counters() const {
    std::lock_guard lock(m_mu);
    NodeBlockCounters c = m_counters;
    c.rejected.assign(m_rejected.begin(), m_rejected.end());
    return c;
  }

 private:
  BlockObserver* m_next;
  mutable std::mutex m_mu;
  NodeBlockCounters m_counters;
  std::map<std::string, uint64_t> m_rejected;
};

class DatadirLockHolder {
 public:
  explicit DatadirLockHolder(DatadirLock lock) : m_lock(std::move(lock)) {}

 private:
  DatadirLock m_lock;
};

static_assert(std::chrono::milliseconds(kDefaultGraftTimeoutMs) == kGraftTimeout,
              "--graft-timeout-ms's default is the relay's");
static_assert(std::chrono::milliseconds(kDefaultLazyIntervalMs) == kLazyInterval,
              "--lazy-interval-ms's default is the relay's");
static_assert(std::chrono::milliseconds(kDefaultReconcileIntervalMs) == kReconcileInterval,
              "--reconcile-interval-ms's default is the relay's");
static_assert(size_t{kDefaultMaxPartialFrameMemoryMib} * 1024 * 1024 ==
                  kDefaultMaxPartialFrameBytes,
              "--max-partial-frame-memory's default is net's");
static_assert(size_t{kMinPartialFrameMemoryMib} * 1024 * 1024 == kMinPartialFrameBytes,
              "--max-partial-frame-memory's least value is net's");

namespace {

// The relay mode in effect, as parse_node_options leaves it: the mode and --push-peers agree
// (push with K > 0 peers, the others with none).
Status relay_mode_from_options(const NodeOptions& o, NodeConfig& c) {
  const bool push = o.relay_mode == "push";
  if (!push && o.relay_mode != "pull" && o.relay_mode != "tree")
    return fail("--relay-mode: '" + o.relay_mode + "' is not allowed: expected pull, push or tree");
  if (push != (o.push_peers > 0))
    return fail("--relay-mode " + o.relay_mode + " and --push-peers " +
                std::to_string(o.push_peers) +
                " contradict each other: push mode, and only it, pushes to K > 0 peers");
  c.relay.push_peers = o.push_peers;
  c.tree_relay = o.relay_mode == "tree";
  c.relay.graft_timeout = std::chrono::milliseconds(o.graft_timeout_ms);
  c.relay.lazy_interval = std::chrono::milliseconds(o.lazy_interval_ms);
  return {};
}

// Reconciliation as parse_node_options leaves it: on only with short ids; low fanout only with
// periodic rounds (the peers not flooded learn by them) and in pull mode.
Status recon_from_options(const NodeOptions& o, NodeConfig& c) {
  if (o.reconcile && !o.short_ids)
    return fail(
        std::string("--reconcile 1 and --short-ids 0 contradict each other: "
                    "reconciliation compares short ids"));
  if (o.flood_peers > 0 && (!o.reconcile || o.reconcile_interval_ms == 0 || o.relay_mode != "pull"))
    return fail("--flood-peers " + std::to_string(o.flood_peers) +
                " needs --reconcile 1, --reconcile-interval-ms > 0 and --relay-mode pull");
  c.reconcile = o.reconcile;
  c.relay.reconcile_interval = std::chrono::milliseconds(o.reconcile_interval_ms);
  c.relay.flood_peers = o.flood_peers;
  return {};
}

}  // namespace

const char* relay_mode_name(const NodeConfig& c) {
  if (c.tree_relay) return "tree";
  return c.relay.push_peers > 0 ? "push" : "pull";
}

bool reconciles(const NodeConfig& c) {
  return c.reconcile && c.short_ids;
}

Result<NodeConfig, std::string> node_config_from_options(const NodeOptions& o) {
  NodeConfig c;
  c.datadir = o.datadir;
  if (o.network == "devnet") {
    c.network = devnet_params();
  } else {
    auto params = load_network_file(o.network);
    if (!params) return fail("--network: " + params.error());
    c.network = std::move(*params);
  }
  if (!o.producer_key.empty()) {
    auto key = load_key_file(o.producer_key);
    if (!key) return fail("--producer-key: " + key.error());
    if (Status s = check_producer_key(c.network, *key, o.producer_key); !s)
      return fail("--producer-key: " + s.message());
    c.block_relay.producer_key = *key;
  }
  if (o.block_interval_s > 0 && o.producer_key.empty())
    return fail(std::string(
        "--block-interval: only a producer makes blocks: give --producer-key FILE too, or "
        "leave --block-interval at 0"));
  c.block_relay.block_interval = std::chrono::seconds(o.block_interval_s);
  c.block_relay.high_bandwidth_peers = o.cmpct_hb_peers;
  c.mempool.min_fee_rate = o.min_fee_rate.value_or(c.network.min_relay_fee_rate);
  c.mempool.max_tx_size = c.network.max_tx_size;
  if (!o.listen.empty()) c.host.listen = o.listen;
  c.host.datadir = o.datadir;
  for (const std::string& s : o.connect) {
    auto t = parse_dial_target(s);
    if (!t) return fail("--connect: " + t.error());
    c.host.connect.push_back(*t);
  }
  if (!o.allow_peers.empty()) {
    auto list = load_allow_list(o.allow_peers);
    if (!list) return fail("--allow-peers: " + list.error());
    c.host.allow_list = std::make_shared<const AllowList>(std::move(*list));
  }
  if (!o.trusted_peers.empty()) {
    auto list = load_allow_list(o.trusted_peers);
    if (!list) return fail("--trusted-peers: " + list.error());
    c.host.trusted = std::make_shared<const AllowList>(std::move(*list));
  }
  c.host.max_inbound = o.max_inbound;
  c.host.max_inbound_per_ip = o.max_inbound_per_ip;
  c.host.max_partial_frame_bytes = size_t{o.max_partial_frame_memory_mib} * 1024 * 1024;
  c.host.link = LinkEmulation{o.link_delay_ms, o.link_jitter_ms, o.link_bandwidth_kbps};
  c.host.verify_threads = o.verify_threads;
  static_assert(kDefaultIoThreads == 0, "node/options.h's io_threads default follows it");
  c.host.io_threads = o.io_threads;
  c.host.keylog_path = keylog_path_from_env();
  c.host.peer_manager.max_outbound = o.max_outbound;
  c.host.peer_manager.ban_time = std::chrono::seconds(o.ban_time_s);
  c.relay.inv_interval = std::chrono::milliseconds(o.inv_interval_ms);
  if (Status s = relay_mode_from_options(o, c); !s) return fail(s.message());
  c.short_ids = o.short_ids;
  if (Status s = recon_from_options(o, c); !s) return fail(s.message());
  c.mempool.max_bytes = o.mempool_max_mb * 1'000'000;
  c.mempool.expiry = std::chrono::hours(o.mempool_expiry_hours);
  c.mempool_sync = o.mempool_sync;
  c.mempool_reset = o.mempool_reset;
  c.mempool_repair = o.mempool_repair;
  c.trace_path = o.trace;
  const size_t colon = o.rpc.rfind(':');
  if (auto ep = parse_endpoint(o.rpc); !ep || colon == std::string::npos) {
    return fail("--rpc: " + (ep ? std::string("expected HOST:PORT") : ep.error()));
  } else {
    c.rpc_host = ep->address().to_string();
    c.rpc_port = ep->port();
  }
  c.rpc_user = o.rpc_user;
  c.rpc_password = o.rpc_password;
  if (c.rpc_user.empty() != c.rpc_password.empty())
    return fail("--rpc-user and --rpc-password go together: give both or neither");
  c.metrics_public = o.metrics_public;
  return c;
}

Status check_producer_key(const NetworkParams& network, const KeyPair& key,
                          const std::string& path) {
  if (network.is_producer(key.public_key())) return {};
  return fail(path + " holds key " + to_hex(key.public_key()) + ", which network '" + network.name +
              "' does not authorise to produce blocks (use one of the keys listed under "
              "\"producers\" in its network file, or start without --producer-key)");
}

Node::Node(NodeConfig cfg, const KeyPair& identity) : m_cfg(std::move(cfg)), m_identity(identity) {}

Node::~Node() {
  stop();
}

Result<std::unique_ptr<Node>, std::string> Node::start(NodeConfig cfg) {
  crypto_init();
  if (cfg.datadir.empty()) return fail(std::string("no data directory given (--datadir)"));
  if (Status s = ensure_datadir(cfg.datadir); !s) return fail(s.message());
  auto lock = DatadirLock::acquire(cfg.datadir);
  if (!lock) return fail(lock.error());

  bool created = false;
  const std::string key_path = (fs::path(cfg.datadir) / "identity.key").string();
  auto key = load_or_create_key_file(key_path, &created);
  if (!key) return fail(key.error());

  if (Status s = cfg.network.validate(); !s) return fail("network: " + s.message());
  if (cfg.block_relay.producer_key) {
    if (Status s =
            check_producer_key(cfg.network, *cfg.block_relay.producer_key, "the producer key");
        !s)
      return fail(s.message());
  }

  std::unique_ptr<Node> n(new Node(std::move(cfg), *key));
  n->m_key_created = created;
  n->m_lock = std::make_unique<DatadirLockHolder>(std::move(*lock));

  const Time now =
      std::chrono::duration_cast<Time>(std::chrono::system_clock::now().time_since_epoch());
  if (Status s = n->open_chain(); !s) return fail(s.message());
  if (Status s = n->open_mempool(now); !s) return fail(s.message());
  if (Status s = n->start_network(); !s) return fail(s.message());
  if (Status s = n->start_rpc(); !s) return fail(s.message());
  return n;
}

Status Node::open_chain() {
  ChainOptions co;
  co.path = (fs::path(m_cfg.datadir) / "chain").string();
  co.sync = m_cfg.mempool_sync;
  auto chain = ChainState::open(m_cfg.network, co);
  if (!chain) return fail(chain.error());
  m_chain = std::move(*chain);
  const ChainInfo ci = m_chain->chain_info();
  spdlog::info("chain {}: tip height {} ({}), {} headers known, from {}", ci.network, ci.height,
               to_hex(ci.tip), ci.index_size, co.path);
  return {};
}

Status Node::open_mempool(Time now) {
  NodeConfig& c = m_cfg;
  StoreOptions so;
  so.path = (fs::path(c.datadir) / "mempool").string();
  so.sync = c.mempool_sync;
  so.reset = c.mempool_reset;
  so.repair = c.mempool_repair;
  RepairReport repair;
  auto store = open_leveldb_store(so, &repair);
  if (!store) return fail(store.error().message);
  c.mempool.network = c.network.magic;
  c.mempool.max_tx_size = std::min(c.mempool.max_tx_size, c.network.max_tx_size);
  random_bytes(c.mempool.hash_key);
  auto mempool = Mempool::open(c.mempool, *m_chain, std::move(*store), now);
  if (!mempool) return fail(mempool.error().message);
  m_mempool = std::move(*mempool);
  m_reload = m_mempool->reload_report();
  m_pool = std::make_unique<MempoolTxPool>(*m_mempool);
  // Warnings reach the log at once: the operator reads this before deleting the kept files.
  if (repair.repaired)
    spdlog::warn(
        "mempool: repaired {}: {} stored entries read back, {} undecodable dropped, {} "
        "transactions reloaded; the damaged files are kept in {} (delete it when satisfied)",
        so.path, repair.read_back, repair.undecodable, m_reload.reloaded, repair.kept);
  else if (so.repair)
    spdlog::warn("mempool: --mempool-repair: no store at {}, nothing to repair", so.path);
  return {};
}

Status Node::start_network() {
  NodeConfig& c = m_cfg;
  if (!c.trace_path.empty()) {
    auto trace = TraceWriter::open(c.trace_path, identity());
    if (!trace) return fail("--trace: " + trace.error());
    m_trace = std::move(*trace);
  }
  m_counter = std::make_unique<Counter>(m_trace.get());
  m_block_counter = std::make_unique<BlockCounter>(m_trace.get());

  HostConfig hc = c.host;
  hc.peer_manager.network_magic = c.network.magic;
  if (c.relay.push_peers > 0) hc.peer_manager.services |= kServicePushTx;
  if (c.short_ids) hc.peer_manager.services |= kServiceShortIds;
  if (c.tree_relay) hc.peer_manager.services |= kServiceTree;
  if (reconciles(c)) hc.peer_manager.services |= kServiceRecon;
  if (c.relay.rng_seed == 0) c.relay.rng_seed = random_u64();
  if (c.block_relay.rng_seed == 0) c.block_relay.rng_seed = random_u64();
  hc.make_relay = [this](PeerManager& pm) {
    auto relay =
        std::make_unique<TxRelay>(pm, *m_pool, m_cfg.relay, m_counter.get(), m_counter.get());
    m_relay = relay.get();
    return std::unique_ptr<RelayHandler>(std::move(relay));
  };
  hc.make_block_relay = [this](PeerManager& pm) {
    auto relay = std::make_unique<BlockRelay>(pm, *m_chain, *m_mempool, m_cfg.block_relay,
                                              m_block_counter.get());
    m_block_relay = relay.get();
    return std::unique_ptr<RelayHandler>(std::move(relay));
  };
  m_host = std::make_unique<Host>(m_identity, std::move(hc));
  if (Status s = m_host->start(); !s) return s;
  pipeline_mempool_writes();
  return {};
}

Status Node::start_rpc() {
  const NodeConfig& c = m_cfg;
  if (!c.rpc_host) return {};
  RpcServerConfig rc;
  rc.host = *c.rpc_host;
  rc.port = c.rpc_port;
  rc.datadir = c.datadir;
  rc.user = c.rpc_user;
  rc.password = c.rpc_password;
  rc.metrics_public = c.metrics_public;
  rc.metrics = [this] { return metrics(); };
  rc.handler_threads = c.rpc_threads;
  m_rpc = std::make_unique<RpcServer>(rc);
  register_rpc_methods(
      *m_rpc, *this, c.on_stop_request ? c.on_stop_request : [] {});
  if (Status s = m_rpc->start(); !s) {
    stop();
    return s;
  }
  return {};
}

void Node::stop() {
  if (m_stopped.exchange(true)) return;
  if (m_rpc) m_rpc->stop();
  if (m_host) m_host->stop();
  // Writes what is queued; its reports' handlers, posted to the stopped io thread, never run.
  if (m_mempool) m_mempool->stop_pipelining();
  m_relay = nullptr;
  m_block_relay = nullptr;
  m_host.reset();  // the relays go with it, before the pool, mempool and chain they use
  m_block_counter.reset();
  m_counter.reset();
  m_trace.reset();  // flushes
  m_pool.reset();
  m_mempool.reset();
  m_chain.reset();  // the mempool's ChainView: after it
  m_lock.reset();
}

std::optional<uint16_t> Node::rpc_port() const {
  if (!m_rpc) return std::nullopt;
  return m_rpc->port();
}

static Time wall_now() {
  return std::chrono::duration_cast<Time>(std::chrono::system_clock::now().time_since_epoch());
}

void Node::pipeline_mempool_writes() {
  // The writer thread's reports wake the io thread, where the relay announces what was written.
  m_host->run([this] {
    m_mempool->pipeline_writes(
        [this] {
          m_host->post([this] {
            if (m_relay) m_relay->on_written(wall_now());
          });
        },
        // fsync per write (--mempool-sync) is too slow for the protocol thread, even when idle.
        m_cfg.mempool_sync ? 0 : kDefaultInlineWriteMaxOps);
  });
}

PoolResult Node::submit(const TxRef& tx) {
  // hearsay_relay_latency_seconds{source="rpc"}: from the hand-over, signature check included.
  const auto handed_over = std::chrono::steady_clock::now();
  if (!tx->verify_signature()) {
    // Counted and traced like a relayed forgery, though the relay never sees it.
    m_host->run([&] { m_counter->tx_rejected(tx->id(), "bad-signature", wall_now()); });
    return {PoolAnswer::kRejected, "bad-signature"};
  }
  const PoolResult r = m_host->run([&] { return m_relay->submit(tx, true, wall_now()); });
  if (r.ok()) m_counter->rpc_latency(std::chrono::steady_clock::now() - handed_over);
  return r;
}

TxRef Node::get_transaction(const TxId& id) {
  return m_host->run([&] { return m_mempool->get(id); });
}

bool Node::has_transaction(const TxId& id) {
  return m_host->run([&] { return m_mempool->contains(id); });
}

size_t Node::mempool_size() {
  return m_host->run([&] { return m_mempool->size(); });
}

MempoolInfo Node::mempool_info() {
  return m_host->run([&] { return m_mempool->info(wall_now()); });
}

std::vector<TxId> Node::mempool_ids() {
  return m_host->run([&] {
    std::vector<TxId> ids;
    for (const TxRef& tx : m_mempool->newest(m_mempool->size()))
      ids.push_back(tx->id());
    return ids;
  });
}

uint64_t Node::next_nonce(const PublicKey& sender) {
  return m_host->run([&] {
    uint64_t next = m_chain->next_nonce(sender);
    for (const TxRef& tx : m_mempool->by_sender(sender))
      if (tx->nonce() == next) ++next;
    return next;
  });
}

TxRelayStats Node::relay_stats() {
  return m_host->run([&] { return m_relay->stats(); });
}

// One relay view per peer, read on the network thread in one go.
template <class T>
std::vector<std::optional<T>> Node::relay_per_peer(const std::vector<PeerId>& peers,
                                                   std::optional<T> (TxRelay::*view)(PeerId)
                                                       const) {
  return m_host->run([&] {
    std::vector<std::optional<T>> out;
    out.reserve(peers.size());
    for (const PeerId p : peers)
      out.push_back((m_relay->*view)(p));
    return out;
  });
}

std::vector<std::optional<TxRelay::TreeLink>> Node::tree_links(const std::vector<PeerId>& peers) {
  return relay_per_peer(peers, &TxRelay::tree_link);
}

std::vector<std::optional<TxRelay::ReconLink>> Node::recon_links(const std::vector<PeerId>& peers) {
  return relay_per_peer(peers, &TxRelay::recon_link);
}

std::vector<std::optional<TxRelay::PeerFlow>> Node::peer_flows(const std::vector<PeerId>& peers) {
  return relay_per_peer(peers, &TxRelay::peer_flow);
}

NodeTxCounters Node::tx_counters() {
  return m_counter->counters();
}

NodeBlockCounters Node::block_counters() {
  return m_block_counter->counters();
}

BlockRelayStats Node::block_stats() {
  return m_host->run([&] { return m_block_relay->stats(); });
}

ChainInfo Node::chain_info() {
  return m_host->run([&] { return m_chain->chain_info(); });
}

Result<BlockRef, std::string> Node::generate_block() {
  if (!is_producer()) return fail(std::string(kNotAProducerError));
  return m_host->run([&] { return m_block_relay->generate(wall_now()); });
}

AcceptResult Node::submit_block(const BlockRef& block) {
  return m_host->run([&] { return m_block_relay->submit_block(block, wall_now()); });
}

namespace {

// The relay's counters as /metrics groups them (tree, reconciliation, flow control).
void relay_metrics(const TxRelayStats& r, const NetStats& net, NodeMetricsSnapshot& s) {
  s.tree = {.peers = r.tree_peers,
            .pushed = r.tree_pushed,
            .prunes_sent = r.prunes_sent,
            .prunes_received = r.prunes_received,
            .grafts_sent = r.grafts_sent,
            .grafts_received = r.grafts_received,
            .swaps = r.tree_swaps,
            .withheld = r.withheld};
  s.recon = {.peers = r.recon_peers,
             .rounds = r.recon_rounds,
             .requests_sent = r.recon_requests_sent,
             .requests_received = r.recon_requests_received,
             .sketch_bytes_sent = r.recon_sketch_bytes_sent,
             .sketch_bytes_received = r.recon_sketch_bytes_received,
             .differences = r.recon_differences,
             .failures = r.recon_failures,
             .bisections = r.recon_bisections,
             .exchanges = r.recon_exchanges,
             .refused = r.recon_refused,
             .timeouts = r.recon_timeouts,
             .announced = r.recon_announced};
  s.flow = {.reads_held = net.reads_held,
            .read_holds = net.read_holds,
            .verify_backlog_peak = r.verifying_peak,
            .deferred_now = r.deferred_now,
            .deferred = r.deferred,
            .deferred_dropped = r.deferred_dropped,
            .expedited = r.expedited};
}

}  // namespace

std::string Node::metrics() {
  NodeMetricsSnapshot s;
  struct Inside {
    TxRelayStats relay;
    MempoolInfo mempool;
    BlockRelayStats blocks;
    uint64_t height;
  };
  Inside in = m_host->run([&] {
    return Inside{m_relay->stats(), m_mempool->info(wall_now()), m_block_relay->stats(),
                  m_chain->height()};
  });
  for (const PeerStats& p : m_host->peer_stats())
    (p.inbound ? s.peers_inbound : s.peers_outbound) += 1;
  const TrafficCounters traffic = m_host->total_traffic();
  for (size_t t = 0; t < kMsgTypeCount; ++t) {
    NodeMetricsSnapshot::MessageStats m;
    m.type = command_name(static_cast<MsgType>(t));
    m.received = traffic.msgs_in[t];
    m.sent = traffic.msgs_out[t];
    m.received_bytes = traffic.bytes_in[t];
    m.sent_bytes = traffic.bytes_out[t];
    s.messages.push_back(m);
  }
  NodeTxCounters counters = m_counter->counters();
  s.tx_accepted = counters.accepted;
  s.tx_rejected = counters.rejected;
  s.mempool_transactions = in.mempool.count;
  s.mempool_bytes = in.mempool.bytes;
  s.mempool_store_writes = in.mempool.store_writes;
  s.mempool_store_inline_writes = in.mempool.store_inline_writes;
  s.mempool_store_batches = in.mempool.store_batches;
  s.mempool_unwritten = in.relay.unwritten;
  s.seen_set_entries = in.relay.seen_size;
  const NetStats net = m_host->net_stats();
  s.verify_queue_depth = net.verify_queue_depth;
  s.stalls = {.frame_deadline = net.stalls_frame_deadline,
              .memory_cap = net.stalls_memory_cap,
              .discouragements = net.discouragements,
              .refused_discouraged = net.refused_discouraged,
              .partial_frame_bytes = net.partial_frame_bytes,
              .partial_frame_bytes_peak = net.partial_frame_bytes_peak,
              .partial_frame_cap = net.partial_frame_cap};
  s.inbound_evicted = m_host->with_peer_manager([](PeerManager& pm) { return pm.evictions(); });
  s.inbound_all_protected = net.refused_inbound_cap;
  s.relay_latency_peer = m_counter->latency().snapshot(RelaySource::kPeer);
  s.relay_latency_rpc = m_counter->latency().snapshot(RelaySource::kRpc);
  s.relay_mode = relay_mode_name(m_cfg);
  relay_metrics(in.relay, net, s);
  s.chain_height = in.height;
  s.blocks_connected = in.blocks.connected;
  s.block_reorgs = in.blocks.reorgs;
  s.block_reconstructions = in.blocks.reconstructed;
  s.block_txs_requested = in.blocks.txs_requested;
  s.block_collisions = in.blocks.collisions;
  s.blocks_produced = in.blocks.produced;
  s.blocks_rejected = m_block_counter->counters().rejected;
  s.version = kHearsayVersion;
  s.network = m_cfg.network.name;
  s.compiler = compiler_version();
  s.process = read_process_metrics();
  return render_node_metrics(s);
}

}  // namespace hearsay
