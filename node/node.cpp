#include "node/node.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "crypto/hex.h"
#include "crypto/keyfile.h"
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

// Relay latency buckets, seconds: 50 µs .. 10 s.
static const std::vector<double> kLatencyBuckets = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                    0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                                    0.5,     1,      2.5,     5,      10};

// Counts accepted / rejected-by-reason for metrics, then forwards to the trace (if any).
class Node::Counter : public RelayObserver {
 public:
  explicit Counter(RelayObserver* next) : m_next(next), m_latency(kLatencyBuckets) {}
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
  NodeTxCounters counters() const {
    std::lock_guard lock(m_mu);
    NodeTxCounters c;
    c.accepted = m_accepted;
    c.rejected.assign(m_rejected.begin(), m_rejected.end());
    return c;
  }
  Histogram& latency() { return m_latency; }

 private:
  RelayObserver* m_next;
  mutable std::mutex m_mu;
  uint64_t m_accepted = 0;
  std::map<std::string, uint64_t> m_rejected;
  Histogram m_latency;
};

class DatadirLockHolder {
 public:
  explicit DatadirLockHolder(DatadirLock lock) : m_lock(std::move(lock)) {}

 private:
  DatadirLock m_lock;
};

Result<NodeConfig, std::string> node_config_from_options(const NodeOptions& o) {
  NodeConfig c;
  c.datadir = o.datadir;
  if (o.network != "devnet")
    return fail("--network: '" + o.network +
                "' is not available: only the built-in 'devnet' exists until network files "
                "are supported");
  c.network_magic = kDevnetMagic;
  c.network_name = o.network;
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
  c.host.max_inbound = o.max_inbound;
  c.host.max_inbound_per_ip = o.max_inbound_per_ip;
  c.host.link = LinkEmulation{o.link_delay_ms, o.link_jitter_ms, o.link_bandwidth_kbps};
  c.host.verify_threads = o.verify_threads;
  c.host.keylog_path = keylog_path_from_env();
  c.host.peer_manager.max_outbound = o.max_outbound;
  c.host.peer_manager.ban_time = std::chrono::seconds(o.ban_time_s);
  c.relay.inv_interval = std::chrono::milliseconds(o.inv_interval_ms);
  c.relay.push_peers = o.push_peers;
  c.mempool.max_bytes = o.mempool_max_mb * 1'000'000;
  c.mempool.expiry = std::chrono::hours(o.mempool_expiry_hours);
  c.mempool_sync = o.mempool_sync;
  c.mempool_reset = o.mempool_reset;
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

Node::Node(NodeConfig cfg, KeyPair identity) : m_cfg(std::move(cfg)), m_identity(identity) {}

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

  std::unique_ptr<Node> n(new Node(std::move(cfg), *key));
  n->m_key_created = created;
  n->m_lock = std::make_unique<DatadirLockHolder>(std::move(*lock));
  NodeConfig& c = n->m_cfg;

  const Time now =
      std::chrono::duration_cast<Time>(std::chrono::system_clock::now().time_since_epoch());
  StoreOptions so;
  so.path = (fs::path(c.datadir) / "mempool").string();
  so.sync = c.mempool_sync;
  so.reset = c.mempool_reset;
  auto store = open_leveldb_store(so);
  if (!store) return fail(store.error().message);
  c.mempool.network = c.network_magic;
  randombytes_buf(c.mempool.hash_key.data(), c.mempool.hash_key.size());
  auto mempool = Mempool::open(c.mempool, n->m_chain, std::move(*store), now);
  if (!mempool) return fail(mempool.error().message);
  n->m_mempool = std::move(*mempool);
  n->m_reload = n->m_mempool->reload_report();
  n->m_pool = std::make_unique<MempoolTxPool>(*n->m_mempool);

  if (!c.trace_path.empty()) {
    auto trace = TraceWriter::open(c.trace_path, n->identity());
    if (!trace) return fail("--trace: " + trace.error());
    n->m_trace = std::move(*trace);
  }
  n->m_counter = std::make_unique<Counter>(n->m_trace.get());

  HostConfig hc = c.host;
  hc.peer_manager.network_magic = c.network_magic;
  if (c.relay.push_peers > 0) hc.peer_manager.services |= kServicePushTx;
  if (c.relay.rng_seed == 0) randombytes_buf(&c.relay.rng_seed, sizeof c.relay.rng_seed);
  Node* self = n.get();
  hc.make_relay = [self](PeerManager& pm) {
    auto relay =
        std::make_unique<TxRelay>(pm, *self->m_pool, self->m_cfg.relay, self->m_counter.get());
    self->m_relay = relay.get();
    return std::unique_ptr<RelayHandler>(std::move(relay));
  };
  n->m_host = std::make_unique<Host>(n->m_identity, std::move(hc));
  if (Status s = n->m_host->start(); !s) return fail(s.message());

  if (c.rpc_host) {
    RpcServerConfig rc;
    rc.host = *c.rpc_host;
    rc.port = c.rpc_port;
    rc.datadir = c.datadir;
    rc.user = c.rpc_user;
    rc.password = c.rpc_password;
    rc.metrics_public = c.metrics_public;
    rc.metrics = [self] { return self->metrics(); };
    rc.handler_threads = c.rpc_threads;
    n->m_rpc = std::make_unique<RpcServer>(rc);
    register_rpc_methods(
        *n->m_rpc, *self, c.on_stop_request ? c.on_stop_request : [] {});
    if (Status s = n->m_rpc->start(); !s) {
      n->stop();
      return fail(s.message());
    }
  }
  return n;
}

