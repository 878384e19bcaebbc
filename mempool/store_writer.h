// StoreWriter: the mempool's writes on their own thread, group-committed.
//
// The protocol thread hands each batch of StoreOps over with submit() and goes on; a ticket
// (1, 2, 3, ...) names it. The writer thread takes every batch queued since its last write and
// applies them, in order, as one MempoolStore::apply (LevelDB: one WriteBatch, one write to its
// log): under load one write carries many batches, and the protocol thread never waits for the
// disk. After each write it queues a report — every ticket up to `upto` was written (`ok`) or
// refused — and calls `notify` when the report queue was empty, so a burst of writes costs the
// protocol thread one wake-up; it then drains the queue with take_reports().
//
// The acknowledgement rule stays the caller's: a batch's transactions are answered or relayed
// only once a report says it was written, i.e. it reached the operating system (and the disk,
// with StoreOptions::sync), exactly as when MempoolStore::apply returns.
//
// A refused write poisons the writer: every batch queued after it is refused without being
// tried, until resume() (queued like a batch) is reached. The caller, on seeing the first
// refusal, undoes in memory every batch it has not seen written, then calls resume(): memory
// and store never disagree about an acknowledged transaction, and no later batch builds on a
// batch the store refused.
//
// Threads: submit(), resume(), take_reports() and wait_settled() may be called from any one
// thread (the protocol thread); `notify` runs on the writer thread and must not block on it.
// The destructor writes what is queued, then joins. The store must outlive the writer.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "mempool/store.h"

namespace hearsay {

struct WriteReport {
  uint64_t upto = 0;  // every batch with a ticket ≤ upto (and > the previous report's) settled
  bool ok = true;     // written (true) or refused (false)
};

struct StoreWriterStats {
  uint64_t batches = 0;        // batches submitted
  uint64_t writes = 0;         // store writes (groups) made, refused ones included
  uint64_t largest_group = 0;  // most batches one write carried
  size_t queued = 0;           // batches waiting for the writer now
};

class StoreWriter {
 public:
  StoreWriter(MempoolStore& store, std::function<void()> notify);
  ~StoreWriter();
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  // Queues one batch; returns its ticket. An empty batch settles with its group, written.
  uint64_t submit(std::vector<StoreOp> ops);
  // Queues the end of a refusal: batches submitted after this call are tried again.
  void resume();
  // The reports since the last call, oldest first.
  std::vector<WriteReport> take_reports();
  // Blocks until the batch `ticket` has settled (its report is queued).
  void wait_settled(uint64_t ticket);
  // Nothing is queued or being written, and no refusal waits for resume(). The submitting
  // thread, the only one that queues, may then write to the store itself: no batch of its own
  // is ahead of that write, and none it builds on was refused.
  bool idle() const;
  StoreWriterStats stats() const;

 private:
  struct Item {
    uint64_t ticket = 0;  // 0: a resume marker
    std::vector<StoreOp> ops;
  };
  void run();

  MempoolStore& m_store;
  std::function<void()> m_notify;
  mutable std::mutex m_mutex;
  std::condition_variable m_work;     // the writer waits for items
  std::condition_variable m_settled;  // wait_settled() waits for reports
  std::deque<Item> m_queue;
  size_t m_queued_batches = 0;  // items of m_queue that are batches
  size_t m_queued_resumes = 0;  // and resume markers
  std::vector<WriteReport> m_reports;
  uint64_t m_next_ticket = 1;
  uint64_t m_settled_upto = 0;
  bool m_poisoned = false;  // a write was refused; until the next resume marker
  bool m_busy = false;      // the writer holds batches taken off the queue
  bool m_stop = false;
  StoreWriterStats m_stats;
  std::thread m_thread;  // last: started when everything else is ready
};

}  // namespace hearsay
