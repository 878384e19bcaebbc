// Relay-core benchmarks: the seen-set (lookups/s, inserts/s, bytes per entry; targets: >= 10M
// lookups/s on one core and <= 16 bytes per entry), the request tracker (inv -> getdata ->
// tx cycles per second with 8 announcing peers), and the PeerManager with the transaction relay
// over a real mempool (messages/s without signature checks).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <vector>

#include "p2p/seen_set.h"
#include "p2p/txrequest.h"
#include "testing/node_fixture.h"
#include "testing/tx_factory.h"

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

// --- PeerManager + TxRelay -------------------------------------------------------------------

constexpr uint32_t kBenchMagic = 0x62656e63;
constexpr uint32_t kBenchNetwork = 0x62656e63;
constexpr size_t kBenchSenders = 256, kBenchNonces = 64;

// Signed once, before timing: 16,384 transactions of 256 senders (~200 bytes each).
const std::vector<TxRef>& bench_txs() {
  static const std::vector<TxRef> txs = [] {
    std::vector<TxRef> v;
    v.reserve(kBenchSenders * kBenchNonces);
    std::vector<KeyPair> senders;
    for (size_t s = 0; s < kBenchSenders; ++s)
      senders.push_back(test::family_key(static_cast<uint16_t>(s), 0xbe));
    for (uint64_t nonce = 0; nonce < kBenchNonces; ++nonce)
      for (const KeyPair& k : senders)
        v.push_back(
            test::filled_tx(k, kBenchNetwork, nonce, 2'000, 100, static_cast<uint8_t>(nonce)));
    return v;
  }();
  return txs;
}

// One node with `peers` ready fake peers (half outbound), over a real mempool on a MemoryStore.
struct RelayBenchNode : test::TxRelayNode {
  static PeerManagerConfig pm_config() {
    PeerManagerConfig c;
    c.network_magic = kBenchMagic;
    c.max_outbound = 0;
    return c;
  }
  static MempoolOptions mempool_options() {
    MempoolOptions mo;
    mo.network = kBenchNetwork;
    mo.max_per_sender = kBenchNonces;
    mo.hash_key = bench_salt();
    return mo;
  }

  explicit RelayBenchNode(size_t peers)
      : TxRelayNode(pm_config(), test::test_key(1), mempool_options(), TxRelayConfig{}, kT0) {
    for (PeerId p = 1; p <= peers; ++p) {
      NetAddress a;
      a.port = static_cast<uint16_t>(40000 + p);
      // Half inbound, allow-listed so that their announcements are requested at once too.
      const PeerConnected c{p, test::test_key(static_cast<uint8_t>(p + 1)).public_key(), p % 2 == 0,
                            a,
                            /*trusted=*/true};
      pm.on_connected(c, now);
      VersionMsg v;
      v.protocol_version = kProtocolVersion;
      v.network_magic = kBenchMagic;
      pm.on_message(p, std::move(v), now);
      pm.on_message(p, VerackMsg{}, now);
    }
    pm.take_actions();
  }
};

// Per transaction: two peers announce it (inv), the first is asked (getdata) and sends it (tx),
// its signature is reported valid without being checked, the mempool admits it and the other
// peers get an inv. Counted: messages handled plus messages sent, per second of wall time.
void BM_PeerManagerRelayNoSignatures(benchmark::State& state) {
  const size_t peers = static_cast<size_t>(state.range(0));
  const std::vector<TxRef>& txs = bench_txs();
  auto node = std::make_unique<RelayBenchNode>(peers);
  size_t next = 0;
  uint64_t messages = 0, admitted = 0;
  const std::vector<uint8_t> valid(1, 1);
  for (auto _ : state) {
    if (next == txs.size()) {  // every transaction is held: start over with an empty node
      state.PauseTiming();
      admitted += node->mempool->size();
      node = std::make_unique<RelayBenchNode>(peers);
      next = 0;
      state.ResumeTiming();
    }
    const TxRef& tx = txs[next];
    const PeerId first = 1 + next % peers, second = 1 + (next + 1) % peers;
    ++next;
    RelayBenchNode& n = *node;
    n.now += 10us;
    const InvMsg inv{{InvEntry{InvType::kTx, tx->id()}}};
    n.pm.on_message(first, Message(inv), n.now);
    n.pm.on_message(second, Message(inv), n.now);
    std::vector<Action> acts = n.pm.take_actions();  // the getdata to `first`
    messages += 2 + acts.size();
    n.pm.on_message(first, TxMsg{tx}, n.now);
    ++messages;
    for (Action& a : n.pm.take_actions()) {
      if (auto* v = std::get_if<VerifyAction>(&a)) {
        n.pm.on_verified(v->txs, std::vector<uint8_t>(v->txs.size(), 1), n.now);
      } else {
        ++messages;
      }
    }
    messages += n.pm.take_actions().size();  // the invs
  }
  admitted += node->mempool->size();
  if (admitted != static_cast<size_t>(state.iterations())) state.SkipWithError("lost a tx");
  state.SetItemsProcessed(static_cast<int64_t>(messages));
  state.counters["tx/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["msgs/tx"] =
      static_cast<double>(messages) / static_cast<double>(std::max<int64_t>(1, state.iterations()));
}
BENCHMARK(BM_PeerManagerRelayNoSignatures)->Arg(8)->Arg(32);

}  // namespace
}  // namespace hearsay
