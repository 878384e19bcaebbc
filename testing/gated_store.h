// GatedStore: a mempool store whose writes a test holds at a gate, for the pipelined writer
// (mempool/store_writer.h). While the gate is shut, apply() waits in it (the writer thread is
// inside a write, so what is submitted meanwhile queues behind it); fail_next_writes() refuses
// writes as FailingMempoolStore does. Thread-safe: the writer thread applies, the test steers.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "mempool/store.h"

namespace hearsay::test {

class GatedStore final : public MempoolStore {
 public:
  explicit GatedStore(MempoolStore& inner) : m_inner(inner) {}

  void shut() {
    std::lock_guard lock(m_mutex);
    m_shut = true;
  }
  void open() {
    {
      std::lock_guard lock(m_mutex);
      m_shut = false;
    }
    m_cv.notify_all();
  }
  void fail_next_writes(size_t n) {
    std::lock_guard lock(m_mutex);
    m_fail_next = n;
  }
  // Waits (at most 10 s) until `n` writes have entered apply(); false on the deadline.
  bool wait_entered(size_t n) {
    std::unique_lock lock(m_mutex);
    return m_cv.wait_for(lock, std::chrono::seconds(10), [&] { return m_entered >= n; });
  }
  // The number of ops of every write tried, in order (refused ones included).
  std::vector<size_t> writes() const {
    std::lock_guard lock(m_mutex);
    return m_writes;
  }

  Status apply(std::span<const StoreOp> ops) override {
    std::unique_lock lock(m_mutex);
    ++m_entered;
    m_writes.push_back(ops.size());
    m_cv.notify_all();
    m_cv.wait(lock, [&] { return !m_shut; });
    if (m_fail_next > 0) {
      --m_fail_next;
      return Status::error("gated store: injected write failure");
    }
    return m_inner.apply(ops);
  }
  Result<std::vector<StoredTx>, StoreError> load() override { return m_inner.load(); }
  std::string describe() const override { return m_inner.describe(); }

 private:
  MempoolStore& m_inner;
  mutable std::mutex m_mutex;
  std::condition_variable m_cv;
  bool m_shut = false;
  size_t m_fail_next = 0;
  size_t m_entered = 0;
  std::vector<size_t> m_writes;
};

}  // namespace hearsay::test
