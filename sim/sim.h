// Simulation: many hearsay nodes in one process, one thread and virtual time.
//
// Each node is the real protocol stack, built as hearsayd builds it (node/node.cpp): a
// PeerManager with a TxRelay over a Mempool (on a MemoryStore) and a BlockRelay over a ChainState
// (in memory). The simulator plays net/ for all of them, like a discrete-event network:
//  * One event queue ordered by (virtual time, sequence number): a run is a pure function of its
//    configuration and seed.
//  * A SendAction's frame leaves through the sender's upload queue (serialisation at its upload
//    bandwidth, "busy until"), crosses the link (the model's one-way latency), and enters through
//    the receiver's download queue, in the order frames arrive there; then the receiver decodes
//    it and handles the message. TCP's order per link holds: latency is fixed per link and the
//    queues are FIFO.
//  * Bytes are counted as a node counts them (whole frames per message type) and as TLS puts
//    them on the wire: the frames one event sends to one peer leave in one gathered write, in
//    records of at most 16 KiB, each costing kTlsRecordOverhead bytes (header, content type,
//    AEAD tag). A frame's serialisation time counts its own records.
//  * A dial completes after tls_round_trips round trips (TCP, then TLS 1.3 with client
//    certificates); then both ends get on_connected and the version handshake runs over the link.
//  * VerifyActions: each signature is verified for real once per distinct transaction (a cache by
//    id; the id covers the signature) and the node is charged `verify_cost` of CPU per
//    transaction on the first free of its `cores`: the verdict arrives when that core finishes.
//  * Every node ticks every tick_interval (hearsayd's 100 ms), at a phase of its own.
// Left out (see the README): CPU beyond signature checks, kernel buffers and TCP's congestion
// control, TLS's CPU, address gossip (nodes do not advertise a listening address).
//
// Scenario pieces — injections, leaving and rejoining nodes, partitions and their healing,
// forgers, block production — are scheduled before or during run().
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "crypto/ed25519.h"
#include "p2p/messages.h"
#include "p2p/transaction.h"
#include "p2p/tx_relay.h"
#include "p2p/types.h"
#include "sim/model.h"
#include "sim/topology.h"

