#include "crypto/ed25519.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>

#include "crypto/result.h"

namespace hearsay {

static_assert(crypto_sign_PUBLICKEYBYTES == std::tuple_size_v<PublicKey>);
static_assert(crypto_sign_BYTES == std::tuple_size_v<Signature>);
static_assert(crypto_sign_SEEDBYTES == std::tuple_size_v<Seed>);
static_assert(crypto_sign_SECRETKEYBYTES == 64);

void crypto_init() {
  if (sodium_init() < 0) {
    std::fprintf(stderr, "hearsay: libsodium failed to initialise\n");
    std::abort();
  }
}

KeyPair KeyPair::generate() {
  Seed seed;
  randombytes_buf(seed.data(), seed.size());
  KeyPair kp = from_seed(seed);
  sodium_memzero(seed.data(), seed.size());
  return kp;
}

KeyPair KeyPair::from_seed(const Seed& seed) {
  KeyPair kp;
  kp.m_seed = seed;
  HEARSAY_CHECK(crypto_sign_seed_keypair(kp.m_public.data(), kp.m_secret.data(), seed.data()) == 0);
  return kp;
}

KeyPair::~KeyPair() {
  sodium_memzero(m_seed.data(), m_seed.size());
  sodium_memzero(m_secret.data(), m_secret.size());
}

Signature KeyPair::sign(Bytes message) const {
  Signature sig;
  HEARSAY_CHECK(crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(),
                                     m_secret.data()) == 0);
  return sig;
}

bool verify(const PublicKey& key, Bytes message, const Signature& sig) {
  return crypto_sign_verify_detached(sig.data(), message.data(), message.size(), key.data()) == 0;
}

}  // namespace hearsay
