// Helpers shared by the fuzz targets: the oracle assertion, a reader over the fuzz input, and
// the wire targets' common pieces.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "chainstub/params.h"

// A fuzz oracle failed: report and abort (libFuzzer saves the input as a crash).
#define FUZZ_ASSERT(cond)                                                                   \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "fuzz oracle failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

namespace hearsay::fuzz {

// The network magic every wire fuzz target and seed uses (the devnet's).
inline constexpr uint32_t kFuzzMagic = kDevnetMagic;

// Consumes the fuzz input a little at a time; past its end every read yields zeros, so a
// target never has to check for exhaustion (its step loop stops on empty()).
class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : m_p(data), m_n(size) {}
  bool empty() const { return m_n == 0; }
  size_t remaining() const { return m_n; }
  uint8_t byte() {
    if (m_n == 0) return 0;
    --m_n;
    return *m_p++;
  }
  // Multi-byte reads sequence their byte reads explicitly (an expression such as
  // `byte() | byte() << 8` would leave the order to the compiler, and GCC's replay and clang's
  // fuzzing would then read the same corpus differently).
  uint16_t u16() {
    uint16_t lo = byte();
    uint16_t hi = byte();
    return static_cast<uint16_t>(lo | hi << 8);
  }
  uint64_t u64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v = (v << 8) | byte();
    return v;
  }
  // A value in [lo, hi] (inclusive) from two bytes.
  size_t range(size_t lo, size_t hi) {
    uint32_t a = byte();
    uint32_t b = byte();
    return lo + ((a << 8) | b) % (hi - lo + 1);
  }
  std::vector<uint8_t> bytes(size_t len) {
    len = std::min(len, m_n);
    std::vector<uint8_t> out(m_p, m_p + len);
    m_p += len;
    m_n -= len;
    return out;
  }

 private:
  const uint8_t* m_p;
  size_t m_n;
};

inline bool same_bytes(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// Which item decoder fuzz/items.cpp runs, chosen by the input's first byte (mod kItemKinds).
enum class ItemKind : uint8_t { kTransaction, kBlockHeader, kBlock, kPeerRecord };
inline constexpr uint8_t kItemKinds = 4;

}  // namespace hearsay::fuzz
