// The simulator's randomness: splitmix64 and a generator on it. Everything random in a run (keys,
// topologies, latencies, schedules, churn) derives from the run's seed through these, never from
// std::uniform_*_distribution, whose output differs between standard libraries: the same seed
// gives the same run on every platform.
#pragma once

#include <cstdint>

namespace hearsay::sim {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : m_state(splitmix64(seed)) {}
  uint64_t next() { return splitmix64(m_state++); }
  // Uniform in [0, n) (n > 0), without modulo bias worth measuring (Lemire's multiply-shift).
  uint64_t below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
  // Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t m_state;
};

}  // namespace hearsay::sim
