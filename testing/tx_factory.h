// Deterministic keys, transactions and blocks for the tests, fuzz targets and benchmarks: the
// same inputs always give the same signed bytes, so seeds, corpora and expectations stay fixed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "crypto/ed25519.h"
#include "crypto/hash.h"
#include "p2p/block.h"
#include "p2p/transaction.h"

namespace hearsay::test {

inline constexpr uint32_t kTestNetwork = 0x74736574;  // "test"

// Deterministic key number i (seed = i repeated). Initialises the crypto library first.
KeyPair test_key(uint8_t i);

// A key of a numbered family: seed bytes 0 and 1 are `index` (little-endian), byte 2 `family`,
// the rest zero. Families give large, disjoint sets of senders (the benchmarks').
KeyPair family_key(uint16_t index, uint8_t family);

// A signed transaction from key `key_index` with the given nonce, fee and payload size.
TxRef make_tx(uint8_t key_index, uint64_t nonce, uint64_t fee = 1000, size_t payload_size = 100,
              uint64_t expiry = 0, uint32_t network = kTestNetwork);

// A transaction signed by `sender` whose payload is `payload_size` bytes equal to `fill`.
TxRef filled_tx(const KeyPair& sender, uint32_t network, uint64_t nonce, uint64_t fee,
                size_t payload_size, uint8_t fill, uint64_t expiry = 0);

// The same transaction with one bit of its signature flipped: well-formed, never verifies.
TxRef forged(const TxRef& tx);

// `n` distinct transactions that can all share one block: senders first_sender, first_sender+1,
// ... with `per_sender` consecutive nonces each.
std::vector<TxRef> block_txs(size_t n, uint8_t first_sender = 1, size_t per_sender = 50);

// An unsigned block of `txs` on network `network` at `height`, its Merkle root filled in.
Block unsigned_block(std::vector<TxRef> txs, uint32_t network = kTestNetwork, uint64_t height = 100,
                     uint64_t time = 1'700'000'000);

// A distinct, recognisable 32-byte id for number n: n little-endian in the first 8 bytes and
// `tag` in the last, so ids of different tests never collide by accident.
Hash256 numbered_id(uint64_t n, uint8_t tag);

// A SipHash key with every byte equal to b (deterministic salts and seeds).
SipKey filled_key(uint8_t b);

}  // namespace hearsay::test
