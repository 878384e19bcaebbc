// Fuzz target: AddrMan (the address book) against a naive model.
//
// The model is a map identity → (record, failures, last_try, last_success, next_try) updated by
// the rules of p2p/addrman.h: add() keeps the strictly newest record and resets the dial
// history when the address moved; a full book evicts exactly one other entry (which one is the
// book's random choice: the model learns it by looking); kAddrManMaxFailures failures drop an
// entry, fewer back it off by a delay in [base/2, base] (p2p/backoff.h); expire() drops
// exactly the records older than kMaxRecordAge; select() returns only an entry that may be
// dialled and is not excluded, and nothing only when there is none; sample() returns distinct
// stored records; serialize() then deserialize() gives the same book less the stale records
// (next_try reset). After every step every model entry is compared with find(), size() with
// the model's, and sanity_check() runs. 12 identities, 3 addresses, capacities 1..8.
#include <cstdint>
#include <map>
#include <optional>
#include <set>

#include "fuzz/fuzz_util.h"
#include "p2p/addrman.h"

using namespace hearsay;

namespace {

constexpr size_t kMaxSteps = 400;
constexpr unsigned kIdentities = 12;
constexpr Duration kBackoffMin = std::chrono::seconds(1);
constexpr Duration kBackoffMax = std::chrono::seconds(60);
constexpr uint64_t kMaxRecordSeconds = uint64_t{1} << 40;  // addrman.cpp's clamp

PublicKey identity_of(unsigned i) {
  PublicKey k{};
  k[0] = static_cast<uint8_t>(i);
  k[31] = 0xad;
  return k;
}

PeerRecord record_of(unsigned id, unsigned addr, uint64_t time) {
  PeerRecord r;
  r.identity = identity_of(id);
  r.address.ip[15] = static_cast<uint8_t>(addr);
  r.address.port = static_cast<uint16_t>(18733 + addr);
  r.time = time;
  r.signature[0] = static_cast<uint8_t>(time);
  return r;
}

bool stale(const PeerRecord& r, Time now) {
  const Time t = std::chrono::seconds(static_cast<int64_t>(std::min(r.time, kMaxRecordSeconds)));
  return t + kMaxRecordAge < now;
}

void check_entry(const AddrInfo& m, const AddrInfo* real) {
  FUZZ_ASSERT(real != nullptr);
  FUZZ_ASSERT(real->record == m.record);
  FUZZ_ASSERT(real->failures == m.failures);
  FUZZ_ASSERT(real->last_try == m.last_try);
  FUZZ_ASSERT(real->last_success == m.last_success);
  FUZZ_ASSERT(real->next_try == m.next_try);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hearsay::fuzz::FuzzInput in(data, size);
  const size_t capacity = 1 + in.byte() % 8;
  AddrMan book(capacity, in.u64());
  std::map<unsigned, AddrInfo> model;
  // Records are signed around "now"; the clock starts 40 days in so records can be stale.
  Time now = std::chrono::hours(24 * 40);

  for (size_t step = 0; step < kMaxSteps && !in.empty(); ++step) {
    const uint8_t op = in.byte();
    const unsigned id = in.byte() % kIdentities;
    const PublicKey key = identity_of(id);
    auto it = model.find(id);
    switch (op % 11) {
      case 0: {  // add a record signed up to ~45 days before now, or a little after it
        const unsigned addr = in.byte() % 3;
        const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(now).count();
        const int64_t age_s = static_cast<int64_t>(in.range(0, 4000)) * 1000 - 100'000;
        const uint64_t t = static_cast<uint64_t>(std::max<int64_t>(0, now_s - age_s));
        const PeerRecord r = record_of(id, addr, t);
        const bool knew = it != model.end() && it->second.record.time >= t;
        FUZZ_ASSERT(book.knows(r) == knew);
        const AddrMan::AddResult res = book.add(r);
        if (it != model.end()) {
          if (knew) {
            FUZZ_ASSERT(res == AddrMan::AddResult::kKnown);
          } else {
            FUZZ_ASSERT(res == AddrMan::AddResult::kUpdated);
            if (!(it->second.record.address == r.address)) {
              it->second.failures = 0;
              it->second.next_try = Time{};
            }
            it->second.record = r;
          }
        } else {
          FUZZ_ASSERT(res == AddrMan::AddResult::kAdded);
          const bool full = model.size() >= capacity;
          if (full) {  // exactly one other entry was evicted
            size_t gone = 0;
            for (auto m = model.begin(); m != model.end();) {
              if (!book.find(identity_of(m->first))) {
                ++gone;
                m = model.erase(m);
              } else {
                ++m;
              }
            }
            FUZZ_ASSERT(gone == 1);
          }
          model[id] = AddrInfo{.record = r};
        }
        FUZZ_ASSERT(book.knows(r));
        break;
      }
      case 1:
        FUZZ_ASSERT(book.remove(key) == (it != model.end()));
        if (it != model.end()) model.erase(it);
        break;
      case 2:
        book.mark_attempt(key, now);
        if (it != model.end()) it->second.last_try = now;
        break;
      case 3:
      case 4: {
        book.mark_failed(key, now, kBackoffMin, kBackoffMax);
        if (it == model.end()) break;
        AddrInfo& e = it->second;
        e.failures++;
        e.last_try = now;
        if (e.failures >= kAddrManMaxFailures) {
          model.erase(it);
          FUZZ_ASSERT(!book.find(key));
          break;
        }
        Duration base = kBackoffMin;
        for (uint32_t i = 1; i < e.failures && base < kBackoffMax; ++i)
          base *= 2;
        base = std::min(base, kBackoffMax);
        const AddrInfo* real = book.find(key);
        FUZZ_ASSERT(real != nullptr);
        FUZZ_ASSERT(real->next_try >= now + base / 2 && real->next_try <= now + base);
        e.next_try = real->next_try;  // the jitter is the book's choice
        break;
      }
      case 5:
        book.mark_good(key, now);
        if (it != model.end()) {
          it->second.failures = 0;
          it->second.last_success = now;
          it->second.next_try = Time{};
        }
        break;
      case 6: {  // select, excluding the identities of a bit mask
        const uint16_t mask = in.u16();
        std::set<PublicKey> exclude;
        for (unsigned i = 0; i < kIdentities; ++i)
          if (mask >> i & 1) exclude.insert(identity_of(i));
        bool any = false;
        for (const auto& [mid, e] : model)
          any |= e.next_try <= now && !exclude.count(identity_of(mid));
        const std::optional<PeerRecord> got = book.select(now, exclude);
        FUZZ_ASSERT(got.has_value() == any);
        if (got) {
          FUZZ_ASSERT(!exclude.count(got->identity));
          const unsigned gid = got->identity[0];
          FUZZ_ASSERT(gid < kIdentities && got->identity == identity_of(gid));
          FUZZ_ASSERT(model.count(gid) && model[gid].record == *got);
          FUZZ_ASSERT(model[gid].next_try <= now);
        }
        break;
      }
      case 7: {
        const size_t n = in.byte() % 16;
        const std::vector<PeerRecord> got = book.sample(n);
        FUZZ_ASSERT(got.size() == std::min(n, model.size()));
        std::set<PublicKey> distinct;
        for (const PeerRecord& r : got) {
          FUZZ_ASSERT(distinct.insert(r.identity).second);
          const unsigned gid = r.identity[0];
          FUZZ_ASSERT(model.count(gid) && model[gid].record == r);
        }
        break;
      }
      case 8:
        book.expire(now);
        std::erase_if(model, [&](const auto& kv) { return stale(kv.second.record, now); });
        break;
      case 9: {  // save and reload (peers.dat): stale records go, next_try resets
        const std::vector<uint8_t> bytes = book.serialize();
        FUZZ_ASSERT(book.deserialize(bytes, now).ok());
        std::erase_if(model, [&](const auto& kv) { return stale(kv.second.record, now); });
        for (auto& [mid, e] : model)
          e.next_try = Time{};
        break;
      }
      case 10:  // time passes: up to ~18 hours, or up to ~32 days
        if (op & 0x80)
          now += std::chrono::hours(3 * in.byte());
        else
          now += std::chrono::seconds(in.u16());
        break;
    }
    FUZZ_ASSERT(book.size() == model.size());
    FUZZ_ASSERT(book.size() <= capacity);
    for (const auto& [mid, e] : model)
      check_entry(e, book.find(identity_of(mid)));
    book.sanity_check();
  }
  return 0;
}
