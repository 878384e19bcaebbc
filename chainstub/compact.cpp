#include "chainstub/compact.h"

#include <bit>
#include <memory>

#include "crypto/result.h"
#include "p2p/limits.h"

namespace hearsay {
namespace {

static_assert(kMaxBlockTxs < 0xffff, "a slot index fits the table cell's low 16 bits");

// The transient slot table: open addressing, linear probing, load ≤ 1/4. A cell packs a
// slot's 48-bit short id above its 16-bit index; kEmptyCell is no valid pair (index 0xffff is
// past kMaxBlockTxs).
constexpr uint64_t kEmptyCell = ~uint64_t{0};
constexpr size_t kTableLoadInverse = 4;

class SlotTable {
 public:
  explicit SlotTable(size_t slots)
      : m_cells(std::bit_ceil(std::max<size_t>(slots * kTableLoadInverse, 16)), kEmptyCell),
        m_mask(m_cells.size() - 1),
        m_shift(64 - std::countr_zero(m_cells.size())) {}

  enum class Insert { kOk, kDuplicate, kTooLong };
  // Every probe stays inside one run of occupied cells, so bounding the probes bounds the run
  // an adversary could build cell by cell at one home.
  Insert insert(uint64_t sid, uint32_t index) {
    size_t pos = home(sid);
    for (size_t probes = 0;; ++probes, pos = (pos + 1) & m_mask) {
      const uint64_t cell = m_cells[pos];
      if (cell == kEmptyCell) {
        m_cells[pos] = sid << 16 | index;
        return Insert::kOk;
      }
      if (cell >> 16 == sid) return Insert::kDuplicate;
      if (probes >= kMaxShortIdRun) return Insert::kTooLong;
    }
  }
  // Longest run of occupied cells (circular). Short ids at consecutive homes build a long run
  // with short probes each, so insert()'s bound alone does not cap lookups.
  size_t longest_run() const {
    size_t start = 0;
    while (m_cells[start] != kEmptyCell)  // there is one: load ≤ 1/4
      ++start;
    size_t longest = 0, run = 0;
    for (size_t i = 1; i <= m_cells.size(); ++i) {
      if (m_cells[(start + i) & m_mask] == kEmptyCell) {
        run = 0;
      } else {
        longest = std::max(longest, ++run);
      }
    }
    return longest;
  }
  // The slot index of `sid`, or -1.
  int64_t find(uint64_t sid) const {
    for (size_t pos = home(sid);; pos = (pos + 1) & m_mask) {
      const uint64_t cell = m_cells[pos];
      if (cell == kEmptyCell) return -1;
      if (cell >> 16 == sid) return static_cast<int64_t>(cell & 0xffff);
    }
  }

