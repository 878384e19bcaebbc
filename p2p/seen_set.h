// SeenSet: the ids (32-byte transaction or block hashes) the node has accepted, rejected or is
// fetching, remembered for a configured time with bounded memory.
//
// Rules
//  - insert(id, now) makes `id` remembered from `now` on: a fresh id is added, an id already
//    held is refreshed (its retention restarts at `now`).
//  - Retention, with expiry E, G generations and period P = ceil(E / (G-1)): an id inserted at
//    t answers contains() == true for every now < t + E (unless a flood forced an early
//    rotation, below), and contains() == false for every now >= t + G*P (about E*G/(G-1)).
//  - Time never runs backwards inside the set: a `now` earlier than the latest one seen is
//    treated as that latest one (net/ passes the system clock, which may step back).
//
// Design: one open-addressing table (linear probing) of 8-byte slots. A slot holds a 56-bit
// fingerprint of the id (SipHash-2-4 keyed by a secret salt handed in at construction) and an
// 8-bit generation tag. Generations advance every P of time; an entry whose generation is G or
// more behind the current one is expired: lookups treat it as absent immediately, and the next
// insert that crosses a generation boundary sweeps the table once (O(capacity)) and re-seats
// the survivors so that probe sequences stay short. Lookup and insert are O(1) expected: one
// SipHash and, at the maximum load of 3/4, about 2.5 probes for a hit and 8.5 for a miss, all
// in one or two cache lines.
//
// Memory: a fixed table sized at construction for `max_entries`: capacity =
// ceil(max_entries * 4/3) slots of 8 bytes, i.e. 10.7 bytes per entry when full (plus a 2 KiB
// header); it never grows. Each generation holds at most max_entries / G entries.
//
// Adversary. Peers choose the ids they announce, so (1) the fingerprint is salted: without the
// salt a peer can neither aim two ids at one fingerprint nor pile ids into one probe run;
// (2) a flood cannot grow memory: when the current generation is full, the set rotates early,
// dropping the oldest generation before its time (a burst of more than max_entries / G
// inserts within one period P does this too). Under a sustained insert rate above
// max_entries * (G-1) / (G * E) per second retention is shortened (as with Bitcoin Core's
// CRollingBloomFilter, which keeps the last N..1.5N inserts): the flood costs the node
// re-downloads, never memory. early_rotations() counts these events for monitoring.
//
// False positives: an absent id is reported present when its 56-bit fingerprint equals that of
// one of the n held ids: probability about n / 2^56 per lookup (3e-11 at n = 2 million). The
// cost of one is that the node skips one announcement of a transaction it has not seen; with the
// salt secret, a peer cannot make it happen on purpose. Within the retention rules above
// there are no false negatives.
//
// Not thread-safe (the relay logic is single-threaded). Broken invariants abort (HEARSAY_CHECK);
// an invalid Options is a programming error and aborts too.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "crypto/hash.h"
#include "p2p/types.h"

namespace hearsay {

// How long an id stays remembered by default: 20 minutes, long enough to outlive the request
// timeout of every announcer of an id (TxRequestTracker's 60 s) many times.
inline constexpr Duration kDefaultSeenExpiry = std::chrono::minutes(20);
// Default capacity: 2 million ids (21.3 MB). At 4 generations this keeps the full 20 minutes
// at up to 1,250 inserts per second; above that a flood shortens retention (see above).
inline constexpr size_t kDefaultSeenMaxEntries = 2'000'000;
// Generations: 4 means retention between E and 1.33 E, and 3/4 of the table's entries live.
inline constexpr unsigned kDefaultSeenGenerations = 4;
inline constexpr unsigned kMinSeenGenerations = 2;
// Tags are 8 bits and must never wrap onto a live generation: 16 leaves a wide margin.
inline constexpr unsigned kMaxSeenGenerations = 16;
static_assert(kDefaultSeenGenerations >= kMinSeenGenerations &&
              kDefaultSeenGenerations <= kMaxSeenGenerations);

// SipHash-2-4 of one 32-byte id with the key expanded once: the seen-set's lookup path
// (libsodium's generic siphash24 costs several times more per call). Equal to
// siphash24(key, id) from crypto/hash.h, which a test checks.
class SipIdHasher {
 public:
  explicit SipIdHasher(const SipKey& key);
  uint64_t operator()(const Hash256& id) const;

 private:
  uint64_t m_k0 = 0, m_k1 = 0;
};

struct SeenSetOptions {
  Duration expiry = kDefaultSeenExpiry;            // guaranteed retention E (> 0)
  size_t max_entries = kDefaultSeenMaxEntries;     // >= generations
  unsigned generations = kDefaultSeenGenerations;  // G, in [2, 16]
};

class SeenSet {
 public:
  using Options = SeenSetOptions;

  // `salt` must be secret and random (the node draws it at start); tests pass fixed ones.
  explicit SeenSet(const SipKey& salt, Options options = {});

  // Remembers `id` from `now` on. Returns true if it was not held (as contains() would say).
  bool insert(const Hash256& id, Time now);
  // True if `id` is remembered at `now` (see the retention rules above).
  bool contains(const Hash256& id, Time now) const;
  // Drops generations that expired by `now` (insert does this too).
  void expire(Time now);

  // Entries held, including any that expired since the last insert or expire().
  size_t size() const { return m_size; }
  size_t capacity() const { return m_slots.size(); }
  size_t memory_bytes() const;
  Duration min_retention() const { return m_options.expiry; }
  Duration max_retention() const { return m_period * m_options.generations; }
  // Rotations forced by a full generation (each shortened some entries' retention).
  uint64_t early_rotations() const { return m_early_rotations; }

  // Rebuilds the counts and checks every invariant; aborts if one is broken.
  void sanity_check() const;

  // Inspection (tests, the fuzz oracle): the slot holding `id`, if held (expired or not).
  std::optional<size_t> slot_of(const Hash256& id) const;

 private:
  static constexpr uint64_t kEmpty = 0;
  // Load limit 3/4, as a ratio: capacity >= entries * 4 / 3.
  static constexpr size_t kLoadNum = 3, kLoadDen = 4;

  uint64_t fingerprint(const Hash256& id) const;  // 56 bits, never 0, in the high bits
  size_t home(uint64_t fp) const;                 // the first slot of fp's probe sequence
  size_t find(uint64_t fp) const;                 // slot holding fp, or the empty slot ending
                                                  // its probe sequence
  uint8_t age(uint64_t slot) const { return static_cast<uint8_t>(m_gen - (slot & 0xff)); }
  // Periods elapsed beyond the current generation at `now` (0 if still inside it).
  uint64_t pending_periods(Time now) const;
  void advance(uint64_t periods);  // start `periods` new generations, sweeping the old
  void reseat(size_t start);       // re-place every entry after a sweep emptied slots

  SipIdHasher m_hash;
  Options m_options;
  Duration m_period{};   // P
  size_t m_gen_cap = 0;  // entries per generation
  std::vector<uint64_t> m_slots;
  std::array<size_t, 256> m_count_by_tag{};
  size_t m_size = 0;
  uint8_t m_gen = 0;  // tag of the current generation
  bool m_started = false;
  Time m_now{Time::min()};  // latest time seen
  Time m_next_rotation{};   // when the current generation ends
  uint64_t m_early_rotations = 0;
};

}  // namespace hearsay
