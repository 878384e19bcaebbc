#include "p2p/seen_set.h"

#include <algorithm>

#include "crypto/result.h"

namespace hearsay {

namespace {
constexpr uint64_t kTagMask = 0xff;

uint64_t load_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | p[i];
  return v;
}

constexpr uint64_t rotl(uint64_t x, int b) {
  return (x << b) | (x >> (64 - b));
}

struct SipState {
  uint64_t v0, v1, v2, v3;
  void round() {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
  }
  void compress(uint64_t m) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
};
}  // namespace

SipIdHasher::SipIdHasher(const SipKey& key)
    : m_k0(load_le64(key.data())), m_k1(load_le64(key.data() + 8)) {}

uint64_t SipIdHasher::operator()(const Hash256& id) const {
  SipState s{m_k0 ^ 0x736f6d6570736575ULL, m_k1 ^ 0x646f72616e646f6dULL,
             m_k0 ^ 0x6c7967656e657261ULL, m_k1 ^ 0x7465646279746573ULL};
  for (size_t i = 0; i < 32; i += 8)
    s.compress(load_le64(id.data() + i));
  s.compress(uint64_t{32} << 56);  // final block: the length, no tail bytes
  s.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i)
    s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

SeenSet::SeenSet(const SipKey& salt, Options options) : m_hash(salt), m_options(options) {
  HEARSAY_CHECK(options.generations >= kMinSeenGenerations &&
                options.generations <= kMaxSeenGenerations);
  HEARSAY_CHECK(options.expiry > Duration::zero());
  HEARSAY_CHECK(options.max_entries >= options.generations);
  const auto spans = static_cast<Duration::rep>(options.generations - 1);
  m_period = Duration((options.expiry.count() + spans - 1) / spans);
  m_gen_cap = options.max_entries / options.generations;
  const size_t entries = m_gen_cap * options.generations;
  // +1: at least one slot always stays empty, so every probe sequence ends.
  m_slots.assign((entries * kLoadDen + kLoadNum - 1) / kLoadNum + 1, kEmpty);
}

size_t SeenSet::memory_bytes() const {
  return sizeof(*this) + m_slots.capacity() * sizeof(uint64_t);
}

uint64_t SeenSet::fingerprint(const Hash256& id) const {
  uint64_t fp = m_hash(id) & ~kTagMask;
  return fp == 0 ? (uint64_t{1} << 8) : fp;
}

size_t SeenSet::home(uint64_t fp) const {
  // Lemire's multiply-shift range reduction: uniform over any table size, no division.
  return static_cast<size_t>((static_cast<unsigned __int128>(fp) * m_slots.size()) >> 64);
}

size_t SeenSet::find(uint64_t fp) const {
  const size_t n = m_slots.size();
  size_t i = home(fp);
  while (true) {
    const uint64_t s = m_slots[i];
    if (s == kEmpty || (s & ~kTagMask) == fp) return i;
    if (++i == n) i = 0;
  }
}

uint64_t SeenSet::pending_periods(Time now) const {
  if (!m_started || now < m_next_rotation) return 0;
  return 1 + static_cast<uint64_t>((now - m_next_rotation) / m_period);
}

bool SeenSet::contains(const Hash256& id, Time now) const {
  const uint64_t extra = pending_periods(std::max(now, m_now));
  if (extra >= m_options.generations) return false;
  const uint64_t s = m_slots[find(fingerprint(id))];
  return s != kEmpty && age(s) + extra < m_options.generations;
}

void SeenSet::expire(Time now) {
  m_now = std::max(now, m_now);
  if (!m_started) {
    m_started = true;
    m_next_rotation = m_now + m_period;
    return;
  }
  const uint64_t periods = pending_periods(m_now);
  if (periods == 0) return;
  m_next_rotation += m_period * static_cast<Duration::rep>(periods);
  advance(periods);
}

