#include "mempool/relay_pool.h"

namespace hearsay {

PoolResult to_pool_result(AdmitCode code) {
  switch (code) {
    case AdmitCode::kAccepted:
      return {PoolAnswer::kAccepted, ""};
    case AdmitCode::kDuplicate:
      return {PoolAnswer::kAlreadyHave, to_string(code)};
    default:
      return {PoolAnswer::kRejected, to_string(code)};
  }
}

PoolResult MempoolTxPool::precheck(const Transaction& tx, Time now) const {
  return to_pool_result(m_mempool.precheck(tx, now));
}

std::vector<PoolResult> MempoolTxPool::admit_verified(std::span<const TxRef> txs, Time now) {
  std::vector<Candidate> candidates;
  candidates.reserve(txs.size());
  for (const TxRef& tx : txs)
    candidates.push_back(Candidate{tx, true});
  std::vector<PoolResult> out;
  out.reserve(txs.size());
  for (const AdmitResult& r : m_mempool.admit_batch(candidates, now)) {
    out.push_back(to_pool_result(r.code));
    out.back().ticket = r.ticket;
  }
  return out;
}

}  // namespace hearsay
