// Waiting on a condition with a deadline: the one way tests wait for what other threads or
// processes do (io threads, verification workers, nodes, daemons). Never a fixed sleep: the
// wait ends as soon as the condition holds, and a condition that never holds fails the caller
// at the deadline, never earlier. Header-only and inline: every test binary links this one
// definition.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace hearsay::test {

// Long enough for the slowest build (ThreadSanitizer, two busy cores); only a failing test
// ever waits this long.
inline constexpr std::chrono::milliseconds kWaitDeadline = std::chrono::seconds(30);

// Polls `pred` every few milliseconds until it holds or `deadline` has passed; returns whether
// it held (evaluated once more at the deadline, so a condition met just in time counts).
inline bool wait_until(const std::function<bool()>& pred,
                       std::chrono::milliseconds deadline = kWaitDeadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= end) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace hearsay::test
