// TxRequestTracker with a fake clock: every rule in the header, one test each.
#include "p2p/txrequest.h"
#include "testing/test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace hearsay {
namespace {

using Txids = std::vector<Hash256>;
using Expired = std::vector<std::pair<PeerId, Hash256>>;

Hash256 txid(uint64_t n) {
  return test::numbered_id(n, 0x3c);
}
SipKey seed(uint8_t b) {
  return test::filled_key(b);
}

constexpr Time kT0 = Time(std::chrono::hours(1000));

// The announcer a tracker offers `id` to among `peers` (0 if none).
PeerId chosen(TxRequestTracker& t, const std::vector<PeerId>& peers, Time now,
              const Hash256& id = txid(1)) {
  PeerId who = 0;
  for (PeerId p : peers) {
    Txids r = t.get_requestable(p, now);
    if (std::find(r.begin(), r.end(), id) != r.end()) {
      EXPECT_EQ(who, 0u) << "two peers offered the same txid";
      who = p;
    }
  }
  return who;
}

TEST(TxRequest, OneRequestInFlightPerTxid) {
  TxRequestTracker t(seed(1));
  for (PeerId p = 1; p <= 3; ++p)
    EXPECT_EQ(t.received_inv(p, txid(1), true, kT0), TxRequestTracker::InvResult::kAdded);
  const PeerId first = chosen(t, {1, 2, 3}, kT0);
  ASSERT_NE(first, 0u);
  EXPECT_EQ(t.get_requestable(first, kT0), Txids{txid(1)});
  EXPECT_TRUE(t.requested_tx(first, txid(1), kT0 + kRequestTimeout));
  EXPECT_EQ(t.count_in_flight(first), 1u);
  for (PeerId p = 1; p <= 3; ++p)
    EXPECT_TRUE(t.get_requestable(p, kT0 + 30s).empty());
  t.sanity_check();
}

TEST(TxRequest, FallsBackAfterTimeout) {
  TxRequestTracker t(seed(2));
  t.received_inv(1, txid(1), true, kT0);
  t.received_inv(2, txid(1), true, kT0);
  const PeerId first = chosen(t, {1, 2}, kT0);
  const PeerId second = first == 1 ? 2 : 1;
  t.requested_tx(first, txid(1), kT0 + kRequestTimeout);
  EXPECT_TRUE(t.get_requestable(second, kT0 + kRequestTimeout - 1us).empty());
  Expired expired;
  EXPECT_EQ(t.get_requestable(second, kT0 + kRequestTimeout, &expired), Txids{txid(1)});
  EXPECT_EQ(expired, (Expired{{first, txid(1)}}));
  EXPECT_EQ(t.state(first, txid(1)), AnnouncementState::kCompleted);
  EXPECT_EQ(t.count_in_flight(first), 0u);
  t.sanity_check();
}

TEST(TxRequest, FallsBackAfterNotfound) {
  TxRequestTracker t(seed(3));
  t.received_inv(1, txid(1), true, kT0);
  t.received_inv(2, txid(1), true, kT0);
  const PeerId first = chosen(t, {1, 2}, kT0);
  const PeerId second = first == 1 ? 2 : 1;
  t.requested_tx(first, txid(1), kT0 + kRequestTimeout);
  t.received_response(first, txid(1));
  EXPECT_EQ(t.get_requestable(second, kT0 + 1s), Txids{txid(1)});
  EXPECT_TRUE(t.get_requestable(first, kT0 + 1s).empty());
  t.sanity_check();
}

TEST(TxRequest, PreferredBeforeNonPreferredWhateverTheHash) {
  for (uint8_t s = 0; s < 20; ++s) {
    TxRequestTracker t(seed(s));
    t.received_inv(10, txid(s), false, kT0);  // inbound, announced first, no delay
    t.received_inv(20, txid(s), true, kT0 + 1s);
    EXPECT_EQ(chosen(t, {10, 20}, kT0, txid(s)), 10u);  // alone and ready: it is the best for now
    EXPECT_EQ(chosen(t, {10, 20}, kT0 + 1s, txid(s)), 20u)
        << int(s);  // the preferred one takes over
    EXPECT_GT(t.priority_of(txid(s), 20, true), t.priority_of(txid(s), 10, false));
  }
}

TEST(TxRequest, NonPreferredWaitsForItsDelay) {
  TxRequestTracker t(seed(4));
  t.received_inv(5, txid(1), false, kT0 + kNonPreferredDelay);
  EXPECT_TRUE(t.get_requestable(5, kT0).empty());
  EXPECT_EQ(t.state(5, txid(1)), AnnouncementState::kCandidateDelayed);
  EXPECT_TRUE(t.get_requestable(5, kT0 + kNonPreferredDelay - 1us).empty());
  // A preferred announcement arriving meanwhile is asked first.
  t.received_inv(6, txid(1), true, kT0 + 1s);
  EXPECT_EQ(t.get_requestable(6, kT0 + 1s), Txids{txid(1)});
  t.requested_tx(6, txid(1), kT0 + 1s + kRequestTimeout);
  EXPECT_TRUE(t.get_requestable(5, kT0 + kNonPreferredDelay).empty());
  t.received_response(6, txid(1));  // notfound
  EXPECT_EQ(t.get_requestable(5, kT0 + kNonPreferredDelay), Txids{txid(1)});
}

TEST(TxRequest, RandomChoiceAmongEquals) {
  TxRequestTracker t(seed(5));
  std::map<PeerId, int> wins;
  for (uint64_t i = 0; i < 200; ++i)
    for (PeerId p = 1; p <= 4; ++p)
      t.received_inv(p, txid(i), false, kT0);
  for (PeerId p = 1; p <= 4; ++p)
    wins[p] = static_cast<int>(t.get_requestable(p, kT0).size());
  int total = 0;
  for (auto [p, n] : wins) {
    EXPECT_GT(n, 20) << p;  // about 50 each
    total += n;
  }
  EXPECT_EQ(total, 200);
}

TEST(TxRequest, NeverAsksAPeerTwice) {
  TxRequestTracker t(seed(6));
  t.received_inv(1, txid(1), true, kT0);
  t.received_inv(2, txid(1), false, kT0 + 10s);  // keeps the txid alive
  ASSERT_EQ(t.get_requestable(1, kT0), Txids{txid(1)});
  t.requested_tx(1, txid(1), kT0 + kRequestTimeout);
  t.received_response(1, txid(1));
  EXPECT_EQ(t.received_inv(1, txid(1), true, kT0 + 1s), TxRequestTracker::InvResult::kDuplicate);
  EXPECT_TRUE(t.get_requestable(1, kT0 + 1s).empty());
  EXPECT_FALSE(t.requested_tx(1, txid(1), kT0 + 100s));
  // After a timeout too.
  EXPECT_EQ(t.get_requestable(2, kT0 + 10s), Txids{txid(1)});
  t.requested_tx(2, txid(1), kT0 + 20s);
  t.received_inv(3, txid(1), false, kT0 + 10s);
  Expired expired;
  EXPECT_EQ(t.get_requestable(2, kT0 + 20s, &expired), Txids{});
  EXPECT_EQ(expired.size(), 1u);
  EXPECT_EQ(t.get_requestable(3, kT0 + 20s), Txids{txid(1)});
  t.sanity_check();
}

TEST(TxRequest, AllCompletedIsForgotten) {
  TxRequestTracker t(seed(7));
  t.received_inv(1, txid(1), true, kT0);
  t.get_requestable(1, kT0);
  t.requested_tx(1, txid(1), kT0 + kRequestTimeout);
  t.received_response(1, txid(1));
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.count(1), 0u);
  // Forgotten, so a new announcement may be requested again (rule 2's exception).
  EXPECT_EQ(t.received_inv(1, txid(1), true, kT0 + 1s), TxRequestTracker::InvResult::kAdded);
  t.sanity_check();
}

