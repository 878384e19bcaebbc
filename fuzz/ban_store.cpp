// Fuzz target: the banlist.dat decoder (net/ban_store.h, decode_ban_list: what load_ban_list
// reads from the file), then what the loader does with the entries (BanList::add).
//
// The checksum would stop almost every mutation at the door, so when the input's first byte
// is odd the target rewrites the last 4 bytes of the rest with the right checksum before
// decoding (an even first byte: the rest as it is, checksum included).
// Oracle: nothing crashes; a refused file gets a non-empty error; an accepted file re-encodes
// (encode_ban_list) to exactly its own bytes — the format has one encoding per list — and
// decodes again to the same entries; loading the entries into a BanList keeps
// sanity_check() and never yields more bans than the file held.
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "crypto/hash.h"
#include "fuzz/fuzz_util.h"
#include "net/ban_store.h"

using namespace hearsay;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::vector<uint8_t> bytes(data + 1, data + size);
  if ((data[0] & 1) && bytes.size() >= 4) {
    const Hash256 sum = sha256d(std::span<const uint8_t>(bytes).first(bytes.size() - 4));
    std::memcpy(bytes.data() + bytes.size() - 4, sum.data(), 4);
  }
  auto decoded = decode_ban_list(bytes);
  if (!decoded) {
    FUZZ_ASSERT(!decoded.error().empty());
    return 0;
  }
  const std::vector<BanEntry>& entries = *decoded;
  FUZZ_ASSERT(entries.size() <= kMaxBanFileEntries);
  const std::vector<uint8_t> encoded = encode_ban_list(entries);
  FUZZ_ASSERT(hearsay::fuzz::same_bytes(encoded, bytes));
  auto again = decode_ban_list(encoded);
  FUZZ_ASSERT(again.ok() && *again == entries);

  // What load_ban_list does next: ended bans dropped, the rest merged into a BanList.
  const Time now = std::chrono::hours(24 * 365 * 50);
  BanList list;
  size_t in_force = 0;
  for (const BanEntry& e : entries) {
    if (e.until <= now) continue;
    ++in_force;
    list.add(e);
    list.sanity_check();
  }
  FUZZ_ASSERT(list.size() <= in_force);
  FUZZ_ASSERT(list.entries(now).size() <= list.size());
  return 0;
}
