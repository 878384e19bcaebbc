// Fuzz target: compact-block reconstruction (chainstub/compact.h) from arbitrary mempools,
// short ids, prefilled sets and nonces.
//
// Input byte 0 picks the mode:
//  - structured (0..2 mod 4): a mempool drawn from a fixed pool of signed transactions, a block
//    of pool and fresh transactions (repeats allowed), a cmpctblock for it by make_compact with
//    the input's nonce and prefilled set, optionally short ids from a few-bit test hash (so
//    distinct transactions share short ids), then 0..3 lies: arbitrary or duplicated short
//    ids, an outsider's short id in a slot, a short id dropped or added, a prefilled index or
//    transaction changed, the Merkle root changed;
//  - raw (3 mod 4): the rest of the input decoded as a cmpctblock payload, the whole pool as
//    candidates.
// Then init / missing / fill (right answer, wrong count, an outsider, arbitrary) / finish.
//
// Oracles: never crashes; sanity_check() after every step; missing() increasing, in range,
// missing_count() long, and prefilled + from candidates + missing = slots; a wrong-sized
// answer is kInvalid, a kInvalid fill changes nothing and a kOk fill leaves nothing missing;
// finish() before completion is kInvalid; any kOk block has the header's Merkle root and the
// message's transaction count. For an honest message (no lies): init is kOk exactly when the
// block has no transaction twice (a repeat is kCollision); with SipHash short ids it then
// reconstructs after the right answer, exactly the block's transactions; its encoding
// decodes and re-inits to the same result.
#include <algorithm>
#include <cstdint>
#include <set>
#include <vector>

#include "chainstub/compact.h"
#include "crypto/ed25519.h"
#include "fuzz/fuzz_util.h"
#include "p2p/limits.h"
#include "p2p/messages.h"