void Node::stop() {
  if (m_stopped.exchange(true)) return;
  if (m_rpc) m_rpc->stop();
  if (m_host) m_host->stop();
  m_relay = nullptr;
  m_host.reset();  // the relay goes with it, before the pool it uses
  m_counter.reset();
  m_trace.reset();  // flushes
  m_pool.reset();
  m_mempool.reset();
  m_lock.reset();
}

std::optional<uint16_t> Node::rpc_port() const {
  if (!m_rpc) return std::nullopt;
  return m_rpc->port();
}

static Time wall_now() {
  return std::chrono::duration_cast<Time>(std::chrono::system_clock::now().time_since_epoch());
}

PoolResult Node::submit(const TxRef& tx) {
  if (!tx->verify_signature()) return {PoolAnswer::kRejected, "bad-signature"};
  return submit_unverified_ForTest(tx);
}

PoolResult Node::submit_unverified_ForTest(const TxRef& tx) {
  return m_host->run([&] { return m_relay->submit(tx, true, wall_now()); });
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
    uint64_t next = m_chain.next_nonce(sender);
    for (const TxRef& tx : m_mempool->by_sender(sender))
      if (tx->nonce() == next) ++next;
    return next;
  });
}

TxRelayStats Node::relay_stats() {
  return m_host->run([&] { return m_relay->stats(); });
}

NodeTxCounters Node::tx_counters() {
  return m_counter->counters();
}

std::string Node::metrics() {
  NodeMetricsSnapshot s;
  struct Inside {
    TxRelayStats relay;
    MempoolInfo mempool;
    std::vector<int64_t> latency;
  };
  Inside in = m_host->run([&] {
    return Inside{m_relay->stats(), m_mempool->info(wall_now()), m_relay->take_latency_samples()};
  });
  for (int64_t us : in.latency)
    m_counter->latency().observe(static_cast<double>(us) / 1e6);
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
  s.seen_set_entries = in.relay.seen_size;
  s.verify_queue_depth = m_host->net_stats().verify_queue_depth;
  s.relay_latency = m_counter->latency().snapshot();
  return render_node_metrics(s);
}

}  // namespace hearsay