TEST(TxRequest, DisconnectCleansUpAndFallsBack) {
  TxRequestTracker t(seed(8));
  for (uint64_t i = 0; i < 10; ++i) {
    t.received_inv(1, txid(i), true, kT0);
    t.received_inv(2, txid(i), false, kT0 + kNonPreferredDelay);
  }
  Txids r = t.get_requestable(1, kT0);
  ASSERT_EQ(r.size(), 10u);
  for (const Hash256& id : r)
    t.requested_tx(1, id, kT0 + kRequestTimeout);
  t.disconnected_peer(1);
  EXPECT_EQ(t.count(1), 0u);
  EXPECT_EQ(t.count_in_flight(1), 0u);
  EXPECT_EQ(t.size(), 10u);
  EXPECT_EQ(t.get_requestable(2, kT0 + kNonPreferredDelay).size(), 10u);
  t.disconnected_peer(2);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.txid_count(), 0u);
  t.sanity_check();
}

TEST(TxRequest, ForgetDropsEveryAnnouncement) {
  TxRequestTracker t(seed(9));
  t.received_inv(1, txid(1), true, kT0);
  t.received_inv(2, txid(1), true, kT0);
  t.received_inv(2, txid(2), true, kT0);
  const PeerId first = chosen(t, {1, 2}, kT0);
  if (first) t.requested_tx(first, txid(1), kT0 + kRequestTimeout);
  t.forget_txid(txid(1));
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.count_in_flight(1) + t.count_in_flight(2), 0u);
  EXPECT_EQ(t.get_requestable(2, kT0), Txids{txid(2)});
  t.sanity_check();
}

TEST(TxRequest, AnnouncementOrderIsKept) {
  TxRequestTracker t(seed(10));
  Txids want;
  for (uint64_t i = 0; i < 50; ++i) {
    t.received_inv(1, txid(1000 - i), false, kT0 + std::chrono::seconds(50 - i));
    want.push_back(txid(1000 - i));
  }
  EXPECT_EQ(t.get_requestable(1, kT0 + 100s), want);
}

