// Mempool benchmarks (`make bench`, or hearsay_bench --benchmark_filter=Mempool):
//  - admissions per second with signatures pre-verified (the mempool's own cost), LevelDB store
//    with batching, one write per admission, and the in-memory store for comparison;
//  - eviction under pressure (a full mempool admitting a stream of random fee rates);
//  - reload of 100,000 transactions from LevelDB (ms);
//  - memory per held transaction, measured by malloc, beside the mempool's own estimate;
//  - block template selection over 100,000 transactions.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <chrono>
#include <random>

#include "mempool/mempool.h"
#include "testing/mempool_fakes.h"
#include "testing/test_util.h"

namespace hearsay {
namespace {

constexpr uint32_t kNet = test::kTestNetwork;
constexpr size_t kBenchTxs = 100'000;
constexpr size_t kSenders = 2'000;  // 50 nonces each
constexpr size_t kPayload = 150;
const Time kNow = Time(1'700'000'000LL * 1'000'000);

// 100,000 signed transactions with random fees, built once (≈ 2 s of signing).
const std::vector<TxRef>& bench_txs() {
  static const std::vector<TxRef> txs = [] {
    std::vector<KeyPair> keys;
    for (size_t k = 0; k < kSenders; ++k)
      keys.push_back(test::family_key(static_cast<uint16_t>(k), 0xbe));
    std::mt19937_64 rng(7);
    std::vector<TxRef> out;
    out.reserve(kBenchTxs);
    const size_t per_sender = kBenchTxs / kSenders;
    // Interleaved: nonce n of every sender before nonce n + 1 of any.
    for (size_t n = 0; n < per_sender; ++n)
      for (size_t k = 0; k < kSenders; ++k)
        out.push_back(test::filled_tx(keys[k], kNet, n, 1'000 + rng() % 100'000, kPayload,
                                      static_cast<uint8_t>(n + k)));
    return out;
  }();
  return txs;
}

MempoolOptions bench_options() {
  MempoolOptions o;
  o.network = kNet;
  o.min_fee_rate = 0;
  return o;
}

std::unique_ptr<Mempool> open_pool(const MempoolOptions& o, const ChainView& chain,
                                   std::unique_ptr<MempoolStore> store) {
  auto m = Mempool::open(o, chain, std::move(store), kNow);
  HEARSAY_CHECK(m.ok());
  return std::move(*m);
}

std::unique_ptr<MempoolStore> open_store(const std::string& path) {
  auto s = open_leveldb_store(StoreOptions{path});
  if (!s) std::fprintf(stderr, "%s\n", s.error().message.c_str());
  HEARSAY_CHECK(s.ok());
  return std::move(*s);
}

// Admits txs[0, n) in batches of `batch`; returns the number accepted.
size_t admit_all(Mempool& m, size_t n, size_t batch) {
  const auto& txs = bench_txs();
  size_t accepted = 0;
  std::vector<Candidate> cs;
  for (size_t i = 0; i < n; i += batch) {
    cs.clear();
    for (size_t j = i; j < std::min(n, i + batch); ++j)
      cs.push_back(Candidate{txs[j], true});
    for (const AdmitResult& r : m.admit_batch(cs, kNow))
      accepted += r.ok();
  }
  return accepted;
}

constexpr size_t kAdmitPerIteration = 20'000;

void BM_MempoolAdmitLevelDb(benchmark::State& state) {
  const size_t batch = static_cast<size_t>(state.range(0));
  bench_txs();
  FakeChainView chain;
  size_t accepted = 0;
  for (auto _ : state) {
    state.PauseTiming();
    {
      test::TempDir dir;
      auto pool = open_pool(bench_options(), chain, open_store(dir.file("mempool")));
      state.ResumeTiming();
      accepted += admit_all(*pool, kAdmitPerIteration, batch);
      state.PauseTiming();
    }
    state.ResumeTiming();
  }
  HEARSAY_CHECK(accepted == kAdmitPerIteration * state.iterations());
  state.counters["admits/s"] =
      benchmark::Counter(static_cast<double>(accepted), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MempoolAdmitLevelDb)
    ->ArgName("batch")
    ->Arg(1)
    ->Arg(64)
    ->Arg(512)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_MempoolAdmitMemoryStore(benchmark::State& state) {
  bench_txs();
  FakeChainView chain;
  size_t accepted = 0;
  for (auto _ : state) {
    state.PauseTiming();
    {
      auto pool = open_pool(bench_options(), chain, std::make_unique<MemoryStore>());
      state.ResumeTiming();
      accepted += admit_all(*pool, kAdmitPerIteration, 64);
      state.PauseTiming();
    }
    state.ResumeTiming();
  }
  state.counters["admits/s"] =
      benchmark::Counter(static_cast<double>(accepted), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MempoolAdmitMemoryStore)->UseRealTime()->Unit(benchmark::kMillisecond);

// A mempool bounded to ~10,000 entries receives 40,000 more with random fee rates: each is
// refused as the lowest or evicts the lowest.
void BM_MempoolEvictionUnderPressure(benchmark::State& state) {
  const auto& txs = bench_txs();
  FakeChainView chain;
  MempoolOptions o = bench_options();
  o.max_bytes = 10'000 * Mempool::entry_usage(txs[0]->size());
  uint64_t attempts = 0, evicted = 0, refused = 0;
  for (auto _ : state) {
    state.PauseTiming();
    {
      test::TempDir dir;
      auto pool = open_pool(o, chain, open_store(dir.file("mempool")));
      admit_all(*pool, 10'000, 512);  // fill
      state.ResumeTiming();
      std::vector<Candidate> cs;
      for (size_t i = 10'000; i < 50'000; i += 64) {
        cs.clear();
        for (size_t j = i; j < std::min<size_t>(50'000, i + 64); ++j)
          cs.push_back(Candidate{txs[j], true});
        for (const AdmitResult& r : pool->admit_batch(cs, kNow)) {
          ++attempts;
          refused += r.code == AdmitCode::kMempoolFull;
          evicted += r.removed.size();
        }
      }
      state.PauseTiming();
    }
    state.ResumeTiming();
  }
  state.counters["attempts/s"] =
      benchmark::Counter(static_cast<double>(attempts), benchmark::Counter::kIsRate);
  state.counters["evictions/s"] =
      benchmark::Counter(static_cast<double>(evicted), benchmark::Counter::kIsRate);
  state.counters["refused_frac"] = benchmark::Counter(
      attempts ? static_cast<double>(refused) / static_cast<double>(attempts) : 0);
}
BENCHMARK(BM_MempoolEvictionUnderPressure)->UseRealTime()->Unit(benchmark::kMillisecond);

// Reload of 100,000 transactions: LevelDB open, read, decode (id hashing), indexes; no
// signature is verified.
void BM_MempoolReload100k(benchmark::State& state) {
  bench_txs();
  FakeChainView chain;
  test::TempDir dir;
  const std::string path = dir.file("mempool");
  {
    auto pool = open_pool(bench_options(), chain, open_store(path));
    HEARSAY_CHECK(admit_all(*pool, kBenchTxs, 512) == kBenchTxs);
  }
  double total_ms = 0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    auto pool = open_pool(bench_options(), chain, open_store(path));
    auto t1 = std::chrono::steady_clock::now();
    HEARSAY_CHECK(pool->size() == kBenchTxs);
    total_ms += std::chrono::duration<double, std::milli>(t1 - t0).count();
    state.PauseTiming();
    pool.reset();
    state.ResumeTiming();
  }
  state.counters["reload_ms"] = total_ms / static_cast<double>(state.iterations());
  state.counters["txs"] = static_cast<double>(kBenchTxs);
}
BENCHMARK(BM_MempoolReload100k)->Unit(benchmark::kMillisecond)->Iterations(3);

// A store that keeps nothing: isolates the mempool's own memory.
class NullStore final : public MempoolStore {
 public:
  Status apply(std::span<const StoreOp>) override { return {}; }
  Result<std::vector<StoredTx>, StoreError> load() override { return std::vector<StoredTx>{}; }
  std::string describe() const override { return "null"; }
};

// Memory per held transaction, measured by malloc (every byte the mempool owns: encodings,
// Transaction objects, index nodes), beside the estimate that --mempool-max-mb bounds.
void BM_MempoolMemoryPerTx(benchmark::State& state) {
  const auto& txs = bench_txs();
  FakeChainView chain;
  for (auto _ : state) {
    const size_t before = mallinfo2().uordblks;
    auto pool = open_pool(bench_options(), chain, std::make_unique<NullStore>());
    {
      // Fresh copies, so the mempool holds the only reference to each transaction.
      std::vector<Candidate> cs;
      cs.reserve(512);
      for (size_t i = 0; i < kBenchTxs; i += 512) {
        cs.clear();
        for (size_t j = i; j < std::min(kBenchTxs, i + 512); ++j) {
          auto enc = txs[j]->encoding();
          cs.push_back(Candidate{*Transaction::decode({enc.begin(), enc.end()}), true});
        }
        pool->admit_batch(cs, kNow);
      }
    }
    const size_t after = mallinfo2().uordblks;
    const double n = static_cast<double>(pool->size());
    state.counters["tx_bytes"] = static_cast<double>(pool->info(kNow).bytes) / n;
    state.counters["measured_bytes_per_tx"] = static_cast<double>(after - before) / n;
    state.counters["estimate_bytes_per_tx"] = static_cast<double>(pool->memory_usage()) / n;
    state.counters["overhead_bytes_per_tx"] =
        static_cast<double>(after - before) / n - static_cast<double>(pool->info(kNow).bytes) / n;
  }
}
BENCHMARK(BM_MempoolMemoryPerTx)->Unit(benchmark::kMillisecond)->Iterations(1);

void BM_MempoolSelectForBlock(benchmark::State& state) {
  bench_txs();
  FakeChainView chain;
  auto pool = open_pool(bench_options(), chain, std::make_unique<NullStore>());
  admit_all(*pool, kBenchTxs, 512);
  size_t selected = 0;
  for (auto _ : state) {
    auto block = pool->select_for_block(kMaxBlockSize);
    selected = block.size();
    benchmark::DoNotOptimize(block.data());
  }
  state.counters["txs_selected"] = static_cast<double>(selected);
}
BENCHMARK(BM_MempoolSelectForBlock)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace hearsay
