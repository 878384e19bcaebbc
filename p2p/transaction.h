// Transaction: the signed item hearsay relays.
//
// Encoding (all integers little-endian; see docs/protocol.md §5.1):
//   network u32 | sender 32 | nonce u64 | fee u64 | expiry u64 | payload var_bytes | sig 64
// The signature is Ed25519 by `sender` over sighash() = TaggedHash("hearsay/tx", every byte
// before the signature). The id is SHA-256d of the whole encoding, signature included
// (libsodium refuses non-canonical signatures, so the id of a valid tx cannot be mangled).
//
// A Transaction owns its canonical encoding in one buffer and reads its fields from it, so a
// transaction received from the wire is never copied again: the frame payload is moved in,
// the mempool stores the same bytes, and relaying it re-uses them. It is immutable and shared
// as TxRef between the relay logic, the mempool and the send queues.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "crypto/ed25519.h"
#include "crypto/hash.h"
#include "crypto/result.h"
#include "p2p/limits.h"
#include "p2p/serialize.h"

namespace hearsay {

class Transaction;
using TxRef = std::shared_ptr<const Transaction>;
using TxId = Hash256;

struct TxFields {
  uint32_t network = 0;
  uint64_t nonce = 0;
  uint64_t fee = 0;
  uint64_t expiry = 0;  // 0: never; < kExpiryTimeThreshold: last valid height; else unix time
  std::vector<uint8_t> payload;
};

class Transaction {
 public:
  // Builds, signs and encodes a transaction from `key`. Payload must be ≤ kMaxTxPayload.
  static TxRef create(const TxFields& fields, const KeyPair& key);
  // Decodes one whole encoding, taking ownership of the buffer (no copy). Refuses anything
  // non-canonical or with bytes left over. Does not verify the signature.
  static Result<TxRef, DecodeError> decode(std::vector<uint8_t>&& encoding);
  // Decodes one transaction from inside a larger structure (copies its bytes).
  static Result<TxRef, DecodeError> decode_from(Reader& r);

  uint32_t network() const { return load_u32(0); }
  PublicKey sender() const;
  uint64_t nonce() const { return load_u64(36); }
  uint64_t fee() const { return load_u64(44); }
  uint64_t expiry() const { return load_u64(52); }
  std::span<const uint8_t> payload() const {
    return {m_raw.data() + m_payload_offset, m_payload_size};
  }
  Signature signature() const;

  const TxId& id() const { return m_id; }
  std::span<const uint8_t> encoding() const { return m_raw; }
  size_t size() const { return m_raw.size(); }
  // Fee per 1,000 bytes of encoding, rounded down (the unit of every fee-rate limit).
  uint64_t fee_rate() const;

  Hash256 sighash() const;
  // Verifies the Ed25519 signature (≈ 50 µs: callers run it once, on a worker pool).
  bool verify_signature() const;

  Transaction(std::vector<uint8_t>&& raw, size_t payload_offset, size_t payload_size);

 private:
  uint32_t load_u32(size_t off) const;
  uint64_t load_u64(size_t off) const;

  std::vector<uint8_t> m_raw;
  TxId m_id;
  uint32_t m_payload_offset;
  uint32_t m_payload_size;
};

// The smallest fee whose fee rate (fee × 1000 / size, rounded down) is at least `rate`.
uint64_t min_fee_for(size_t tx_size, uint64_t rate);
// The payload length giving a transaction of exactly `tx_size` bytes, or, where the payload's
// length prefix grows (tx_size 378-379 and 65,663-65,664), the next larger reachable size.
// Error when tx_size is outside [kMinTxSize, kMaxTxSize].
Result<size_t, std::string> payload_size_for(size_t tx_size);

}  // namespace hearsay
