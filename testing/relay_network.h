// A network of transaction relay nodes in one process: each node is the real PeerManager +
// TxRelay over a real Mempool (testing/node_fixture.h), and links are in-memory queues. Every
// frame a node sends is decoded and handed to the node at the other end in the order sent
// (one FIFO for the whole network, so a run is deterministic); VerifyActions are carried out at
// once. Links have no delay unless set_delay gives one: "time" is the shared fake clock that
// run() advances, and a delayed frame is delivered once the clock reaches its due time.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "testing/peer_harness.h"
#include "testing/relay_harness.h"

namespace hearsay::test {

class RelayNetwork {
 public:
  using Tweak = std::function<void(size_t, TxRelayConfig&, PeerManagerConfig&)>;

  // `n` nodes; node i has identity test_key(i + 1) and knows node j as peer id j + 1.
  // `pool` adjusts node i's mempool options.
  explicit RelayNetwork(size_t n, const Tweak& tweak = {},
                        const std::function<void(size_t, MempoolOptions&)>& pool = {}) {
    for (size_t i = 0; i < n; ++i) {
      TxRelayConfig rc = test_relay_config();
      rc.rng_seed = 1000 + i;
      PeerManagerConfig pc = test_config();
      pc.rng_seed = 2000 + i;
      if (tweak) tweak(i, rc, pc);
      MempoolOptions mo = relay_mempool_options();
      if (pool) pool(i, mo);
      m_nodes.push_back(
          std::make_unique<TxRelayNode>(std::move(pc), key_of(i), mo, std::move(rc), now));
    }
  }

  // Connects a (dialler) and b, and runs the handshake to completion.
  void link(size_t a, size_t b) {
    node(a).pm.on_connected(conn(peer_of(b), key_of(b), false), now);
    node(b).pm.on_connected(conn(peer_of(a), key_of(a), true), now);
    pump();
  }
  // Connects the nodes in a ring, plus chords i → i + n/2 when `chords` (every node then has
  // two or three independent paths to every other).
  void ring(bool chords) {
    const size_t n = m_nodes.size();
    for (size_t i = 0; i < n; ++i)
      link(i, (i + 1) % n);
    if (chords)
      for (size_t i = 0; i < n / 2; ++i)
        link(i, i + n / 2);
  }

  // Disconnects a and b (both ends are told at once).
  void unlink(size_t a, size_t b) {
    node(a).pm.on_disconnected(peer_of(b), now);
    node(b).pm.on_disconnected(peer_of(a), now);
    pump();
  }
  // Frames between a and b take `d` to arrive, both ways.
  void set_delay(size_t a, size_t b, Duration d) {
    m_delay[{a, b}] = d;
    m_delay[{b, a}] = d;
  }
  // Frames for which it returns true are lost on the way (a node that withholds them).
  std::function<bool(size_t from, size_t to, MsgType type)> drop;

  // Delivers every queued frame that is due (and what it causes) until the network is quiet.
  void pump() {
    for (;;) {
      bool any = false;
      for (size_t i = 0; i < m_nodes.size(); ++i)
        for (Action& a : node(i).pm.take_actions()) {
          any = true;
          if (auto* s = std::get_if<SendAction>(&a)) {
            const auto to = static_cast<size_t>(s->peer - 1);
            ++m_sent[static_cast<size_t>(s->type)];
            m_sent_bytes[static_cast<size_t>(s->type)] += s->frame->size();
            if (drop && drop(i, to, s->type)) continue;
            auto d = m_delay.find({i, to});
            const Time due = now + (d == m_delay.end() ? Duration::zero() : d->second);
            m_wire.emplace(std::pair{due, m_seq++}, Frame{to, peer_of(i), s->frame});
          } else if (auto* v = std::get_if<VerifyAction>(&a)) {
            std::vector<uint8_t> valid;
            for (const TxRef& tx : v->txs)
              valid.push_back(tx->verify_signature() ? 1 : 0);
            node(i).pm.on_verified(v->txs, valid, now);
          } else if (auto* d = std::get_if<DisconnectAction>(&a)) {
            disconnects.push_back(d->reason);
          }
        }
      if (!m_wire.empty() && m_wire.begin()->first.first <= now) {
        Frame f = std::move(m_wire.begin()->second);
        m_wire.erase(m_wire.begin());
        node(f.to).pm.on_message(f.from, decode_frame(f.frame), now);
        any = true;
      }
      if (!any) break;
    }
    for (auto& n : m_nodes)
      n->check();
  }

  // Advances the clock by `d` in steps of `step`, ticking every node at each.
  void run(Duration d, Duration step = std::chrono::milliseconds(100)) {
    const Time end = now + d;
    while (now < end) {
      now = std::min(end, now + step);
      for (auto& n : m_nodes) {
        n->now = now;
        n->pm.on_tick(now);
      }
      pump();
    }
  }

  PoolResult submit(size_t i, const TxRef& tx) {
    PoolResult r = node(i).relay->submit(tx, true, now);
    pump();
    return r;
  }
  bool holds(size_t i, const TxId& id) const { return m_nodes[i]->mempool->contains(id); }
  // Whether every node holds every one of `txs`.
  bool all_hold(const std::vector<TxRef>& txs) const {
    for (size_t i = 0; i < m_nodes.size(); ++i)
      for (const TxRef& tx : txs)
        if (!holds(i, tx->id())) return false;
    return true;
  }

  TxRelayNode& node(size_t i) { return *m_nodes[i]; }
  size_t size() const { return m_nodes.size(); }
  // Frames of each type sent by all nodes so far.
  uint64_t sent(MsgType t) const { return m_sent[static_cast<size_t>(t)]; }
  // Their bytes, frame headers included.
  uint64_t sent_bytes(MsgType t) const { return m_sent_bytes[static_cast<size_t>(t)]; }
  static PeerId peer_of(size_t i) { return static_cast<PeerId>(i + 1); }
  static KeyPair key_of(size_t i) { return test_key(static_cast<uint8_t>(i + 1)); }

  Time now = kT0;
  std::vector<std::string> disconnects;

 private:
  struct Frame {
    size_t to;
    PeerId from;  // the sender, as the receiver knows it
    SharedBytes frame;
  };
  std::vector<std::unique_ptr<TxRelayNode>> m_nodes;
  std::map<std::pair<Time, uint64_t>, Frame> m_wire;  // by due time, then order sent
  uint64_t m_seq = 0;
  std::map<std::pair<size_t, size_t>, Duration> m_delay;
  std::array<uint64_t, kMsgTypeCount> m_sent{};
  std::array<uint64_t, kMsgTypeCount> m_sent_bytes{};
};

}  // namespace hearsay::test
