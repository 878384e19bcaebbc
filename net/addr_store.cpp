#include "net/addr_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace hearsay {

namespace {
std::string sys_error() {
  return std::strerror(errno);
}
std::string book_path(const std::string& datadir) {
  return (std::filesystem::path(datadir) / kAddrBookFile).string();
}
}  // namespace

Status write_file_atomic(const std::string& path, std::span<const uint8_t> data) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail("cannot create " + tmp + ": " + sys_error());
  size_t off = 0;
  while (off < data.size()) {
    ssize_t w = ::write(fd, data.data() + off, data.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      std::string err = sys_error();
      ::close(fd);
      ::unlink(tmp.c_str());
      return fail("cannot write " + tmp + ": " + err + " (is the disk full?)");
    }
    off += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0) {
    std::string err = sys_error();
    ::close(fd);
    ::unlink(tmp.c_str());
    return fail("cannot sync " + tmp + ": " + err);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = sys_error();
    ::unlink(tmp.c_str());
    return fail("cannot rename " + tmp + " to " + path + ": " + err);
  }
  return {};
}

Result<std::optional<std::vector<uint8_t>>, std::string> read_file_if_exists(
    const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::vector<uint8_t>>();
    return fail("cannot open " + path + ": " + sys_error());
  }
  std::vector<uint8_t> out;
  uint8_t buf[64 * 1024];
  for (;;) {
    ssize_t r = ::read(fd, buf, sizeof(buf));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      std::string err = sys_error();
      ::close(fd);
      return fail("cannot read " + path + ": " + err);
    }
    if (r == 0) break;
    if (out.size() + static_cast<size_t>(r) > max_bytes) {
      ::close(fd);
      return fail(path + " is larger than " + std::to_string(max_bytes) +
                  " bytes: not an address book");
    }
    out.insert(out.end(), buf, buf + r);
  }
  ::close(fd);
  return std::optional<std::vector<uint8_t>>(std::move(out));
}

AddrBookLoad load_addr_book(const std::string& datadir, AddrMan& book, Time now) {
  AddrBookLoad out;
  std::string path = book_path(datadir);
  auto bytes = read_file_if_exists(path, kMaxAddrBookBytes);
  std::string problem;
  if (!bytes) {
    problem = bytes.error();
  } else if (!bytes->has_value()) {
    return out;  // first start: no book yet
  } else {
    out.found = true;
    Status s = book.deserialize(**bytes, now);
    if (s) {
      out.entries = book.size();
      return out;
    }
    problem = "address book " + path + " is corrupt: " + s.message();
  }
  // deserialize() left the book empty.
  std::string aside = path + ".corrupt";
  std::error_code ec;
  std::filesystem::rename(path, aside, ec);
  out.warning =
      problem +
      (ec ? "; could not move it aside (" + ec.message() + ")" : "; moved it to " + aside) +
      " and starting with an empty address book";
  return out;
}

Status save_addr_book_to(const std::string& datadir, const AddrMan& book) {
  std::vector<uint8_t> bytes = book.serialize();
  return write_file_atomic(book_path(datadir), bytes);
}

}  // namespace hearsay
