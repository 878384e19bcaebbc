#include "crypto/random.h"

#include <sodium.h>

namespace hearsay {

void random_bytes(std::span<uint8_t> out) {
  randombytes_buf(out.data(), out.size());
}

uint64_t random_u64() {
  uint64_t v = 0;
  randombytes_buf(&v, sizeof v);
  return v;
}

}  // namespace hearsay
