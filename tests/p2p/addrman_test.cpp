// The address book: storage rules, dial bookkeeping, selection, bound and persistence.
#include "p2p/addrman.h"

#include <gtest/gtest.h>

#include "testing/peer_harness.h"

namespace hearsay {
namespace {

using namespace test;

TEST(AddrMan, NewerRecordReplacesOlder) {
  AddrMan am(100, 1);
  const KeyPair k = test_key(3);
  const PeerRecord old_rec = signed_record(k, 1000, kT0);
  const PeerRecord new_rec = signed_record(k, 2000, kT0 + 60s);
  EXPECT_EQ(am.add(old_rec), AddrMan::AddResult::kAdded);
  EXPECT_TRUE(am.knows(old_rec));
  EXPECT_FALSE(am.knows(new_rec));
  EXPECT_EQ(am.add(old_rec), AddrMan::AddResult::kKnown);
  EXPECT_EQ(am.add(new_rec), AddrMan::AddResult::kUpdated);
  EXPECT_EQ(am.add(old_rec), AddrMan::AddResult::kKnown);
  EXPECT_EQ(am.find(k.public_key())->record.address.port, 2000);
  EXPECT_EQ(am.size(), 1u);
  am.sanity_check();
}

TEST(AddrMan, BoundedAndEvictsStaleFirst) {
  AddrMan am(50, 2);
  for (int i = 0; i < 200; ++i) {
    const KeyPair k = test_key(static_cast<uint8_t>(i));
    (void)am.add(signed_record(k, static_cast<uint16_t>(1000 + i), kT0 + i * 1s));
    am.sanity_check();
    EXPECT_LE(am.size(), 50u);
  }
  EXPECT_EQ(am.size(), 50u);
  // Eviction prefers old records: the survivors are mostly recent.
  size_t recent = 0;
  for (const PeerRecord& r : am.sample(50))
    recent += r.address.port >= 1100;
  EXPECT_GT(recent, 35u);
}

TEST(AddrMan, BackoffAndDropAfterMaxFailures) {
  AddrMan am(100, 3);
  const KeyPair k = test_key(4);
  (void)am.add(signed_record(k, 1000, kT0));
  std::set<PublicKey> none;
  ASSERT_TRUE(am.select(kT0, none).has_value());
  Time now = kT0;
  Duration prev{0};
  for (uint32_t i = 1; i < kAddrManMaxFailures; ++i) {
    am.mark_failed(k.public_key(), now, 1s, 10min);
    const AddrInfo* e = am.find(k.public_key());
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->failures, i);
    const Duration wait = e->next_try - now;
    EXPECT_GE(wait, prev);  // never shrinks
    EXPECT_LE(wait, 10min);
    EXPECT_FALSE(am.select(now, none).has_value());  // backing off
    EXPECT_TRUE(am.select(e->next_try, none).has_value());
    prev = wait;
    now = e->next_try;
  }
  EXPECT_GE(prev, 64s);  // grew exponentially
  am.mark_failed(k.public_key(), now, 1s, 10min);
  EXPECT_EQ(am.find(k.public_key()), nullptr);  // dropped
  am.sanity_check();
}

TEST(AddrMan, GoodResetsFailures) {
  AddrMan am(100, 3);
  const KeyPair k = test_key(4);
  (void)am.add(signed_record(k, 1000, kT0));
  am.mark_failed(k.public_key(), kT0, 1s, 10min);
  am.mark_good(k.public_key(), kT0 + 1min);
  EXPECT_EQ(am.find(k.public_key())->failures, 0u);
  EXPECT_EQ(am.find(k.public_key())->last_success, kT0 + 1min);
  EXPECT_TRUE(am.select(kT0 + 1min, {}).has_value());
}

TEST(AddrMan, SelectHonoursExclusionAndIsSpread) {
  AddrMan am(100, 5);
  std::set<PublicKey> exclude;
  for (int i = 0; i < 10; ++i) {
    const KeyPair k = test_key(static_cast<uint8_t>(i + 1));
    (void)am.add(signed_record(k, static_cast<uint16_t>(1000 + i), kT0));
    if (i < 5) exclude.insert(k.public_key());
  }
  std::map<uint16_t, int> hits;
  for (int n = 0; n < 1000; ++n) {
    auto r = am.select(kT0, exclude);
    ASSERT_TRUE(r.has_value());
    EXPECT_FALSE(exclude.count(r->identity));
    hits[r->address.port]++;
  }
  EXPECT_EQ(hits.size(), 5u);
  for (auto& [port, n] : hits)
    EXPECT_GT(n, 100);
}

TEST(AddrMan, ExpiresStaleRecords) {
  AddrMan am(100, 6);
  (void)am.add(signed_record(test_key(1), 1000, kT0));
  (void)am.add(signed_record(test_key(2), 1001, kT0 + kMaxRecordAge));
  am.expire(kT0 + kMaxRecordAge + 1s);
  EXPECT_EQ(am.size(), 1u);
  EXPECT_NE(am.find(test_key(2).public_key()), nullptr);
}

TEST(AddrMan, PersistenceRoundTrip) {
  AddrMan am(100, 7);
  for (int i = 0; i < 30; ++i)
    (void)am.add(signed_record(test_key(static_cast<uint8_t>(i)), static_cast<uint16_t>(1000 + i),
                               kT0 + i * 1s));
  am.mark_failed(test_key(3).public_key(), kT0, 1s, 10min);
  am.mark_good(test_key(4).public_key(), kT0 + 5s);
  const std::vector<uint8_t> bytes = am.serialize();

  AddrMan loaded(100, 8);
  ASSERT_TRUE(loaded.deserialize(bytes, kT0 + 1min).ok());
  loaded.sanity_check();
  ASSERT_EQ(loaded.size(), am.size());
  for (int i = 0; i < 30; ++i) {
    const PublicKey id = test_key(static_cast<uint8_t>(i)).public_key();
    const AddrInfo* a = am.find(id);
    const AddrInfo* b = loaded.find(id);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(a->record, b->record);
    EXPECT_TRUE(b->record.verify_signature());
    EXPECT_EQ(a->failures, b->failures);
    EXPECT_EQ(a->last_success, b->last_success);
    EXPECT_EQ(a->last_try, b->last_try);
  }
  // Serialising the loaded book gives the same bytes (same order, same content).
  EXPECT_EQ(loaded.serialize(), bytes);

  // A smaller book keeps what fits; stale records are dropped on load.
  AddrMan small(10, 9);
  ASSERT_TRUE(small.deserialize(bytes, kT0).ok());
  EXPECT_EQ(small.size(), 10u);
  AddrMan later(100, 9);
  ASSERT_TRUE(later.deserialize(bytes, kT0 + kMaxRecordAge + 10s).ok());
  EXPECT_EQ(later.size(), 20u);  // records signed at kT0+10s and later survive
}

TEST(AddrMan, CorruptFilesAreRefusedWithACause) {
  AddrMan am(100, 7);
  (void)am.add(signed_record(test_key(1), 1000, kT0));
  std::vector<uint8_t> bytes = am.serialize();

  AddrMan loaded(100, 8);
  (void)loaded.add(signed_record(test_key(2), 1000, kT0));
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::vector<uint8_t> bad = bytes;
    bad[i] ^= 0x40;
    const Status s = loaded.deserialize(bad, kT0);
    EXPECT_FALSE(s.ok()) << "byte " << i;
    EXPECT_NE(s.message().find("address book"), std::string::npos);
    EXPECT_EQ(loaded.size(), 0u);
  }
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(loaded.deserialize(std::span(bytes).first(n), kT0).ok()) << "length " << n;
  EXPECT_TRUE(loaded.deserialize(bytes, kT0).ok());
  EXPECT_EQ(loaded.size(), 1u);
}

}  // namespace
}  // namespace hearsay
