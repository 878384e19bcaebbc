// The node under test of the transaction relay, as the tests, the fuzz target and the
// benchmarks build it: a PeerManager with a TxRelay over a real Mempool on a MemoryStore, whose
// chain is a FakeChainView, and the fake clock `now`. Nothing runs by itself: the owner feeds
// events and drains pm.take_actions() (testing/relay_harness.h does both for the tests).
#pragma once

#include <memory>
#include <utility>

#include "mempool/mempool.h"
#include "mempool/relay_pool.h"
#include "p2p/peer_manager.h"
#include "p2p/tx_relay.h"
#include "testing/check.h"
#include "testing/mempool_fakes.h"

namespace hearsay::test {

struct TxRelayNode {
  FakeChainView chain;
  std::unique_ptr<Mempool> mempool;
  std::unique_ptr<MempoolTxPool> pool;
  PeerManager pm;
  std::unique_ptr<TxRelay> relay;  // destroyed first
  Time now;

  // `store`: the mempool's (null: a MemoryStore of its own).
  TxRelayNode(PeerManagerConfig pmc, KeyPair self, const MempoolOptions& mo, TxRelayConfig cfg,
              Time start, std::unique_ptr<MempoolStore> store = nullptr)
      : pm(std::move(pmc), std::move(self)), now(start) {
    if (!store) store = std::make_unique<MemoryStore>();
    auto opened = Mempool::open(mo, chain, std::move(store), now);
    HEARSAY_EXPECT(opened.ok(), "the mempool opens");
    mempool = std::move(*opened);
    pool = std::make_unique<MempoolTxPool>(*mempool);
    relay = std::make_unique<TxRelay>(pm, *pool, std::move(cfg));
  }
  TxRelayNode(const TxRelayNode&) = delete;
  TxRelayNode& operator=(const TxRelayNode&) = delete;

  // Every invariant of the three: after each step.
  void check() const {
    pm.sanity_check();
    relay->sanity_check();
    mempool->sanity_check();
  }
};

}  // namespace hearsay::test
