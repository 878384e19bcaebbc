// Fuzz target: block and header decoding with validation, against an in-memory devnet chain
// that already holds kBaseBlocks valid blocks (testing/block_fuzz.h describes the input).
//
// Oracles: a block that decodes re-encodes to the same bytes; a block the chain does not know
// that check_block refuses is refused by accept_block too (for the same header rule); a block
// accepted without error is stored (or an orphan); the best height never decreases; sanity_check()
// after every step (index, candidates, tip, nonces = replay of the active chain, orphan bounds).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "chainstub/chain.h"
#include "fuzz/fuzz_util.h"
#include "p2p/limits.h"
#include "p2p/serialize.h"
#include "testing/block_fuzz.h"

namespace hearsay {
namespace {

std::unique_ptr<ChainState> base_chain() {
  auto c = ChainState::open(devnet_params(), ChainOptions{});
  HEARSAY_CHECK(c.ok());
  std::unique_ptr<ChainState> chain = std::move(*c);
  for (const BlockRef& b : fuzz::block_fuzz_base())
    HEARSAY_CHECK(chain->accept_block(b, fuzz::block_fuzz_now(), true).error == BlockError::kOk);
  return chain;
}

void one_block(ChainState& chain, std::span<const uint8_t> bytes, uint8_t flags, Time now) {
  Reader r(bytes);
  auto decoded = Block::decode_from(r);
  if (!decoded || !r.expect_end()) return;
  std::vector<uint8_t> again;
  decoded->encode(again);
  FUZZ_ASSERT(fuzz::same_bytes(again, bytes));
  BlockRef block = std::make_shared<const Block>(std::move(*decoded));
  const bool vouched = flags & fuzz::kFlagSignaturesVerified;
  const BlockId id = block->header.id();
  const BlockError checked = chain.check_block(*block, vouched);
  const uint64_t height = chain.height();
  if (flags & fuzz::kFlagHeaderFirst) {
    HeaderResult h = chain.accept_header(block->header, now);
    if (h.is_new) FUZZ_ASSERT(chain.contains(id));
    chain.sanity_check();
  }
  const bool fresh = !chain.contains(id) && !chain.is_orphan(id);
  AcceptResult a = chain.accept_block(block, now, vouched);
  if (fresh && checked != BlockError::kOk) {
    // A fresh block that breaks a context-free rule is refused; a header rule answers first.
    FUZZ_ASSERT(a.error != BlockError::kOk);
    if (checked == BlockError::kBadNetwork || checked == BlockError::kBadProducer ||
        checked == BlockError::kBadSignature)
      FUZZ_ASSERT(a.error == checked);
  }
  if (a.error == BlockError::kOk) FUZZ_ASSERT(chain.have_body(id));
  if (a.orphan) FUZZ_ASSERT(!chain.contains(id));
  FUZZ_ASSERT(chain.height() >= height);
  chain.sanity_check();
}

void headers(ChainState& chain, std::span<const uint8_t> bytes, Time now) {
  Reader r(bytes);
  uint64_t count = 0;
  if (!r.compact_size(count, kMaxHeadersResults)) return;
  for (uint64_t i = 0; i < count; ++i) {
    auto h = BlockHeader::decode_from(r);
    if (!h) return;
    HeaderResult res = chain.accept_header(*h, now);
    if (res.error == BlockError::kOk) FUZZ_ASSERT(chain.contains(h->id()));
    chain.sanity_check();
  }
  (void)chain.missing_blocks(16);
  (void)chain.locator_from(chain.best_header());
}

void run(fuzz::FuzzInput in) {
  std::unique_ptr<ChainState> chain = base_chain();
  const auto mode = static_cast<fuzz::BlockMode>(in.byte() % fuzz::kBlockModes);
  const uint8_t flags = in.byte();
  const Time now = fuzz::block_fuzz_now() + std::chrono::minutes(flags >> 2);
  switch (mode) {
    case fuzz::BlockMode::kOneBlock: {
      std::vector<uint8_t> rest = in.bytes(in.remaining());
      one_block(*chain, rest, flags, now);
      break;
    }
    case fuzz::BlockMode::kHeaders: {
      std::vector<uint8_t> rest = in.bytes(in.remaining());
      headers(*chain, rest, now);
      break;
    }
    case fuzz::BlockMode::kSequence:
      while (!in.empty()) {
        size_t len = in.u16();
        std::vector<uint8_t> item = in.bytes(len);
        one_block(*chain, item, flags, now);
      }
      break;
  }
  auto loc = chain->locator();
  FUZZ_ASSERT(!loc.empty() && loc.front() == chain->tip_id());
  (void)chain->headers_after(loc, BlockId{}, kMaxHeadersResults);
  (void)chain->chain_info();
  chain->sanity_check();
}

}  // namespace
}  // namespace hearsay

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hearsay::run(hearsay::fuzz::FuzzInput(data, size));
  return 0;
}
