// Stores that fail on demand, for the write-failure paths of the mempool and the chain: each
// wraps a real store and refuses the next `n` writes (the wrapped store is left unchanged, as
// a refused batch must be), forwarding everything else.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "chainstub/chain_store.h"
#include "mempool/store.h"

namespace hearsay::test {

// Wraps a mempool store owned elsewhere (a test reopens mempools over the same store), as
// StoreRef does.
class FailingMempoolStore final : public MempoolStore {
 public:
  explicit FailingMempoolStore(MempoolStore& inner) : m_inner(inner) {}

  // The next `n` apply() calls fail without changing anything.
  void fail_next_writes(size_t n) { m_fail_next = n; }

  Status apply(std::span<const StoreOp> ops) override {
    if (m_fail_next > 0) {
      --m_fail_next;
      return Status::error("memory store: injected write failure");
    }
    return m_inner.apply(ops);
  }
  Result<std::vector<StoredTx>, StoreError> load() override { return m_inner.load(); }
  std::string describe() const override { return m_inner.describe(); }

 private:
  MempoolStore& m_inner;
  size_t m_fail_next = 0;
};

// Owns the chain store it wraps (a ChainState owns its store): keep a pointer to the
// FailingChainStore to call fail_next_writes() once the chain holds it.
class FailingChainStore final : public ChainStore {
 public:
  explicit FailingChainStore(std::unique_ptr<ChainStore> inner) : m_inner(std::move(inner)) {}

  // The next `n` apply() calls fail (an I/O error) without changing anything.
  void fail_next_writes(size_t n) { m_fail_next = n; }
  // The next `n` read_body() calls fail with an I/O error.
  void fail_next_reads(size_t n) { m_fail_reads = n; }
  ChainStore& inner() { return *m_inner; }

  std::optional<BlockId> genesis() const override { return m_inner->genesis(); }
  Status apply(std::span<const ChainStoreOp> ops) override {
    if (m_fail_next > 0) {
      --m_fail_next;
      return Status::error("cannot write chain store " + describe() +
                           ": injected write failure (is the disk full or failing?)");
    }
    return m_inner->apply(ops);
  }
  Result<StoredChain, ChainStoreError> load() override { return m_inner->load(); }
  Result<BlockRef, ChainStoreError> read_body(const BlockId& id) override {
    if (m_fail_reads > 0) {
      --m_fail_reads;
      return fail(
          ChainStoreError{ChainStoreError::Kind::kIo,
                          "cannot read chain store " + describe() + " (injected read failure)"});
    }
    return m_inner->read_body(id);
  }
  std::string describe() const override { return m_inner->describe(); }

 private:
  std::unique_ptr<ChainStore> m_inner;
  size_t m_fail_next = 0;
  size_t m_fail_reads = 0;
};

}  // namespace hearsay::test