namespace hearsay {
namespace {

constexpr uint32_t kNetwork = 0x63706374;  // "cpct"
constexpr size_t kPoolTxs = 64;            // the mempool is drawn from these
constexpr size_t kFreshTxs = 32;           // never in the mempool (unless offered as extra)
constexpr size_t kMaxTxs = 48;             // structured blocks: up to this many transactions
constexpr uint64_t kShortIdMask = 0xffff'ffff'ffffULL;

struct Pool {
  std::vector<TxRef> pool;
  std::vector<TxRef> fresh;
};

const Pool& txs() {
  static const Pool p = [] {
    crypto_init();
    Pool out;
    for (size_t i = 0; i < kPoolTxs + kFreshTxs; ++i) {
      Seed seed;
      seed.fill(static_cast<uint8_t>(0x70 + i % 5));
      TxFields f;
      f.network = kNetwork;
      f.nonce = i;
      f.fee = 1000 + i;
      f.payload.resize(1 + i % 7, static_cast<uint8_t>(i));
      TxRef tx = Transaction::create(f, KeyPair::from_seed(seed));
      (i < kPoolTxs ? out.pool : out.fresh).push_back(tx);
    }
    return out;
  }();
  return p;
}

std::vector<TxId> ids_of(const std::vector<TxRef>& v) {
  std::vector<TxId> out;
  for (const TxRef& t : v)
    out.push_back(t->id());
  return out;
}

// The checks that hold after every successful init, whatever the message.
void check_partial(const PartialBlock& pb, size_t total) {
  pb.sanity_check();
  FUZZ_ASSERT(pb.tx_count() == total);
  const std::vector<uint32_t> miss = pb.missing();
  FUZZ_ASSERT(miss.size() == pb.missing_count());
  for (size_t i = 0; i < miss.size(); ++i) {
    FUZZ_ASSERT(miss[i] < total);
    FUZZ_ASSERT(i == 0 || miss[i] > miss[i - 1]);
  }
}

void check_block(const BlockRef& out, const CmpctBlockMsg& msg) {
  FUZZ_ASSERT(out != nullptr);
  FUZZ_ASSERT(out->header == msg.header);
  FUZZ_ASSERT(out->txs.size() == msg.short_ids.size() + msg.prefilled.size());
  FUZZ_ASSERT(merkle_root(out->txs) == msg.header.merkle_root);
}

// Answers the missing indexes: `right` (may be empty: then pool picks), varied by `how`.
std::vector<TxRef> make_answer(fuzz::FuzzInput& in, const std::vector<uint32_t>& miss,
                               const std::vector<TxRef>& right, uint8_t how) {
  const Pool& p = txs();
  std::vector<TxRef> out;
  for (uint32_t i : miss)
    out.push_back(i < right.size() ? right[i] : p.pool[in.byte() % kPoolTxs]);
  switch (how % 4) {
    case 0:
      break;
    case 1:  // wrong count
      if (out.empty() || in.byte() % 2 == 0)
        out.push_back(p.fresh[in.byte() % kFreshTxs]);
      else
        out.pop_back();
      break;
    case 2:  // one outsider
      if (!out.empty()) out[in.byte() % out.size()] = p.fresh[in.byte() % kFreshTxs];
      break;
    case 3:  // arbitrary
      for (TxRef& t : out)
        t = p.pool[in.byte() % kPoolTxs];
      break;
  }
  return out;
}

// init → missing → fill → finish. Returns init's status; `out` is finish's block if kOk.
struct Outcome {
  ReadStatus init = ReadStatus::kInvalid;
  ReadStatus finish = ReadStatus::kInvalid;
  bool answered_right = false;  // fill() took the right answer
  BlockRef block;
};

Outcome reconstruct(fuzz::FuzzInput& in, PartialBlock& pb, const CmpctBlockMsg& msg,
                    const std::vector<TxRef>& candidates, const std::vector<TxRef>& right) {
  Outcome o;
  const size_t total = msg.short_ids.size() + msg.prefilled.size();
  o.init = pb.init(msg, candidates);
  pb.sanity_check();
  BlockRef out;
  if (o.init != ReadStatus::kOk) {
    FUZZ_ASSERT(pb.tx_count() == 0);
    FUZZ_ASSERT(pb.fill({}) == ReadStatus::kInvalid);
    FUZZ_ASSERT(pb.finish(out) == ReadStatus::kInvalid);
    return o;
  }
  check_partial(pb, total);
  FUZZ_ASSERT(pb.prefilled_count() == msg.prefilled.size());
  FUZZ_ASSERT(pb.prefilled_count() + pb.from_candidates() + pb.missing_count() == total);
  const std::vector<uint32_t> miss = pb.missing();
  if (!miss.empty()) FUZZ_ASSERT(pb.finish(out) == ReadStatus::kInvalid);

  // Up to two answers: a varied one, then (if it was refused) the right one.
  for (int round = 0; round < 2; ++round) {
    const uint8_t how = round == 0 ? in.byte() : 0;
    std::vector<TxRef> answer = make_answer(in, miss, right, how);
    const ReadStatus st = pb.fill(answer);
    pb.sanity_check();
    if (answer.size() != miss.size()) FUZZ_ASSERT(st == ReadStatus::kInvalid);
    if (st == ReadStatus::kOk) {
      FUZZ_ASSERT(pb.missing().empty());
      o.answered_right = !right.empty();
      for (size_t k = 0; k < miss.size() && o.answered_right; ++k)
        o.answered_right = miss[k] < right.size() && answer[k]->id() == right[miss[k]]->id();
      break;
    }
    FUZZ_ASSERT(pb.missing() == miss);
  }
  check_partial(pb, total);
  o.finish = pb.finish(out);
  if (pb.missing_count() > 0) FUZZ_ASSERT(o.finish == ReadStatus::kInvalid);
  if (o.finish == ReadStatus::kOk) {
    check_block(out, msg);
    o.block = out;
  }
  return o;
}

void run_structured(fuzz::FuzzInput& in) {
  const Pool& p = txs();
  const uint8_t flags = in.byte();
  const bool use_hook = flags & 1;
  const unsigned hook_bits = 1 + (flags >> 1) % 12;
  const unsigned lies = (flags >> 5) % 4;
  const uint64_t nonce = in.u64();

  // The mempool: a subset of the pool, some transactions offered twice, maybe fresh extras.
  std::vector<TxRef> candidates;
  const uint64_t mask = in.u64();
  for (size_t i = 0; i < kPoolTxs; ++i)
    if (mask >> i & 1) candidates.push_back(p.pool[i]);
  for (unsigned k = in.byte() % 4; k > 0; --k) {
    const uint8_t b = in.byte();
    candidates.push_back(b & 0x80 ? p.fresh[b % kFreshTxs] : p.pool[b % kPoolTxs]);
  }

  // The block.
  Block block;
  block.header.network = kNetwork;
  block.header.height = in.byte();
  block.header.time = in.u64();
  for (size_t n = in.byte() % (kMaxTxs + 1); n > 0; --n) {
    const uint8_t b = in.byte();
    block.txs.push_back(b & 0x80 ? p.fresh[b % kFreshTxs] : p.pool[b % kPoolTxs]);
  }
  block.header.merkle_root = merkle_root(block.txs);
  std::vector<uint32_t> prefill;
  const uint8_t pmode = in.byte();
  for (uint32_t i = 0; i < block.txs.size(); ++i) {
    const bool take = pmode % 4 == 1   ? i == 0
                      : pmode % 4 == 2 ? in.byte() % 3 == 0
                                       : pmode % 4 == 3;
    if (take) prefill.push_back(i);
  }
  CmpctBlockMsg msg = make_compact(block, nonce, prefill);

  const SipKey key = short_id_key(block.header, nonce);
  const uint64_t hook_mask = (uint64_t{1} << hook_bits) - 1;
  auto fn = [key, hook_mask](const TxId& id) { return short_id(key, id) & hook_mask; };
  auto sid_of = [&](const TxRef& t) { return use_hook ? fn(t->id()) : short_id(key, t->id()); };
  if (use_hook) {
    size_t s = 0, k = 0;
    for (uint32_t i = 0; i < block.txs.size(); ++i) {
      if (k < prefill.size() && prefill[k] == i)
        ++k;
      else
        msg.short_ids[s++] = fn(block.txs[i]->id());
    }
  }

  for (unsigned l = 0; l < lies; ++l) {
    const uint8_t op = in.byte();
    const size_t ns = msg.short_ids.size(), np = msg.prefilled.size();
    switch (op % 8) {
      case 0:
        if (ns) msg.short_ids[in.byte() % ns] = in.u64() & kShortIdMask;
        break;
      case 1:  // an outsider's short id: a wrong candidate will match it
        if (ns) msg.short_ids[in.byte() % ns] = sid_of(p.pool[in.byte() % kPoolTxs]);
        break;
      case 2:
        if (ns) msg.short_ids[in.byte() % ns] = msg.short_ids[in.byte() % ns];
        break;
      case 3:
        if (ns) msg.short_ids.erase(msg.short_ids.begin() + in.byte() % ns);
        break;
      case 4:
        msg.short_ids.push_back(sid_of(p.pool[in.byte() % kPoolTxs]));
        break;
      case 5:
        if (np) msg.prefilled[in.byte() % np].index = in.byte() % (kMaxTxs + 2);
        break;
      case 6:
        if (np) msg.prefilled[in.byte() % np].tx = p.pool[in.byte() % kPoolTxs];
        break;
      case 7:
        msg.header.merkle_root[in.byte() % 32] ^= static_cast<uint8_t>(1 + in.byte() % 255);
        break;
    }
  }
  const bool honest = lies == 0;

  PartialBlock pb(use_hook ? PartialBlock::ShortIdFn(fn) : PartialBlock::ShortIdFn());
  const Outcome o = reconstruct(in, pb, msg, candidates, block.txs);
  if (!honest) return;

  // Honest: init refuses exactly a block whose short ids repeat (with SipHash: a transaction
  // twice), and only as a collision.
  const std::vector<TxId> ids = ids_of(block.txs);
  std::set<uint64_t> sids;
  for (const TxRef& t : block.txs)
    sids.insert(sid_of(t));
  const bool distinct = sids.size() == block.txs.size();
  if (!use_hook)
    FUZZ_ASSERT(distinct == (std::set<TxId>(ids.begin(), ids.end()).size() == ids.size()));
  FUZZ_ASSERT((o.init == ReadStatus::kOk) == distinct);
  if (o.init != ReadStatus::kOk) FUZZ_ASSERT(o.init == ReadStatus::kCollision);
  if (o.finish == ReadStatus::kOk) FUZZ_ASSERT(ids_of(o.block->txs) == ids);
  if (distinct && !use_hook && o.answered_right) FUZZ_ASSERT(o.finish == ReadStatus::kOk);

  // The honest message survives the wire, and the same PartialBlock starts over with it.
  std::vector<uint8_t> bytes;
  encode_payload(Message(msg), bytes);
  auto decoded = decode_payload(MsgType::kCmpctBlock, std::move(bytes));
  FUZZ_ASSERT(decoded.ok());
  const auto& back = std::get<CmpctBlockMsg>(decoded.value());
  FUZZ_ASSERT(back.short_ids == msg.short_ids && back.nonce == msg.nonce);
  FUZZ_ASSERT(pb.init(back, candidates) == o.init);
  pb.sanity_check();
}

void run_raw(fuzz::FuzzInput& in) {
  const Pool& p = txs();
  auto decoded = decode_payload(MsgType::kCmpctBlock, in.bytes(in.remaining()));
  if (!decoded) return;
  const auto& msg = std::get<CmpctBlockMsg>(decoded.value());
  std::vector<TxRef> candidates = p.pool;
  candidates.insert(candidates.end(), p.fresh.begin(), p.fresh.end());
  PartialBlock pb;
  fuzz::FuzzInput none(nullptr, 0);
  reconstruct(none, pb, msg, candidates, {});
}

}  // namespace
}  // namespace hearsay

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  hearsay::txs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hearsay::fuzz::FuzzInput in(data, size);
  if (in.byte() % 4 == 3)
    hearsay::run_raw(in);
  else
    hearsay::run_structured(in);
  return 0;
}
