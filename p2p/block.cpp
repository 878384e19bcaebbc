#include "p2p/block.h"

namespace hearsay {

namespace {
constexpr std::string_view kBlockSigTag = "hearsay/block";
constexpr size_t kHeaderSignedPart = kBlockHeaderSize - kTxSignatureSize;

void encode_unsigned(const BlockHeader& h, std::vector<uint8_t>& out) {
  Writer(out)
      .u32(h.network)
      .bytes(h.prev)
      .u64(h.height)
      .u64(h.time)
      .bytes(h.merkle_root)
      .bytes(h.producer);
}
}  // namespace

void BlockHeader::encode(std::vector<uint8_t>& out) const {
  encode_unsigned(*this, out);
  Writer(out).bytes(signature);
}

Result<BlockHeader, DecodeError> BlockHeader::decode_from(Reader& r) {
  BlockHeader h;
  r.u32(h.network);
  r.array(h.prev);
  r.u64(h.height);
  r.u64(h.time);
  r.array(h.merkle_root);
  r.array(h.producer);
  r.array(h.signature);
  if (!r.ok()) return fail(r.error());
  return h;
}

BlockId BlockHeader::id() const {
  std::vector<uint8_t> buf;
  buf.reserve(kBlockHeaderSize);
  encode(buf);
  return sha256d(buf);
}

Hash256 BlockHeader::sighash() const {
  std::vector<uint8_t> buf;
  buf.reserve(kHeaderSignedPart);
  encode_unsigned(*this, buf);
  return TaggedHasher(kBlockSigTag).update(buf).finish();
}

void BlockHeader::sign(const KeyPair& key) {
  producer = key.public_key();
  signature = key.sign(sighash());
}

bool BlockHeader::verify_signature() const {
  return verify(producer, sighash(), signature);
}

void Block::encode(std::vector<uint8_t>& out) const {
  header.encode(out);
  Writer(out).compact_size(txs.size());
  for (const TxRef& tx : txs)
    Writer(out).bytes(tx->encoding());
}

size_t Block::encoded_size() const {
  size_t n = kBlockHeaderSize + compact_size_len(txs.size());
  for (const TxRef& tx : txs)
    n += tx->size();
  return n;
}

Result<Block, DecodeError> Block::decode_from(Reader& r) {
  size_t start = r.position();
  auto header = BlockHeader::decode_from(r);
  if (!header) return fail(header.error());
  Block b;
  b.header = *header;
  uint64_t count = 0;
  if (!r.compact_size(count, kMaxBlockTxs)) return fail(r.error());
  // No reserve(count): a peer's count is not a promise; the frame limit bounds the loop.
  for (uint64_t i = 0; i < count; ++i) {
    auto tx = Transaction::decode_from(r);
    if (!tx) return fail(tx.error());
    b.txs.push_back(std::move(tx.value()));
    if (r.position() - start > kMaxBlockSize) return fail(DecodeError::kTooLarge);
  }
  return b;
}

Hash256 merkle_root(std::span<const TxId> ids) {
  if (ids.empty()) return Hash256{};
  std::vector<Hash256> level(ids.begin(), ids.end());
  uint8_t pair[64];
  while (level.size() > 1) {
    size_t out = 0;
    for (size_t i = 0; i + 1 < level.size(); i += 2) {
      std::copy(level[i].begin(), level[i].end(), pair);
      std::copy(level[i + 1].begin(), level[i + 1].end(), pair + 32);
      level[out++] = sha256d(pair);
    }
    if (level.size() % 2 == 1) level[out++] = level.back();
    level.resize(out);
  }
  return level[0];
}

Hash256 merkle_root(const std::vector<TxRef>& txs) {
  std::vector<TxId> ids;
  ids.reserve(txs.size());
  for (const TxRef& tx : txs)
    ids.push_back(tx->id());
  return merkle_root(ids);
}

Block child_block(const BlockHeader& prev, std::vector<TxRef> txs, uint64_t time) {
  Block b;
  b.header.network = prev.network;
  b.header.prev = prev.id();
  b.header.height = prev.height + 1;
  b.header.time = time;
  b.txs = std::move(txs);
  b.header.merkle_root = merkle_root(b.txs);
  return b;
}

BlockRef signed_child(const BlockHeader& prev, std::vector<TxRef> txs, uint64_t time,
                      const KeyPair& key) {
  Block b = child_block(prev, std::move(txs), time);
  b.header.sign(key);
  return std::make_shared<const Block>(std::move(b));
}

}  // namespace hearsay
