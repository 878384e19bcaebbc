// Node: one running hearsay node — data directory, identity, mempool, network, relay, trace and
// RPC wired together. hearsayd is a Node plus signal handling; the integration tests run many
// Nodes in one process.
//
// Start-up order (each step's failure is a one-line message naming the path or option and the
// fix; nothing started so far is left running):
//   data directory (created 0700) → lock (<datadir>/.lock: a second daemon on the same directory
//   fails) → identity key (<datadir>/identity.key, created on first start) → chain
//   (<datadir>/chain, LevelDB, reloaded: the tip is known before any peer connects) → mempool
//   (<datadir>/mempool, LevelDB, reloaded against the chain: what it confirmed is dropped) →
//   trace file → network (listener, dialler, transaction relay, block relay, verify workers) →
//   RPC server (cookie written last, so a client that finds it finds a node that answers).
// Stop order (stop(), idempotent, also the destructor): RPC (no new work) → network (stop
// accepting, flush and close peers; the relay thread finishes what it runs: every admission
// and every accepted block already written to LevelDB stays) → trace flushed → mempool closed →
// chain closed → lock released.
//
// Blocks: the chain (ChainState) is the mempool's ChainView; the block relay (BlockRelay)
// validates, stores, relays and — with a producer key — produces blocks, and applies each tip
// change to the mempool. A producer key must be one the network authorises (checked when the
// config is built from options, and again at start).
//
// Threading: the relay logic, the chain, the mempool and the trace observer live on the network
// thread. Every public method is thread-safe: it runs its work there (Host::run) and waits.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chainstub/block_relay.h"
#include "chainstub/chain.h"
#include "chainstub/params.h"
#include "crypto/ed25519.h"
#include "mempool/mempool.h"
#include "net/host.h"
#include "node/options.h"
#include "p2p/tx_relay.h"

namespace hearsay::test {
class NodeTestAccess;
}

namespace hearsay {

class RpcServer;
class MempoolTxPool;

struct NodeConfig {
  std::string datadir;
  // The network: its magic goes to the handshake, the mempool and the chain; its max_tx_size
  // caps the mempool's. (node_config_from_options also takes its min_relay_fee_rate as the
  // mempool's unless --min-fee-rate is given.)
  NetworkParams network = devnet_params();
  HostConfig host;  // listen, connect, allow_list, limits, link, verify_threads, peer_manager
  TxRelayConfig relay;
  bool short_ids = true;    // set kServiceShortIds: short-id announcements with peers that do too
  bool tree_relay = false;  // tree mode: set kServiceTree, Plumtree relay with peers that do too
  // Set reconciliation with peers that do it too (kServiceRecon); only with short_ids, which it
  // compares (reconciles(): the bit is set only then).
  bool reconcile = true;
  BlockRelayConfig block_relay;  // producer key, block interval, high-bandwidth peers
  MempoolOptions mempool;        // network is set from network.magic
  bool mempool_sync = false;     // also fsyncs every chain write
  bool mempool_reset = false;
  bool mempool_repair = false;  // salvage a damaged store (LevelDB repair) before opening it
  std::string trace_path;       // empty: no trace
  // RPC: nullopt runs no RPC server (tests).
  std::optional<std::string> rpc_host;
  uint16_t rpc_port = kDefaultRpcPort;
  std::string rpc_user, rpc_password;
  bool metrics_public = false;
  unsigned rpc_threads = 4;
  std::function<void()> on_stop_request;  // what the `stop` RPC calls
};

// Builds a NodeConfig from parsed options (parses endpoints, loads the allow-list file, checks
// cross-option rules). Errors name the option.
Result<NodeConfig, std::string> node_config_from_options(const NodeOptions& o);

// The relay mode `c` runs (--relay-mode): "tree" when tree_relay, else "push" when
// relay.push_peers > 0, else "pull".
const char* relay_mode_name(const NodeConfig& c);
// Whether `c` reconciles: reconcile and short_ids (node_config_from_options refuses the one
// without the other; a NodeConfig built otherwise just does not reconcile).
bool reconciles(const NodeConfig& c);

// OK when `network` authorises `key` to produce blocks; otherwise an error naming `path` (the
// key file), the key, the network and the fix.
Status check_producer_key(const NetworkParams& network, const KeyPair& key,
                          const std::string& path);

// Relay counters the node keeps beside TxRelayStats (by reason, for metrics and getinfo).
struct NodeTxCounters {
  uint64_t accepted = 0;
  std::vector<std::pair<std::string, uint64_t>> rejected;  // reason → count
};
// Block counters the node keeps beside BlockRelayStats (from the BlockObserver events).
struct NodeBlockCounters {
  uint64_t connected = 0;
  uint64_t disconnected = 0;
  uint64_t reconstructed = 0;
  std::vector<std::pair<std::string, uint64_t>> rejected;  // reason → count
};

// The error generateblock answers on a node started without a producer key.
inline constexpr const char* kNotAProducerError =
    "not a block producer: start hearsayd with --producer-key FILE";

class Node {
 public:
  static Result<std::unique_ptr<Node>, std::string> start(NodeConfig cfg);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  void stop();

