#include "net/tls.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <system_error>

#include "crypto/cert.h"
#include "crypto/hex.h"

namespace hearsay {

namespace {

// Allow-list files are short (a testnet's keys); refuse anything absurd.
constexpr size_t kMaxAllowListLines = 100'000;

int verify_index() {
  static const int kIndex = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return kIndex;
}
int context_index() {
  static const int kIndex = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return kIndex;
}

// Verification errors that are expected for our certificates and harmless: identity is the
// key, not a CA's word or a date.
bool tolerated(int err) {
  return err == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT || err == X509_V_ERR_CERT_NOT_YET_VALID ||
         err == X509_V_ERR_CERT_HAS_EXPIRED;
}

int verify_callback(int preverify_ok, X509_STORE_CTX* store) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* v = ssl ? static_cast<TlsVerify*>(SSL_get_ex_data(ssl, verify_index())) : nullptr;
  if (!v) return 0;  // a connection without verify state is never accepted
  auto refuse = [&](std::string why) {
    if (v->refusal.empty()) v->refusal = std::move(why);
    v->proven.reset();
    return 0;
  };
  if (X509_STORE_CTX_get_error_depth(store) != 0)
    return refuse("certificate chain longer than one self-signed certificate");
  int err = X509_STORE_CTX_get_error(store);
  if (!preverify_ok && !tolerated(err))
    return refuse(std::string("certificate rejected: ") + X509_verify_cert_error_string(err));
  X509* cert = X509_STORE_CTX_get_current_cert(store);
  if (!cert) return refuse("no certificate");
  int len = i2d_X509(cert, nullptr);
  if (len <= 0) return refuse("certificate cannot be encoded");
  std::vector<uint8_t> der(static_cast<size_t>(len));
  unsigned char* out = der.data();
  i2d_X509(cert, &out);
  auto key = identity_from_certificate(der);
  if (!key) return refuse(key.error());
  if (v->pinned && *v->pinned != *key)
    return refuse("peer proved identity " + to_hex(*key) + ", the dial expected " +
                  to_hex(*v->pinned));
  if (v->allow && !v->allow->contains(*key))
    return refuse("identity " + to_hex(*key) + " is not on the allow-list");
  v->proven = *key;
  return 1;
}

// One lock for every key log file of the process: several Hosts (each with its own context
// and FILE*) may append to one file, and each line must reach it whole.
std::mutex g_keylog_mutex;

void keylog_callback(const SSL* ssl, const char* line) {
  auto* ctx = static_cast<TlsContext*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), context_index()));
  if (ctx) ctx->write_keylog_line(line);
}

}  // namespace

Result<AllowList, std::string> load_allow_list(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail("cannot read allow-list file " + path + " (check the path and permissions)");
  AllowList keys;
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    if (++number > kMaxAllowListLines)
      return fail("allow-list file " + path + " has more than " +
                  std::to_string(kMaxAllowListLines) + " lines: is it the right file?");
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    std::string_view text = std::string_view(line).substr(start);
    auto key = from_hex_array<32>(text);
    if (!key)
      return fail("allow-list file " + path + " line " + std::to_string(number) + ": '" +
                  std::string(text.substr(0, 80)) +
                  "' is not a public key (expected 64 hex digits)");
    keys.insert(*key);
  }
  if (in.bad()) return fail("error reading allow-list file " + path);
  return keys;
}

std::string keylog_path_from_env() {
  const char* p = std::getenv("SSLKEYLOGFILE");
  return p ? std::string(p) : std::string();
}

TlsContext::TlsContext() : m_ctx(boost::asio::ssl::context::tls) {}
TlsContext::~TlsContext() = default;

void TlsContext::FileCloser::operator()(std::FILE* f) const {
  std::fclose(f);
}

void TlsContext::write_keylog_line(const char* line) {
  if (!m_keylog || !line) return;
  std::lock_guard lock(g_keylog_mutex);
  std::fputs(line, m_keylog.get());
  std::fputc('\n', m_keylog.get());
  std::fflush(m_keylog.get());  // readers (Wireshark) see each secret at once
}

void TlsContext::attach(void* ssl, TlsVerify* verify) {
  SSL_set_ex_data(static_cast<SSL*>(ssl), verify_index(), verify);
}

Result<std::unique_ptr<TlsContext>, std::string> TlsContext::create(const KeyPair& identity,
                                                                    std::string keylog_path) {
  auto tls = std::unique_ptr<TlsContext>(new TlsContext());
  tls->m_keylog_path = std::move(keylog_path);
  SSL_CTX* ctx = tls->m_ctx.native_handle();
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
    return fail("cannot restrict TLS to version 1.3: " + openssl_error());
  // No resumption: a resumed session would skip the certificate, hence the identity proof.
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // Verify the self-signature of a self-signed certificate too (OpenSSL skips it by default;
  // the callback checks it again through crypto/cert.h).
  X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx), X509_V_FLAG_CHECK_SS_SIGNATURE);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_callback);
  SSL_CTX_set_ex_data(ctx, context_index(), tls.get());
  if (!tls->m_keylog_path.empty()) {
    // Created 0600: the secrets are for the operator only. An existing file keeps its mode.
    const int fd =
        ::open(tls->m_keylog_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    std::FILE* f = fd < 0 ? nullptr : ::fdopen(fd, "a");
    if (!f) {
      const int err = errno;
      if (fd >= 0) ::close(fd);
      return fail("SSLKEYLOGFILE: cannot open " + tls->m_keylog_path + " for appending: " +
                  std::generic_category().message(err) + " (fix the path, or unset SSLKEYLOGFILE)");
    }
    tls->m_keylog.reset(f);
    SSL_CTX_set_keylog_callback(ctx, keylog_callback);
    spdlog::warn(
        "SSLKEYLOGFILE is set: TLS secrets are appended to {}; whoever can read that file can "
        "decrypt this node's traffic",
        tls->m_keylog_path);
  }

  auto id = make_tls_identity(identity);
  if (!id) return fail(id.error());
  boost::system::error_code ec;
  tls->m_ctx.use_certificate(boost::asio::buffer(id->certificate_pem),
                             boost::asio::ssl::context::pem, ec);
  if (!ec)
    tls->m_ctx.use_private_key(boost::asio::buffer(id->private_key_pem),
                               boost::asio::ssl::context::pem, ec);
  OPENSSL_cleanse(id->private_key_pem.data(), id->private_key_pem.size());
  if (ec) return fail("cannot load the TLS certificate: " + ec.message());
  if (SSL_CTX_check_private_key(ctx) != 1)
    return fail("TLS certificate and key do not match: " + openssl_error());
  return tls;
}

}  // namespace hearsay
