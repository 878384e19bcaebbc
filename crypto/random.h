// Randomness from the operating system's generator (libsodium's randombytes), for secrets and
// seeds: hash-table keys, relay seeds. Call crypto_init() first. Safe from any thread.
#pragma once

#include <cstdint>
#include <span>

namespace hearsay {

// Fills `out` with random bytes.
void random_bytes(std::span<uint8_t> out);

// A uniformly random 64-bit value.
uint64_t random_u64();

}  // namespace hearsay
