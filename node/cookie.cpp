#include "node/cookie.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "crypto/hash.h"
#include "crypto/hex.h"

namespace hearsay {
namespace {

std::string sys_error() {
  return std::strerror(errno);
}

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

Status write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t w = ::write(fd, data.data(), data.size());
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return fail("cannot write cookie file " + path + ": " + sys_error());
    data.remove_prefix(static_cast<size_t>(w));
  }
  return Status();
}

}  // namespace

std::string cookie_path(const std::string& datadir) {
  return (std::filesystem::path(datadir) / kCookieFileName).string();
}

Result<std::string, std::string> write_cookie_file(const std::string& datadir) {
  std::array<uint8_t, kCookieSecretBytes> secret;
  if (RAND_bytes(secret.data(), static_cast<int>(secret.size())) != 1)
    return fail(std::string("cannot generate the RPC cookie: the system random source failed"));
  std::string credential = std::string(kCookieUser) + ":" + to_hex(secret);
  OPENSSL_cleanse(secret.data(), secret.size());

  const std::string path = cookie_path(datadir);
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());  // a stale tmp file could carry a wider mode; O_EXCL below needs it gone
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return fail("cannot create cookie file " + tmp + ": " + sys_error() +
                " (does the data directory exist and is it writable?)");
  Status s = ::fchmod(fd, 0600) == 0
                 ? write_all(fd, credential, tmp)
                 : Status::error("cannot set mode 0600 on cookie file " + tmp + ": " + sys_error());
  if (s && ::close(fd) != 0)
    s = Status::error("cannot close cookie file " + tmp + ": " + sys_error());
  else if (!s)
    ::close(fd);
  if (!s) {
    ::unlink(tmp.c_str());
    return fail(s.message());
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = sys_error();
    ::unlink(tmp.c_str());
    return fail("cannot move cookie file into place at " + path + ": " + err);
  }
  return credential;
}

Result<std::string, std::string> read_cookie_file(const std::string& datadir) {
  const std::string path = cookie_path(datadir);
  const std::string hint =
      ": is hearsayd running with --datadir " + datadir + "? or pass --rpc-user/--rpc-password";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail("cannot read cookie file " + path + " (" + sys_error() + ")" + hint);
  std::string text;
  char buf[256];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string err = sys_error();
      ::close(fd);
      return fail("cannot read cookie file " + path + " (" + err + ")" + hint);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxCookieFileBytes) {
      ::close(fd);
      return fail("cookie file " + path + " is larger than " + std::to_string(kMaxCookieFileBytes) +
                  " bytes: it is not a hearsayd cookie");
    }
  }
  ::close(fd);
  if (auto nl = text.find('\n'); nl != std::string::npos) text.resize(nl);
  if (!text.empty() && text.back() == '\r') text.pop_back();
  if (text.find(':') == std::string::npos)
    return fail("cookie file " + path + " is malformed: expected user:password on one line" + hint);
  return text;
}

Status delete_cookie_file(const std::string& datadir) {
  const std::string path = cookie_path(datadir);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return fail("cannot delete cookie file " + path + ": " + sys_error());
  return Status();
}

std::string base64_encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (uint32_t(uint8_t(data[i])) << 16) | (uint32_t(uint8_t(data[i + 1])) << 8) |
                 uint8_t(data[i + 2]);
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += kBase64Alphabet[(v >> 6) & 63];
    out += kBase64Alphabet[v & 63];
  }
  size_t rest = data.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t(uint8_t(data[i])) << 16;
    if (rest == 2) v |= uint32_t(uint8_t(data[i + 1])) << 8;
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += rest == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + k];
      if (c == '=' && last && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return std::nullopt;  // data after padding
      v[k] = base64_value(c);
      if (v[k] < 0) return std::nullopt;
    }
    uint32_t w =
        (uint32_t(v[0]) << 18) | (uint32_t(v[1]) << 12) | (uint32_t(v[2]) << 6) | uint32_t(v[3]);
    out += char((w >> 16) & 0xff);
    if (pad < 2) out += char((w >> 8) & 0xff);
    if (pad < 1) out += char(w & 0xff);
  }
  return out;
}

std::string basic_auth_header(std::string_view credential) {
  return "Basic " + base64_encode(credential);
}

std::optional<std::string> parse_basic_auth(std::string_view value) {
  constexpr std::string_view kScheme = "basic";
  if (value.size() <= kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(value[i])) != kScheme[i]) return std::nullopt;
  value.remove_prefix(kScheme.size());
  if (value.front() != ' ') return std::nullopt;
  while (!value.empty() && value.front() == ' ')
    value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ')
    value.remove_suffix(1);
  return base64_decode(value);
}

bool credentials_equal(std::string_view a, std::string_view b) {
  Hash256 ha = sha256(as_bytes(a));
  Hash256 hb = sha256(as_bytes(b));
  return CRYPTO_memcmp(ha.data(), hb.data(), ha.size()) == 0;
}

}  // namespace hearsay
