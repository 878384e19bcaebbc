// TxPool: what the relay logic needs of a mempool, and RelayObserver: what it reports.
//
// p2p/ sits below mempool/, so the relay logic sees the mempool through this interface; the
// mempool module implements it (mempool/relay_pool.h) and tests may use a small fake. Calls
// come from the relay's single thread only.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "crypto/ed25519.h"
#include "p2p/transaction.h"
#include "p2p/types.h"

namespace hearsay {

enum class PoolAnswer : uint8_t {
  kAccepted,     // admitted (admit_verified), or may be admitted (precheck)
  kAlreadyHave,  // this very transaction is held: nothing to do, nobody to blame
  kRejected,     // refused by a rule; `reason` names it
};

struct PoolResult {
  PoolAnswer answer = PoolAnswer::kAccepted;
  const char* reason = "";  // static string, for kRejected (e.g. "fee-rate-too-low")
  // kAccepted by a pool that writes behind (a pipelined mempool): the write's ticket; the
  // acceptance is durable, and may be acknowledged or relayed, once take_write_progress()
  // settles it. 0: durable already.
  uint64_t ticket = 0;
  bool ok() const { return answer == PoolAnswer::kAccepted; }
};

// The reason an acceptance undone by a refused write is reported with (the mempool's name for
// AdmitCode::kStoreFailed).
inline constexpr const char* kStoreFailedReason = "store-failed";

// TxPool::wait_written's ticket for every write made so far.
inline constexpr uint64_t kAllWrites = UINT64_MAX;

// What a pool that writes behind reports: every ticket ≤ `settled` is settled; the acceptances
// listed in `undone` (since the previous report) were refused by the store and are not held.
struct WriteProgress {
  uint64_t settled = 0;
  std::vector<TxId> undone;
};

class TxPool {
 public:
  virtual ~TxPool() = default;
  // Every admission rule that needs no signature check and changes nothing (network, size,
  // expiry, fee rate, nonce, conflicts, the sender's cap): kAccepted if `tx` may be admitted.
  virtual PoolResult precheck(const Transaction& tx, Time now) const = 0;
  // Admits transactions whose signatures were verified, in order, as one durable batch (a
  // success means the transaction survives a crash of the process, or will once its ticket
  // settles). One result per tx.
  virtual std::vector<PoolResult> admit_verified(std::span<const TxRef> txs, Time now) = 0;
  // Pools that write behind: the writes settled since the last call, and a wait for one
  // (kAllWrites: for every write made so far).
  virtual WriteProgress take_write_progress() { return {}; }
  virtual void wait_written(uint64_t ticket) { (void)ticket; }
  virtual bool contains(const TxId& id) const = 0;
  virtual TxRef get(const TxId& id) const = 0;
  // Up to n held transactions, newest admission first (anti-entropy on connect).
  virtual std::vector<TxRef> newest(size_t n) const = 0;
  // How many transactions are held.
  virtual size_t size() const = 0;
  // Drops what expired by `now` (own expiry, or held longer than the pool's limit); returns
  // how many. The relay calls it every kPoolExpireInterval.
  virtual size_t expire(Time now) = 0;
};

// Where a transaction came from, for the trace: a peer (identity known) or the local RPC.
struct TxSource {
  bool local = true;
  PublicKey peer{};  // when !local
};

// One reconciliation round we asked a peer for (p2p/tx_relay.h, "Set reconciliation").
struct ReconReport {
  uint32_t round = 0;
  size_t set_size = 0;       // ours
  size_t peer_set_size = 0;  // its, at its first answer
  size_t requests = 0;       // reqrecon sent (parts)
  size_t bisections = 0;     // parts split after a failed decode
  size_t exchanges = 0;      // failed parts small enough to announce whole instead
  size_t sketch_bytes = 0;   // sent
  size_t differences = 0;    // elements either side lacked
  bool complete = false;     // every part decoded (else refused, given up or timed out)
  Time started{};
};

// Relay events for tracing (node/ writes them as JSON lines). Called on the relay thread;
// implementations must be cheap (buffer, never block on I/O per event).
class RelayObserver {
 public:
  virtual ~RelayObserver() = default;
  // The body of a transaction unseen before arrived (before any check).
  virtual void tx_first_seen(const TxId& id, const TxSource& from, Time now) = 0;
  virtual void tx_accepted(const TxId& id, Time now) = 0;
  virtual void tx_rejected(const TxId& id, const char* reason, Time now) = 0;
  // One inv / getdata message with `count` tx entries went to `peer`.
  virtual void inv_sent(const PublicKey& peer, size_t count, Time now) = 0;
  virtual void getdata_sent(const PublicKey& peer, size_t count, Time now) = 0;
  // A reconciliation round we asked for ended.
  virtual void recon_round(const PublicKey& peer, const ReconReport& report, Time now) {
    (void)peer, (void)report, (void)now;
  }
};

}  // namespace hearsay
