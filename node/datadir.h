// The data directory: created on first start, locked for the lifetime of one daemon.
//
// Layout: identity.key (the node's Ed25519 identity), hearsay.conf (optional options),
// mempool/ (LevelDB), chain/ (LevelDB), peers.dat (address book), banlist.dat, .cookie (RPC
// credentials while running), .lock (held with flock while running).
#pragma once

#include <string>

#include "crypto/result.h"

namespace hearsay {

// Creates the directory (and parents) with mode 0700 if missing; fails with a message naming
// the path and the fix if it cannot be created, is not a directory, or is not writable.
Status ensure_datadir(const std::string& path);

// An exclusive lock on <datadir>/.lock, released by the destructor (and by the kernel when
// the process dies, so a killed daemon never leaves a stale lock).
class DatadirLock {
 public:
  static Result<DatadirLock, std::string> acquire(const std::string& datadir);
  DatadirLock(DatadirLock&& other) noexcept : m_fd(other.m_fd) { other.m_fd = -1; }
  DatadirLock& operator=(DatadirLock&&) = delete;
  DatadirLock(const DatadirLock&) = delete;
  ~DatadirLock();

 private:
  explicit DatadirLock(int fd) : m_fd(fd) {}
  int m_fd;
};

}  // namespace hearsay
