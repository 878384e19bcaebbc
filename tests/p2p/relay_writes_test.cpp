// TxRelay over a mempool that writes behind (Mempool::pipeline_writes, mempool/store_writer.h):
// an accepted transaction is relayed only once its write settled, one whose write was refused
// is reported rejected and never relayed, and a local submission is answered only once written.
// Fake peers, a fake clock, a real mempool whose store a test holds at a gate.
#include <gtest/gtest.h>

#include <thread>

#include "p2p/tx_relay.h"
#include "testing/gated_store.h"
#include "testing/relay_harness.h"

namespace hearsay {
namespace {

using namespace test;

using Ids = std::vector<TxId>;

constexpr PeerId kOut1 = 2, kIn1 = 4;

struct WritesNode {
  MemoryStore store;
  GatedStore gate{store};
  RelayNode n{test_relay_config(), relay_mempool_options(), test_config(), 1,
              std::make_unique<StoreRef>(gate)};

  ~WritesNode() { gate.open(); }  // a write held at the gate would keep the writer from stopping
  WritesNode() {
    n.mempool->pipeline_writes(nullptr, /*inline_max_ops=*/0);
    n.connect(kOut1, kOut1, false);
    n.connect(kIn1, kIn1, true);
  }
  // Lets every queued write through, then tells the relay (as the node's writer report does).
  Actions written() {
    gate.open();
    n.mempool->stop_pipelining();
    n.relay->on_written(n.now);
    return n.settle();
  }
  Actions deliver(const TxRef& tx) {
    n.msg(kOut1, inv_of({tx->id()}));
    return n.msg(kOut1, TxMsg{tx});
  }
};

TEST(TxRelayWrites, RelayedOnlyOnceItsWriteSettled) {
  WritesNode w;
  w.gate.shut();
  const TxRef tx = make_tx(20, 0);
  Actions a = w.deliver(tx);
  ASSERT_EQ(a.verifies.size(), 1u);
  EXPECT_TRUE(w.n.mempool->contains(tx->id())) << "held at once";
  EXPECT_TRUE(a.to<InvMsg>(kIn1).empty()) << "not relayed before it is written";
  EXPECT_EQ(w.n.relay->stats().unwritten, 1u);
  EXPECT_EQ(w.n.relay->stats().accepted, 0u);
  // Announcements of it meanwhile are not fetched again: it is held.
  EXPECT_TRUE(w.n.msg(kIn1, inv_of({tx->id()})).to<GetDataMsg>(kIn1).empty());

  Actions b = w.written();
  EXPECT_TRUE(w.store.contains(tx->id()));
  EXPECT_EQ(ids_in(b.to<InvMsg>(kIn1)), Ids{}) << "kIn1 announced it: it has it";
  EXPECT_EQ(w.n.relay->stats().unwritten, 0u);
  EXPECT_EQ(w.n.relay->stats().accepted, 1u);
}

TEST(TxRelayWrites, AnnouncedToPeersThatLackItOnceWritten) {
  WritesNode w;
  w.gate.shut();
  const TxRef tx = make_tx(21, 0);
  EXPECT_TRUE(w.deliver(tx).to<InvMsg>(kIn1).empty());
  EXPECT_EQ(ids_in(w.written().to<InvMsg>(kIn1)), Ids{tx->id()});
}

TEST(TxRelayWrites, ARefusedWriteIsARejectionNeverRelayed) {
  WritesNode w;
  w.gate.shut();
  w.gate.fail_next_writes(1);
  const TxRef tx = make_tx(22, 0);
  w.deliver(tx);
  Actions b = w.written();
  EXPECT_TRUE(b.to<InvMsg>(kIn1).empty());
  EXPECT_FALSE(w.n.mempool->contains(tx->id()));
  EXPECT_FALSE(w.store.contains(tx->id()));
  const TxRelayStats& s = w.n.relay->stats();
  EXPECT_EQ(s.store_failed, 1u);
  EXPECT_EQ(s.rejected, 1u);
  EXPECT_EQ(s.accepted, 0u);
  EXPECT_EQ(s.unwritten, 0u);
  EXPECT_EQ(w.n.pm.peer_info(kOut1)->misbehaviour, 0) << "our disk is not the peer's fault";
}

TEST(TxRelayWrites, LocalSubmissionIsAnsweredOnlyOnceWritten) {
  WritesNode w;
  const TxRef tx = make_tx(23, 0);
  const PoolResult r = w.n.submit(tx);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(w.store.contains(tx->id())) << "written before the answer";
  EXPECT_EQ(w.n.relay->stats().unwritten, 0u);

  w.gate.fail_next_writes(1);
  const PoolResult refused = w.n.submit(make_tx(24, 0));
  EXPECT_EQ(refused.answer, PoolAnswer::kRejected);
  EXPECT_STREQ(refused.reason, kStoreFailedReason);
  EXPECT_EQ(w.n.mempool->size(), 1u);

  // A peer's copy still being written: "already have" waits for the write too.
  w.gate.shut();
  const TxRef peer_tx = make_tx(25, 0);
  w.deliver(peer_tx);
  EXPECT_FALSE(w.store.contains(peer_tx->id()));
  std::thread opener([&] { w.gate.open(); });
  EXPECT_EQ(w.n.submit(peer_tx).answer, PoolAnswer::kAlreadyHave);
  opener.join();
  EXPECT_TRUE(w.store.contains(peer_tx->id()));
  EXPECT_EQ(w.n.relay->stats().unwritten, 0u);
}

}  // namespace
}  // namespace hearsay
