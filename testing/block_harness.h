// Test helpers for the block relay (tests and benchmarks): several in-process nodes, each a
// PeerManager with a TxRelay and a BlockRelay over an in-memory ChainState and a Mempool on a
// MemoryStore, linked by a fake network that carries every frame (encoded by the sender, decoded
// for the receiver, in order per link), runs every VerifyAction at once and feeds the verdicts
// back, and carries out disconnects on both ends. One fake clock for all; nothing runs unless a
// test steps it.
#pragma once

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chainstub/block_relay.h"
#include "chainstub/chain.h"
#include "mempool/mempool.h"
#include "mempool/relay_pool.h"
#include "mempool/store.h"
#include "p2p/tx_relay.h"
#include "testing/check.h"
#include "testing/peer_harness.h"

namespace hearsay::test {

// Producer keys the test network authorises (0 and 1) and one it does not (kRogueProducer).
inline KeyPair producer_key(size_t i) {
  return test_key(static_cast<uint8_t>(100 + i));
}
inline constexpr size_t kRogueProducer = 50;
inline KeyPair node_key(size_t i) {
  return test_key(static_cast<uint8_t>(200 + i));
}

inline NetworkParams block_test_params() {
  NetworkParams p;
  p.name = "blocktest";
  p.magic = kTestNetwork;
  p.genesis_time = 1'699'999'000;  // before kT0
  p.producers = {producer_key(0).public_key(), producer_key(1).public_key()};
  p.block_interval_s = 10;
  p.min_relay_fee_rate = 100;
  p.max_block_size = 1'000'000;
  p.max_tx_size = kMaxTxSize;
  return p;
}

struct BlockEvents : BlockObserver {
  struct Rebuilt {
    BlockId id;
    size_t txs, prefilled, from_mempool, missing;
  };
  std::vector<BlockId> first_seen, connected, disconnected;
  std::vector<Rebuilt> rebuilt;
  std::vector<std::pair<BlockId, std::string>> rejected;

  void block_first_seen(const BlockId& id, uint64_t, const TxSource&, Time) override {
    first_seen.push_back(id);
  }
  void block_reconstructed(const BlockId& id, size_t txs, size_t prefilled, size_t from_mempool,
                           size_t missing, Time) override {
    rebuilt.push_back({id, txs, prefilled, from_mempool, missing});
  }
  void block_connected(const BlockId& id, uint64_t, size_t, size_t, Time) override {
    connected.push_back(id);
  }
  void block_disconnected(const BlockId& id, uint64_t, Time) override {
    disconnected.push_back(id);
  }
  void block_rejected(const BlockId& id, const char* reason, Time) override {
    rejected.emplace_back(id, reason);
  }
};

struct BlockNode {
  BlockNode(size_t index, BlockRelayConfig cfg, Time now) : key(node_key(index)) {
    auto chain_or = ChainState::open(block_test_params(), ChainOptions{});
    HEARSAY_EXPECT(chain_or.ok(), chain_or.ok() ? std::string() : chain_or.error());
    chain = std::move(*chain_or);
    MempoolOptions mo;
    mo.network = kTestNetwork;
    mo.hash_key = filled_key(static_cast<uint8_t>(0x40 + index));
    auto mempool_or = Mempool::open(mo, *chain, std::make_unique<MemoryStore>(), now);
    HEARSAY_EXPECT(mempool_or.ok(), "the mempool opens");
    mempool = std::move(*mempool_or);
    pool = std::make_unique<MempoolTxPool>(*mempool);
    PeerManagerConfig pmc = test_config();
    pmc.rng_seed = 1000 + index;
    pm = std::make_unique<PeerManager>(pmc, key);
    TxRelayConfig tc;
    tc.seen_max_entries = 1 << 14;
    tc.rng_seed = 2000 + index;
    tx_relay = std::make_unique<TxRelay>(*pm, *pool, tc);
    cfg.rng_seed = 3000 + index;
    relay = std::make_unique<BlockRelay>(*pm, *chain, *mempool, cfg, &events);
  }

  // Admits transactions straight into the mempool (as if relayed earlier).
  void give(const std::vector<TxRef>& txs, Time now) {
    std::vector<Candidate> c;
    for (const TxRef& tx : txs)
      c.push_back(Candidate{tx, true});
    for (const AdmitResult& r : mempool->admit_batch(c, now))
      HEARSAY_EXPECT(r.ok(), to_string(r.code));
  }

