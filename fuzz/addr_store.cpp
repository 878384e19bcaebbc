// Fuzz target: the peers.dat decoder (AddrMan::deserialize, what net/addr_store.h's
// load_addr_book hands the file's bytes to), fed arbitrary bytes.
//
// The checksum would stop almost every mutation at the door, so when the input's first byte
// is odd the target rewrites the last 4 bytes of the rest with the right checksum (an even
// first byte: the rest as it is). The second byte picks the book's capacity (1..64).
// Oracle: nothing crashes; a refused file gets a non-empty error and leaves the book empty;
// an accepted file leaves a book that passes sanity_check(), holds no more entries than its
// capacity, and round-trips: serialize() → deserialize() → serialize() gives the same bytes
// and the same entries.
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "crypto/hash.h"
#include "fuzz/fuzz_util.h"
#include "p2p/addrman.h"

using namespace hearsay;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  std::vector<uint8_t> bytes(data + 2, data + size);
  if ((data[0] & 1) && bytes.size() >= 4) {
    const Hash256 sum = sha256d(std::span<const uint8_t>(bytes).first(bytes.size() - 4));
    std::memcpy(bytes.data() + bytes.size() - 4, sum.data(), 4);
  }
  const size_t capacity = 1 + data[1] % 64;
  // Records signed in 2025 are fresh; time 0 and far-future times are both in reach.
  const Time now = std::chrono::seconds(1'763'769'600);
  AddrMan book(capacity, 7);
  Status s = book.deserialize(bytes, now);
  if (!s) {
    FUZZ_ASSERT(!s.message().empty());
    FUZZ_ASSERT(book.size() == 0);
    book.sanity_check();
    return 0;
  }
  book.sanity_check();
  FUZZ_ASSERT(book.size() <= capacity);
  const std::vector<uint8_t> saved = book.serialize();
  AddrMan again(capacity, 8);
  FUZZ_ASSERT(again.deserialize(saved, now).ok());
  again.sanity_check();
  FUZZ_ASSERT(again.size() == book.size());
  FUZZ_ASSERT(hearsay::fuzz::same_bytes(again.serialize(), saved));
  for (const PeerRecord& r : book.sample(book.size())) {
    const AddrInfo* a = book.find(r.identity);
    const AddrInfo* b = again.find(r.identity);
    FUZZ_ASSERT(a && b && a->record == b->record && a->failures == b->failures &&
                a->last_try == b->last_try && a->last_success == b->last_success);
  }
  return 0;
}
