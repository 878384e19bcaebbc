#include "crypto/cert.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "crypto/hex.h"

namespace hearsay {

namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509_NAME* p) const { X509_NAME_free(p); }
};
template <class T>
using Owned = std::unique_ptr<T, Free>;

std::string key_type_name(int type) {
  switch (type) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
      return "RSA";
    case EVP_PKEY_EC:
      return "ECDSA";
    case EVP_PKEY_ED448:
      return "Ed448";
    case EVP_PKEY_DSA:
      return "DSA";
    default:
      break;
  }
  const char* name = OBJ_nid2sn(type);
  return name ? name : "of an unknown type";
}

std::string bio_to_string(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace

std::string openssl_error() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

Result<TlsIdentity, std::string> make_tls_identity(const KeyPair& key) {
  Owned<EVP_PKEY> pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, key.seed().data(),
                                                    key.seed().size()));
  if (!pkey) return fail("cannot load the Ed25519 identity key: " + openssl_error());
  Owned<X509> cert(X509_new());
  if (!cert) return fail("cannot allocate a certificate: " + openssl_error());

  // Serial: the first 8 bytes of the public key (positive), so a certificate names its key.
  uint64_t serial = 0;
  for (int i = 0; i < 8; ++i)
    serial = (serial << 8) | key.public_key()[i];
  serial &= 0x7fffffffffffffffULL;
  std::string cn = to_hex(key.public_key());
  bool ok =
      X509_set_version(cert.get(), X509_VERSION_3) == 1 &&
      ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serial) == 1 &&
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kCertificateBackdateSeconds) &&
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), kCertificateValidityDays, 0, nullptr) &&
      X509_set_pubkey(cert.get(), pkey.get()) == 1;
  if (ok) {
    X509_NAME* name = X509_get_subject_name(cert.get());
    ok = X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                    reinterpret_cast<const unsigned char*>(cn.data()),
                                    static_cast<int>(cn.size()), -1, 0) == 1 &&
         X509_set_issuer_name(cert.get(), name) == 1 &&
         // Ed25519 signs the message itself: no digest (nullptr), as RFC 8410 requires.
         X509_sign(cert.get(), pkey.get(), nullptr) > 0;
  }
  if (!ok) return fail("cannot build the TLS certificate: " + openssl_error());

  Owned<BIO> cert_bio(BIO_new(BIO_s_mem()));
  Owned<BIO> key_bio(BIO_new(BIO_s_mem()));
  if (!cert_bio || !key_bio || PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(key_bio.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1)
    return fail("cannot encode the TLS certificate: " + openssl_error());
  return TlsIdentity{bio_to_string(cert_bio.get()), bio_to_string(key_bio.get())};
}

Result<PublicKey, std::string> identity_from_certificate(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  Owned<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert || p != der.data() + der.size()) {
    ERR_clear_error();
    return fail(std::string("certificate is not valid DER X.509"));
  }
  EVP_PKEY* pkey = X509_get0_pubkey(cert.get());  // owned by cert
  if (!pkey) {
    ERR_clear_error();
    return fail(std::string("certificate has no readable public key"));
  }
  int type = EVP_PKEY_get_base_id(pkey);
  if (type != EVP_PKEY_ED25519)
    return fail("certificate key is " + key_type_name(type) + ", not Ed25519");
  // OpenSSL skips the signature check on a self-signed leaf unless asked; we always check.
  if (X509_verify(cert.get(), pkey) != 1) {
    ERR_clear_error();
    return fail(std::string("certificate is not signed by its own Ed25519 key"));
  }
  PublicKey out{};
  size_t len = out.size();
  if (EVP_PKEY_get_raw_public_key(pkey, out.data(), &len) != 1 || len != out.size()) {
    ERR_clear_error();
    return fail(std::string("cannot read the Ed25519 key of the certificate"));
  }
  return out;
}

Result<std::vector<uint8_t>, std::string> certificate_pem_to_der(const std::string& pem) {
  Owned<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Owned<X509> cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) return fail("not a PEM certificate: " + openssl_error());
  int len = i2d_X509(cert.get(), nullptr);
  if (len <= 0) return fail("cannot encode certificate: " + openssl_error());
  std::vector<uint8_t> der(static_cast<size_t>(len));
  unsigned char* out = der.data();
  i2d_X509(cert.get(), &out);
  return der;
}

}  // namespace hearsay
