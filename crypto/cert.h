// The TLS certificate of a node: a self-signed X.509 certificate whose key is the node's Ed25519
// identity key, and the reverse direction — the Ed25519 identity a peer's certificate proves.
//
// The identity of a peer is the public key in its certificate and nothing else: names, dates,
// issuers and extensions carry no meaning here. A certificate proves an identity only if its
// key is Ed25519 and it carries a valid signature by that same key (self-signed). The TLS
// handshake adds the proof of possession (CertificateVerify), which OpenSSL checks itself.
//
// OpenSSL types stay out of this header: certificates travel as DER or PEM bytes. Errors are
// meant for a person (logged with the connection): "certificate key is RSA, not Ed25519".
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "crypto/ed25519.h"
#include "crypto/result.h"

namespace hearsay {

// Validity written into the certificate. Dates are informational (identity is the key), so the
// window is wide: from a day before creation (clock skew) to a century after.
inline constexpr long kCertificateBackdateSeconds = 24 * 3600;
inline constexpr int kCertificateValidityDays = 100 * 365;

struct TlsIdentity {
  std::string certificate_pem;  // X.509, self-signed by the key
  std::string private_key_pem;  // PKCS#8 Ed25519 private key (secret: never log or write it)
};

// Builds the certificate and private key that present `key` in TLS. Subject and issuer
// common name are the public key in hex.
// The OpenSSL error queue as text (and cleared), for error messages.
std::string openssl_error();

Result<TlsIdentity, std::string> make_tls_identity(const KeyPair& key);

// The Ed25519 public key a DER certificate proves, or why it proves none: malformed DER, a key
// of another type (named), or a self-signature that does not verify under its own key.
Result<PublicKey, std::string> identity_from_certificate(std::span<const uint8_t> der);

// PEM certificate to DER (for tests and tools); error text names the problem.
Result<std::vector<uint8_t>, std::string> certificate_pem_to_der(const std::string& pem);

}  // namespace hearsay
