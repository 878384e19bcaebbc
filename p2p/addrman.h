// AddrMan: the address book — signed peer records, what we know about dialling them, and
// which one to dial next. No I/O: net/ persists serialize() to the data directory and hands
// the bytes back to deserialize() at start.
//
// Rules. One entry per identity, holding that identity's newest verified PeerRecord (the
// caller verifies signatures before add(); a record no newer than the stored one is ignored).
// Each entry remembers its dial history: consecutive failures, the time of the last attempt
// and success, and the earliest time it may be dialled again (exponential back-off with
// jitter, backoff.h). After kAddrManMaxFailures consecutive failures an entry is dropped, as
// are records older than kMaxRecordAge. select() picks uniformly among the entries that may be
// dialled now and are not excluded by the caller (already connected or being dialled).
//
// Adversary: peers choose which records they gossip. Identities are free, so a peer can fill
// the book with records of its own sybils at the rate the PeerManager lets it verify records
// (a per-peer token bucket); when full, a new record evicts the oldest of
// kAddrManEvictionSamples random entries, so a flood displaces mostly stale entries but can
// displace good ones over time. Bitcoin's bucketing by source network group (eclipse
// resistance) is not implemented: on a loopback testnet every node shares one address.
//
// Bounds: at most `capacity` entries, about 250 bytes each; add/find/remove O(log n);
// select/sample O(n); serialize/deserialize O(n).
//
// File format (all integers little-endian): "HSAM", u32 format version (1), CompactSize
// count, then per entry identity[32] ip[16] port u16 time u64 signature[64] failures u32
// last_success i64 last_try i64 (microseconds since the epoch), then the first 4 bytes of
// SHA-256d of everything before them.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <vector>

#include "crypto/result.h"
#include "p2p/messages.h"
#include "p2p/types.h"

namespace hearsay {

// Entries kept, records. Bitcoin's addrman holds ~65k; a testnet node needs far fewer, and
// 10,000 × ~250 bytes is 2.5 MB at most.
inline constexpr size_t kAddrManCapacity = 10'000;
// Consecutive failed dials after which an entry is dropped (Bitcoin's ADDRMAN_MAX_FAILURES).
inline constexpr uint32_t kAddrManMaxFailures = 10;
// Records signed longer ago than this are stale (Bitcoin's ADDRMAN_HORIZON, 30 days): nodes
// re-sign their record whenever they advertise it.
inline constexpr Duration kMaxRecordAge = std::chrono::hours(24 * 30);
// Entries compared when a full book must evict one (the oldest record of the sample goes).
inline constexpr size_t kAddrManEvictionSamples = 8;
// Largest count accepted from a file, entries (any larger count means corruption).
inline constexpr uint64_t kAddrManMaxFileEntries = 1'000'000;
inline constexpr uint32_t kAddrManFormatVersion = 1;

struct AddrInfo {
  PeerRecord record;
  uint32_t failures = 0;  // consecutive failed dials
  Time last_try{};        // last dial attempt (0: never)
  Time last_success{};    // last completed handshake (0: never)
  Time next_try{};        // not dialled before this
};

class AddrMan {
 public:
  explicit AddrMan(size_t capacity = kAddrManCapacity, uint64_t seed = 0);

  enum class AddResult : uint8_t { kAdded, kUpdated, kKnown };
  // Stores a record whose signature the caller has verified. A record for a known identity
  // replaces the stored one only when strictly newer (kUpdated; dial history is kept);
  // otherwise kKnown. A full book evicts an entry to make room.
  AddResult add(const PeerRecord& r);
  // True when the book already holds this identity's record at this time or newer, so the
  // caller need not verify it.
  bool knows(const PeerRecord& r) const;
  const AddrInfo* find(const PublicKey& identity) const;
  bool remove(const PublicKey& identity);

  // Dial bookkeeping (no-ops for identities not in the book).
  void mark_attempt(const PublicKey& identity, Time now);
  // A dial failed: back off (failures grow the delay), or drop the entry after
  // kAddrManMaxFailures.
  void mark_failed(const PublicKey& identity, Time now, Duration backoff_min, Duration backoff_max);
  void mark_good(const PublicKey& identity, Time now);

  // A random entry that may be dialled at `now` and whose identity is not in `exclude`.
  std::optional<PeerRecord> select(Time now, const std::set<PublicKey>& exclude);
  // Up to n distinct random records (for getaddr answers).
  std::vector<PeerRecord> sample(size_t n);
  // Drops records older than kMaxRecordAge at `now`.
  void expire(Time now);

  size_t size() const { return m_entries.size(); }
  size_t capacity() const { return m_capacity; }

  std::vector<uint8_t> serialize() const;
  // Replaces the contents with a serialized book. On error (corrupt or foreign file) the book
  // is left empty and the Status names the cause; stale records are dropped silently.
  Status deserialize(std::span<const uint8_t> bytes, Time now);

  void sanity_check() const;

 private:
  void erase_at(size_t i);
  void evict_one();

  size_t m_capacity;
  std::vector<AddrInfo> m_entries;      // dense, for O(1) random access
  std::map<PublicKey, size_t> m_index;  // identity → position in m_entries
  std::mt19937_64 m_rng;
};

}  // namespace hearsay
