// Ed25519 keys and signatures (libsodium). Verification rejects non-canonical signatures and
// small-order keys (libsodium's defaults), so a signature cannot be mangled into another
// valid one and ids that cover the signature stay unique.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "crypto/hash.h"

namespace hearsay {

using PublicKey = std::array<uint8_t, 32>;
using Signature = std::array<uint8_t, 64>;
using Seed = std::array<uint8_t, 32>;

// Must be called once before any other crypto function (idempotent, thread-safe).
void crypto_init();

class KeyPair {
 public:
  static KeyPair generate();
  static KeyPair from_seed(const Seed& seed);

  const PublicKey& public_key() const { return m_public; }
  const Seed& seed() const { return m_seed; }
  Signature sign(Bytes message) const;

  KeyPair(const KeyPair&) = default;
  KeyPair& operator=(const KeyPair&) = default;
  ~KeyPair();  // wipes the secret

 private:
  KeyPair() = default;
  Seed m_seed{};
  std::array<uint8_t, 64> m_secret{};  // libsodium's expanded secret key
  PublicKey m_public{};
};

bool verify(const PublicKey& key, Bytes message, const Signature& sig);

}  // namespace hearsay
