// Fuzz target: Sketch (p2p/sketch.h), PinSketch decoding on hostile and on modelled input.
//
// The first byte picks the mode:
//  - even, raw: the rest (at most 4·kMaxRawCapacity bytes, so every input runs fast) is a
//    peer's sketch. parse() accepts exactly the lengths 4·c for c >= 1 and serialize() gives
//    the bytes back; decode() returns nullopt or at most c distinct nonzero sorted elements
//    whose sketch is exactly the input.
//  - odd, model: a capacity c (1..256), then steps that each add one element (a small one,
//    so that lists repeat, or any 32-bit one) to sketch A, sketch B or both. A model keeps
//    each side as a set (adding twice removes, 0 does nothing). After merging, if the true
//    symmetric difference has at most c elements decode() returns exactly it (sorted);
//    otherwise nullopt or a set of at most c elements that reproduces the merged sketch.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "p2p/sketch.h"

using hearsay::p2p::Sketch;

namespace {

constexpr size_t kMaxRawCapacity = 256;
constexpr size_t kMaxSteps = 2000;

// decode()'s promise for any sketch.
void check_preimage(const Sketch& s, const std::optional<std::vector<uint32_t>>& got) {
  if (!got) return;
  FUZZ_ASSERT(got->size() <= s.capacity());
  FUZZ_ASSERT(std::is_sorted(got->begin(), got->end()));
  FUZZ_ASSERT(std::adjacent_find(got->begin(), got->end()) == got->end());
  FUZZ_ASSERT(std::find(got->begin(), got->end(), 0u) == got->end());
  Sketch again(s.capacity());
  for (uint32_t e : *got)
    again.add(e);
  FUZZ_ASSERT(again == s);
}

void raw(hearsay::fuzz::FuzzInput& in) {
  const std::vector<uint8_t> bytes = in.bytes(4 * kMaxRawCapacity);
  const std::optional<Sketch> s = Sketch::parse(bytes);
  FUZZ_ASSERT(s.has_value() == (!bytes.empty() && bytes.size() % 4 == 0));
  if (!s) return;
  FUZZ_ASSERT(s->serialize() == bytes);
  check_preimage(*s, s->decode());
}

uint32_t element(hearsay::fuzz::FuzzInput& in, bool wide) {
  if (!wide) return in.byte();
  const uint32_t lo = in.u16();
  const uint32_t hi = in.u16();
  return lo | hi << 16;
}

void toggle(std::set<uint32_t>& set, uint32_t v) {
  if (v == 0) return;
  if (!set.insert(v).second) set.erase(v);
}

void model(hearsay::fuzz::FuzzInput& in) {
  const size_t c = 1 + in.byte();
  Sketch a(c), b(c);
  std::set<uint32_t> model_a, model_b;
  for (size_t step = 0; step < kMaxSteps && !in.empty(); ++step) {
    const uint8_t op = in.byte();
    const uint32_t v = element(in, op & 0x80);
    if (op % 3 != 1) {
      a.add(v);
      toggle(model_a, v);
    }
    if (op % 3 != 0) {
      b.add(v);
      toggle(model_b, v);
    }
  }
  std::vector<uint32_t> diff;
  std::set_symmetric_difference(model_a.begin(), model_a.end(), model_b.begin(), model_b.end(),
                                std::back_inserter(diff));
  a.merge(b);
  FUZZ_ASSERT(Sketch::parse(a.serialize()) == a);
  // 2c syndromes vanish only for the empty set among sets of at most 2c elements (a larger
  // difference, such as {1, 2, 3} at c = 1, can cancel out).
  if (diff.size() <= 2 * c) FUZZ_ASSERT(a.empty() == diff.empty());
  const std::optional<std::vector<uint32_t>> got = a.decode();
  if (diff.size() <= c) {
    FUZZ_ASSERT(got == diff);
  } else {
    check_preimage(a, got);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hearsay::fuzz::FuzzInput in(data, size);
  if (in.byte() % 2 == 0) {
    raw(in);
  } else {
    model(in);
  }
  return 0;
}
