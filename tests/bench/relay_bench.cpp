// Relay-core benchmarks: the seen-set (lookups/s, inserts/s, bytes per entry; targets: >= 10M
// lookups/s on one core and <= 16 bytes per entry) and the request tracker (inv -> getdata ->
// tx cycles per second with 8 announcing peers).
#include <benchmark/benchmark.h>

#include <vector>

#include "p2p/seen_set.h"
#include "p2p/txrequest.h"

namespace hearsay {
namespace {

constexpr size_t kEntries = 1'000'000;

uint64_t splitmix(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::vector<Hash256> random_ids(size_t n, uint64_t seed) {
  std::vector<Hash256> ids(n);
  for (Hash256& id : ids)
    for (size_t i = 0; i < id.size(); i += 8) {
      const uint64_t v = splitmix(seed);
      for (size_t j = 0; j < 8; ++j)
        id[i + j] = static_cast<uint8_t>(v >> (8 * j));
    }
  return ids;
}

SipKey bench_salt() {
  SipKey k;
  for (size_t i = 0; i < k.size(); ++i)
    k[i] = static_cast<uint8_t>(i * 7 + 1);
  return k;
}

constexpr Time kT0 = Time(std::chrono::hours(490'000));

// One set of 1M entries shared by the lookup benchmarks (built once).
struct Filled {
  std::vector<Hash256> present = random_ids(kEntries, 1);
  std::vector<Hash256> absent = random_ids(kEntries, 2);
  SeenSet set{bench_salt(), SeenSetOptions{.max_entries = kEntries}};
  Filled() {
    for (const Hash256& id : present)
      set.insert(id, kT0);
  }
};
Filled& filled() {
  static Filled f;
  return f;
}

void lookups(benchmark::State& state, const std::vector<Hash256>& ids, bool expect) {
  Filled& f = filled();
  size_t i = 0, found = 0;
  for (auto _ : state) {
    found += f.set.contains(ids[i], kT0);
    if (++i == ids.size()) i = 0;
  }
  benchmark::DoNotOptimize(found);
  if (expect && found != static_cast<size_t>(state.iterations())) state.SkipWithError("missed");
  if (!expect && found != 0) state.SkipWithError("false positive");
  state.counters["lookups/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["entries"] = static_cast<double>(f.set.size());
  state.counters["bytes/entry"] =
      static_cast<double>(f.set.memory_bytes()) / static_cast<double>(f.set.size());
}

void BM_SeenSetLookupHit(benchmark::State& state) {
  lookups(state, filled().present, true);
}
BENCHMARK(BM_SeenSetLookupHit);

void BM_SeenSetLookupMiss(benchmark::State& state) {
  lookups(state, filled().absent, false);
}
BENCHMARK(BM_SeenSetLookupMiss);

// Steady-state inserts of fresh ids into a full 1M set: every 250k inserts a generation
// rotates and the table is swept, so this includes the amortised sweep cost.
void BM_SeenSetInsert(benchmark::State& state) {
  const std::vector<Hash256>& ids = filled().absent;
  SeenSet set(bench_salt(), SeenSetOptions{.max_entries = kEntries});
  for (const Hash256& id : filled().present)
    set.insert(id, kT0);
  size_t i = 0;
  Time now = kT0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(set.insert(ids[i], now));
    now += 1us;
    if (++i == ids.size()) i = 0;
  }
  state.counters["inserts/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["bytes/entry"] =
      static_cast<double>(set.memory_bytes()) / static_cast<double>(set.size());
}
BENCHMARK(BM_SeenSetInsert);

// One transaction's life in the tracker: 8 peers announce it (2 outbound, 6 inbound delayed),
// each peer is asked what to request, the chosen one is requested, answers, and the txid is
// forgotten. Counted per transaction.
void BM_TxRequestCycle8Peers(benchmark::State& state) {
  TxRequestTracker t(bench_salt());
  const std::vector<Hash256> ids = random_ids(1 << 16, 3);
  size_t i = 0;
  Time now = kT0;
  size_t requests = 0;
  for (auto _ : state) {
    const Hash256& id = ids[i];
    if (++i == ids.size()) i = 0;
    for (PeerId p = 1; p <= 8; ++p) {
      const bool preferred = p <= 2;
      t.received_inv(p, id, preferred, preferred ? now : now + kNonPreferredDelay);
    }
    for (PeerId p = 1; p <= 8; ++p) {
      for (const Hash256& r : t.get_requestable(p, now)) {
        t.requested_tx(p, r, now + kRequestTimeout);
        t.received_response(p, r);
        t.forget_txid(r);
        ++requests;
      }
    }
    now += 1ms;
  }
  if (requests != static_cast<size_t>(state.iterations())) state.SkipWithError("lost a tx");
  state.counters["tx/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TxRequestCycle8Peers);

// The tracker under load: 8 peers each hold ~1,000 announcements; one cycle as above.
void BM_TxRequestCycle8PeersLoaded(benchmark::State& state) {
  TxRequestTracker t(bench_salt());
  const std::vector<Hash256> backlog = random_ids(1000, 4);
  for (PeerId p = 1; p <= 8; ++p)
    for (const Hash256& id : backlog)
      t.received_inv(p, id, false, kT0 + std::chrono::hours(1));
  const std::vector<Hash256> ids = random_ids(1 << 16, 5);
  size_t i = 0;
  Time now = kT0;
  for (auto _ : state) {
    const Hash256& id = ids[i];
    if (++i == ids.size()) i = 0;
    for (PeerId p = 1; p <= 8; ++p)
      t.received_inv(p, id, p <= 2, p <= 2 ? now : now + 2s);
    for (PeerId p = 1; p <= 8; ++p) {
      for (const Hash256& r : t.get_requestable(p, now)) {
        t.requested_tx(p, r, now + kRequestTimeout);
        t.received_response(p, r);
        t.forget_txid(r);
      }
    }
    now += 1us;
  }
  state.counters["tx/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["held"] = static_cast<double>(t.size());
}
BENCHMARK(BM_TxRequestCycle8PeersLoaded);

}  // namespace
}  // namespace hearsay