TEST(TxRequest, CapsHold) {
  TxRequestTracker t(seed(11));
  for (uint64_t i = 0; i < kMaxPeerAnnouncements; ++i)
    ASSERT_EQ(t.received_inv(1, txid(i), true, kT0), TxRequestTracker::InvResult::kAdded);
  EXPECT_EQ(t.received_inv(1, txid(999'999), true, kT0), TxRequestTracker::InvResult::kPeerFull);
  EXPECT_EQ(t.count(1), kMaxPeerAnnouncements);
  Txids r = t.get_requestable(1, kT0);
  ASSERT_EQ(r.size(), kMaxPeerInFlight);
  EXPECT_EQ(r.front(), txid(0));  // the oldest announcements first
  for (const Hash256& id : r)
    EXPECT_TRUE(t.requested_tx(1, id, kT0 + kRequestTimeout));
  EXPECT_EQ(t.count_in_flight(1), kMaxPeerInFlight);
  EXPECT_TRUE(t.get_requestable(1, kT0 + 1s).empty());
  EXPECT_FALSE(t.requested_tx(1, txid(kMaxPeerInFlight), kT0 + kRequestTimeout));
  // One answer makes room for exactly one more.
  t.received_response(1, txid(0));
  EXPECT_EQ(t.get_requestable(1, kT0 + 1s), Txids{txid(kMaxPeerInFlight)});
  // Another peer is not affected by peer 1's caps.
  EXPECT_EQ(t.received_inv(2, txid(999'999), true, kT0), TxRequestTracker::InvResult::kAdded);
  EXPECT_EQ(t.get_requestable(2, kT0 + 1s), Txids{txid(999'999)});
  t.sanity_check();
}

TEST(TxRequest, ClockSteppingBackCountsAsLatest) {
  TxRequestTracker t(seed(12));
  t.received_inv(1, txid(1), true, kT0 + 5s);
  EXPECT_EQ(t.get_requestable(1, kT0 + 5s).size(), 1u);
  EXPECT_EQ(t.get_requestable(1, kT0).size(), 1u);  // not delayed again
  EXPECT_EQ(t.now(), kT0 + 5s);
}

TEST(TxRequest, UnexpectedRequestCompletesTheOldOne) {
  TxRequestTracker t(seed(13));
  t.received_inv(1, txid(1), true, kT0);
  t.received_inv(2, txid(1), true, kT0);
  t.get_requestable(1, kT0);
  EXPECT_TRUE(t.requested_tx(1, txid(1), kT0 + kRequestTimeout));
  EXPECT_TRUE(t.requested_tx(2, txid(1), kT0 + kRequestTimeout));  // caller ignored advice
  EXPECT_EQ(t.state(1, txid(1)), AnnouncementState::kCompleted);
  EXPECT_EQ(t.state(2, txid(1)), AnnouncementState::kRequested);
  t.sanity_check();
}

TEST(TxRequest, MaxCountLowersTheRoomLeft) {
  TxRequestTracker t(seed(7));
  for (uint64_t n = 1; n <= 20; ++n)
    t.received_inv(1, txid(n), true, kT0);
  EXPECT_EQ(t.get_requestable(1, kT0, nullptr, 3), (Txids{txid(1), txid(2), txid(3)}));
  EXPECT_TRUE(t.get_requestable(1, kT0, nullptr, 0).empty());
  EXPECT_EQ(t.get_requestable(1, kT0).size(), 20u);
  t.sanity_check();
}

TEST(TxRequest, ExpediteBringsOnlyLaterDelayedAnnouncementsOfThatPeerForward) {
  TxRequestTracker t(seed(8));
  t.received_inv(1, txid(1), true, kT0 + 2s);
  t.received_inv(1, txid(2), true, kT0 + 500ms);
  t.received_inv(2, txid(3), true, kT0 + 2s);  // another peer's: untouched
  t.received_inv(1, txid(4), true, kT0);       // ready already: untouched
  EXPECT_EQ(t.get_requestable(1, kT0), Txids{txid(4)});
  // Forward to kT0 + 1 s: only the one due later than that moves, and stays delayed till then.
  EXPECT_EQ(t.expedite(1, kT0 + 1s), 1u);
  t.sanity_check();
  EXPECT_EQ(t.get_requestable(1, kT0 + 999ms), (Txids{txid(2), txid(4)}));
  EXPECT_EQ(t.get_requestable(1, kT0 + 1s), (Txids{txid(1), txid(2), txid(4)}));
  EXPECT_TRUE(t.get_requestable(2, kT0 + 1s).empty());
  // Forward to the tracker's own clock: ready at once.
  t.received_inv(1, txid(5), true, kT0 + 10s);
  EXPECT_EQ(t.expedite(1, kT0), 1u);  // earlier than the clock counts as the clock
  EXPECT_EQ(t.state(1, txid(5)), AnnouncementState::kCandidateBest);
  EXPECT_EQ(t.state(2, txid(3)), AnnouncementState::kCandidateDelayed);
  t.sanity_check();
}

}  // namespace
}  // namespace hearsay
