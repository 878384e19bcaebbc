// MempoolTxPool: the mempool as the relay logic sees it (p2p/tx_pool.h).
//
// Maps AdmitCode to PoolResult: kAccepted → accepted, kDuplicate → already have, every other
// code → rejected with the code's name as reason ("fee-rate-too-low", "conflict", ...).
// Single-threaded like the Mempool it wraps; the Mempool must outlive it.
#pragma once

#include "mempool/mempool.h"
#include "p2p/tx_pool.h"

namespace hearsay {

PoolResult to_pool_result(AdmitCode code);

class MempoolTxPool : public TxPool {
 public:
  explicit MempoolTxPool(Mempool& mempool) : m_mempool(mempool) {}

  PoolResult precheck(const Transaction& tx, Time now) const override;
  std::vector<PoolResult> admit_verified(std::span<const TxRef> txs, Time now) override;
  bool contains(const TxId& id) const override { return m_mempool.contains(id); }
  TxRef get(const TxId& id) const override { return m_mempool.get(id); }
  std::vector<TxRef> newest(size_t n) const override { return m_mempool.newest(n); }
  size_t size() const override { return m_mempool.size(); }
  size_t expire(Time now) override { return m_mempool.expire(now).size(); }
  WriteProgress take_write_progress() override { return m_mempool.take_write_progress(); }
  void wait_written(uint64_t ticket) override { m_mempool.wait_written(ticket); }

 private:
  Mempool& m_mempool;
};

}  // namespace hearsay