  const PublicKey& identity() const { return m_identity.public_key(); }
  std::optional<NetAddress> listen_address() const { return m_host->listen_address(); }
  std::optional<uint16_t> rpc_port() const;
  const NodeConfig& config() const { return m_cfg; }
  bool key_created() const { return m_key_created; }
  const ReloadReport& reload_report() const { return m_reload; }

  // Submits a local transaction: the signature is verified on the calling thread, then the
  // relay admits (durably) and announces it. Thread-safe.
  PoolResult submit(const TxRef& tx);

  // --- thread-safe views ---
  TxRef get_transaction(const TxId& id);
  bool has_transaction(const TxId& id);
  size_t mempool_size();
  MempoolInfo mempool_info();
  std::vector<TxId> mempool_ids();
  uint64_t next_nonce(const PublicKey& sender);  // confirmed next nonce, then held ones
  TxRelayStats relay_stats();
  // Each peer's tree link as the relay sees it (TxRelay::tree_link), in the order given; nullopt
  // for a peer the relay does not know (not ready yet, or gone).
  std::vector<std::optional<TxRelay::TreeLink>> tree_links(const std::vector<PeerId>& peers);
  // The same for reconciliation (TxRelay::recon_link).
  std::vector<std::optional<TxRelay::ReconLink>> recon_links(const std::vector<PeerId>& peers);
  // And for flow control (TxRelay::peer_flow): request window, measured link, deferred.
  std::vector<std::optional<TxRelay::PeerFlow>> peer_flows(const std::vector<PeerId>& peers);
  NodeTxCounters tx_counters();
  NodeBlockCounters block_counters();
  BlockRelayStats block_stats();
  ChainInfo chain_info();
  bool is_producer() const { return m_cfg.block_relay.producer_key.has_value(); }
  std::vector<PeerStats> peer_stats() { return m_host->peer_stats(); }
  Host& host() { return *m_host; }
  // Prometheus text for /metrics.
  std::string metrics();

  // Runs f(TxRelay&, Mempool&) on the network thread.
  template <class F>
  auto with_relay(F f) {
    return m_host->run([&] { return f(*m_relay, *m_mempool); });
  }
  // Runs f(BlockRelay&, ChainState&, Mempool&) on the network thread.
  template <class F>
  auto with_chain(F f) {
    return m_host->run([&] { return f(*m_block_relay, *m_chain, *m_mempool); });
  }

  // --- blocks (thread-safe) ---
  // Producer only: a block on the tip from the mempool, accepted and announced. Without a
  // producer key the error is kNotAProducerError.
  Result<BlockRef, std::string> generate_block();
  // A complete block from a local source, validated like a peer's, relayed when accepted.
  AcceptResult submit_block(const BlockRef& block);

 private:
  friend class test::NodeTestAccess;
  class Counter;
  class BlockCounter;
  Node(NodeConfig cfg, const KeyPair& identity);
  // The steps of start(), in order; each sets up what the next one uses.
  template <class T>
  std::vector<std::optional<T>> relay_per_peer(const std::vector<PeerId>& peers,
                                               std::optional<T> (TxRelay::*view)(PeerId) const);
  Status open_chain();
  Status open_mempool(Time now);   // reloaded against the chain
  Status start_network();          // the trace, the counters, the host and its relays
  void pipeline_mempool_writes();  // mempool writes on their own thread (mempool/store_writer.h)
  Status start_rpc();              // when the config has an RPC address

  NodeConfig m_cfg;
  KeyPair m_identity;
  bool m_key_created = false;
  ReloadReport m_reload;
  std::unique_ptr<class DatadirLockHolder> m_lock;
  std::unique_ptr<ChainState> m_chain;  // the mempool's ChainView: outlives it
  std::unique_ptr<Mempool> m_mempool;
  std::unique_ptr<MempoolTxPool> m_pool;
  std::unique_ptr<class TraceWriter> m_trace;
  std::unique_ptr<Counter> m_counter;             // counts, then forwards to m_trace
  std::unique_ptr<BlockCounter> m_block_counter;  // the same for block events
  TxRelay* m_relay = nullptr;                     // owned by m_host
  BlockRelay* m_block_relay = nullptr;            // owned by m_host
  std::unique_ptr<Host> m_host;
  std::unique_ptr<RpcServer> m_rpc;
  std::atomic<bool> m_stopped{false};
};

}  // namespace hearsay
