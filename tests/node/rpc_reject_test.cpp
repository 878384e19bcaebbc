// explain_rejection(): the rule's name first, then the numbers that explain it.
#include "node/rpc_reject.h"

#include <gtest/gtest.h>

#include "p2p/limits.h"
#include "testing/tx_factory.h"

namespace hearsay {
namespace {

RejectContext context() {
  RejectContext c;
  c.network_name = "devnet";
  c.network_magic = 0x58457eea;
  c.min_fee_rate = 1000;
  c.max_tx_size = 300;
  c.max_per_sender = 64;
  c.replace_step_percent = 10;
  c.tip_height = 7;
  c.now_seconds = 1'700'000'000;
  c.next_nonce = 5;
  c.sender_held = 64;
  c.lowest_fee_rate = 1500;
  c.memory_usage = 999'000;
  c.max_bytes = 1'000'000;
  return c;
}

TEST(RpcReject, EachRuleShowsItsNumbers) {
  const RejectContext c = context();
  TxRef tx = test::make_tx(1, 3, 1, 100, 0, 0x0a0b0c0d);
  const std::string rate = std::to_string(tx->fee_rate());
  EXPECT_EQ(explain_rejection("fee-rate-too-low", *tx, c),
            "fee-rate-too-low: " + rate + " per 1,000 bytes, the minimum is 1000");
  EXPECT_EQ(explain_rejection("wrong-network", *tx, c),
            "wrong-network: the transaction is for network 0x0a0b0c0d, this node is on devnet "
            "(0x58457eea)");
  EXPECT_EQ(
      explain_rejection("too-large", *tx, c),
      "too-large: the transaction is " + std::to_string(tx->size()) + " bytes, the limit is 300");
  EXPECT_EQ(explain_rejection("nonce-too-low", *tx, c),
            "nonce-too-low: nonce 3, the sender's next nonce is 5");
  EXPECT_EQ(explain_rejection("sender-limit", *tx, c),
            "sender-limit: the sender holds 64 transactions, the limit is 64");
  EXPECT_EQ(explain_rejection("mempool-full", *tx, c),
            "mempool-full: the mempool is full (999000 of 1000000 bytes) and this transaction's "
            "fee rate, " +
                rate + " per 1,000 bytes, is not above the lowest held (1500)");
  // Rules without numbers keep their bare name.
  EXPECT_EQ(explain_rejection("bad-signature", *tx, c), "bad-signature");
}

TEST(RpcReject, FullMempoolRaisesTheFloorShown) {
  RejectContext c = context();
  c.mempool_full = true;
  TxRef tx = test::make_tx(1, 3, 1, 100);
  EXPECT_EQ(explain_rejection("fee-rate-too-low", *tx, c),
            "fee-rate-too-low: " + std::to_string(tx->fee_rate()) +
                " per 1,000 bytes, the minimum is 1000; the mempool is full, so it also takes "
                "more than the lowest held (1500)");
}

TEST(RpcReject, ExpiryByHeightOrTime) {
  const RejectContext c = context();
  EXPECT_EQ(explain_rejection("expired", *test::make_tx(1, 0, 1000, 100, 6), c),
            "expired: the transaction's last valid height is 6, the tip is at 7");
  const uint64_t at = kExpiryTimeThreshold + 5;
  EXPECT_EQ(explain_rejection("expired", *test::make_tx(1, 0, 1000, 100, at), c),
            "expired: the transaction expired at unix time " + std::to_string(at) +
                ", now is 1700000000");
}

TEST(RpcReject, ConflictNamesTheReplacementFloor) {
  RejectContext c = context();
  c.held_fee_rate = 1000;
  TxRef tx = test::make_tx(1, 3, 1, 100);
  EXPECT_EQ(explain_rejection("conflict", *tx, c),
            "conflict: the sender already holds nonce 3 paying 1000 per 1,000 bytes; this one "
            "pays " +
                std::to_string(tx->fee_rate()) + ", a replacement must pay at least 1100");
  EXPECT_EQ(replacement_fee_rate(1000, 10), 1100u);
  EXPECT_EQ(replacement_fee_rate(5, 10), 6u);  // rounded up, and always more
  EXPECT_EQ(replacement_fee_rate(0, 10), 1u);
  EXPECT_EQ(replacement_fee_rate(UINT64_MAX, 10), UINT64_MAX);
}

}  // namespace
}  // namespace hearsay
