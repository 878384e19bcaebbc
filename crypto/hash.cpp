#include "crypto/hash.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <memory>

#include "crypto/result.h"

namespace hearsay {

namespace {

// OpenSSL 3 looks an algorithm up by name on every one-shot call (SHA256(), EVP_sha256()
// contexts): fetching it once and re-using one context per thread halves the cost of hashing
// a small message (bench: BM_Sha256d_250B).
const EVP_MD* sha256_md() {
  static const EVP_MD* md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    HEARSAY_CHECK(m != nullptr);
    return m;
  }();
  return md;
}

struct CtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

EVP_MD_CTX* thread_ctx() {
  thread_local std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  HEARSAY_CHECK(ctx != nullptr);
  return ctx.get();
}

void digest(EVP_MD_CTX* ctx, const uint8_t* data, size_t size, uint8_t* out) {
  unsigned int len = 0;
  HEARSAY_CHECK(EVP_DigestInit_ex2(ctx, sha256_md(), nullptr) == 1);
  HEARSAY_CHECK(EVP_DigestUpdate(ctx, data, size) == 1);
  HEARSAY_CHECK(EVP_DigestFinal_ex(ctx, out, &len) == 1);
}

}  // namespace

Hash256 sha256(Bytes data) {
  Hash256 out;
  digest(thread_ctx(), data.data(), data.size(), out.data());
  return out;
}

Hash256 sha256d(Bytes data) {
  EVP_MD_CTX* ctx = thread_ctx();
  Hash256 once, twice;
  digest(ctx, data.data(), data.size(), once.data());
  digest(ctx, once.data(), once.size(), twice.data());
  return twice;
}

Sha256::Sha256() : m_ctx(EVP_MD_CTX_new()) {
  HEARSAY_CHECK(m_ctx != nullptr);
  HEARSAY_CHECK(EVP_DigestInit_ex2(static_cast<EVP_MD_CTX*>(m_ctx), sha256_md(), nullptr) == 1);
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
