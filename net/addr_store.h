// The address book on disk: `peers.dat` in the data directory, the bytes of
// AddrMan::serialize() (p2p/addrman.h owns the format and its checks).
//
// Writes are atomic (write `peers.dat.tmp`, fsync, rename over `peers.dat`), so a crash leaves
// the old book or the new one, never half of one. A book that cannot be read back is not
// fatal: it is moved aside to `peers.dat.corrupt` (replacing an older one), the node warns
// naming both paths, and starts with an empty book (it re-learns addresses from its --connect
// peers).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "crypto/result.h"
#include "p2p/addrman.h"

namespace hearsay {

inline constexpr const char* kAddrBookFile = "peers.dat";
// Refuse to read a book larger than this, bytes: AddrMan's capacity times a generous entry
// size (a record is ~122 bytes plus dial history).
inline constexpr size_t kMaxAddrBookBytes = kAddrManCapacity * 512;

// Writes `data` to `path` atomically (tmp + fsync + rename). Errors name the path.
Status write_file_atomic(const std::string& path, std::span<const uint8_t> data);
// The file's bytes, nullopt when it does not exist; an error (naming the path) otherwise.
Result<std::optional<std::vector<uint8_t>>, std::string> read_file_if_exists(
    const std::string& path, size_t max_bytes);

struct AddrBookLoad {
  size_t entries = 0;
  bool found = false;
  std::string warning;  // non-empty: the book was unusable and moved aside
};
// Loads datadir/peers.dat into `book`. Never fails: an unreadable or corrupt book is moved
// aside and reported in `warning`; the book is then empty.
AddrBookLoad load_addr_book(const std::string& datadir, AddrMan& book, Time now);
Status save_addr_book_to(const std::string& datadir, const AddrMan& book);

}  // namespace hearsay
