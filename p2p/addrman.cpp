#include "p2p/addrman.h"

#include <algorithm>
#include <cstring>

#include "crypto/hash.h"
#include "p2p/backoff.h"
#include "p2p/serialize.h"

namespace hearsay {

namespace {
constexpr uint8_t kFileMagic[4] = {'H', 'S', 'A', 'M'};
constexpr size_t kChecksumSize = 4;

// Record times beyond this (seconds, ~35,000 years) are clamped so the conversion to
// microseconds cannot overflow.
constexpr uint64_t kMaxRecordSeconds = uint64_t{1} << 40;

Time record_time(const PeerRecord& r) {
  return Time(std::chrono::seconds(static_cast<int64_t>(std::min(r.time, kMaxRecordSeconds))));
}
}  // namespace

AddrMan::AddrMan(size_t capacity, uint64_t seed)
    : m_capacity(std::max<size_t>(capacity, 1)), m_rng(seed ^ 0x6164'6472'6d61'6e00ULL) {}

bool AddrMan::knows(const PeerRecord& r) const {
  auto it = m_index.find(r.identity);
  return it != m_index.end() && m_entries[it->second].record.time >= r.time;
}

AddrMan::AddResult AddrMan::add(const PeerRecord& r) {
  auto it = m_index.find(r.identity);
  if (it != m_index.end()) {
    AddrInfo& e = m_entries[it->second];
    if (e.record.time >= r.time) return AddResult::kKnown;
    if (!(e.record.address == r.address)) {
      // Moved: its old dial history says nothing about the new address.
      e.failures = 0;
      e.next_try = Time{};
    }
    e.record = r;
    return AddResult::kUpdated;
  }
  if (m_entries.size() >= m_capacity) evict_one();
  m_index.emplace(r.identity, m_entries.size());
  m_entries.push_back(AddrInfo{.record = r});
  return AddResult::kAdded;
}

const AddrInfo* AddrMan::find(const PublicKey& identity) const {
  auto it = m_index.find(identity);
  return it == m_index.end() ? nullptr : &m_entries[it->second];
}

void AddrMan::erase_at(size_t i) {
  m_index.erase(m_entries[i].record.identity);
  if (i + 1 != m_entries.size()) {
    m_entries[i] = m_entries.back();
    m_index[m_entries[i].record.identity] = i;
  }
  m_entries.pop_back();
}

bool AddrMan::remove(const PublicKey& identity) {
  auto it = m_index.find(identity);
  if (it == m_index.end()) return false;
  erase_at(it->second);
  return true;
}

void AddrMan::evict_one() {
  if (m_entries.empty()) return;
  std::uniform_int_distribution<size_t> pick(0, m_entries.size() - 1);
  size_t victim = pick(m_rng);
  for (size_t k = 1; k < kAddrManEvictionSamples; ++k) {
    const size_t i = pick(m_rng);
    const AddrInfo& a = m_entries[i];
    const AddrInfo& v = m_entries[victim];
    // Prefer evicting entries that keep failing, then the oldest record.
    if (a.failures > v.failures || (a.failures == v.failures && a.record.time < v.record.time))
      victim = i;
  }
  erase_at(victim);
}

void AddrMan::mark_attempt(const PublicKey& identity, Time now) {
  auto it = m_index.find(identity);
  if (it != m_index.end()) m_entries[it->second].last_try = now;
}

void AddrMan::mark_failed(const PublicKey& identity, Time now, Duration backoff_min,
                          Duration backoff_max) {
  auto it = m_index.find(identity);
  if (it == m_index.end()) return;
  AddrInfo& e = m_entries[it->second];
  e.failures++;
  e.last_try = now;
  if (e.failures >= kAddrManMaxFailures) {
    erase_at(it->second);
    return;
  }
  e.next_try = now + backoff_delay(e.failures, backoff_min, backoff_max, m_rng);
}

void AddrMan::mark_good(const PublicKey& identity, Time now) {
  auto it = m_index.find(identity);
  if (it == m_index.end()) return;
  AddrInfo& e = m_entries[it->second];
  e.failures = 0;
  e.last_success = now;
  e.next_try = Time{};
}

std::optional<PeerRecord> AddrMan::select(Time now, const std::set<PublicKey>& exclude) {
  // Reservoir sampling over the eligible entries: uniform, one pass, no allocation.
  std::optional<size_t> chosen;
  uint64_t seen = 0;
  for (size_t i = 0; i < m_entries.size(); ++i) {
    const AddrInfo& e = m_entries[i];
    if (e.next_try > now || exclude.count(e.record.identity)) continue;
    ++seen;
    if (std::uniform_int_distribution<uint64_t>(0, seen - 1)(m_rng) == 0) chosen = i;
  }
  if (!chosen) return std::nullopt;
  return m_entries[*chosen].record;
}

std::vector<PeerRecord> AddrMan::sample(size_t n) {
  n = std::min(n, m_entries.size());
  std::vector<size_t> order(m_entries.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  // Partial Fisher-Yates: the first n positions become a uniform random subset.
  for (size_t i = 0; i < n; ++i) {
    std::uniform_int_distribution<size_t> pick(i, order.size() - 1);
    std::swap(order[i], order[pick(m_rng)]);
  }
  std::vector<PeerRecord> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i)
    out.push_back(m_entries[order[i]].record);
  return out;
}

void AddrMan::expire(Time now) {
  for (size_t i = m_entries.size(); i-- > 0;)
    if (record_time(m_entries[i].record) + kMaxRecordAge < now) erase_at(i);
}

std::vector<uint8_t> AddrMan::serialize() const {
  std::vector<uint8_t> out;
  Writer w(out);
  w.bytes(kFileMagic).u32(kAddrManFormatVersion).compact_size(m_entries.size());
  for (const AddrInfo& e : m_entries) {
    w.bytes(e.record.identity).bytes(e.record.address.ip).u16(e.record.address.port);
    w.u64(e.record.time).bytes(e.record.signature);
    w.u32(e.failures).i64(e.last_success.count()).i64(e.last_try.count());
  }
  const Hash256 sum = sha256d(out);
  w.bytes(std::span<const uint8_t>(sum.data(), kChecksumSize));
  return out;
}

Status AddrMan::deserialize(std::span<const uint8_t> bytes, Time now) {
  m_entries.clear();
  m_index.clear();
  if (bytes.size() < sizeof(kFileMagic) + kChecksumSize)
    return fail(std::string("address book: file too short (delete it to start afresh)"));
  const auto body = bytes.first(bytes.size() - kChecksumSize);
  const Hash256 sum = sha256d(body);
  if (std::memcmp(sum.data(), bytes.data() + body.size(), kChecksumSize) != 0)
    return fail(std::string("address book: checksum mismatch, file corrupt (delete it)"));

  Reader r(body);
  std::array<uint8_t, 4> magic{};
  uint32_t version = 0;
  uint64_t count = 0;
  r.array(magic);
  r.u32(version);
  if (r.ok() && std::memcmp(magic.data(), kFileMagic, 4) != 0)
    return fail(std::string("address book: not an address book file (bad magic)"));
  if (r.ok() && version != kAddrManFormatVersion)
    return fail("address book: unknown format version " + std::to_string(version) +
                " (delete the file)");
  r.compact_size(count, kAddrManMaxFileEntries);
  std::vector<AddrInfo> loaded;
  for (uint64_t i = 0; i < count && r.ok(); ++i) {
    AddrInfo e;
    int64_t success = 0, last_try = 0;
    r.array(e.record.identity);
    r.array(e.record.address.ip);
    r.u16(e.record.address.port);
    r.u64(e.record.time);
    r.array(e.record.signature);
    r.u32(e.failures);
    r.i64(success);
    r.i64(last_try);
    e.last_success = Time(success);
    e.last_try = Time(last_try);
    if (r.ok()) loaded.push_back(e);
  }
  r.expect_end();
  if (!r.ok())
    return fail(std::string("address book: malformed (") + to_string(r.error()) +
                "), delete the file");
  for (AddrInfo& e : loaded) {
    if (record_time(e.record) + kMaxRecordAge < now) continue;
    if (e.failures >= kAddrManMaxFailures) continue;
    if (m_index.count(e.record.identity)) continue;
    if (m_entries.size() >= m_capacity) break;
    m_index.emplace(e.record.identity, m_entries.size());
    m_entries.push_back(e);
  }
  return {};
}

void AddrMan::sanity_check() const {
  HEARSAY_CHECK(m_entries.size() <= m_capacity);
  HEARSAY_CHECK(m_index.size() == m_entries.size());
  for (size_t i = 0; i < m_entries.size(); ++i) {
    auto it = m_index.find(m_entries[i].record.identity);
    HEARSAY_CHECK(it != m_index.end() && it->second == i);
    HEARSAY_CHECK(m_entries[i].failures < kAddrManMaxFailures);
  }
}

}  // namespace hearsay
