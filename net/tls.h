// TLS for hearsay: TLS 1.3 only, mutual authentication by self-signed Ed25519 certificates.
//
// Rules:
//  - Both sides present a certificate made from the node's identity key (crypto/cert.h) and
//    both require one (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT): a client without a
//    certificate is refused by the handshake.
//  - A peer's identity is the Ed25519 key in its certificate, proven by the handshake itself:
//    the verify callback accepts exactly one self-signed certificate whose key is Ed25519 and
//    whose self-signature verifies; OpenSSL checks the CertificateVerify (possession of the
//    private key) on its own. A message can never claim an identity.
//  - An allow-list (if set) and a pinned identity (a dial to PUBKEY@host:port) are enforced in
//    the verify callback, so a refused peer never completes the handshake on our side.
//  - TLS 1.2 and older, and any certificate of another key type (RSA, ECDSA), are refused.
//    No session tickets or resumption: every connection proves its certificate afresh.
//  - SSLKEYLOGFILE: when a path is configured, TLS secrets are appended there in the NSS key
//    log format (what curl and browsers write, what Wireshark reads), one line per secret,
//    flushed at once. The file is opened when the context is created: a path that cannot be
//    opened for appending fails create() with an error naming it, and create() logs a warning
//    naming the file, since whoever reads it can decrypt every connection. Several contexts
//    (and connection threads) may share one file: lines are written whole, under one lock.
//    Off (nothing opened, no callback installed) unless the operator sets it.
//
// Threading: a TlsContext is shared by every connection of one Host (its io thread); the
// per-connection TlsVerify state lives in the Connection that owns the SSL object.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "crypto/ed25519.h"
#include "crypto/result.h"

namespace hearsay {

using AllowList = std::set<PublicKey>;

// Loads an allow-list file: one public key per line as 64 hex digits; blank lines and lines
// starting with '#' are ignored. Errors name the path, the line number and the fault.
Result<AllowList, std::string> load_allow_list(const std::string& path);

// What the verify callback needs to know and what it found, for one connection.
struct TlsVerify {
  std::optional<PublicKey> pinned;         // the identity a dial insists on
  std::shared_ptr<const AllowList> allow;  // null: any identity
  std::optional<PublicKey> proven;         // set once the peer's certificate passed
  std::string refusal;                     // why the certificate was refused (for the log)
};

class TlsContext {
 public:
  // keylog_path empty: no key logging. Otherwise the file is opened (created if missing) for
  // appending here; failing that, the error names the path.
  static Result<std::unique_ptr<TlsContext>, std::string> create(const KeyPair& identity,
                                                                 std::string keylog_path = {});
  ~TlsContext();

  boost::asio::ssl::context& context() { return m_ctx; }
  // Ties a connection's verify state to its SSL object (SSL*): call before the handshake.
  static void attach(void* ssl, TlsVerify* verify);
  const std::string& keylog_path() const { return m_keylog_path; }
  // Appends one NSS key log line (and a newline) to the key log file; thread-safe.
  void write_keylog_line(const char* line);

 private:
  struct FileCloser {
    void operator()(std::FILE* f) const;
  };
  TlsContext();
  boost::asio::ssl::context m_ctx;
  std::string m_keylog_path;
  std::unique_ptr<std::FILE, FileCloser> m_keylog;  // open while key logging is on
};

// The environment's SSLKEYLOGFILE, or empty.
std::string keylog_path_from_env();

}  // namespace hearsay
