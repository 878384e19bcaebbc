// Fuzz target: SeenSet against an exact model (every id's last insert time).
//
// Oracle, at every step: sanity_check() holds; insert() answers "new" exactly when contains()
// said "absent" just before, and the id is present right after; an id never inserted is
// absent (a 56-bit fingerprint collision among 64 ids has probability ~2^-45); an id inserted
// at t is present while now < t + min_retention() unless an early (flood) rotation happened
// since, and absent once now >= t + max_retention(); size() never exceeds max_entries and
// memory never changes. Small tables and short expiries make floods and rotations frequent.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "fuzz/fuzz_util.h"
#include "p2p/seen_set.h"

using namespace hearsay;

namespace {

constexpr size_t kMaxSteps = 1000;
constexpr unsigned kIds = 64;

Hash256 id_of(unsigned i) {
  Hash256 h{};
  h[0] = static_cast<uint8_t>(i);
  h[17] = 0x5e;
  return h;
}

struct Remembered {
  Time at{};
  uint64_t early_rotations = 0;  // the set's counter right after that insert
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hearsay::fuzz::FuzzInput in(data, size);
  SeenSet::Options o;
  o.generations = kMinSeenGenerations + in.byte() % 4;
  o.max_entries = o.generations + in.byte() % 120;
  o.expiry = std::chrono::milliseconds(1 + in.byte());
  SipKey salt{};
  salt[0] = in.byte();
  SeenSet set(salt, o);
  const size_t memory = set.memory_bytes();
  std::map<unsigned, Remembered> model;
  Time clock = Time(std::chrono::hours(24));
  Time latest = Time::min();  // the set's clock: the latest time it was handed

  for (size_t step = 0; step < kMaxSteps && !in.empty(); ++step) {
    const uint8_t op = in.byte();
    const unsigned id = in.byte() % kIds;
    switch (op % 6) {
      case 0:  // small step forward
        clock += std::chrono::microseconds(in.u16());
        break;
      case 1:  // big step forward, in units of a sixteenth of the expiry
        clock += o.expiry * (in.byte() % 64) / 16;
        break;
      case 2:  // the clock steps back
        clock -= std::chrono::microseconds(in.u16());
        break;
      case 3:
      case 4: {  // insert
        latest = std::max(latest, clock);
        const bool before = set.contains(id_of(id), clock);
        const bool added = set.insert(id_of(id), clock);
        FUZZ_ASSERT(added == !before);
        FUZZ_ASSERT(set.contains(id_of(id), clock));
        model[id] = Remembered{latest, set.early_rotations()};
        break;
      }
      case 5:
        latest = std::max(latest, clock);
        set.expire(clock);
        break;
    }
    // Check one id (the operand) against the model at the current time.
    const Time now = std::max(latest, clock);
    const bool present = set.contains(id_of(id), clock);
    auto it = model.find(id);
    if (it == model.end()) {
      FUZZ_ASSERT(!present);
    } else {
      const Duration age = now - it->second.at;
      if (age < set.min_retention() && it->second.early_rotations == set.early_rotations())
        FUZZ_ASSERT(present);
      if (age >= set.max_retention()) FUZZ_ASSERT(!present);
    }
    FUZZ_ASSERT(set.size() <= o.max_entries);
    FUZZ_ASSERT(set.memory_bytes() == memory);
    set.sanity_check();
  }
  return 0;
}
