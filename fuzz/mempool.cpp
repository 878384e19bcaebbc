// Fuzz target: random admission / replacement / removal / eviction / expiry / reload sequences
// against a mempool over an in-memory store (with injected write failures).
//
// Oracles, after every step: sanity_check() (indexes, totals, limits, per-sender cap); every
// held transaction is in the store; an accepted transaction is held and a refused one is not;
// nothing a removal reported is still held. On reload (after expire(now)), the mempool holds
// exactly what it held before, and the store holds exactly that too.
#include <cstddef>
#include <cstdint>
#include <set>
#include <vector>

#include "crypto/ed25519.h"
#include "fuzz/fuzz_util.h"
#include "mempool/mempool.h"
#include "testing/failing_store.h"
#include "testing/mempool_fakes.h"

namespace hearsay {
namespace {

constexpr uint32_t kNetwork = 0x7a7a7a7a;
constexpr int kSenders = 6;
constexpr size_t kPoolSize = 256;
constexpr int64_t kStartSeconds = 1'700'000'000;
// Operations per input: every step runs sanity_check() and walks the whole pool (O(steps ×
// pool) per input); 128 steps fill, churn and reload a pool of a few dozen transactions.
constexpr int kMaxSteps = 128;

struct Pool {
  std::vector<KeyPair> keys;
  std::vector<TxRef> txs;
};

const Pool& pool_of_txs() {
  static const Pool pool = [] {
    crypto_init();
    Pool p;
    for (int k = 0; k < kSenders; ++k) {
      Seed seed;
      seed.fill(static_cast<uint8_t>(0x40 + k));
      p.keys.push_back(KeyPair::from_seed(seed));
    }
    static constexpr uint64_t kFees[] = {50, 400, 1000, 1100, 2000, 5000, 20000, 90000};
    for (size_t i = 0; i < kPoolSize; ++i) {
      TxFields f;
      f.network = i % 29 == 28 ? kNetwork + 1 : kNetwork;
      f.nonce = (i / kSenders) % 6;
      f.fee = kFees[(i * 5 / 3) % 8];
      if (i % 11 == 3) f.expiry = 1 + i % 5;  // a block height
      if (i % 13 == 5) f.expiry = static_cast<uint64_t>(kStartSeconds) + (i % 7) * 600;
      f.payload.resize(20 + (i * 37) % 400, static_cast<uint8_t>(i));
      TxRef tx = Transaction::create(f, p.keys[i % kSenders]);
      if (i % 31 == 30) {  // a forgery: one bit of the signature flipped
        std::vector<uint8_t> bytes(tx->encoding().begin(), tx->encoding().end());
        bytes.back() ^= 1;
        tx = *Transaction::decode(std::move(bytes));
      }
      p.txs.push_back(tx);
    }
    return p;
  }();
  return pool;
}

// What the pool holds, by id (O(held), not O(the 256 candidates): restarts are frequent).
std::set<TxId> held_ids(const Mempool& m) {
  std::set<TxId> out;
  for (const TxRef& t : m.newest(m.size())) {
    HEARSAY_CHECK(m.contains(t->id()));
    out.insert(t->id());
  }
  HEARSAY_CHECK(out.size() == m.size());
  return out;
}

void check_store_covers(const Mempool& m, const MemoryStore& store, bool exact) {
  for (const TxRef& t : m.newest(m.size()))
    HEARSAY_CHECK(store.contains(t->id()));
  HEARSAY_CHECK(!exact || store.size() == m.size());
}

MempoolOptions options_from(fuzz::FuzzInput& in) {
  MempoolOptions o;
  o.network = kNetwork;
  o.min_fee_rate = 100;
  o.max_bytes = (2 + in.byte() % 16) * 900;
  o.max_per_sender = 1 + in.byte() % 5;
  o.replace_step_percent = in.byte() % 60;
  o.expiry = std::chrono::minutes(10 + in.byte());
  o.hash_key.fill(in.byte());
  return o;
}

// One input's world: the mempool under test, over a store that fails writes on demand.
struct Session {
  explicit Session(const MempoolOptions& options) : o(options) { open(); }