namespace hearsay::sim {

// TLS 1.3 record: 5-byte header, 1-byte inner content type, 16-byte AEAD tag.
inline constexpr size_t kTlsRecordOverhead = 22;
inline constexpr size_t kTlsRecordPayload = 16 * 1024;
// A frame's bytes on the wire once TLS carries it.
inline size_t tls_wire_bytes(size_t frame) {
  return frame + kTlsRecordOverhead * ((frame + kTlsRecordPayload - 1) / kTlsRecordPayload);
}

// The relay options hearsayd takes (node/options.cpp), with its defaults.
struct RelaySettings {
  std::string mode = "pull";  // pull | push | tree
  size_t push_peers = 0;      // push mode: K > 0
  Duration graft_timeout = kGraftTimeout;
  Duration lazy_interval = kLazyInterval;
  bool short_ids = true;
  bool reconcile = true;
  Duration reconcile_interval = kReconcileInterval;
  size_t flood_peers = 0;
  Duration inv_interval{0};
};

struct SimConfig {
  RelaySettings relay;
  uint64_t seed = 1;
  Duration verify_cost = std::chrono::microseconds(50);  // CPU per signature check
  unsigned cores = 1;                                    // verification workers per node
  Duration tick_interval = std::chrono::milliseconds(100);
  unsigned tls_round_trips = 2;  // TCP + TLS 1.3 before the first frame
  // Every node has every other on its --allow-peers list, as in a testnet run: announcements
  // from inbound peers are then preferred like an outbound peer's. false: as on an open network,
  // an inbound announcer's transaction is requested only after the non-preferred delay.
  bool trusted = true;
  size_t tx_size = 250;  // bytes of every transaction made (hearsay-cli inject --size)
  // Each node's seen-set capacity and each peer's known set. hearsayd's (2,000,000 and 16,384
  // ids) take 21 MB a node and 175 KB a peer up front: 10,000 nodes would need 210 GB. The
  // scenario sizes both to four times the transactions the run makes: with their four
  // generations, neither ever forgets an id early, as hearsayd's never do in such a run, so relay
  // behaves alike.
  size_t seen_max_entries = kDefaultSeenMaxEntries;
  size_t known_per_peer = kKnownPerPeer;
  // The node that holds the network's producer key (blocks are made by make_block_at).
  uint32_t producer = 0;
};

// Hashes a 32-byte key, id or hash (uniformly distributed already) for the lookup tables.
struct KeyHash {
  size_t operator()(const std::array<uint8_t, 32>& k) const {
    size_t h;
    std::memcpy(&h, k.data(), sizeof h);
    return h;
  }
};

// A node's relay counters by the names of getinfo's "relay" object (for_each_relay_stat).
using RelayCounters = std::map<std::string, uint64_t>;

// What one node sent, as its getpeerinfo / getinfo counters show it.
struct NodeCounters {
  std::array<uint64_t, kMsgTypeCount> sent{};        // messages per type
  std::array<uint64_t, kMsgTypeCount> sent_bytes{};  // their whole frames
  uint64_t bytes_sent = 0;                           // all frames
  uint64_t tls_bytes_sent = 0;                       // frames in TLS records (see above)
  RelayCounters relay;  // summed over the node's lives when it left and rejoined
};

// A transaction the scenario made, and when each node met it (µs of virtual time; -1: never).
struct TxRecord {
  TxRef tx;
  uint32_t origin = 0;
  Time injected{};
  bool measured = false;
  bool forged = false;
  std::vector<int64_t> first_seen;  // per node (honest transactions only)
  std::vector<int32_t> from;        // the peer it first came from; -1: local
  std::vector<int64_t> accepted;
  std::vector<uint8_t> held;  // accepted, or confirmed by a block the node connected
};

// A block and when each node first saw and connected it.
struct BlockRecord {
  BlockId id{};
  uint64_t height = 0;
  uint32_t producer = 0;
  size_t txs = 0, size = 0;
  Time made{};
  std::vector<TxId> tx_ids;
  std::vector<int64_t> first_seen;
  std::vector<int32_t> from;
  std::vector<int64_t> connected;
};

class Simulation {
 public:
  Simulation(SimConfig cfg, Topology topology, NetworkModel model);
  ~Simulation();
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  // --- the scenario -------------------------------------------------------------------------
  // Brings every node up and dials every link of the topology now.
  void start();
  // A new transaction made and submitted at `origin` at time `at` (a node that is down then:
  // the next node up after it). A forger's are forged. Returns its index in txs().
  size_t inject_at(Time at, uint32_t origin, bool measured);
  // The node goes down at `at` (its connections close) / comes back at `at` with a fresh stack
  // (empty mempool, genesis chain) and redials its links to nodes that are up. Under the bitcoin
  // topology it dials kBitcoinOutbound fresh random peers instead, and each node it had accepted
  // a link from replaces that outbound link with a fresh one.
  void leave_at(Time at, uint32_t node);
  void join_at(Time at, uint32_t node);
  // From `at`, links between nodes whose `side` differs are cut and not redialled; heal_at
  // redials them.
  void partition_at(Time at, std::vector<uint8_t> side);
  void heal_at(Time at);
  // The node forges: it signs its own transactions with a corrupted signature and reports every
  // signature it checks as valid. Before start().
  void set_forger(uint32_t node);
  // The producer makes a block of its mempool at `at` (as RPC generateblock does), if it is up.
  void make_block_at(Time at);

  // Runs events until virtual time `until` or until `stop()` holds (asked whenever virtual time
  // passes a millisecond boundary); `progress` is called every 4,096 events or so. Returns
  // whether `stop` held.
  bool run(Time until, const std::function<bool()>& stop = {},
           const std::function<void()>& progress = {});

