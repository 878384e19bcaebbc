// BoundedOrderedSet: what insert returns, FIFO eviction, repeats that do not refresh, both
// index kinds, and a random walk against a naive model (a deque searched linearly).
#include "p2p/bounded_set.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <random>
#include <unordered_set>

#include "p2p/block.h"
#include "testing/test_util.h"

namespace hearsay {
namespace {

TEST(BoundedOrderedSet, InsertReportsNewAndHeld) {
  BoundedOrderedSet<int> s(3);
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.capacity(), 3u);
  auto r = s.insert(1);
  EXPECT_TRUE(r.inserted);
  EXPECT_FALSE(r.evicted);
  r = s.insert(1);
  EXPECT_FALSE(r.inserted);
  EXPECT_FALSE(r.evicted);
  EXPECT_TRUE(s.contains(1));
  EXPECT_FALSE(s.contains(2));
  EXPECT_EQ(s.size(), 1u);
  s.sanity_check();
}

TEST(BoundedOrderedSet, EvictsTheOldestWhenFull) {
  BoundedOrderedSet<int> s(3);
  for (int i = 1; i <= 3; ++i)
    EXPECT_FALSE(s.insert(i).evicted);
  auto r = s.insert(4);
  EXPECT_TRUE(r.inserted);
  ASSERT_TRUE(r.evicted);
  EXPECT_EQ(*r.evicted, 1);
  EXPECT_EQ(*s.insert(5).evicted, 2);
  EXPECT_EQ(s.size(), 3u);
  EXPECT_FALSE(s.contains(1));
  EXPECT_FALSE(s.contains(2));
  for (int i = 3; i <= 5; ++i)
    EXPECT_TRUE(s.contains(i)) << i;
  s.sanity_check();
}

TEST(BoundedOrderedSet, ARepeatDoesNotRefreshItsAge) {
  BoundedOrderedSet<int> s(2);
  s.insert(1);
  s.insert(2);
  s.insert(1);  // held: still the oldest
  EXPECT_EQ(*s.insert(3).evicted, 1);
  EXPECT_TRUE(s.contains(2));
  EXPECT_TRUE(s.contains(3));
}

TEST(BoundedOrderedSet, AnEvictedElementCanReturnAsTheNewest) {
  BoundedOrderedSet<int> s(2);
  s.insert(1);
  s.insert(2);
  s.insert(3);  // evicts 1
  auto r = s.insert(1);
  EXPECT_TRUE(r.inserted);
  EXPECT_EQ(*r.evicted, 2);
  EXPECT_EQ(*s.insert(4).evicted, 3);
  EXPECT_TRUE(s.contains(1));
}

TEST(BoundedOrderedSet, CapacityOne) {
  BoundedOrderedSet<int> s(1);
  s.insert(7);
  EXPECT_EQ(*s.insert(8).evicted, 7);
  EXPECT_FALSE(s.insert(8).inserted);
  EXPECT_EQ(s.size(), 1u);
}

TEST(BoundedOrderedSet, BlockIdsInTheDefaultOrderedIndex) {
  BoundedOrderedSet<BlockId> s(2);
  const BlockId a = test::numbered_id(1, 0x11), b = test::numbered_id(2, 0x11),
                c = test::numbered_id(3, 0x11);
  s.insert(a);
  s.insert(b);
  EXPECT_EQ(*s.insert(c).evicted, a);
  EXPECT_FALSE(s.contains(a));
  EXPECT_TRUE(s.contains(b) && s.contains(c));
}

// Random inserts against a naive model, with a hash index and with the ordered one.
template <class Set>
void expect_matches_model(uint64_t seed, size_t capacity) {
  std::mt19937_64 rng(seed);
  Set s(capacity);
  std::deque<uint64_t> model;  // oldest first
  for (int step = 0; step < 5'000; ++step) {
    const uint64_t v = rng() % (3 * capacity);
    const bool held = std::find(model.begin(), model.end(), v) != model.end();
    std::optional<uint64_t> evicted;
    if (!held) {
      model.push_back(v);
      if (model.size() > capacity) {
        evicted = model.front();
        model.pop_front();
      }
    }
    const auto r = s.insert(v);
    ASSERT_EQ(r.inserted, !held) << step;
    ASSERT_EQ(r.evicted, evicted) << step;
    ASSERT_EQ(s.size(), model.size());
    const uint64_t probe = rng() % (3 * capacity);
    ASSERT_EQ(s.contains(probe), std::find(model.begin(), model.end(), probe) != model.end());
    s.sanity_check();
  }
}

TEST(BoundedOrderedSet, MatchesANaiveModel) {
  for (size_t capacity : {1, 2, 5, 64}) {
    expect_matches_model<BoundedOrderedSet<uint64_t>>(capacity, capacity);
    expect_matches_model<BoundedOrderedSet<uint64_t, std::unordered_set<uint64_t>>>(capacity + 9,
                                                                                    capacity);
  }
}

}  // namespace
}  // namespace hearsay