  void check() const {
    pm->sanity_check();
    tx_relay->sanity_check();
    relay->sanity_check();
    chain->sanity_check();
    mempool->sanity_check();
  }

  KeyPair key;
  BlockEvents events;
  std::unique_ptr<ChainState> chain;
  std::unique_ptr<Mempool> mempool;
  std::unique_ptr<MempoolTxPool> pool;
  std::unique_ptr<PeerManager> pm;
  std::unique_ptr<TxRelay> tx_relay;
  std::unique_ptr<BlockRelay> relay;  // destroyed first
  std::vector<BanAction> bans;
  std::vector<std::string> disconnect_reasons;
};

class BlockNet {
 public:
  struct Link {
    size_t a = 0, b = 0;  // a dialled b
    PeerId at_a = 0;      // b's connection id at a
    PeerId at_b = 0;      // a's connection id at b
    bool up = true;
    uint64_t bytes[2] = {};  // a→b, b→a (frames other than ping/pong)
  };
  // One delivered frame (also those a filter dropped).
  struct Record {
    size_t from, to;
    MsgType type;
    size_t bytes;
    Message msg;
  };

  Time now = kT0;
  std::vector<std::unique_ptr<BlockNode>> nodes;
  std::vector<Link> links;
  std::vector<Record> log;
  // Sees every message in transit (may change it); false drops it.
  std::function<bool(size_t from, size_t to, Message& m)> filter;

  size_t add_node(BlockRelayConfig cfg = {}) {
    nodes.push_back(std::make_unique<BlockNode>(nodes.size(), std::move(cfg), now));
    return nodes.size() - 1;
  }
  size_t add_producer(size_t key, BlockRelayConfig cfg = {}) {
    cfg.producer_key = producer_key(key);
    return add_node(std::move(cfg));
  }
  BlockNode& node(size_t i) { return *nodes.at(i); }
  BlockRelay& relay(size_t i) { return *nodes.at(i)->relay; }

  // `a` dials `b`; the handshake and the first exchanges run to quiet. Returns the link.
  size_t connect(size_t a, size_t b) {
    Link l;
    l.a = a;
    l.b = b;
    l.at_a = m_next_id++;
    l.at_b = m_next_id++;
    links.push_back(l);
    const size_t li = links.size() - 1;
    m_route[{a, l.at_a}] = li;
    m_route[{b, l.at_b}] = li;
    node(a).pm->on_connected(conn(l.at_a, node_key(b), false, loopback(port(b))), now);
    node(b).pm->on_connected(conn(l.at_b, node_key(a), true, loopback(port(a))), now);
    run();
    return li;
  }
  void disconnect(size_t link) {
    take_down(link);
    run();
  }
  // Connection id under which `at` knows `other` (its live link).
  PeerId peer_id(size_t at, size_t other) const {
    for (const Link& l : links) {
      if (!l.up) continue;
      if (l.a == at && l.b == other) return l.at_a;
      if (l.b == at && l.a == other) return l.at_b;
    }
    report_failure(__FILE__, __LINE__,
                   "no link " + std::to_string(at) + "-" + std::to_string(other));
    return 0;
  }
  // Puts a message on the wire as if `from` had sent it on its link to `to`.
  void inject(size_t from, size_t to, const Message& m) {
    const PeerId id = peer_id(from, to);
    m_wire.push_back(Frame{from, id, encode_frame(kTestNetwork, m), type_of(m)});
    run();
  }

  // Carries out every action and delivers every frame until nothing moves.
  void run() {
    for (size_t guard = 0; guard < 10'000'000; ++guard) {
      bool moved = false;
      for (size_t i = 0; i < nodes.size(); ++i)
        moved |= carry_out(i);
      if (!m_wire.empty()) {
        Frame f = std::move(m_wire.front());
        m_wire.pop_front();
        deliver(f);
        moved = true;
      }
      if (!moved) break;
    }
    check();
  }
  // Advances the clock by `total` in steps of `step`, ticking every node at each.
  void advance(Duration total, Duration step = 1s) {
    const Time end = now + total;
    while (now < end) {
      now = std::min(end, now + step);
      for (auto& n : nodes)
        n->pm->on_tick(now);
      run();
    }
  }

  void check() const {
    for (const auto& n : nodes)
      n->check();
  }

