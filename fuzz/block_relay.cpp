// Fuzz target: a PeerManager with the block relay (BlockRelay over an in-memory ChainState and
// a Mempool on a MemoryStore) fed arbitrary event sequences by honest and dishonest peers.
//
// Blocks are built once: chain A (6 blocks by producer 0 on genesis), a fork B (5 blocks by
// producer 1 on A's second block; longer, so it wins), and two invalid blocks — one signed by a
// key the network does not authorise, one by producer 0 holding a forged transaction. Identities
// 1 and 2 are honest: they send only what an honest node sends (contiguous headers of A or B,
// those blocks whole or compact, true answers to our getblocktxn, small getdata, in-range
// getblocktxn). Identities 3..5 send anything: the invalid blocks, mutated compact blocks, wrong
// blocktxn, headers that do not link, arbitrary decoded messages. Signature verdicts arrive
// late, reordered, regrouped or never; the clock moves; the mempool gains transactions.
//
// Oracles, after every step: sanity_check() of the PeerManager, the relay, the chain and the
// mempool; every SendAction goes to a live connection and decodes; a getdata we send holds at
// most kMaxBlocksInFlightPerPeer block entries; an honest peer is never scored nor banned; the
// tip is genesis or a block of A or B, never an invalid one.
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "chainstub/block_relay.h"
#include "chainstub/chain.h"
#include "chainstub/compact.h"
#include "fuzz/fuzz_util.h"
#include "mempool/mempool.h"
#include "mempool/store.h"
#include "p2p/peer_manager.h"
#include "p2p/transport.h"
#include "testing/fake_peers.h"
#include "testing/peer_harness.h"
#include "testing/tx_factory.h"

using namespace hearsay;

