// PinSketch (p2p/sketch.h): building a sketch from 1,000 elements, with the run-time chosen
// multiplier and with the portable one (the PCLMULQDQ speedup), decoding a sketch that holds
// exactly its capacity, and failing on one that holds twice as many (what a hostile or
// under-sized sketch costs).
#include <benchmark/benchmark.h>

#include <random>
#include <set>

#include "p2p/sketch.h"

namespace hearsay::p2p {
namespace {

constexpr size_t kBuildElements = 1000;

std::vector<uint32_t> distinct_elements(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::set<uint32_t> seen;
  std::vector<uint32_t> out;
  while (out.size() < n) {
    const auto v = static_cast<uint32_t>(rng());
    if (v != 0 && seen.insert(v).second) out.push_back(v);
  }
  return out;
}

void capacities(benchmark::internal::Benchmark* b) {
  for (int c : {16, 64, 256, 1024})
    b->Arg(c);
}

void BM_SketchBuild(benchmark::State& state) {
  const auto c = static_cast<size_t>(state.range(0));
  const std::vector<uint32_t> elements = distinct_elements(kBuildElements, 1);
  for (auto _ : state) {
    Sketch s(c);
    for (uint32_t e : elements)
      s.add(e);
    benchmark::DoNotOptimize(s.syndromes().data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(elements.size()));
  state.SetLabel(detail::have_clmul() ? "pclmul" : "portable");
}
BENCHMARK(BM_SketchBuild)->Apply(capacities);

void BM_SketchBuildPortable(benchmark::State& state) {
  const auto c = static_cast<size_t>(state.range(0));
  const std::vector<uint32_t> elements = distinct_elements(kBuildElements, 1);
  for (auto _ : state) {
    std::vector<uint32_t> syndromes(c);
    for (uint32_t e : elements)
      detail::add_odd_powers(detail::MulImpl::kPortable, syndromes, e);
    benchmark::DoNotOptimize(syndromes.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(elements.size()));
}
BENCHMARK(BM_SketchBuildPortable)->Apply(capacities);

Sketch sketch_of(size_t capacity, size_t elements) {
  Sketch s(capacity);
  for (uint32_t e : distinct_elements(elements, 2))
    s.add(e);
  return s;
}

// A sketch holding exactly its capacity: the largest difference it decodes.
void BM_SketchDecode(benchmark::State& state) {
  const auto c = static_cast<size_t>(state.range(0));
  const Sketch s = sketch_of(c, c);
  for (auto _ : state) {
    const auto set = s.decode();
    if (!set || set->size() != c) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(set);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(c));
}
BENCHMARK(BM_SketchDecode)->Apply(capacities)->Unit(benchmark::kMicrosecond);

// Twice the capacity: decode must fail, after Berlekamp–Massey and the split check.
void BM_SketchDecodeOverCapacity(benchmark::State& state) {
  const auto c = static_cast<size_t>(state.range(0));
  const Sketch s = sketch_of(c, 2 * c);
  for (auto _ : state) {
    const auto set = s.decode();
    if (set) state.SkipWithError("decoded past capacity");
    benchmark::DoNotOptimize(set);
  }
}
BENCHMARK(BM_SketchDecodeOverCapacity)->Apply(capacities)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace hearsay::p2p
