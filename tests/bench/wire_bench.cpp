// Foundation benchmarks: hashing, signature verification, transaction codec, frame decoding.
// `make bench` runs them; the Ed25519 verify rate is the yardstick for relay throughput.
#include <benchmark/benchmark.h>

#include "crypto/ed25519.h"
#include "crypto/hash.h"
#include "p2p/transport.h"
#include "testing/test_util.h"

namespace hearsay {
namespace {

void BM_Sha256d_250B(benchmark::State& state) {
  std::vector<uint8_t> data(250, 0x5a);
  for (auto _ : state)
    benchmark::DoNotOptimize(sha256d(data));
  state.SetBytesProcessed(state.iterations() * 250);
}
BENCHMARK(BM_Sha256d_250B);

void BM_Ed25519Verify(benchmark::State& state) {
  KeyPair kp = test::test_key(1);
  std::vector<uint8_t> msg(32, 1);
  Signature sig = kp.sign(msg);
  for (auto _ : state)
    benchmark::DoNotOptimize(verify(kp.public_key(), msg, sig));
  state.counters["verifies/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Ed25519Verify);

void BM_TxEncode(benchmark::State& state) {
  TxRef tx = test::make_tx(1, 0, 1000, 150);
  for (auto _ : state) {
    std::vector<uint8_t> out;
    encode_payload(TxMsg{tx}, out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_TxEncode);

// One whole `tx` frame (header, checksum, payload): done once per relayed transaction,
// however many peers it goes to.
void BM_TxFrameEncode(benchmark::State& state) {
  TxRef tx = test::make_tx(1, 0, 1000, 150);
  for (auto _ : state)
    benchmark::DoNotOptimize(encode_frame(0x11223344, TxMsg{tx}));
}
BENCHMARK(BM_TxFrameEncode);

void BM_TxDecode(benchmark::State& state) {
  TxRef tx = test::make_tx(1, 0, 1000, 150);
  std::vector<uint8_t> enc(tx->encoding().begin(), tx->encoding().end());
  for (auto _ : state) {
    auto copy = enc;
    auto r = Transaction::decode(std::move(copy));
    benchmark::DoNotOptimize(r.ok());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(enc.size()));
}
BENCHMARK(BM_TxDecode);

void BM_FrameDecodeInv50k(benchmark::State& state) {
  InvMsg inv;
  for (uint32_t i = 0; i < kMaxInvEntries; ++i) {
    InvEntry e;
    e.hash = sha256(std::span(reinterpret_cast<const uint8_t*>(&i), 4));
    inv.entries.push_back(e);
  }
  SharedBytes frame = encode_frame(0x11223344, inv);
  for (auto _ : state) {
    FrameDecoder dec(0x11223344);
    std::span<const uint8_t> data(*frame);
    while (!data.empty())
      dec.received_bytes(data);
    RawMessage raw = dec.take_message();
    auto msg = decode_payload(raw.type, std::move(raw.payload));
    benchmark::DoNotOptimize(msg.ok());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(frame->size()));
}
BENCHMARK(BM_FrameDecodeInv50k)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace hearsay
