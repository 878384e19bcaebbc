// Fakes for tests, benchmarks and the fuzz target: a ChainView set by hand and a store that
// outlives the mempool using it (so a test can reopen a mempool over the same content).
#pragma once

#include <map>

#include "mempool/chain_view.h"
#include "mempool/store.h"

namespace hearsay {

class FakeChainView final : public ChainView {
 public:
  uint64_t next_nonce(const PublicKey& sender) const override {
    auto it = m_next.find(sender);
    return it == m_next.end() ? 0 : it->second;
  }
  uint64_t height() const override { return m_height; }

  void set_next_nonce(const PublicKey& sender, uint64_t n) { m_next[sender] = n; }
  void set_height(uint64_t h) { m_height = h; }

 private:
  std::map<PublicKey, uint64_t> m_next;
  uint64_t m_height = 0;
};

// Forwards to a store owned elsewhere.
class StoreRef final : public MempoolStore {
 public:
  explicit StoreRef(MempoolStore& inner) : m_inner(inner) {}
  Status apply(std::span<const StoreOp> ops) override { return m_inner.apply(ops); }
  Result<std::vector<StoredTx>, StoreError> load() override { return m_inner.load(); }
  std::string describe() const override { return m_inner.describe(); }

 private:
  MempoolStore& m_inner;
};

}  // namespace hearsay
