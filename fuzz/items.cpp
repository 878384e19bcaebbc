// Fuzz target: the item decoders (Transaction, BlockHeader, Block, PeerRecord).
//
// Input: byte 0 picks the item kind (mod fuzz::kItemKinds); the rest is one encoding. A
// PeerRecord is decoded through an `addr` payload holding one record. Oracle: whatever
// decodes re-encodes to exactly the same bytes, and decode_from consumes exactly what a whole
// decode accepts.
#include <cstdint>
#include <vector>

#include "crypto/ed25519.h"
#include "fuzz/fuzz_util.h"
#include "p2p/block.h"
#include "p2p/messages.h"

using namespace hearsay;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  crypto_init();
  return 0;
}

namespace {

void fuzz_transaction(std::span<const uint8_t> in) {
  auto whole = Transaction::decode(std::vector<uint8_t>(in.begin(), in.end()));
  Reader r(in);
  auto part = Transaction::decode_from(r);
  if (whole) {
    FUZZ_ASSERT(fuzz::same_bytes((*whole)->encoding(), in));
    FUZZ_ASSERT(part && r.remaining() == 0);
    FUZZ_ASSERT((*part)->id() == (*whole)->id());
    FUZZ_ASSERT((*whole)->payload().size() <= kMaxTxPayload);
    FUZZ_ASSERT((*whole)->size() >= kMinTxSize && (*whole)->size() <= kMaxTxSize);
    (void)(*whole)->fee_rate();
  } else if (part) {
    // A prefix is a transaction but bytes follow it.
    FUZZ_ASSERT(whole.error() == DecodeError::kTrailingBytes && r.remaining() > 0);
    FUZZ_ASSERT(fuzz::same_bytes((*part)->encoding(), in.first((*part)->size())));
  } else {
    FUZZ_ASSERT(part.error() == whole.error());
  }
}

void fuzz_header(std::span<const uint8_t> in) {
  Reader r(in);
  auto h = BlockHeader::decode_from(r);
  if (!h) {
    FUZZ_ASSERT(in.size() < kBlockHeaderSize && h.error() == DecodeError::kTruncated);
    return;
  }
  std::vector<uint8_t> again;
  h->encode(again);
  FUZZ_ASSERT(again.size() == kBlockHeaderSize);
  FUZZ_ASSERT(fuzz::same_bytes(again, in.first(kBlockHeaderSize)));
}

void fuzz_block(std::span<const uint8_t> in) {
  Reader r(in);
  auto b = Block::decode_from(r);
  if (!b) return;
  size_t used = r.position();
  std::vector<uint8_t> again;
  b->encode(again);
  FUZZ_ASSERT(again.size() == b->encoded_size());
  FUZZ_ASSERT(fuzz::same_bytes(again, in.first(used)));
  FUZZ_ASSERT(b->txs.size() <= kMaxBlockTxs);
  (void)merkle_root(b->txs);
}

void fuzz_peer_record(std::span<const uint8_t> in) {
  std::vector<uint8_t> payload;
  Writer(payload).compact_size(1).bytes(in);
  auto m = decode_payload(MsgType::kAddr, std::vector<uint8_t>(payload));
  if (!m) return;
  const auto& records = std::get<AddrMsg>(*m).records;
  FUZZ_ASSERT(records.size() == 1 && in.size() == kPeerRecordSize);
  std::vector<uint8_t> again;
  encode_payload(*m, again);
  FUZZ_ASSERT(fuzz::same_bytes(again, payload));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::span<const uint8_t> in(data + 1, size - 1);
  switch (static_cast<fuzz::ItemKind>(data[0] % fuzz::kItemKinds)) {
    case fuzz::ItemKind::kTransaction:
      fuzz_transaction(in);
      break;
    case fuzz::ItemKind::kBlockHeader:
      fuzz_header(in);
      break;
    case fuzz::ItemKind::kBlock:
      fuzz_block(in);
      break;
    case fuzz::ItemKind::kPeerRecord:
      fuzz_peer_record(in);
      break;
  }
  return 0;
}
