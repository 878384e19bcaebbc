#include "crypto/keyfile.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "crypto/hex.h"

namespace hearsay {

namespace {
constexpr size_t kSeedHexLen = 64;
constexpr size_t kMaxKeyFileBytes = 256;  // a key file is one short line; refuse anything big

std::string sys_error() {
  return std::strerror(errno);
}
}  // namespace

Result<KeyPair, std::string> load_key_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return fail("key file " + path +
                  " does not exist: create one with `hearsay-cli keygen --out " + path + "`");
    return fail("cannot open key file " + path + ": " + sys_error() + " (check its permissions)");
  }
  char buf[kMaxKeyFileBytes + 1];
  size_t n = 0;
  while (n < sizeof(buf)) {
    ssize_t r = ::read(fd, buf + n, sizeof(buf) - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      std::string err = sys_error();
      ::close(fd);
      return fail("cannot read key file " + path + ": " + err);
    }
    if (r == 0) break;
    n += static_cast<size_t>(r);
  }
  ::close(fd);
  if (n > kMaxKeyFileBytes)
    return fail("key file " + path + " is too large to be a key file (over " +
                std::to_string(kMaxKeyFileBytes) + " bytes): is it the right file?");
  std::string_view text(buf, n);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.remove_suffix(1);
  if (text.size() < kSeedHexLen)
    return fail("key file " + path + " is too short: expected 64 hex digits, found " +
                std::to_string(text.size()) + " characters (the file is truncated or not a key)");
  if (text.size() > kSeedHexLen)
    return fail("key file " + path + " is malformed: expected 64 hex digits on one line, found " +
                std::to_string(text.size()) + " characters");
  auto seed = from_hex_array<32>(text);
  sodium_memzero(buf, sizeof(buf));
  if (!seed)
    return fail("key file " + path + " is malformed: it holds characters that are not hex");
  KeyPair kp = KeyPair::from_seed(*seed);
  sodium_memzero(seed->data(), seed->size());
  return kp;
}

Status save_key_file(const std::string& path, const KeyPair& key) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return fail("cannot create key file " + tmp + ": " + sys_error() +
                " (does the directory exist and is it writable?)");
  std::string line = to_hex(key.seed()) + "\n";
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t w = ::write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      std::string err = sys_error();
      ::close(fd);
      ::unlink(tmp.c_str());
      return fail("cannot write key file " + tmp + ": " + err);
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
  sodium_memzero(line.data(), line.size());
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return fail("cannot flush key file " + tmp + ": " + sys_error());
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = sys_error();
    ::unlink(tmp.c_str());
    return fail("cannot move key file into place at " + path + ": " + err);
  }
  return Status();
}

Result<KeyPair, std::string> load_or_create_key_file(const std::string& path, bool* created) {
  *created = false;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) {
    KeyPair kp = KeyPair::generate();
    Status s = save_key_file(path, kp);
    if (!s) return fail(s.message());
    *created = true;
    return kp;
  }
  return load_key_file(path);
}

}  // namespace hearsay
