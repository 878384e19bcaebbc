// VerifyPool: worker threads that verify the Ed25519 signatures of transactions.
//
// The relay logic is single-threaded (p2p/ is sans-IO); a signature check costs ≈ 50 µs, so a
// node that verified on its io thread would use one core of many. Host hands each burst of
// VerifyActions to the pool as one batch; the pool cuts it into chunks and the workers verify
// the chunks in parallel, each chunk's verdicts going to the batch's completion callback on the
// worker that verified it (Host posts them back to its io thread).
//
// Rules:
//  * A batch of n transactions over w workers is cut into chunks of ceil(n / w) transactions,
//    at most kMaxVerifyChunk each (so a huge batch returns its first verdicts after a few ms,
//    and admission and relay of those start while the rest is verified). Chunks run in FIFO
//    order; verdicts of one chunk keep the chunk's order (valid[i] is txs[i]'s verdict);
//    chunks of one batch may complete in any order and on any worker.
//  * The callback runs on a worker thread, outside the pool's lock; it must be cheap and
//    thread-safe (post the result elsewhere) and must not call back into the pool's stop().
//  * stop() drops queued chunks (their callbacks never run), waits for the chunks being
//    verified (their callbacks do run) and joins the workers. submit() after stop() drops the
//    batch and returns false.
//
// Adversary: peers choose what is verified, not how much: the producer bounds the work (TxRelay
// keeps at most kMaxVerifying transactions under verification, and a transaction is verified
// at most once per node thanks to the seen-set). The pool adds no bound of its own — dropping
// work would leave the producer waiting for verdicts forever — and reports its depth
// (transactions queued plus being verified) for metrics.
// Memory: O(depth) TxRefs and one chunk record per kMaxVerifyChunk of them. Time: one
// signature check per transaction, plus one lock and one wake-up per chunk.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "p2p/transaction.h"

namespace hearsay {

// Transactions per chunk at most: 128 × ≈50 µs ≈ 6 ms of one core, so verdicts of a large
// batch start coming back after a few milliseconds while each hand-off (lock, wake-up, post to
// the io thread, one admission batch) still carries a hundred signatures.
inline constexpr size_t kMaxVerifyChunk = 128;
// Workers at most (a bound on a configuration typo, not a tuning knob).
inline constexpr size_t kMaxVerifyThreads = 256;

class VerifyPool {
 public:
  // Verdicts for one chunk: valid[i] = 1 when txs[i]'s signature verifies, 0 otherwise.
  using Done = std::function<void(std::vector<TxRef> txs, std::vector<uint8_t> valid)>;

  // threads == 0: one per core (std::thread::hardware_concurrency(), at least 1). Capped at
  // kMaxVerifyThreads. The workers start at once.
  explicit VerifyPool(size_t threads);
  ~VerifyPool();  // stop()
  VerifyPool(const VerifyPool&) = delete;
  VerifyPool& operator=(const VerifyPool&) = delete;

  // The worker count `threads` resolves to.
  static size_t resolve_threads(size_t threads);

  // Queues `txs` (cut into chunks); `done` is called once per chunk. Empty batches are ignored.
  // Returns false (nothing queued, `done` never called) after stop(). Thread-safe.
  bool submit(std::vector<TxRef> txs, Done done);

  // Paused workers take no new chunk (those under way finish); submit() still queues. For tests
  // that need verification to fall behind on cue (the node never pauses its pool).
  void pause(bool paused);

  // Idempotent (from one thread at a time); see the rules above. Never call it from a
  // completion callback.
  void stop();

  size_t threads() const { return m_workers.size(); }
  // Transactions queued or being verified now.
  size_t depth() const { return m_depth.load(std::memory_order_relaxed); }
  // True when nothing is queued or being verified (a tiny batch may then be verified inline
  // by the caller without waiting behind other work).
  bool idle() const { return depth() == 0; }
  // Totals since construction: transactions whose verdict was delivered, of which invalid;
  // chunks delivered.
  uint64_t verified() const { return m_verified.load(std::memory_order_relaxed); }
  uint64_t invalid() const { return m_invalid.load(std::memory_order_relaxed); }
  uint64_t chunks() const { return m_chunks.load(std::memory_order_relaxed); }

  // Checks the counters against the queue (takes the lock).
  void sanity_check() const;

 private:
  struct Chunk {
    std::vector<TxRef> txs;
    std::shared_ptr<const Done> done;  // shared by the chunks of one batch
  };

  void work();

  mutable std::mutex m_mutex;
  std::condition_variable m_wake;
  std::deque<Chunk> m_queue;  // guarded by m_mutex
  size_t m_queued_txs = 0;    // transactions in m_queue, guarded by m_mutex
  bool m_stopping = false;    // guarded by m_mutex
  bool m_paused = false;      // guarded by m_mutex
  std::atomic<size_t> m_depth{0};
  std::atomic<uint64_t> m_verified{0};
  std::atomic<uint64_t> m_invalid{0};
  std::atomic<uint64_t> m_chunks{0};
  std::vector<std::thread> m_workers;  // last: started after every other member exists
};

}  // namespace hearsay