  // --- what happened ------------------------------------------------------------------------
  Time now() const { return m_now; }
  static Time start_time();
  uint64_t events() const { return m_events; }
  size_t size() const;
  bool up(uint32_t node) const;
  // Open connections the node dialled.
  size_t outbound(uint32_t node) const;
  bool forger(uint32_t node) const;
  // Never went down (churn) and not a forger: the nodes delivery is judged on.
  bool steady(uint32_t node) const;
  const PublicKey& identity(uint32_t node) const;
  const std::vector<TxRecord>& txs() const { return m_txs; }
  const std::vector<BlockRecord>& blocks() const { return m_blocks; }
  // Whether every steady node holds every honest transaction: accepted it, or connected a block
  // that confirms it.
  bool all_delivered() const;
  // Steady nodes that do not hold honest transaction i.
  size_t missing(size_t i) const;
  NodeCounters counters(uint32_t node) const;
  // (banning node, banned node) for each ban, in order.
  const std::vector<std::pair<uint32_t, uint32_t>>& bans() const { return m_bans; }
  // Forged transactions an honest node accepted (must stay 0).
  uint64_t forgeries_accepted() const { return m_forgeries_accepted; }
  uint64_t leaves() const { return m_leaves; }
  uint64_t joins() const { return m_joins; }
  // Whether node holds transaction `id` in its mempool now.
  bool holds(uint32_t node, const TxId& id) const;
  const Topology& topology() const { return m_topology; }
  const NetworkModel& model() const { return m_model; }
  const SimConfig& config() const { return m_cfg; }

  struct Node;  // sim.cpp
  struct Event;

 private:
  friend class Recorder;
  void schedule(Event e);
  void dispatch(const Event& e);
  void bring_up(uint32_t node);
  void take_down(uint32_t node);
  void dial(uint32_t a, uint32_t b, Time at);
  void on_connect(const Event& e);
  void on_arrive(const Event& e);
  void on_deliver(const Event& e);
  std::optional<Message> take_message(const Event& e, DecodeError& err,
                                      std::optional<MsgType>& type);
  void intern(Message& m);
  void on_close(const Event& e);
  void on_tick(const Event& e);
  void on_verified(const Event& e);
  void on_inject(const Event& e);
  void on_block(const Event& e);
  void mark_held(uint32_t node, uint32_t tx);
  void drain(uint32_t node);
  void send(uint32_t node, const SendAction& s);
  void verify(uint32_t node, const VerifyAction& v);
  void close(uint32_t node, PeerId peer);
  void on_membership(const Event& e);
  void on_partition(const Event& e);
  bool linkable(uint32_t a, uint32_t b) const;
  std::vector<uint32_t> fresh_outbound(uint32_t node, size_t count);
  TxRef make_tx(uint32_t origin, bool forged);
  void record_seen(uint32_t node, const TxId& id, const TxSource& from);
  void record_accepted(uint32_t node, const TxId& id);
  void record_block(uint32_t node, const BlockId& id, uint64_t height, const TxSource* from,
                    bool connected);
  int32_t node_of(const PublicKey& key) const;

  SimConfig m_cfg;
  Topology m_topology;
  NetworkModel m_model;
  std::vector<std::unique_ptr<Node>> m_nodes;
  std::vector<Event> m_queue;  // a binary heap (std::push_heap with a greater-than)
  uint64_t m_seq = 0;
  uint64_t m_events = 0;
  Time m_now;
  std::unordered_map<PublicKey, uint32_t, KeyHash> m_by_identity;
  std::vector<TxRecord> m_txs;
  std::unordered_map<TxId, uint32_t, KeyHash> m_tx_index;
  std::unordered_map<TxId, uint8_t, KeyHash> m_verdicts;  // the signature cache
  // Frames on the wire, decoded at their first delivery (see take_message).
  struct Decoded {
    SharedBytes frame;  // keeps the key's address from being reused while in flight
    uint32_t pending = 0;
    bool done = false;
    std::optional<Message> msg;
    DecodeError error = DecodeError::kNone;
    std::optional<MsgType> type;
  };
  std::unordered_map<const std::vector<uint8_t>*, Decoded> m_decoded;
  std::unordered_map<TxId, TxRef, KeyHash> m_canonical;  // one object per transaction
  std::vector<BlockRecord> m_blocks;
  std::unordered_map<BlockId, uint32_t, KeyHash> m_block_index;
  std::vector<std::pair<uint32_t, uint32_t>> m_bans;
  std::vector<uint8_t> m_side;                     // partition sides (empty: none)
  std::vector<std::vector<uint8_t>> m_partitions;  // by the index in a partition event
  std::vector<uint32_t> m_accepted_steady;         // per transaction
  size_t m_steady = 0;
  uint64_t m_forgeries_accepted = 0;
  uint64_t m_leaves = 0, m_joins = 0;
  uint64_t m_tx_counter = 0;
};

// The median time of one real Ed25519 verification on this machine (hearsay-sim's default
// --verify-us), measured over `samples` checks.
Duration calibrate_verify_cost(size_t samples = 400);

}  // namespace hearsay::sim