  void open() {
    auto opened = Mempool::open(o, chain, std::make_unique<StoreRef>(failing), now);
    HEARSAY_CHECK(opened.ok());
    m = std::move(*opened);
  }
  void check_removed(const std::vector<Removed>& removed) const {
    for (const Removed& r : removed)
      HEARSAY_CHECK(!m->contains(r.tx->id()));
  }
  // A restart: the pool reloads over the same store and holds what it held.
  void restart() {
    failing.fail_next_writes(0);
    m->expire(now);
    const std::set<TxId> before = held_ids(*m);
    m.reset();
    open();
    HEARSAY_CHECK(held_ids(*m) == before);
    check_store_covers(*m, store, /*exact=*/true);
  }

  const MempoolOptions o;
  FakeChainView chain;
  MemoryStore store;
  test::FailingMempoolStore failing{store};  // the pools write through it
  Time now = Time(kStartSeconds * 1'000'000);
  std::unique_ptr<Mempool> m;
};

// A block: mine part of the selection (and maybe a conflicting tx).
void mine(Session& s, fuzz::FuzzInput& in) {
  const Pool& pool = pool_of_txs();
  std::vector<TxRef> block = s.m->select_for_block(in.byte() * 8);
  if (in.byte() & 1) block.push_back(pool.txs[in.byte() % kPoolSize]);
  for (const TxRef& t : block)
    if (t->nonce() + 1 > s.chain.next_nonce(t->sender()))
      s.chain.set_next_nonce(t->sender(), t->nonce() + 1);
  s.chain.set_height(s.chain.height() + 1);
  s.check_removed(s.m->remove_confirmed(block));
}

// One operation, chosen and parameterised by the input.
void step(Session& s, fuzz::FuzzInput& in) {
  const Pool& pool = pool_of_txs();
  auto pick = [&]() -> const TxRef& { return pool.txs[in.byte() % kPoolSize]; };
  switch (in.byte() % 10) {
    case 0: {  // admit one
      const TxRef& tx = pick();
      const bool verified = in.byte() & 1;
      const bool was_held = s.m->contains(tx->id());
      AdmitResult r = s.m->admit(tx, s.now, verified);
      if (r.ok()) {
        HEARSAY_CHECK(s.m->contains(tx->id()));
        s.check_removed(r.removed);
      } else {
        HEARSAY_CHECK(s.m->contains(tx->id()) == was_held);
        HEARSAY_CHECK(r.removed.empty());
      }
      break;
    }
    case 1: {  // admit a burst as one batch
      std::vector<Candidate> cs;
      const size_t k = 1 + in.byte() % 6;
      for (size_t i = 0; i < k; ++i)
        cs.push_back(Candidate{pick(), (in.byte() & 3) != 0});
      auto rs = s.m->admit_batch(cs, s.now);
      HEARSAY_CHECK(rs.size() == cs.size());
      break;
    }
    case 2:  // time passes
      s.now += std::chrono::seconds(in.byte()) * (1 + in.byte() % 60);
      break;
    case 3:
      s.check_removed(s.m->expire(s.now));
      break;
    case 4:
      mine(s, in);
      break;
    case 5:
      s.chain.set_height(s.chain.height() + in.byte() % 3);
      break;
    case 6: {
      const PublicKey sender = pool.keys[in.byte() % kSenders].public_key();
      const uint64_t next = std::max<uint64_t>(s.chain.next_nonce(sender), in.byte() % 7);
      s.chain.set_next_nonce(sender, next);
      s.check_removed(s.m->remove_stale_nonces(sender, next));
      break;
    }
    case 7:
      s.failing.fail_next_writes(1 + in.byte() % 2);
      break;
    case 8:
      s.restart();
      break;
    case 9: {
      std::vector<TxRef> newest = s.m->newest(in.byte() % 8);
      for (const TxRef& t : newest)
        HEARSAY_CHECK(s.m->contains(t->id()));
      (void)s.m->info(s.now);
      break;
    }
  }
}

void run(fuzz::FuzzInput in) {
  pool_of_txs();
  Session s(options_from(in));
  for (int steps = 0; steps < kMaxSteps && !in.empty(); ++steps) {
    step(s, in);
    s.m->sanity_check();
    check_store_covers(*s.m, s.store, /*exact=*/false);
  }
}

}  // namespace
}  // namespace hearsay

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hearsay::run(hearsay::fuzz::FuzzInput(data, size));
  return 0;
}
