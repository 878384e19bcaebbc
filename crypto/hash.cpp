#include "crypto/hash.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "crypto/result.h"

namespace hearsay {

Hash256 sha256(Bytes data) {
  Hash256 out;
  SHA256(data.data(), data.size(), out.data());
  return out;
}

Hash256 sha256d(Bytes data) {
  Hash256 once = sha256(data);
  return sha256(once);
}

Sha256::Sha256() : m_ctx(EVP_MD_CTX_new()) {
  HEARSAY_CHECK(m_ctx != nullptr);
  HEARSAY_CHECK(EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(m_ctx), EVP_sha256(), nullptr) == 1);
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(m_ctx));
}

Sha256& Sha256::update(Bytes data) {
  HEARSAY_CHECK(EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(m_ctx), data.data(), data.size()) == 1);
  return *this;
}

Hash256 Sha256::finish() {
  Hash256 out;
  unsigned int len = 0;
  HEARSAY_CHECK(EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(m_ctx), out.data(), &len) == 1);
  HEARSAY_CHECK(len == out.size());
  return out;
}

static_assert(crypto_shorthash_siphash24_KEYBYTES == std::tuple_size_v<SipKey>);
static_assert(crypto_shorthash_siphash24_BYTES == sizeof(uint64_t));

uint64_t siphash24(const SipKey& key, Bytes data) {
  uint8_t out[crypto_shorthash_siphash24_BYTES];
  crypto_shorthash_siphash24(out, data.data(), data.size(), key.data());
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | out[i];  // libsodium's output is little-endian
  return v;
}

uint64_t siphash24(const SipKey& key, const Hash256& id) {
  return siphash24(key, Bytes(id));
}

}  // namespace hearsay

namespace hearsay {

TaggedHasher::TaggedHasher(std::string_view tag) {
  Hash256 t = sha256(as_bytes(tag));
  m_sha.update(t).update(t);
}

}  // namespace hearsay
