#include "node/datadir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace hearsay {

Status ensure_datadir(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return fail("cannot create data directory " + path + ": " +
                (ec ? ec.message() : std::string(std::strerror(errno))) +
                " (pick another --datadir or fix its parent's permissions)");
  if (!S_ISDIR(st.st_mode))
    return fail("data directory " + path +
                " exists but is not a directory (pick another --datadir)");
  if (ec) return fail("cannot create data directory " + path + ": " + ec.message());
  if (::access(path.c_str(), W_OK | X_OK) != 0)
    return fail("data directory " + path + " is not writable: " + std::strerror(errno) +
                " (fix its permissions or pick another --datadir)");
  return Status();
}

Result<DatadirLock, std::string> DatadirLock::acquire(const std::string& datadir) {
  std::string path = datadir + "/.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return fail("cannot open lock file " + path + ": " + std::strerror(errno) +
                " (is the data directory writable?)");
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK)
      return fail("data directory " + datadir + " is in use by another hearsayd (lock " + path +
                  " is held): stop that node or pick another --datadir");
    return fail("cannot lock " + path + ": " + std::strerror(err));
  }
  return DatadirLock(fd);
}

DatadirLock::~DatadirLock() {
  if (m_fd >= 0) ::close(m_fd);  // closing releases the flock
}

}  // namespace hearsay
