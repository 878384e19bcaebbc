#include "net/verify_pool.h"

#include <pthread.h>

#include <algorithm>

#include "crypto/result.h"

namespace hearsay {

size_t VerifyPool::resolve_threads(size_t threads) {
  if (threads == 0) threads = std::thread::hardware_concurrency();
  return std::clamp<size_t>(threads, 1, kMaxVerifyThreads);
}

VerifyPool::VerifyPool(size_t threads) {
  size_t n = resolve_threads(threads);
  m_workers.reserve(n);
  for (size_t i = 0; i < n; ++i)
    m_workers.emplace_back([this] {
      pthread_setname_np(pthread_self(), "hs-verify");
      work();
    });
}

VerifyPool::~VerifyPool() {
  stop();
}

bool VerifyPool::submit(std::vector<TxRef> txs, Done done) {
  if (txs.empty()) return true;
  const size_t n = txs.size();
  const size_t w = m_workers.size();
  const size_t chunk = std::clamp<size_t>((n + w - 1) / w, 1, kMaxVerifyChunk);
  auto shared_done = std::make_shared<const Done>(std::move(done));
  {
    std::lock_guard lock(m_mutex);
    if (m_stopping) return false;
    if (n <= chunk) {
      m_queue.push_back(Chunk{std::move(txs), shared_done});
    } else {
      for (size_t i = 0; i < n; i += chunk) {
        size_t end = std::min(n, i + chunk);
        std::vector<TxRef> part(std::make_move_iterator(txs.begin() + ptrdiff_t(i)),
                                std::make_move_iterator(txs.begin() + ptrdiff_t(end)));
        m_queue.push_back(Chunk{std::move(part), shared_done});
      }
    }
    m_queued_txs += n;
    m_depth.fetch_add(n, std::memory_order_relaxed);
  }
  if (n <= chunk)
    m_wake.notify_one();
  else
    m_wake.notify_all();
  return true;
}

void VerifyPool::work() {
  for (;;) {
    Chunk c;
    {
      std::unique_lock lock(m_mutex);
      m_wake.wait(lock, [this] { return m_stopping || (!m_paused && !m_queue.empty()); });
      if (m_stopping) return;
      c = std::move(m_queue.front());
      m_queue.pop_front();
      m_queued_txs -= c.txs.size();
    }
    std::vector<uint8_t> valid(c.txs.size());
    uint64_t bad = 0;
    for (size_t i = 0; i < c.txs.size(); ++i) {
      valid[i] = c.txs[i]->verify_signature() ? 1 : 0;
      bad += valid[i] ? 0 : 1;
    }
    const size_t n = c.txs.size();
    (*c.done)(std::move(c.txs), std::move(valid));
    // Counted after the callback, so depth() == 0 means every verdict has been handed over.
    m_verified.fetch_add(n, std::memory_order_relaxed);
    m_invalid.fetch_add(bad, std::memory_order_relaxed);
    m_chunks.fetch_add(1, std::memory_order_relaxed);
    m_depth.fetch_sub(n, std::memory_order_relaxed);
  }
}

void VerifyPool::pause(bool paused) {
  {
    std::lock_guard lock(m_mutex);
    m_paused = paused;
  }
  if (!paused) m_wake.notify_all();
}

void VerifyPool::stop() {
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
    m_depth.fetch_sub(m_queued_txs, std::memory_order_relaxed);
    m_queued_txs = 0;
    m_queue.clear();
  }
  m_wake.notify_all();
  for (std::thread& t : m_workers)
    if (t.joinable()) t.join();
}

void VerifyPool::sanity_check() const {
  std::lock_guard lock(m_mutex);
  size_t queued = 0;
  for (const Chunk& c : m_queue) {
    HEARSAY_CHECK(!c.txs.empty() && c.txs.size() <= kMaxVerifyChunk);
    HEARSAY_CHECK(c.done != nullptr);
    queued += c.txs.size();
  }
  HEARSAY_CHECK(queued == m_queued_txs);
  // Workers may be between the unlocked verification and their counter update.
  HEARSAY_CHECK(m_depth.load() >= m_queued_txs);
  HEARSAY_CHECK(m_invalid.load() <= m_verified.load());
  HEARSAY_CHECK(!m_workers.empty() && m_workers.size() <= kMaxVerifyThreads);
}

}  // namespace hearsay
