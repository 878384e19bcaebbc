// Hashes: SHA-256 and SHA-256d (OpenSSL, which uses the CPU's SHA instructions) and
// SipHash-2-4 (libsodium). Pure functions; safe from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace hearsay {

using Bytes = std::span<const uint8_t>;
using Hash256 = std::array<uint8_t, 32>;

Hash256 sha256(Bytes data);
// SHA-256 applied twice, as Bitcoin does for ids and checksums.
Hash256 sha256d(Bytes data);

// Incremental SHA-256 (for digests over several pieces without concatenating them).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  Sha256& update(Bytes data);
  Hash256 finish();  // may be called once

 private:
  void* m_ctx;  // EVP_MD_CTX*, kept out of the header
};

// SipHash-2-4 with a 128-bit key: the keyed hash for tables a peer could otherwise attack.
using SipKey = std::array<uint8_t, 16>;
uint64_t siphash24(const SipKey& key, Bytes data);
// Faster form for the common case of hashing one 32-byte id.
uint64_t siphash24(const SipKey& key, const Hash256& id);

inline Bytes as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace hearsay

namespace hearsay {

// BIP340-style tagged hash: SHA-256(SHA-256(tag) || SHA-256(tag) || data...). Used for every
// signature digest, so a signature over one kind of object can never verify as another.
class TaggedHasher {
 public:
  explicit TaggedHasher(std::string_view tag);
  TaggedHasher& update(Bytes data) {
    m_sha.update(data);
    return *this;
  }
  Hash256 finish() { return m_sha.finish(); }

 private:
  Sha256 m_sha;
};

}  // namespace hearsay
