#include "sim/sim.h"

#include <algorithm>
#include <cstring>

#include "chainstub/block_relay.h"
#include "chainstub/chain.h"
#include "chainstub/params.h"
#include "mempool/mempool.h"
#include "mempool/relay_pool.h"
#include "mempool/store.h"
#include "p2p/peer_manager.h"
#include "p2p/transport.h"
#include "sim/random.h"

namespace hearsay::sim {

namespace {

Seed seed_of(uint64_t run_seed, uint64_t tag, uint64_t index) {
  Seed s{};
  for (size_t i = 0; i < s.size(); i += 8) {
    const uint64_t v = splitmix64(run_seed ^ splitmix64(tag ^ splitmix64(index + i)));
    std::memcpy(s.data() + i, &v, 8);
  }
  return s;
}

// Seed tags: one stream per use.
enum : uint64_t { kTagIdentity = 1, kTagSender, kTagRng, kTagTick, kTagHashKey };

// Node i's address as its peers see it: 10.x.y.z, one IP per node, so bans by IP stay per node.
NetAddress address_of(uint32_t i) {
  NetAddress a;
  a.ip[10] = 0xff;
  a.ip[11] = 0xff;  // IPv4-mapped
  a.ip[12] = 10;
  a.ip[13] = static_cast<uint8_t>(i >> 16);
  a.ip[14] = static_cast<uint8_t>(i >> 8);
  a.ip[15] = static_cast<uint8_t>(i);
  a.port = 8333;
  return a;
}

// Adds a life's relay counters to `into` (gauges, such as seen_entries, add up too: a rejoined
// node's are its last life's plus the earlier ones').
void add_relay_stats(const TxRelayStats& s, RelayCounters& into) {
  for_each_relay_stat(s, [&](const char* name, uint64_t v) { into[name] += v; });
}

Duration serialisation(size_t bytes, uint64_t bps) {
  return Duration(
      static_cast<int64_t>(static_cast<double>(bytes) * 8e6 / static_cast<double>(bps)));
}

}  // namespace

enum class Ev : uint8_t {
  kConnect,
  kArrive,
  kDeliver,
  kClose,
  kTick,
  kVerified,
  kInject,
  kLeave,
  kJoin,
  kPartition,
  kHeal,
  kBlock
};

struct Simulation::Event {
  Time at{};
  uint64_t seq = 0;
  Ev kind = Ev::kTick;
  MsgType type = MsgType::kPing;  // a delivery's message type
  uint32_t node = 0;
  uint32_t other = 0;
  PeerId peer = 0;
  uint64_t arg = 0;  // generation, verdict, transaction or partition index
  SharedBytes frame{};
  TxRef tx{};
  bool operator>(const Event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
};

// Reports one node's relay events to the simulation.
class Recorder : public RelayObserver, public BlockObserver {
 public:
  Recorder(Simulation& sim, uint32_t node) : m_sim(sim), m_node(node) {}
  void tx_first_seen(const TxId& id, const TxSource& from, Time) override {
    m_sim.record_seen(m_node, id, from);
  }
  void tx_accepted(const TxId& id, Time) override { m_sim.record_accepted(m_node, id); }
  void tx_rejected(const TxId&, const char*, Time) override {}
  void inv_sent(const PublicKey&, size_t, Time) override {}
  void getdata_sent(const PublicKey&, size_t, Time) override {}
  void block_first_seen(const BlockId& id, uint64_t height, const TxSource& from, Time) override {
    m_sim.record_block(m_node, id, height, &from, false);
  }
  void block_reconstructed(const BlockId&, size_t, size_t, size_t, size_t, Time) override {}
  void block_connected(const BlockId& id, uint64_t height, size_t, size_t, Time) override {
    m_sim.record_block(m_node, id, height, nullptr, true);
  }
  void block_disconnected(const BlockId&, uint64_t, Time) override {}
  void block_rejected(const BlockId&, const char*, Time) override {}