namespace {

constexpr size_t kMaxSteps = 48;
constexpr size_t kMaxLive = 5;
constexpr uint32_t kMagic = 0x6e657477;
constexpr size_t kHonestKeys = 2;
const Time kStart = Time(std::chrono::seconds(1'700'000'000));

// Built once: deriving the producers' keys and hashing the genesis header per call cost more
// than the rest of an input.
const NetworkParams& params() {
  static const NetworkParams p = [] {
    crypto_init();
    NetworkParams n;
    n.name = "fuzz";
    n.magic = kMagic;
    n.genesis_time = 1'699'990'000;
    n.producers = {test::test_key(0x70).public_key(), test::test_key(0x71).public_key()};
    n.max_block_size = 100'000;
    n.max_tx_size = kMaxTxSize;
    return n;
  }();
  return p;
}

const BlockId& genesis_id() {
  static const BlockId id = params().genesis_id();
  return id;
}

TxRef tx(uint8_t sender, uint64_t nonce) {
  return test::filled_tx(test::test_key(static_cast<uint8_t>(0x60 + sender)), kMagic, nonce, 5'000,
                         20 + sender, static_cast<uint8_t>(nonce));
}

BlockRef make_block(const BlockHeader& prev, std::vector<TxRef> txs, const KeyPair& k) {
  return signed_child(prev, std::move(txs), prev.time + 1, k);
}

struct Blocks {
  std::vector<BlockRef> a, b;   // chains (A on genesis, B on a[1])
  std::vector<BlockRef> valid;  // a then b
  std::vector<BlockRef> bad;    // unauthorised, forged transaction
  std::vector<TxRef> txs;       // every valid transaction of A and B
  std::set<BlockId> valid_ids;
  // The signature verdict of every transaction above (the forgery included), computed once.
  std::map<const Transaction*, bool> verdict;
};

const Blocks& blocks() {
  static const Blocks set = [] {
    crypto_init();
    Blocks s;
    BlockHeader prev = params().genesis();
    for (uint64_t h = 1; h <= 6; ++h) {
      s.a.push_back(make_block(prev, {tx(0, h - 1), tx(1, h - 1)}, test::test_key(0x70)));
      prev = s.a.back()->header;
    }
    prev = s.a[1]->header;
    for (uint64_t h = 3; h <= 7; ++h) {
      std::vector<TxRef> txs = {tx(2, h - 3)};
      if (h % 2) txs.push_back(tx(3, (h - 3) / 2));
      s.b.push_back(make_block(prev, txs, test::test_key(0x71)));
      prev = s.b.back()->header;
    }
    s.valid = s.a;
    s.valid.insert(s.valid.end(), s.b.begin(), s.b.end());
    for (const BlockRef& b : s.valid) {
      s.valid_ids.insert(b->header.id());
      for (const TxRef& t : b->txs)
        s.txs.push_back(t);
    }
    s.bad.push_back(make_block(s.a[0]->header, {tx(0, 1)}, test::test_key(0x7f)));
    const TxRef honest = tx(1, 1);
    std::vector<uint8_t> enc(honest->encoding().begin(), honest->encoding().end());
    enc.back() ^= 1;
    auto forged = Transaction::decode(std::move(enc));
    FUZZ_ASSERT(forged.ok());
    s.bad.push_back(make_block(s.a[0]->header, {tx(0, 1), *forged}, test::test_key(0x70)));
    for (const auto* list : {&s.valid, &s.bad})
      for (const BlockRef& b : *list)
        for (const TxRef& t : b->txs)
          s.verdict.emplace(t.get(), t->verify_signature());
    return s;
  }();
  return set;
}

struct Conn {
  size_t key = 0;
  bool ready = false;
  bool closing = false;
  std::map<BlockId, std::vector<uint32_t>> asked_txn;  // our getblocktxn to it
  bool honest() const { return key >= 1 && key <= kHonestKeys; }
};

struct Harness : test::FakePeers<Conn> {
  std::unique_ptr<ChainState> chain;
  std::unique_ptr<Mempool> mempool;
  std::unique_ptr<PeerManager> pm;
  std::unique_ptr<BlockRelay> relay;
  Time now = kStart;
  std::vector<VerifyAction> held;

  explicit Harness(BlockRelayConfig cfg) {
    auto c = ChainState::open(params(), ChainOptions{});
    FUZZ_ASSERT(c.ok());
    chain = std::move(*c);
    MempoolOptions mo;
    mo.network = kMagic;
    auto m = Mempool::open(mo, *chain, std::make_unique<MemoryStore>(), now);
    FUZZ_ASSERT(m.ok());
    mempool = std::move(*m);
    PeerManagerConfig pc;
    pc.network_magic = kMagic;
    pc.rng_seed = 5;
    pc.max_outbound = 0;
    pc.addrman_capacity = 64;
    pm = std::make_unique<PeerManager>(pc, test::fake_identities()[0]);
    relay = std::make_unique<BlockRelay>(*pm, *chain, *mempool, std::move(cfg));
  }

  void drain() {
    for (std::vector<Action> acts; !(acts = pm->take_actions()).empty();) {
      std::vector<std::vector<TxRef>> due;
      for (Action& a : acts) {
        if (auto* s = std::get_if<SendAction>(&a)) {
          auto it = conns.find(s->peer);
          FUZZ_ASSERT(it != conns.end() && !it->second.closing);
          Message m = test::decode_frame(s->frame, kMagic);
          FUZZ_ASSERT(type_of(m) == s->type);
          if (auto* gd = std::get_if<GetDataMsg>(&m))
            FUZZ_ASSERT(gd->entries.size() <= kMaxBlocksInFlightPerPeer);
          if (auto* g = std::get_if<GetBlockTxnMsg>(&m))
            it->second.asked_txn[g->block_id] = g->indexes;
        } else if (auto* d = std::get_if<DisconnectAction>(&a)) {
          auto it = conns.find(d->peer);
          FUZZ_ASSERT(it != conns.end());
          it->second.closing = true;
        } else if (auto* b = std::get_if<BanAction>(&a)) {
          for (size_t k = 1; k <= kHonestKeys; ++k)
            FUZZ_ASSERT(b->identity != test::fake_identities()[k].public_key());
        } else if (auto* v = std::get_if<VerifyAction>(&a)) {
          FUZZ_ASSERT(!v->txs.empty());
          if (held.size() < 32) {
            held.push_back(std::move(*v));
          } else {
            due.push_back(std::move(v->txs));
          }
        }
      }
      for (const auto& txs : due)
        verdicts(txs);
    }
  }

  void verdicts(const std::vector<TxRef>& txs) {
    std::vector<uint8_t> valid;
    const auto& known = blocks().verdict;
    for (const TxRef& t : txs) {
      // The fixed set's verdicts are known; a transaction decoded from the input is verified.
      auto it = known.find(t.get());
      valid.push_back((it != known.end() ? it->second : t->verify_signature()) ? 1 : 0);
    }
    pm->on_verified(txs, valid, now);
    drain();
  }

  void check() {
    pm->sanity_check();
    relay->sanity_check();
    chain->sanity_check();
    mempool->sanity_check();
    const BlockId tip = chain->tip_id();
    FUZZ_ASSERT(tip == genesis_id() || blocks().valid_ids.count(tip));
    for (const auto& [id, c] : conns) {
      if (!c.honest()) continue;
      auto info = pm->peer_info(id);
      FUZZ_ASSERT(!info || info->misbehaviour == 0);
    }
  }

  void feed(PeerId id, Message&& m) {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    pm->on_message(id, std::move(m), now);
    if (pm->is_ready(id)) it->second.ready = true;
    drain();
  }

  void disconnect(PeerId id) {
    if (!conns.count(id)) return;
    pm->on_disconnected(id, now);
    conns.erase(id);
    drain();
  }
};

const BlockRef& pick_block(fuzz::FuzzInput& in, bool honest) {
  const Blocks& s = blocks();
  const uint8_t b = in.byte();
  if (!honest && (b & 0x80)) return s.bad[b % s.bad.size()];
  return s.valid[b % s.valid.size()];
}

CmpctBlockMsg compact(fuzz::FuzzInput& in, const Block& block, bool honest) {
  std::vector<uint32_t> prefill;
  const uint8_t mask = in.byte();
  for (uint32_t i = 0; i < block.txs.size() && i < 8; ++i)
    if (mask & (1u << i)) prefill.push_back(i);
  CmpctBlockMsg m = make_compact(block, in.u64(), prefill);
  if (!honest) {
    const uint8_t how = in.byte();
    if ((how & 3) == 1 && m.short_ids.size() > 1) m.short_ids[1] = m.short_ids[0];
    if ((how & 3) == 2 && !m.short_ids.empty()) m.short_ids[0] ^= 1;
    if ((how & 3) == 3 && !m.prefilled.empty())
      m.prefilled[0].tx = blocks().txs[how % blocks().txs.size()];
  }
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  const Blocks& set = blocks();
  BlockRelayConfig cfg;
  cfg.high_bandwidth_peers = in.byte() % 4;
  cfg.rng_seed = in.byte();
  Harness h(std::move(cfg));

  for (size_t step = 0; step < kMaxSteps && !in.empty(); ++step) {
    const uint8_t op = in.byte();
    switch (op % 16) {
      case 0: {  // connect and complete the handshake
        if (h.conns.size() >= kMaxLive) break;
        const uint8_t b = in.byte();
        Conn c;
        c.key = 1 + b % 5;
        const PeerId id = h.next_id++;
        h.conns[id] = c;
        PeerConnected pc{id, test::fake_identities()[c.key].public_key(), (b & 0x08) != 0,
                         test::loopback(static_cast<uint16_t>(40000 + id))};
        h.pm->on_connected(pc, h.now);
        h.drain();
        VersionMsg v;
        v.protocol_version = kProtocolVersion;
        v.network_magic = kMagic;
        v.time = 1'700'000'000;
        v.best_height = b >> 5;
        v.user_agent = "/fuzz/";
        h.feed(id, v);
        h.feed(id, VerackMsg{});
        break;
      }
      case 1: {  // headers: a contiguous slice of A or B (anything from a dishonest peer)
        const PeerId id = h.pick(in);
        if (!h.conns.count(id)) break;
        const bool honest = h.conns[id].honest();
        const std::vector<BlockRef>& chain = (in.byte() & 1) ? set.a : set.b;
        const size_t from = in.byte() % chain.size();
        const size_t to = from + in.byte() % (chain.size() - from);
        HeadersMsg m;
        for (size_t i = from; i <= to; ++i)
          m.headers.push_back(chain[i]->header);
        if (!honest && (op & 0x80)) {
          const uint8_t b = in.byte();
          if (b & 1) m.headers.push_back(set.bad[b % set.bad.size()]->header);
          if ((b & 2) && m.headers.size() > 1) std::swap(m.headers.front(), m.headers.back());
        }
        h.feed(id, std::move(m));
        break;
      }
      case 2: {  // cmpctblock
        const PeerId id = h.pick(in);
        if (!h.conns.count(id)) break;
        const bool honest = h.conns[id].honest();
        const BlockRef& b = pick_block(in, honest);
        h.feed(id, compact(in, *b, honest));
        break;
      }
      case 3: {  // block
        const PeerId id = h.pick(in);
        if (!h.conns.count(id)) break;
        h.feed(id, BlockMsg{pick_block(in, h.conns[id].honest())});
        break;
      }
      case 4: {  // blocktxn: the honest answer to our latest getblocktxn, or anything
        const PeerId id = h.pick(in);
        auto it = h.conns.find(id);
        if (it == h.conns.end()) break;
        const bool honest = it->second.honest();
        if (it->second.asked_txn.empty()) {
          if (honest) break;
          const BlockRef& b = pick_block(in, false);
          h.feed(id, BlockTxnMsg{b->header.id(), {set.txs[in.byte() % set.txs.size()]}});
          break;
        }
        auto ask = it->second.asked_txn.begin();
        std::advance(ask, in.byte() % it->second.asked_txn.size());
        BlockTxnMsg m;
        m.block_id = ask->first;
        const BlockRef* block = nullptr;
        for (const BlockRef& b : set.valid)
          if (b->header.id() == ask->first) block = &b;
        for (const BlockRef& b : set.bad)
          if (b->header.id() == ask->first) block = &b;
        if (!block) break;
        for (uint32_t i : ask->second)
          if (i < (*block)->txs.size()) m.txs.push_back((*block)->txs[i]);
        if (!honest && (op & 0x80) && !m.txs.empty()) {
          if (in.byte() & 1)
            m.txs.pop_back();
          else
            m.txs[0] = set.txs[in.byte() % set.txs.size()];
        }
        it->second.asked_txn.erase(ask);
        h.feed(id, std::move(m));
        break;
      }
      case 5: {  // getheaders: our locator style, from some block
        const PeerId id = h.pick(in);
        if (!h.conns.count(id)) break;
        GetHeadersMsg m;
        const BlockRef& b = pick_block(in, true);
        m.locator = {b->header.id(), genesis_id()};
        if (in.byte() & 1) m.stop = pick_block(in, true)->header.id();
        h.feed(id, std::move(m));
        break;
      }
      case 6: {  // getdata (≤ 16 entries from an honest peer)
        const PeerId id = h.pick(in);
        if (!h.conns.count(id)) break;
        const bool honest = h.conns[id].honest();
        GetDataMsg m;
        const size_t n = in.byte() % (honest ? kMaxBlocksInFlightPerPeer + 1 : 40);
        for (size_t i = 0; i < n; ++i) {
          const uint8_t b = in.byte();
          m.entries.push_back(InvEntry{(b & 1) ? InvType::kCmpctBlock : InvType::kBlock,
                                       pick_block(in, honest)->header.id()});
        }
        h.feed(id, std::move(m));
        break;
      }
      case 7: {  // getblocktxn (in range from an honest peer)
        const PeerId id = h.pick(in);
        if (!h.conns.count(id)) break;
        const bool honest = h.conns[id].honest();
        const BlockRef& b = pick_block(in, honest);
        GetBlockTxnMsg m;
        m.block_id = b->header.id();
        const uint32_t n = static_cast<uint32_t>(b->txs.size()) + (honest ? 0 : 2);
        for (uint32_t i = 0; i < n; ++i)
          if (in.byte() & 1) m.indexes.push_back(i);
        h.feed(id, std::move(m));
        break;
      }
      case 8: {  // inv / notfound of block ids
        const PeerId id = h.pick(in);
        if (!h.conns.count(id)) break;
        const bool honest = h.conns[id].honest();
        std::vector<InvEntry> e;
        const size_t n = in.byte() % 4;
        for (size_t i = 0; i < n; ++i) {
          BlockId bid = pick_block(in, honest)->header.id();
          if (!honest && (in.byte() & 1)) bid[0] ^= 0x55;  // unknown
          e.push_back(InvEntry{InvType::kBlock, bid});
        }
        if (op & 0x80) {
          h.feed(id, NotFoundMsg{std::move(e)});
        } else {
          h.feed(id, InvMsg{std::move(e)});
        }
        break;
      }
      case 9: {  // sendcmpct / sendheaders
        const PeerId id = h.pick(in);
        if (!h.conns.count(id)) break;
        const uint8_t b = in.byte();
        if (b & 1) {
          h.feed(id, SendHeadersMsg{});
        } else {
          h.feed(id, SendCmpctMsg{(b & 2) != 0, (b & 4) ? 2u : 1u});
        }
        break;
      }
      case 10:  // arbitrary message bytes through the real decoder (dishonest peers only)
        test::feed_arbitrary_message(h, in);
        break;
      case 11:
        h.disconnect(h.pick(in));
        break;
      case 12: {  // verdicts: held batches in any order, regrouped, some lost
        if (h.held.empty()) break;
        const std::vector<TxRef> merged = test::take_verdict_batch(h.held, in);
        if (!merged.empty()) h.verdicts(merged);
        break;
      }
      case 13: {  // the mempool gains a transaction (as if relayed)
        const TxRef& t = set.txs[in.byte() % set.txs.size()];
        (void)h.mempool->admit(t, h.now, true);
        break;
      }
      case 14: {  // a local block
        (void)h.relay->submit_block(pick_block(in, (op & 0x80) == 0), h.now);
        h.drain();
        break;
      }
      default: {  // time passes: up to ~64 s
        h.now += test::clock_step((op & 0x80) != 0, in.byte());
        h.pm->on_tick(h.now);
        h.drain();
        break;
      }
    }
    h.drain();
    h.check();
  }
  for (const VerifyAction& v : h.held)
    h.verdicts(v.txs);
  h.held.clear();
  while (!h.conns.empty())
    h.disconnect(h.conns.begin()->first);
  h.pm->take_actions();
  h.check();
  FUZZ_ASSERT(h.pm->peer_count() == 0);
  return 0;
}
