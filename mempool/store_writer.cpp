#include "mempool/store_writer.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

namespace hearsay {

StoreWriter::StoreWriter(MempoolStore& store, std::function<void()> notify)
    : m_store(store), m_notify(std::move(notify)), m_thread([this] {
        pthread_setname_np(pthread_self(), "hs-store");
        run();
      }) {}

StoreWriter::~StoreWriter() {
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  m_work.notify_one();
  m_thread.join();
}

uint64_t StoreWriter::submit(std::vector<StoreOp> ops) {
  uint64_t ticket = 0;
  {
    std::lock_guard lock(m_mutex);
    ticket = m_next_ticket++;
    m_queue.push_back(Item{ticket, std::move(ops)});
    ++m_stats.batches;
    ++m_queued_batches;
  }
  m_work.notify_one();
  return ticket;
}

void StoreWriter::resume() {
  {
    std::lock_guard lock(m_mutex);
    m_queue.push_back(Item{});
    ++m_queued_resumes;
  }
  m_work.notify_one();
}

std::vector<WriteReport> StoreWriter::take_reports() {
  std::lock_guard lock(m_mutex);
  return std::exchange(m_reports, {});
}

void StoreWriter::wait_settled(uint64_t ticket) {
  std::unique_lock lock(m_mutex);
  m_settled.wait(lock, [&] { return m_settled_upto >= ticket; });
}

bool StoreWriter::idle() const {
  std::lock_guard lock(m_mutex);
  // A resume marker still queued ends the refusal before anything submitted from now on.
  return m_queued_batches == 0 && !m_busy && (!m_poisoned || m_queued_resumes > 0);
}

StoreWriterStats StoreWriter::stats() const {
  std::lock_guard lock(m_mutex);
  StoreWriterStats s = m_stats;
  s.queued = m_queued_batches;
  return s;
}

void StoreWriter::run() {
  std::vector<StoreOp> ops;
  std::unique_lock lock(m_mutex);
  for (;;) {
    m_work.wait(lock, [&] { return m_stop || !m_queue.empty(); });
    if (m_queue.empty()) return;  // stopping, and everything queued is written
    // One group: the batches up to the next resume marker, which ends a refusal.
    if (m_queue.front().ticket == 0) {
      m_queue.pop_front();
      --m_queued_resumes;
      m_poisoned = false;
      continue;
    }
    ops.clear();
    uint64_t upto = 0;
    uint64_t batches = 0;
    while (!m_queue.empty() && m_queue.front().ticket != 0) {
      Item& item = m_queue.front();
      upto = item.ticket;
      ++batches;
      if (ops.empty())
        ops = std::move(item.ops);
      else
        ops.insert(ops.end(), std::make_move_iterator(item.ops.begin()),
                   std::make_move_iterator(item.ops.end()));
      m_queue.pop_front();
      --m_queued_batches;
    }
    const bool poisoned = m_poisoned;
    m_busy = true;
    lock.unlock();
    const bool ok = !poisoned && (ops.empty() || m_store.apply(ops).ok());
    lock.lock();
    if (!poisoned) {
      ++m_stats.writes;
      m_stats.largest_group = std::max(m_stats.largest_group, batches);
    }
    if (!ok) m_poisoned = true;
    const bool was_empty = m_reports.empty();
    m_reports.push_back(WriteReport{upto, ok});
    m_settled_upto = upto;
    m_busy = false;
    m_settled.notify_all();
    if (was_empty && m_notify) {
      lock.unlock();
      m_notify();
      lock.lock();
    }
  }
}

}  // namespace hearsay
