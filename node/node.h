// Node: one running hearsay node — data directory, identity, mempool, network, relay, trace and
// RPC wired together. hearsayd is a Node plus signal handling; the integration tests run many
// Nodes in one process.
//
// Start-up order (each step's failure is a one-line message naming the path or option and the
// fix; nothing started so far is left running):
//   data directory (created 0700) → lock (<datadir>/.lock: a second daemon on the same directory
//   fails) → identity key (<datadir>/identity.key, created on first start) → mempool
//   (<datadir>/mempool, LevelDB, reloaded) → trace file → network (listener, dialler, relay,
//   verify workers) → RPC server (cookie written last, so a client that finds it finds a node
//   that answers).
// Stop order (stop(), idempotent, also the destructor): RPC (no new work) → network (stop
// accepting, flush and close peers; the relay thread finishes what it runs: every admission
// already written to LevelDB stays) → trace flushed → mempool closed → lock released.
//
// Threading: the relay logic, the mempool and the trace observer live on the network thread.
// Every public method is thread-safe: it runs its work there (Host::run) and waits.
//
// Before issue 8 there is no chain: the mempool sees height 0 and no confirmed nonces
// (NoChainView); chainstub replaces it.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/ed25519.h"
#include "mempool/mempool.h"
#include "net/host.h"
#include "node/options.h"
#include "p2p/tx_relay.h"

namespace hearsay {

class RpcServer;
class MempoolTxPool;

struct NodeConfig {
  std::string datadir;
  uint32_t network_magic = kDevnetMagic;
  std::string network_name = "devnet";
  HostConfig host;  // listen, connect, allow_list, limits, link, verify_threads, peer_manager
  TxRelayConfig relay;
  MempoolOptions mempool;  // network is set from network_magic
  bool mempool_sync = false;
  bool mempool_reset = false;
  std::string trace_path;  // empty: no trace
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

class NoChainView : public ChainView {
 public:
  uint64_t next_nonce(const PublicKey&) const override { return 0; }
  uint64_t height() const override { return 0; }
};

// Relay counters the node keeps beside TxRelayStats (by reason, for metrics and getinfo).
struct NodeTxCounters {
  uint64_t accepted = 0;
  std::vector<std::pair<std::string, uint64_t>> rejected;  // reason → count
};

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
  // The same, but the caller vouches for the signature (the integration test's lying node).
  PoolResult submit_unverified_ForTest(const TxRef& tx);

  // --- thread-safe views ---
  TxRef get_transaction(const TxId& id);
  bool has_transaction(const TxId& id);
  size_t mempool_size();
  MempoolInfo mempool_info();
  std::vector<TxId> mempool_ids();
  uint64_t next_nonce(const PublicKey& sender);  // confirmed next nonce, then held ones
  TxRelayStats relay_stats();
  NodeTxCounters tx_counters();
  std::vector<PeerStats> peer_stats() { return m_host->peer_stats(); }
  Host& host() { return *m_host; }
  // Prometheus text for /metrics.
  std::string metrics();

  // Runs f(TxRelay&, Mempool&) on the network thread.
  template <class F>
  auto with_relay(F f) {
    return m_host->run([&] { return f(*m_relay, *m_mempool); });
  }

 private:
  class Counter;
  Node(NodeConfig cfg, KeyPair identity);

  NodeConfig m_cfg;
  KeyPair m_identity;
  bool m_key_created = false;
  ReloadReport m_reload;
  std::unique_ptr<class DatadirLockHolder> m_lock;
  NoChainView m_chain;
  std::unique_ptr<Mempool> m_mempool;
  std::unique_ptr<MempoolTxPool> m_pool;
  std::unique_ptr<RelayObserver> m_trace;
  std::unique_ptr<Counter> m_counter;  // counts, then forwards to m_trace
  TxRelay* m_relay = nullptr;          // owned by m_host
  std::unique_ptr<Host> m_host;
  std::unique_ptr<RpcServer> m_rpc;
  std::atomic<bool> m_stopped{false};
};

}  // namespace hearsay
