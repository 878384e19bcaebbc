// Test helpers for the transaction relay: one node under test (testing/node_fixture.h:
// PeerManager + TxRelay over a real Mempool on a MemoryStore) driven by fake peers and a fake
// clock. The harness plays net/:
// it drains the actions, and runs every VerifyAction itself (tx->verify_signature()) and feeds
// the verdicts back, unless a test holds them to control when and how they arrive.
#pragma once

#include <algorithm>
#include <memory>
#include <vector>

#include "testing/node_fixture.h"
#include "testing/peer_harness.h"

namespace hearsay::test {

// The relay's defaults, with a seen-set small enough for sanity_check() after every step.
inline TxRelayConfig test_relay_config() {
  TxRelayConfig c;
  c.seen_max_entries = 1 << 14;
  return c;
}

inline MempoolOptions relay_mempool_options() {
  MempoolOptions o;
  o.network = kTestNetwork;
  o.hash_key = filled_key(0x5a);
  return o;
}

// An inv / getdata / notfound message of tx entries for `ids`, in order.
template <class M>
M tx_entries(const std::vector<TxId>& ids) {
  M m;
  for (const TxId& id : ids)
    m.entries.push_back(InvEntry{InvType::kTx, id});
  return m;
}
inline InvMsg inv_of(const std::vector<TxId>& ids) {
  return tx_entries<InvMsg>(ids);
}
inline GetDataMsg getdata_of(const std::vector<TxId>& ids) {
  return tx_entries<GetDataMsg>(ids);
}
inline NotFoundMsg notfound_of(const std::vector<TxId>& ids) {
  return tx_entries<NotFoundMsg>(ids);
}

// The tx ids of a batch of inv / getdata / notfound messages, in order.
template <class M>
std::vector<TxId> ids_in(const std::vector<M>& msgs) {
  std::vector<TxId> out;
  for (const M& m : msgs)
    for (const InvEntry& e : m.entries)
      if (e.type == InvType::kTx) out.push_back(e.hash);
  return out;
}

struct RelayNode : TxRelayNode {
  // Verdicts held back (auto_verify == false): the VerifyActions of earlier steps.
  std::vector<VerifyAction> held;
  bool auto_verify = true;

  explicit RelayNode(TxRelayConfig cfg = test_relay_config(),
                     MempoolOptions mo = relay_mempool_options(),
                     PeerManagerConfig pmc = test_config(), uint8_t self_key = 1,
                     std::unique_ptr<MempoolStore> store = nullptr)
      : TxRelayNode(std::move(pmc), test_key(self_key), mo, std::move(cfg), kT0, std::move(store)) {
  }

  // Connects fake peer `id` with identity test_key(key), completes its handshake (its version
  // carries `services`) and returns everything that followed, the relay's anti-entropy included.
  Actions connect(PeerId id, uint8_t key, bool inbound, uint64_t services = 0,
                  bool trusted = false) {
    PeerConnected c = conn(id, test_key(key), inbound);
    c.trusted = trusted;
    pm.on_connected(c, now);
    VersionMsg v = good_version();
    v.services = services;
    pm.on_message(id, std::move(v), now);
    pm.on_message(id, VerackMsg{}, now);
    return settle();
  }

  // Drains the actions. With auto_verify, VerifyActions are carried out at once (the verdicts
  // may cause more actions: drained too); otherwise they are kept in `held`. The fake peers
  // answer our pings at once, so they stay alive however long a test runs the clock.
  Actions settle() {
    std::vector<Action> all;
    for (;;) {
      std::vector<Action> batch = pm.take_actions();
      if (batch.empty()) break;
      for (Action& a : batch) {
        if (const auto* s = std::get_if<SendAction>(&a); s && s->type == MsgType::kPing) {
          pm.on_message(s->peer, PongMsg{std::get<PingMsg>(decode_frame(s->frame)).nonce}, now);
        } else if (auto* v = std::get_if<VerifyAction>(&a)) {
          if (auto_verify) {
            verify_now(v->txs);
          } else {
            held.push_back(*v);
          }
        }
        all.push_back(std::move(a));
      }
    }
    check();
    return Actions(std::move(all));
  }

  void verify_now(const std::vector<TxRef>& txs) {
    std::vector<uint8_t> valid;
    for (const TxRef& tx : txs)
      valid.push_back(tx->verify_signature() ? 1 : 0);
    pm.on_verified(txs, valid, now);
  }
  // Runs the held VerifyActions (newest first when `reverse`: verdicts may come in any order).
  Actions release(bool reverse = false) {
    std::vector<VerifyAction> h;
    h.swap(held);
    if (reverse) std::reverse(h.begin(), h.end());
    for (const VerifyAction& v : h)
      verify_now(v.txs);
    return settle();
  }

  Actions msg(PeerId peer, Message m) {
    pm.on_message(peer, std::move(m), now);
    return settle();
  }
  Actions tick() {
    pm.on_tick(now);
    return settle();
  }
  // Advances the clock to `t` in steps of `step`, ticking at each; returns every action.
  std::vector<std::pair<Time, Actions>> run_until(Time t, Duration step = 1s) {
    std::vector<std::pair<Time, Actions>> out;
    while (now < t) {
      now = std::min(t, now + step);
      out.emplace_back(now, tick());
    }
    return out;
  }
  PoolResult submit(const TxRef& tx, bool verified = true) {
    return relay->submit(tx, verified, now);
  }
};

}  // namespace hearsay::test
