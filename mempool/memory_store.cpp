#include "mempool/store.h"

namespace hearsay {

Status MemoryStore::apply(std::span<const StoreOp> ops) {
  for (const StoreOp& op : ops) {
    HEARSAY_CHECK(op.tx != nullptr);
    if (op.kind == StoreOp::Kind::kPut)
      m_entries[op.tx->id()] = StoredTx{op.tx, op.admitted};
    else
      m_entries.erase(op.tx->id());
  }
  ++m_batches;
  return {};
}

Result<std::vector<StoredTx>, StoreError> MemoryStore::load() {
  std::vector<StoredTx> out;
  out.reserve(m_entries.size());
  for (const auto& [id, e] : m_entries)
    out.push_back(e);
  return out;
}

}  // namespace hearsay