 private:
  Simulation& m_sim;
  uint32_t m_node;
};

struct Simulation::Node {
  struct Conn {
    PeerId id;
    uint32_t remote;
    PeerId remote_id;
    bool outbound;  // this node dialled
  };
  KeyPair key;
  bool up = false, forger = false, steady = true;
  uint64_t generation = 0;  // bring_up counts: events of an earlier life are stale
  // Declared in construction order: destroyed relays first, the chain last.
  std::unique_ptr<Recorder> recorder;
  std::unique_ptr<ChainState> chain;
  std::unique_ptr<Mempool> mempool;
  std::unique_ptr<MempoolTxPool> pool;
  std::unique_ptr<PeerManager> pm;
  std::unique_ptr<TxRelay> relay;
  std::unique_ptr<BlockRelay> blocks;
  std::vector<Conn> conns;
  PeerId next_peer = 1;
  Time up_busy{}, down_busy{};
  std::vector<Time> cores;
  std::vector<PublicKey> banned;
  NodeCounters counters;
  std::vector<std::pair<PeerId, size_t>> burst;  // frame bytes per peer in this drain
  RelayCounters relay_before;  // the counters of earlier lives (a rejoined node keeps counting)

  explicit Node(const KeyPair& k) : key(k) {}
  const Conn* conn(PeerId id) const {
    for (const Conn& c : conns)
      if (c.id == id) return &c;
    return nullptr;
  }
  bool linked_to(uint32_t remote) const {
    return std::any_of(conns.begin(), conns.end(),
                       [&](const Conn& c) { return c.remote == remote; });
  }
  bool bans(const PublicKey& k) const {
    return std::find(banned.begin(), banned.end(), k) != banned.end();
  }
};

Simulation::Simulation(SimConfig cfg, Topology topology, NetworkModel model)
    : m_cfg(std::move(cfg)),
      m_topology(std::move(topology)),
      m_model(std::move(model)),
      m_now(start_time()) {
  crypto_init();
  m_nodes.reserve(m_topology.nodes);
  for (uint32_t i = 0; i < m_topology.nodes; ++i) {
    auto n = std::make_unique<Node>(KeyPair::from_seed(seed_of(m_cfg.seed, kTagIdentity, i)));
    m_by_identity.emplace(n->key.public_key(), i);
    m_nodes.push_back(std::move(n));
  }
  m_steady = m_nodes.size();
}

Simulation::~Simulation() = default;

Time Simulation::start_time() {
  return std::chrono::duration_cast<Time>(std::chrono::seconds(1'767'225'600));  // 2026-01-01
}

size_t Simulation::size() const {
  return m_nodes.size();
}
bool Simulation::up(uint32_t node) const {
  return m_nodes[node]->up;
}
size_t Simulation::outbound(uint32_t node) const {
  const auto& conns = m_nodes[node]->conns;
  return static_cast<size_t>(
      std::count_if(conns.begin(), conns.end(), [](const Node::Conn& c) { return c.outbound; }));
}
bool Simulation::forger(uint32_t node) const {
  return m_nodes[node]->forger;
}
bool Simulation::steady(uint32_t node) const {
  return m_nodes[node]->steady;
}
const PublicKey& Simulation::identity(uint32_t node) const {
  return m_nodes[node]->key.public_key();
}

int32_t Simulation::node_of(const PublicKey& key) const {
  auto it = m_by_identity.find(key);
  return it == m_by_identity.end() ? -1 : static_cast<int32_t>(it->second);
}

void Simulation::schedule(Event e) {
  e.seq = m_seq++;
  m_queue.push_back(std::move(e));
  std::push_heap(m_queue.begin(), m_queue.end(), std::greater<>());
}

// --- nodes coming and going --------------------------------------------------------------------

void Simulation::bring_up(uint32_t i) {
  Node& n = *m_nodes[i];
  const NetworkParams& net = devnet_params();
  ++n.generation;
  n.recorder = std::make_unique<Recorder>(*this, i);
  auto chain = ChainState::open(net, ChainOptions{});
  HEARSAY_CHECK(chain.ok());
  n.chain = std::move(*chain);
  MempoolOptions mo;
  mo.network = net.magic;
  mo.min_fee_rate = net.min_relay_fee_rate;
  mo.max_tx_size = net.max_tx_size;
  const Seed hk = seed_of(m_cfg.seed, kTagHashKey, i);
  std::memcpy(mo.hash_key.data(), hk.data(), mo.hash_key.size());
  auto mempool = Mempool::open(mo, *n.chain, std::make_unique<MemoryStore>(), m_now);
  HEARSAY_CHECK(mempool.ok());
  n.mempool = std::move(*mempool);
  n.pool = std::make_unique<MempoolTxPool>(*n.mempool);

  const RelaySettings& r = m_cfg.relay;
  PeerManagerConfig pc;
  pc.network_magic = net.magic;
  pc.max_outbound = 0;  // the simulator dials the topology, as the testnet's --connect does
  pc.rng_seed = splitmix64(m_cfg.seed ^ splitmix64(kTagRng ^ (uint64_t{i} << 8) ^ n.generation));
  if (r.push_peers > 0) pc.services |= kServicePushTx;
  if (r.short_ids) pc.services |= kServiceShortIds;
  if (r.mode == "tree") pc.services |= kServiceTree;
  if (r.reconcile && r.short_ids) pc.services |= kServiceRecon;
  n.pm = std::make_unique<PeerManager>(pc, n.key);

  TxRelayConfig rc;
  rc.inv_interval = r.inv_interval;
  rc.push_peers = r.push_peers;
  rc.graft_timeout = r.graft_timeout;
  rc.lazy_interval = r.lazy_interval;
  rc.reconcile_interval = r.reconcile_interval;
  rc.flood_peers = r.flood_peers;
  rc.rng_seed = pc.rng_seed + 1;
  rc.seen_max_entries = m_cfg.seen_max_entries;
  rc.known_per_peer = m_cfg.known_per_peer;
  n.relay = std::make_unique<TxRelay>(*n.pm, *n.pool, rc, n.recorder.get());
  BlockRelayConfig bc;
  bc.rng_seed = pc.rng_seed + 2;
  if (i == m_cfg.producer) bc.producer_key = devnet_producer_key(0);
  n.blocks = std::make_unique<BlockRelay>(*n.pm, *n.chain, *n.mempool, bc, n.recorder.get());
  n.cores.assign(std::max(1u, m_cfg.cores), m_now);
  n.up_busy = n.down_busy = m_now;
  n.up = true;
  const auto phase = static_cast<int64_t>(
      splitmix64(m_cfg.seed ^ splitmix64(kTagTick ^ i ^ (n.generation << 32))) %
      static_cast<uint64_t>(m_cfg.tick_interval.count()));
  schedule(Event{.at = m_now + Duration(phase), .kind = Ev::kTick, .node = i, .arg = n.generation});
}

void Simulation::take_down(uint32_t i) {
  Node& n = *m_nodes[i];
  if (!n.up) return;
  const std::vector<Node::Conn> conns = n.conns;
  for (const Node::Conn& c : conns)
    schedule(Event{.at = m_now + m_model.latency(i, c.remote),
                   .kind = Ev::kClose,
                   .node = c.remote,
                   .peer = c.remote_id,
                   .arg = m_nodes[c.remote]->generation});
  add_relay_stats(n.relay->stats(), n.relay_before);
  n.conns.clear();
  n.blocks.reset();
  n.relay.reset();
  n.pm.reset();
  n.pool.reset();
  n.mempool.reset();
  n.chain.reset();
  n.recorder.reset();
  n.up = false;
  // Under Bitcoin-like dialling, a peer that had dialled the leaving node fills the slot afresh
  // once it notices (the FIN): one new random outbound peer.
  if (m_topology.kind == "bitcoin")
    for (const Node::Conn& c : conns)
      if (!c.outbound)
        for (uint32_t to : fresh_outbound(c.remote, 1))
          dial(c.remote, to, m_now + m_model.latency(i, c.remote));
}

// `count` random nodes for `node` to dial, as Bitcoin's outbound slot filling picks them: up,
// not yet linked to it, with inbound slots free.
std::vector<uint32_t> Simulation::fresh_outbound(uint32_t node, size_t count) {
  std::vector<uint8_t> up(m_nodes.size());
  std::vector<uint32_t> inbound(m_nodes.size());
  std::vector<uint32_t> linked;
  for (uint32_t i = 0; i < m_nodes.size(); ++i) {
    up[i] = m_nodes[i]->up;
    for (const Node::Conn& c : m_nodes[i]->conns)
      inbound[i] += !c.outbound;
  }
  for (const Node::Conn& c : m_nodes[node]->conns)
    linked.push_back(c.remote);
  return pick_outbound(node, count, up, inbound, kBitcoinMaxInbound, linked,
                       splitmix64(m_cfg.seed ^ splitmix64(node ^ (m_events << 20))));
}

void Simulation::start() {
  for (uint32_t i = 0; i < m_nodes.size(); ++i)
    bring_up(i);
  for (const auto& [a, b] : m_topology.edges)
    dial(a, b, m_now);
}

void Simulation::set_forger(uint32_t node) {
  Node& n = *m_nodes[node];
  if (n.forger) return;
  n.forger = true;
  if (n.steady) --m_steady;
  n.steady = false;
}

bool Simulation::linkable(uint32_t a, uint32_t b) const {
  const Node& x = *m_nodes[a];
  const Node& y = *m_nodes[b];
  if (!x.up || !y.up || x.linked_to(b)) return false;
  if (x.bans(y.key.public_key()) || y.bans(x.key.public_key())) return false;
  return m_side.empty() || m_side[a] == m_side[b];
}

void Simulation::dial(uint32_t a, uint32_t b, Time at) {
  const Duration rtt = 2 * m_model.latency(a, b);
  schedule(Event{.at = at + static_cast<int64_t>(m_cfg.tls_round_trips) * rtt,
                 .kind = Ev::kConnect,
                 .node = a,
                 .other = b});
}

void Simulation::on_connect(const Event& e) {
  if (!linkable(e.node, e.other)) return;
  Node& a = *m_nodes[e.node];
  Node& b = *m_nodes[e.other];
  const PeerId ia = a.next_peer++, ib = b.next_peer++;
  a.conns.push_back({ia, e.other, ib, true});
  b.conns.push_back({ib, e.node, ia, false});
  a.pm->on_connected(
      PeerConnected{ia, b.key.public_key(), false, address_of(e.other), m_cfg.trusted}, m_now);
  b.pm->on_connected(PeerConnected{ib, a.key.public_key(), true, address_of(e.node), m_cfg.trusted},
                     m_now);
  drain(e.node);
  drain(e.other);
}

// Closes node's connection `peer` now and the other end when the FIN arrives.
void Simulation::close(uint32_t node, PeerId peer) {
  Node& n = *m_nodes[node];
  const Node::Conn* c = n.conn(peer);
  if (c == nullptr) return;
  const Node::Conn gone = *c;
  std::erase_if(n.conns, [&](const Node::Conn& x) { return x.id == peer; });
  n.pm->on_disconnected(peer, m_now);
  schedule(Event{.at = m_now + m_model.latency(node, gone.remote),
                 .kind = Ev::kClose,
                 .node = gone.remote,
                 .peer = gone.remote_id,
                 .arg = m_nodes[gone.remote]->generation});
}

void Simulation::on_close(const Event& e) {
  Node& n = *m_nodes[e.node];
  if (!n.up || n.generation != e.arg || n.conn(e.peer) == nullptr) return;
  std::erase_if(n.conns, [&](const Node::Conn& x) { return x.id == e.peer; });
  n.pm->on_disconnected(e.peer, m_now);
  drain(e.node);
}

// --- actions -----------------------------------------------------------------------------------

void Simulation::drain(uint32_t i) {
  Node& n = *m_nodes[i];
  while (n.up) {
    std::vector<Action> actions = n.pm->take_actions();
    if (actions.empty()) break;
    for (Action& a : actions) {
      if (auto* s = std::get_if<SendAction>(&a)) {
        send(i, *s);
      } else if (auto* v = std::get_if<VerifyAction>(&a)) {
        verify(i, *v);
      } else if (auto* d = std::get_if<DisconnectAction>(&a)) {
        close(i, d->peer);
      } else if (auto* b = std::get_if<BanAction>(&a)) {
        n.banned.push_back(b->identity);
        if (int32_t who = node_of(b->identity); who >= 0)
          m_bans.emplace_back(i, static_cast<uint32_t>(who));
      } else if (auto* dial_action = std::get_if<DialAction>(&a)) {
        n.pm->on_dial_failed(dial_action->address, m_now);  // the simulator dials, not the node
      }
    }
  }
  // The frames of one burst to one peer leave in one gathered write, as a connection writes what
  // queued while its previous write was in flight: TLS records of up to 16 KiB across them.
  for (const auto& [peer, bytes] : n.burst)
    n.counters.tls_bytes_sent +=
        kTlsRecordOverhead * ((bytes + kTlsRecordPayload - 1) / kTlsRecordPayload);
  n.burst.clear();
}

void Simulation::send(uint32_t i, const SendAction& s) {
  Node& n = *m_nodes[i];
  const Node::Conn* c = n.conn(s.peer);
  if (c == nullptr) return;
  const size_t frame = s.frame->size();
  const size_t wire = tls_wire_bytes(frame);
  const auto t = static_cast<size_t>(s.type);
  ++n.counters.sent[t];
  n.counters.sent_bytes[t] += frame;
  n.counters.bytes_sent += frame;
  n.counters.tls_bytes_sent += frame;  // the records' overhead when the burst ends (drain)
  auto b = std::find_if(n.burst.begin(), n.burst.end(),
                        [&](const auto& x) { return x.first == s.peer; });
  if (b == n.burst.end()) {
    n.burst.emplace_back(s.peer, frame);
  } else {
    b->second += frame;
  }
  Node& r = *m_nodes[c->remote];
  Time at = m_now;
  if (const uint64_t bps = m_model.upload_bps(i); bps > 0) {
    n.up_busy = std::max(n.up_busy, at) + serialisation(wire, bps);
    at = n.up_busy;
  }
  at += m_model.latency(i, c->remote);
  Decoded& d = m_decoded[s.frame.get()];
  if (d.pending++ == 0) d.frame = s.frame;
  // With a download bandwidth, the frame joins the receiver's queue when it arrives (kArrive), in
  // the order frames arrive from all its links.
  const bool queued = m_model.download_bps(c->remote) > 0;
  schedule(Event{.at = at,
                 .kind = queued ? Ev::kArrive : Ev::kDeliver,
                 .type = s.type,
                 .node = c->remote,
                 .peer = c->remote_id,
                 .arg = r.generation,
                 .frame = s.frame});
}

// A frame is decoded once, at its first delivery, however many peers it was sent to (a broadcast
// is one frame); every receiver gets its own copy of the message. Its transaction, if any, is the
// one object the whole simulation shares for that id (the id covers every byte), so 10,000
// mempools hold one copy. Frames come from the real encoder in this process: a frame that does
// not decode would be a bug, reported as a bad message all the same.
std::optional<Message> Simulation::take_message(const Event& e, DecodeError& err,
                                                std::optional<MsgType>& type) {
  auto it = m_decoded.find(e.frame.get());
  HEARSAY_CHECK(it != m_decoded.end());
  Decoded& d = it->second;
  if (!d.done) {
    d.done = true;
    d.type = e.type;
    // The frame's header is the real encoder's: its payload is decoded as the receiver's
    // transport would, without checking the checksum the encoder just computed.
    std::vector<uint8_t> payload(e.frame->begin() + kFrameHeaderSize, e.frame->end());
    auto m = decode_payload(e.type, std::move(payload));
    if (m.ok()) {
      d.msg = std::move(m).value();
      intern(*d.msg);
    } else {
      d.error = m.error();
    }
  }
  err = d.error;
  type = d.type;
  std::optional<Message> out;
  if (--d.pending == 0) {
    out = std::move(d.msg);
    m_decoded.erase(it);
  } else {
    out = d.msg;
  }
  return out;
}

void Simulation::intern(Message& m) {
  auto canonical = [&](TxRef& tx) {
    auto [it, fresh] = m_canonical.try_emplace(tx->id(), tx);
    if (!fresh) tx = it->second;
  };
  if (auto* t = std::get_if<TxMsg>(&m)) canonical(t->tx);
  if (auto* t = std::get_if<TreeTxMsg>(&m)) canonical(t->tx);
}

void Simulation::on_arrive(const Event& e) {
  Node& r = *m_nodes[e.node];
  const size_t wire = tls_wire_bytes(e.frame->size());
  r.down_busy = std::max(r.down_busy, m_now) + serialisation(wire, m_model.download_bps(e.node));
  Event next = e;
  next.at = r.down_busy;
  next.kind = Ev::kDeliver;
  schedule(std::move(next));
}

void Simulation::on_deliver(const Event& e) {
  Node& n = *m_nodes[e.node];
  const bool live = n.up && n.generation == e.arg && n.conn(e.peer) != nullptr;
  DecodeError err = DecodeError::kNone;
  std::optional<MsgType> type;
  std::optional<Message> m = take_message(e, err, type);
  if (!live) return;
  if (m) {
    n.pm->on_message(e.peer, std::move(*m), m_now);
  } else {
    n.pm->on_bad_message(e.peer, err, m_now, type);
  }
  drain(e.node);
}

// Each transaction takes verify_cost on the node's first free core; its verdict is reported when
// that core is done. The signature itself is checked once per transaction in the whole run.
void Simulation::verify(uint32_t i, const VerifyAction& v) {
  Node& n = *m_nodes[i];
  for (const TxRef& tx : v.txs) {
    uint8_t ok = 1;
    if (!n.forger) {
      auto [it, fresh] = m_verdicts.try_emplace(tx->id(), 0);
      if (fresh) it->second = tx->verify_signature() ? 1 : 0;
      ok = it->second;
    }
    auto core = std::min_element(n.cores.begin(), n.cores.end());
    *core = std::max(*core, m_now) + m_cfg.verify_cost;
    schedule(Event{
        .at = *core, .kind = Ev::kVerified, .node = i, .peer = ok, .arg = n.generation, .tx = tx});
  }
}

void Simulation::on_verified(const Event& e) {
  Node& n = *m_nodes[e.node];
  if (!n.up || n.generation != e.arg) return;
  const uint8_t ok = static_cast<uint8_t>(e.peer);
  n.pm->on_verified(std::span<const TxRef>(&e.tx, 1), std::span<const uint8_t>(&ok, 1), m_now);
  drain(e.node);
}

void Simulation::on_tick(const Event& e) {
  Node& n = *m_nodes[e.node];
  if (!n.up || n.generation != e.arg) return;
  n.pm->on_tick(m_now);
  drain(e.node);
  Event next = e;
  next.at = m_now + m_cfg.tick_interval;
  schedule(std::move(next));
}

// --- transactions ------------------------------------------------------------------------------

// Transactions come from senders of 32 consecutive nonces each (well under the mempool's per-
// sender limit), with distinct payloads.
TxRef Simulation::make_tx(uint32_t origin, bool forged) {
  const uint64_t k = m_tx_counter++;
  TxFields f;
  f.network = devnet_params().magic;
  f.nonce = k % 32;
  auto payload = payload_size_for(m_cfg.tx_size);
  HEARSAY_CHECK(payload.ok());  // the scenario checked the size
  f.fee = min_fee_for(m_cfg.tx_size, devnet_params().min_relay_fee_rate);
  f.payload.resize(*payload);
  for (size_t b = 0; b < f.payload.size(); ++b)
    f.payload[b] = static_cast<uint8_t>(splitmix64(k * 131 + b + origin));
  const KeyPair sender = KeyPair::from_seed(seed_of(m_cfg.seed, kTagSender, k / 32));
  TxRef tx = Transaction::create(f, sender);
  if (!forged) return tx;
  std::vector<uint8_t> raw(tx->encoding().begin(), tx->encoding().end());
  raw[raw.size() - 64] ^= 0x01;  // one bit of the signature
  auto bad = Transaction::decode(std::move(raw));
  HEARSAY_CHECK(bad.ok());
  return *bad;
}

size_t Simulation::inject_at(Time at, uint32_t origin, bool measured) {
  TxRecord r;
  r.forged = m_nodes[origin]->forger;
  r.tx = make_tx(origin, r.forged);
  r.origin = origin;
  r.injected = at;
  r.measured = measured && !r.forged;
  if (!r.forged) {  // every honest transaction's arrivals: delivery is judged on them all
    r.first_seen.assign(m_nodes.size(), -1);
    r.from.assign(m_nodes.size(), -1);
    r.accepted.assign(m_nodes.size(), -1);
    r.held.assign(m_nodes.size(), 0);
  }
  const size_t index = m_txs.size();
  m_tx_index.emplace(r.tx->id(), static_cast<uint32_t>(index));
  m_canonical.emplace(r.tx->id(), r.tx);
  m_txs.push_back(std::move(r));
  m_accepted_steady.push_back(0);
  schedule(Event{.at = at, .kind = Ev::kInject, .arg = index});
  return index;
}

void Simulation::on_inject(const Event& e) {
  TxRecord& r = m_txs[e.arg];
  uint32_t origin = r.origin;
  for (size_t k = 0; k < m_nodes.size() && !m_nodes[origin]->up; ++k)
    origin = static_cast<uint32_t>((origin + 1) % m_nodes.size());
  if (!m_nodes[origin]->up) return;
  r.origin = origin;
  r.injected = m_now;
  m_nodes[origin]->relay->submit(r.tx, true, m_now);
  drain(origin);
}

void Simulation::record_seen(uint32_t node, const TxId& id, const TxSource& from) {
  auto it = m_tx_index.find(id);
  if (it == m_tx_index.end()) return;
  TxRecord& r = m_txs[it->second];
  if (r.forged || r.first_seen[node] >= 0) return;
  r.first_seen[node] = m_now.count();
  r.from[node] = from.local ? -1 : node_of(from.peer);
}

void Simulation::record_accepted(uint32_t node, const TxId& id) {
  auto it = m_tx_index.find(id);
  if (it == m_tx_index.end()) return;
  TxRecord& r = m_txs[it->second];
  if (r.forged && !m_nodes[node]->forger) ++m_forgeries_accepted;
  if (r.forged || r.accepted[node] >= 0) return;
  r.accepted[node] = m_now.count();
  mark_held(node, it->second);
}

void Simulation::mark_held(uint32_t node, uint32_t tx) {
  TxRecord& r = m_txs[tx];
  if (r.held[node]) return;
  r.held[node] = 1;
  if (m_nodes[node]->steady) ++m_accepted_steady[tx];
}

void Simulation::make_block_at(Time at) {
  schedule(Event{.at = at, .kind = Ev::kBlock, .node = m_cfg.producer});
}

void Simulation::on_block(const Event& e) {
  Node& n = *m_nodes[e.node];
  if (!n.up) return;
  (void)n.blocks->generate(m_now);  // an empty mempool still makes a block, as RPC's does
  drain(e.node);
}

void Simulation::record_block(uint32_t node, const BlockId& id, uint64_t height,
                              const TxSource* from, bool connected) {
  auto [it, fresh] = m_block_index.try_emplace(id, static_cast<uint32_t>(m_blocks.size()));
  if (fresh) {
    BlockRecord b;
    b.id = id;
    b.height = height;
    b.producer = node;
    b.made = m_now;
    b.first_seen.assign(m_nodes.size(), -1);
    b.from.assign(m_nodes.size(), -1);
    b.connected.assign(m_nodes.size(), -1);
    m_blocks.push_back(std::move(b));
  }
  BlockRecord& b = m_blocks[it->second];
  if (!connected) {
    if (b.first_seen[node] >= 0) return;
    b.first_seen[node] = m_now.count();
    b.from[node] = from == nullptr || from->local ? -1 : node_of(from->peer);
    return;
  }
  if (b.connected[node] >= 0) return;
  b.connected[node] = m_now.count();
  const BlockRef block = m_nodes[node]->chain->block(id);
  if (!block) return;
  if (b.tx_ids.empty()) {
    b.txs = block->txs.size();
    b.size = block->encoded_size();
    for (const TxRef& tx : block->txs)
      b.tx_ids.push_back(tx->id());
  }
  // A transaction the block confirms is held here from now on, in the mempool or not.
  for (const TxRef& tx : block->txs)
    if (auto t = m_tx_index.find(tx->id()); t != m_tx_index.end() && !m_txs[t->second].forged)
      mark_held(node, t->second);
}

// --- churn and partitions ----------------------------------------------------------------------

void Simulation::leave_at(Time at, uint32_t node) {
  schedule(Event{.at = at, .kind = Ev::kLeave, .node = node});
}
void Simulation::join_at(Time at, uint32_t node) {
  schedule(Event{.at = at, .kind = Ev::kJoin, .node = node});
}

void Simulation::partition_at(Time at, std::vector<uint8_t> side) {
  m_partitions.push_back(std::move(side));
  schedule(Event{.at = at, .kind = Ev::kPartition, .arg = m_partitions.size() - 1});
}
void Simulation::heal_at(Time at) {
  schedule(Event{.at = at, .kind = Ev::kHeal});
}

void Simulation::on_membership(const Event& e) {
  Node& n = *m_nodes[e.node];
  if (e.kind == Ev::kLeave) {
    if (!n.up) return;
    ++m_leaves;
    if (n.steady) {
      n.steady = false;
      --m_steady;
      for (size_t t = 0; t < m_txs.size(); ++t)
        if (!m_txs[t].forged && m_txs[t].held[e.node]) --m_accepted_steady[t];
    }
    take_down(e.node);
    return;
  }
  if (n.up) return;
  ++m_joins;
  bring_up(e.node);
  if (m_topology.kind == "bitcoin") {  // a restarted node dials afresh, its old peers moved on
    for (uint32_t to : fresh_outbound(e.node, kBitcoinOutbound))
      dial(e.node, to, m_now);
    return;
  }
  for (const auto& [a, b] : m_topology.edges)
    if (a == e.node || b == e.node) dial(a, b, m_now);
}

void Simulation::on_partition(const Event& e) {
  if (e.kind == Ev::kHeal) {
    m_side.clear();
    for (const auto& [a, b] : m_topology.edges)
      if (linkable(a, b)) dial(a, b, m_now);
    return;
  }
  m_side = m_partitions[e.arg];
  for (uint32_t i = 0; i < m_nodes.size(); ++i) {
    Node& n = *m_nodes[i];
    if (!n.up) continue;
    std::vector<PeerId> cut;
    for (const Node::Conn& c : n.conns)
      if (m_side[i] != m_side[c.remote]) cut.push_back(c.id);
    for (PeerId p : cut)
      close(i, p);
    drain(i);
  }
}

// --- the loop ----------------------------------------------------------------------------------

void Simulation::dispatch(const Event& e) {
  switch (e.kind) {
    case Ev::kConnect:
      return on_connect(e);
    case Ev::kArrive:
      return on_arrive(e);
    case Ev::kDeliver:
      return on_deliver(e);
    case Ev::kClose:
      return on_close(e);
    case Ev::kTick:
      return on_tick(e);
    case Ev::kVerified:
      return on_verified(e);
    case Ev::kInject:
      return on_inject(e);
    case Ev::kLeave:
    case Ev::kJoin:
      return on_membership(e);
    case Ev::kPartition:
    case Ev::kHeal:
      return on_partition(e);
    case Ev::kBlock:
      return on_block(e);
  }
}

bool Simulation::run(Time until, const std::function<bool()>& stop,
                     const std::function<void()>& progress) {
  // `stop` is asked whenever virtual time moves past a new millisecond: often enough to end
  // within a millisecond of the condition, rarely enough to cost nothing.
  int64_t checked_ms = -1;
  while (!m_queue.empty() && m_queue.front().at <= until) {
    std::pop_heap(m_queue.begin(), m_queue.end(), std::greater<>());
    Event e = std::move(m_queue.back());
    m_queue.pop_back();
    m_now = e.at;
    ++m_events;
    dispatch(e);
    const int64_t ms = m_now.count() / 1000;
    if (ms != checked_ms) {
      checked_ms = ms;
      if (stop && stop()) return true;
    }
    if (progress && (m_events & 0xfff) == 0) progress();
  }
  if (m_now < until) m_now = until;
  return stop && stop();
}

bool Simulation::all_delivered() const {
  for (size_t t = 0; t < m_txs.size(); ++t)
    if (!m_txs[t].forged && m_accepted_steady[t] < m_steady) return false;
  return true;
}

size_t Simulation::missing(size_t t) const {
  return m_txs[t].forged ? 0 : m_steady - m_accepted_steady[t];
}

bool Simulation::holds(uint32_t node, const TxId& id) const {
  const Node& n = *m_nodes[node];
  return n.up && n.mempool->contains(id);
}

NodeCounters Simulation::counters(uint32_t node) const {
  const Node& n = *m_nodes[node];
  NodeCounters c = n.counters;
  c.relay = n.relay_before;
  if (n.up) add_relay_stats(n.relay->stats(), c.relay);
  return c;
}

Duration calibrate_verify_cost(size_t samples) {
  crypto_init();
  TxFields f;
  f.network = devnet_params().magic;
  f.fee = 1000;
  f.payload.assign(100, 0x42);
  const TxRef tx = Transaction::create(f, KeyPair::from_seed(Seed{}));
  std::vector<int64_t> ns;
  for (size_t i = 0; i < samples; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const bool ok = tx->verify_signature();
    const auto t1 = std::chrono::steady_clock::now();
    HEARSAY_CHECK(ok);
    ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
  }
  const auto mid = ns.begin() + static_cast<std::ptrdiff_t>(ns.size() / 2);
  std::nth_element(ns.begin(), mid, ns.end());
  return Duration(std::max<int64_t>(1, *mid / 1000));
}

}  // namespace hearsay::sim