 private:
  // Fibonacci hashing: the high bits of the product spread any input; the run bounds above,
  // not the mix, are what resists chosen short ids.
  size_t home(uint64_t sid) const {
    return static_cast<size_t>((sid * 0x9e37'79b9'7f4a'7c15ULL) >> m_shift);
  }

  std::vector<uint64_t> m_cells;
  size_t m_mask;
  int m_shift;
};

// The structure the decoder guarantees, checked again for messages built in memory.
bool well_formed(const CmpctBlockMsg& msg) {
  const size_t total = msg.short_ids.size() + msg.prefilled.size();
  if (total > kMaxBlockTxs) return false;
  int64_t prev = -1;
  for (const PrefilledTx& p : msg.prefilled) {
    if (!p.tx || static_cast<int64_t>(p.index) <= prev || p.index >= total) return false;
    prev = p.index;
  }
  for (uint64_t sid : msg.short_ids)
    if (sid >> 48 != 0) return false;
  return true;
}

}  // namespace

const char* to_string(ReadStatus s) {
  switch (s) {
    case ReadStatus::kOk:
      return "ok";
    case ReadStatus::kInvalid:
      return "invalid";
    case ReadStatus::kCollision:
      return "collision";
  }
  return "unknown";
}

CmpctBlockMsg make_compact(const Block& block, uint64_t nonce, std::span<const uint32_t> prefill) {
  HEARSAY_CHECK(block.txs.size() <= kMaxBlockTxs);
  CmpctBlockMsg msg;
  msg.header = block.header;
  msg.nonce = nonce;
  const SipKey key = short_id_key(block.header, nonce);
  msg.prefilled.reserve(prefill.size());
  HEARSAY_CHECK(prefill.size() <= block.txs.size());
  msg.short_ids.reserve(block.txs.size() - prefill.size());
  size_t next = 0;  // position in prefill
  for (size_t i = 0; i < block.txs.size(); ++i) {
    const TxRef& tx = block.txs[i];
    HEARSAY_CHECK(tx != nullptr);
    if (next < prefill.size() && prefill[next] == i) {
      msg.prefilled.push_back(PrefilledTx{static_cast<uint32_t>(i), tx});
      ++next;
    } else {
      HEARSAY_CHECK(next >= prefill.size() || prefill[next] > i);  // strictly increasing
      msg.short_ids.push_back(short_id(key, tx->id()));
    }
  }
  HEARSAY_CHECK(next == prefill.size());  // every index < txs
  return msg;
}

void PartialBlock::reset() {
  m_header = BlockHeader{};
  m_key = SipKey{};
  m_slots.clear();
  m_short_ids.clear();
  m_ready = false;
  m_prefilled = m_from_candidates = m_missing = 0;
}

uint64_t PartialBlock::short_id_of(const TxId& id) const {
  if (m_short_id_fn) return m_short_id_fn(id) & 0xffff'ffff'ffffULL;
  return short_id(m_key, id);
}

ReadStatus PartialBlock::init(const CmpctBlockMsg& msg, std::span<const TxRef> candidates) {
  reset();
  if (!well_formed(msg)) return ReadStatus::kInvalid;
  const size_t total = msg.short_ids.size() + msg.prefilled.size();
  m_key = short_id_key(msg.header, msg.nonce);

  // Lay out the slots: prefilled first, the short ids in order in the others.
  std::vector<TxRef> slots(total);
  std::vector<uint64_t> sids(total);
  std::vector<bool> prefilled(total, false);
  for (const PrefilledTx& p : msg.prefilled) {
    slots[p.index] = p.tx;
    sids[p.index] = short_id_of(p.tx->id());
    prefilled[p.index] = true;
  }
  SlotTable table(total);
  size_t next = 0;  // position in msg.short_ids
  for (size_t i = 0; i < total; ++i) {
    if (!prefilled[i]) sids[i] = msg.short_ids[next++];
    switch (table.insert(sids[i], static_cast<uint32_t>(i))) {
      case SlotTable::Insert::kOk:
        break;
      case SlotTable::Insert::kDuplicate:
      case SlotTable::Insert::kTooLong:
        return ReadStatus::kCollision;
    }
  }
  HEARSAY_CHECK(next == msg.short_ids.size());
  if (table.longest_run() > kMaxShortIdRun) return ReadStatus::kCollision;

  // Fill from the candidates. A slot matched by two different transactions is emptied and
  // stays so (`ambiguous`): it will be asked for.
  std::vector<bool> ambiguous(total, false);
  size_t filled = 0;
  for (const TxRef& c : candidates) {
    HEARSAY_CHECK(c != nullptr);
    const int64_t found = table.find(short_id_of(c->id()));
    if (found < 0) continue;
    const size_t i = static_cast<size_t>(found);
    if (prefilled[i] || ambiguous[i]) continue;
    if (!slots[i]) {
      slots[i] = c;
      ++filled;
    } else if (slots[i]->id() != c->id()) {
      slots[i].reset();
      ambiguous[i] = true;
      --filled;
    }
  }

  m_header = msg.header;
  m_slots = std::move(slots);
  m_short_ids = std::move(sids);
  m_prefilled = msg.prefilled.size();
  m_from_candidates = filled;
  m_missing = total - m_prefilled - filled;
  m_ready = true;
  return ReadStatus::kOk;
}

std::vector<uint32_t> PartialBlock::missing() const {
  std::vector<uint32_t> out;
  out.reserve(m_missing);
  for (size_t i = 0; i < m_slots.size(); ++i)
    if (!m_slots[i]) out.push_back(static_cast<uint32_t>(i));
  return out;
}

ReadStatus PartialBlock::fill(std::span<const TxRef> txs) {
  if (!m_ready || txs.size() != m_missing) return ReadStatus::kInvalid;
  // Check the whole answer before taking any of it.
  size_t k = 0;
  for (size_t i = 0; i < m_slots.size() && k < txs.size(); ++i) {
    if (m_slots[i]) continue;
    if (!txs[k] || short_id_of(txs[k]->id()) != m_short_ids[i]) return ReadStatus::kInvalid;
    ++k;
  }
  k = 0;
  for (size_t i = 0; i < m_slots.size() && k < txs.size(); ++i)
    if (!m_slots[i]) m_slots[i] = txs[k++];
  m_missing = 0;
  return ReadStatus::kOk;
}

ReadStatus PartialBlock::finish(BlockRef& out) const {
  if (!m_ready || m_missing != 0) return ReadStatus::kInvalid;
  auto block = std::make_shared<Block>();
  block->header = m_header;
  block->txs = m_slots;
  if (merkle_root(block->txs) != m_header.merkle_root) return ReadStatus::kCollision;
  out = std::move(block);
  return ReadStatus::kOk;
}

void PartialBlock::sanity_check() const {
  HEARSAY_CHECK(m_slots.size() <= kMaxBlockTxs);
  HEARSAY_CHECK(m_short_ids.size() == m_slots.size());
  if (!m_ready) HEARSAY_CHECK(m_slots.empty() && m_prefilled + m_from_candidates + m_missing == 0);
  HEARSAY_CHECK(m_prefilled + m_from_candidates + m_missing <= m_slots.size());
  size_t empty = 0;
  for (size_t i = 0; i < m_slots.size(); ++i) {
    if (!m_slots[i]) {
      ++empty;
    } else {
      HEARSAY_CHECK(short_id_of(m_slots[i]->id()) == m_short_ids[i]);
    }
  }
  HEARSAY_CHECK(empty == m_missing);
  // Before fill(), every slot is prefilled, from a candidate or missing.
  if (m_missing > 0) HEARSAY_CHECK(m_prefilled + m_from_candidates + m_missing == m_slots.size());
}

}  // namespace hearsay
