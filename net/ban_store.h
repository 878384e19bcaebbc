// The ban list on disk: `banlist.dat` in the data directory.
//
// Format, version 1 (integers little-endian, CompactSize as on the wire; p2p/serialize.h):
//
//   magic     8 bytes   "hsbanlst"
//   version   u32       1
//   count     CompactSize, ≤ kMaxBanFileEntries
//   count × entry:
//     kind    u8        1 = identity, 2 = IP address
//     target  32 bytes  Ed25519 public key (kind 1)
//             16 bytes  IPv6 address, IPv4 as ::ffff:a.b.c.d (kind 2)
//     created i64       unix microseconds
//     until   i64       unix microseconds
//     reason  CompactSize length ≤ kMaxBanReason, then that many bytes
//   checksum  4 bytes   the first 4 bytes of SHA-256d of every byte before it
//
// Nothing may follow the checksum. A reader refuses any other magic, any other version, an
// unknown kind, a non-canonical CompactSize, a count or length over its limit, and a wrong
// checksum — the whole file, never part of it.
//
// Writes are atomic (`banlist.dat.tmp`, fsync, rename: write_file_atomic in addr_store.h), so
// a crash leaves the old list or the new one. Loading never fails the node:
//  * no file: no bans (first start);
//  * a file that cannot be read (permissions, I/O error): a warning naming the path; the node
//    starts without those bans, and the next save replaces the file;
//  * a corrupt file: moved aside to `banlist.dat.corrupt-<unix seconds>` with a warning naming
//    both paths; the node starts without bans.
// Bans that ended before the load are dropped (counted in `expired`); loopback IP bans, which
// BanList refuses, are dropped too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "crypto/result.h"
#include "net/ban_list.h"

namespace hearsay {

inline constexpr const char* kBanListFile = "banlist.dat";
inline constexpr uint32_t kBanListVersion = 1;
// Entries a file may hold: both kinds at their in-memory cap.
inline constexpr size_t kMaxBanFileEntries = 2 * kMaxBans;
// Largest entry: kind, IPv6 or key (32), two times, reason with a 3-byte length.
inline constexpr size_t kMaxBanEntryBytes = 1 + 32 + 8 + 8 + 3 + kMaxBanReason;
// Files larger than this are corrupt (not read into memory), bytes (≈ 6 MB).
inline constexpr size_t kMaxBanFileBytes = 8 + 4 + 9 + kMaxBanFileEntries * kMaxBanEntryBytes + 4;

std::vector<uint8_t> encode_ban_list(std::span<const BanEntry> entries);
// Errors say what is wrong (for the warning), not where: the caller names the file.
Result<std::vector<BanEntry>, std::string> decode_ban_list(std::span<const uint8_t> bytes);

std::string ban_list_path(const std::string& datadir);

struct BanListLoad {
  std::vector<BanEntry> entries;  // in force at `now`
  bool found = false;             // a file was there
  size_t expired = 0;             // entries dropped because they had ended
  std::string warning;            // non-empty: the file was unreadable or corrupt (see above)
};
// Reads datadir/banlist.dat. Never fails (see above); `now` drops ended bans and names the
// corrupt file's new name.
BanListLoad load_ban_list(const std::string& datadir, Time now);
// Writes the entries atomically. Errors name the path.
Status save_ban_list(const std::string& datadir, std::span<const BanEntry> entries);

}  // namespace hearsay