void SeenSet::advance(uint64_t periods) {
  const unsigned g = m_options.generations;
  if (periods >= g) {  // everything expired: no sweep needed
    std::fill(m_slots.begin(), m_slots.end(), kEmpty);
    m_count_by_tag.fill(0);
    m_size = 0;
    m_gen = static_cast<uint8_t>(m_gen + g);
    return;
  }
  size_t dropped = 0;
  for (uint64_t i = 0; i < periods; ++i) {
    // The generation that falls out of the window of the last g.
    dropped += m_count_by_tag[static_cast<uint8_t>(m_gen + 1 - g + i)];
  }
  m_gen = static_cast<uint8_t>(m_gen + periods);
  if (dropped == 0) return;
  // An empty slot before any is cleared: no probe run crosses it (see reseat).
  size_t start = 0;
  while (m_slots[start] != kEmpty)
    ++start;  // exists: capacity > max entries
  for (uint64_t& s : m_slots) {
    if (s != kEmpty && age(s) >= g) {
      --m_count_by_tag[s & kTagMask];
      --m_size;
      s = kEmpty;
    }
  }
  reseat(start);
}

void SeenSet::reseat(size_t start) {
  // Emptying slots may have cut probe runs. Walk the table once, starting after `start`, a
  // slot that was empty before the sweep, and move every entry to the first free slot from its
  // home. An entry only moves backwards within its own old run; no old run crosses `start`, so
  // an entry moved later never sits inside the run of one placed earlier, and every placed
  // entry stays reachable. (sanity_check verifies reachability.)
  const size_t n = m_slots.size();
  for (size_t k = 1; k <= n; ++k) {
    const size_t i = (start + k) % n;
    const uint64_t s = m_slots[i];
    if (s == kEmpty) continue;
    m_slots[i] = kEmpty;
    m_slots[find(s & ~kTagMask)] = s;
  }
}

bool SeenSet::insert(const Hash256& id, Time now) {
  expire(now);
  const uint64_t fp = fingerprint(id);
  size_t i = find(fp);
  const bool fresh = m_slots[i] == kEmpty;
  if (!fresh && age(m_slots[i]) == 0) return false;  // already in the current generation
  if (m_count_by_tag[m_gen] >= m_gen_cap) {
    // Flood: the current generation is full. Rotate early (see the header).
    ++m_early_rotations;
    m_next_rotation = m_now + m_period;
    advance(1);
    i = find(fp);
  }
  const uint64_t old = m_slots[i];
  if (old == kEmpty) {
    ++m_size;
  } else {
    --m_count_by_tag[old & kTagMask];
  }
  ++m_count_by_tag[m_gen];
  m_slots[i] = fp | m_gen;
  // What contains() said before this call (an entry the early rotation just dropped was
  // still present then).
  return fresh;
}

std::optional<size_t> SeenSet::slot_of(const Hash256& id) const {
  const size_t i = find(fingerprint(id));
  if (m_slots[i] == kEmpty) return std::nullopt;
  return i;
}

void SeenSet::sanity_check() const {
  const size_t n = m_slots.size();
  const unsigned g = m_options.generations;
  std::array<size_t, 256> counts{};
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t s = m_slots[i];
    if (s == kEmpty) continue;
    HEARSAY_CHECK((s & ~kTagMask) != 0);
    HEARSAY_CHECK(age(s) < g);  // expired generations were swept
    ++counts[s & kTagMask];
    ++total;
    // Reachable: no empty slot between its home and its position, and no duplicate on the way.
    for (size_t j = home(s & ~kTagMask); j != i; j = (j + 1) % n) {
      HEARSAY_CHECK(m_slots[j] != kEmpty);
      HEARSAY_CHECK((m_slots[j] & ~kTagMask) != (s & ~kTagMask));
    }
  }
  HEARSAY_CHECK(total == m_size);
  HEARSAY_CHECK(counts == m_count_by_tag);
  for (size_t t = 0; t < 256; ++t)
    HEARSAY_CHECK(counts[t] <= m_gen_cap);
  HEARSAY_CHECK(m_size * kLoadDen <= (n - 1) * kLoadNum);
  HEARSAY_CHECK(m_size < n);
  HEARSAY_CHECK(!m_started || m_next_rotation > m_now);
  HEARSAY_CHECK(!m_started || m_next_rotation - m_now <= m_period);
}

}  // namespace hearsay