  // Messages of type T delivered from `from` to `to` (log index ≥ since).
  template <class T>
  std::vector<T> sent(size_t from, size_t to, size_t since = 0) const {
    std::vector<T> out;
    for (size_t i = since; i < log.size(); ++i)
      if (log[i].from == from && log[i].to == to && std::holds_alternative<T>(log[i].msg))
        out.push_back(std::get<T>(log[i].msg));
    return out;
  }
  uint64_t link_bytes(size_t link) const { return links[link].bytes[0] + links[link].bytes[1]; }
  void reset_bytes() {
    for (Link& l : links)
      l.bytes[0] = l.bytes[1] = 0;
  }
  // Nobody scored or banned an honest node (every node except those in `liars`).
  void expect_honest_untouched(const std::vector<size_t>& liars = {}) const {
    auto liar = [&](size_t i) { return std::find(liars.begin(), liars.end(), i) != liars.end(); };
    for (size_t i = 0; i < nodes.size(); ++i) {
      for (const BanAction& b : nodes[i]->bans) {
        bool banned_liar = false;
        for (size_t j : liars)
          banned_liar |= b.identity == node_key(j).public_key();
        HEARSAY_EXPECT(banned_liar,
                       "node " + std::to_string(i) + " banned an honest node: " + b.reason);
      }
      for (const PeerInfo& p : nodes[i]->pm->peers()) {
        for (size_t j = 0; j < nodes.size(); ++j) {
          if (!liar(j) && p.identity == node_key(j).public_key()) {
            HEARSAY_EXPECT(p.misbehaviour == 0, "node " + std::to_string(i) +
                                                    " scored honest node " + std::to_string(j) +
                                                    ": " + std::to_string(p.misbehaviour));
          }
        }
      }
    }
  }

 private:
  struct Frame {
    size_t from;
    PeerId conn;  // the sender's connection id
    SharedBytes frame;
    MsgType type;
  };

  static uint16_t port(size_t i) { return static_cast<uint16_t>(30000 + i); }

  // Drains node i's actions; true if there were any.
  bool carry_out(size_t i) {
    std::vector<Action> actions = node(i).pm->take_actions();
    if (actions.empty()) return false;
    std::vector<VerifyAction> verify;
    for (Action& a : actions) {
      if (auto* s = std::get_if<SendAction>(&a)) {
        m_wire.push_back(Frame{i, s->peer, std::move(s->frame), s->type});
      } else if (auto* d = std::get_if<DisconnectAction>(&a)) {
        node(i).disconnect_reasons.push_back(d->reason);
        auto r = m_route.find({i, d->peer});
        if (r != m_route.end()) take_down(r->second);
      } else if (auto* b = std::get_if<BanAction>(&a)) {
        node(i).bans.push_back(*b);
      } else if (auto* v = std::get_if<VerifyAction>(&a)) {
        verify.push_back(std::move(*v));
      }
    }
    for (const VerifyAction& v : verify) {
      std::vector<uint8_t> valid;
      for (const TxRef& tx : v.txs)
        valid.push_back(tx->verify_signature() ? 1 : 0);
      node(i).pm->on_verified(v.txs, valid, now);
    }
    return true;
  }

  void deliver(const Frame& f) {
    auto r = m_route.find({f.from, f.conn});
    if (r == m_route.end()) return;
    Link& l = links[r->second];
    if (!l.up) return;  // closed while the frame was on the wire
    const bool forward = l.a == f.from;
    const size_t to = forward ? l.b : l.a;
    const PeerId at_to = forward ? l.at_b : l.at_a;
    if (f.type != MsgType::kPing && f.type != MsgType::kPong)
      l.bytes[forward ? 0 : 1] += f.frame->size();
    Message m = decode_frame(f.frame);
    log.push_back(Record{f.from, to, f.type, f.frame->size(), m});
    if (filter && !filter(f.from, to, m)) return;
    node(to).pm->on_message(at_to, std::move(m), now);
  }

  void take_down(size_t li) {
    Link& l = links[li];
    if (!l.up) return;
    l.up = false;
    node(l.a).pm->on_disconnected(l.at_a, now);
    node(l.b).pm->on_disconnected(l.at_b, now);
  }

  PeerId m_next_id = 1;
  std::map<std::pair<size_t, PeerId>, size_t> m_route;  // (node, connection id) → link
  std::deque<Frame> m_wire;
};

}  // namespace hearsay::test
