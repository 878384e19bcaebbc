// BoundedOrderedSet: a set that remembers at most `capacity` elements and, when full, forgets
// the oldest one first (FIFO eviction). The relays use it for what a peer is known to have
// and for ids remembered for a while, where forgetting an old entry costs only a redundant
// message, and memory must not grow with what peers send.
//
// Contract:
//  - capacity() > 0 is fixed at construction; size() <= capacity() always.
//  - insert(v) of an element already held changes nothing (its age is not refreshed) and
//    returns {inserted = false}. Otherwise v becomes the newest element; if size() then
//    exceeds capacity(), the oldest element (the one inserted longest ago) is evicted and
//    returned in `evicted`, so a caller keeping data beside the set can drop it too.
//  - Elements are evicted strictly in insertion order; nothing else removes them.
//  - `Index` is the membership structure: std::set<T> (the default: ordered, O(log n), no hash
//    an adversary could aim at) or std::unordered_set<T, Hash> (O(1) expected; use only with
//    a hash peers cannot steer, e.g. over values already keyed with a secret).
// Cost: contains() and insert() are one lookup in Index (insert adds one Index insert and,
// when full, one erase) plus O(1) deque work. Memory: each element is stored twice (Index and
// the insertion-order deque). Not thread-safe.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <set>
#include <utility>

#include "crypto/result.h"

namespace hearsay {

template <class T, class Index = std::set<T>>
class BoundedOrderedSet {
 public:
  struct Inserted {
    bool inserted = false;     // false: it was held already
    std::optional<T> evicted;  // the oldest element, forgotten to make room
  };

  explicit BoundedOrderedSet(size_t capacity) : m_capacity(capacity) {
    HEARSAY_CHECK(capacity > 0);
  }

  bool contains(const T& value) const { return m_index.count(value) != 0; }

  Inserted insert(const T& value) {
    Inserted result;
    if (!m_index.insert(value).second) return result;
    result.inserted = true;
    m_order.push_back(value);
    if (m_order.size() > m_capacity) {
      m_index.erase(m_order.front());
      result.evicted = std::move(m_order.front());
      m_order.pop_front();
    }
    return result;
  }

  size_t size() const { return m_order.size(); }
  bool empty() const { return m_order.empty(); }
  size_t capacity() const { return m_capacity; }

  // Aborts if the index and the insertion order disagree in size or the bound is broken.
  void sanity_check() const {
    HEARSAY_CHECK(m_index.size() == m_order.size());
    HEARSAY_CHECK(m_order.size() <= m_capacity);
  }

 private:
  size_t m_capacity;
  Index m_index;
  std::deque<T> m_order;  // oldest first
};

}  // namespace hearsay
