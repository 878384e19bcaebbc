// RateLimitedLog: a peer that misbehaves in a loop must not be able to fill the disk through
// our warnings. Each key (e.g. an IP address) may log at most `max_lines` lines per
// `interval`; further lines are counted, not written, and the next line written for that key
// says how many were suppressed. Memory: at most `max_keys` keys (kRateLimitMaxKeys by
// default); when full, expired windows are dropped first, then every new key shares one
// overflow key, so an adversary choosing keys cannot grow the map. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace hearsay {

// Keys tracked at once by a RateLimitedLog by default (one per misbehaving peer is plenty).
inline constexpr size_t kRateLimitMaxKeys = 1024;
// The key that every key beyond max_keys shares.
inline constexpr std::string_view kRateLimitOverflowKey = "(other)";

class RateLimitedLog {
 public:
  using Clock = std::chrono::steady_clock;

  RateLimitedLog(size_t max_lines, Clock::duration interval, size_t max_keys = kRateLimitMaxKeys);

  struct Decision {
    bool log = false;         // write this line
    uint64_t suppressed = 0;  // lines of this key suppressed since its last written line
  };
  // Whether a line of `key` may be written at `now` (counts it either way).
  Decision check(std::string_view key, Clock::time_point now);

  // Logs `message` at warning (or info) level through spdlog when check(key, now()) allows
  // it, adding "(N similar lines suppressed)" when some were. Returns whether it logged.
  bool warn(std::string_view key, std::string_view message);
  bool info(std::string_view key, std::string_view message);

  // Lines suppressed in total since construction.
  uint64_t suppressed_total() const;
  size_t key_count() const;
  void sanity_check() const;

 private:
  struct Window {
    Clock::time_point start;
    size_t lines = 0;         // written in this window
    uint64_t suppressed = 0;  // not yet reported
  };
  void drop_expired(Clock::time_point now);
  bool log(int level, std::string_view key, std::string_view message);

  const size_t m_max_lines;
  const Clock::duration m_interval;
  const size_t m_max_keys;
  mutable std::mutex m_mutex;
  std::unordered_map<std::string, Window> m_windows;
  uint64_t m_suppressed_total = 0;
};

// The process's limiter for connection lines a peer can provoke by reconnecting in a loop
// (refused, disconnected, banned): kPeerLogLines per key per kPeerLogInterval, keyed by the
// peer's identity once known, by its IP before.
inline constexpr size_t kPeerLogLines = 10;
inline constexpr std::chrono::seconds kPeerLogInterval{10};
RateLimitedLog& peer_log();

}  // namespace hearsay
