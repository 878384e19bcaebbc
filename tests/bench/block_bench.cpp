// Compact-block benchmarks (hearsay_bench --benchmark_filter=Compact): a 2,000-transaction
// block against a 5,000-transaction mempool, the size of the block integration test's mempool.
//  - make_compact: the sender's cost per block (one SipHash per transaction);
//  - PartialBlock::init with every transaction in the mempool, and with 10 % missing;
//  - the whole receive path (init, fill the missing, finish with its Merkle root).
// Counters: the cmpctblock's payload bytes beside the full block's, and their ratio.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>

#include "chainstub/compact.h"
#include "testing/test_util.h"

namespace hearsay {
namespace {

constexpr size_t kBlockTxs = 2'000;
constexpr size_t kMempoolTxs = 5'000;
constexpr size_t kSenders = 100;  // 50 nonces each
constexpr size_t kPayload = 150;

struct Fixture {
  std::vector<TxRef> mempool;  // kMempoolTxs, shuffled
  Block block;                 // kBlockTxs of them
  Block block_10pct_new;       // the same, 10 % replaced by transactions not in the mempool
};

const Fixture& fixture() {
  static const Fixture f = [] {
    std::vector<KeyPair> keys;
    for (size_t k = 0; k < kSenders; ++k)
      keys.push_back(test::family_key(static_cast<uint16_t>(k), 0xcb));
    auto tx = [&](size_t i) {
      return test::filled_tx(keys[i % kSenders], test::kTestNetwork, i / kSenders, 1'000 + i,
                             kPayload, static_cast<uint8_t>(i));
    };
    Fixture out;
    for (size_t i = 0; i < kMempoolTxs; ++i)
      out.mempool.push_back(tx(i));
    out.block = test::unsigned_block({out.mempool.begin(), out.mempool.begin() + kBlockTxs});
    std::vector<TxRef> mixed = out.block.txs;
    for (size_t i = 0; i < kBlockTxs; i += 10)
      mixed[i] = tx(kMempoolTxs + i);
    out.block_10pct_new = test::unsigned_block(std::move(mixed));
    std::shuffle(out.mempool.begin(), out.mempool.end(), std::mt19937(8));
    return out;
  }();
  return f;
}

constexpr uint32_t kPrefillFirst[] = {0};

void size_counters(benchmark::State& state, const Block& b, const CmpctBlockMsg& msg) {
  std::vector<uint8_t> compact;
  encode_payload(Message(msg), compact);
  const double full = static_cast<double>(b.encoded_size());
  state.counters["compact_bytes"] = static_cast<double>(compact.size());
  state.counters["full_bytes"] = full;
  state.counters["compact/full_%"] = 100.0 * static_cast<double>(compact.size()) / full;
}

void BM_CompactMake(benchmark::State& state) {
  const Fixture& f = fixture();
  uint64_t nonce = 0;
  for (auto _ : state) {
    CmpctBlockMsg msg = make_compact(f.block, ++nonce, kPrefillFirst);
    benchmark::DoNotOptimize(msg.short_ids.data());
  }
  size_counters(state, f.block, make_compact(f.block, 1, kPrefillFirst));
  state.counters["blocks/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CompactMake)->Unit(benchmark::kMicrosecond);

// Arg: 0 every block transaction is in the mempool; 1: one in ten is not.
void BM_CompactInit(benchmark::State& state) {
  const Fixture& f = fixture();
  const Block& b = state.range(0) == 0 ? f.block : f.block_10pct_new;
  const CmpctBlockMsg msg = make_compact(b, 7, kPrefillFirst);
  size_t missing = 0;
  for (auto _ : state) {
    PartialBlock pb;
    if (pb.init(msg, f.mempool) != ReadStatus::kOk) state.SkipWithError("init failed");
    missing = pb.missing_count();
    benchmark::DoNotOptimize(missing);
  }
  state.counters["missing"] = static_cast<double>(missing);
  state.counters["candidates"] = static_cast<double>(f.mempool.size());
  size_counters(state, b, msg);
}
BENCHMARK(BM_CompactInit)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// init, fill (10 % missing), finish: the receiver's whole work for one block.
void BM_CompactReconstruct(benchmark::State& state) {
  const Fixture& f = fixture();
  const Block& b = f.block_10pct_new;
  const CmpctBlockMsg msg = make_compact(b, 9, kPrefillFirst);
  for (auto _ : state) {
    PartialBlock pb;
    pb.init(msg, f.mempool);
    std::vector<TxRef> answer;
    for (uint32_t i : pb.missing())
      answer.push_back(b.txs[i]);
    BlockRef out;
    if (pb.fill(answer) != ReadStatus::kOk || pb.finish(out) != ReadStatus::kOk)
      state.SkipWithError("reconstruction failed");
    benchmark::DoNotOptimize(out.get());
  }
}
BENCHMARK(BM_CompactReconstruct)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace hearsay
