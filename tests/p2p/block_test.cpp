// Block headers, blocks and Merkle roots: layout, signatures, canonical round trip, decode
// failures by cause, and the Merkle rule checked against a hand computation.
#include "p2p/block.h"

#include <gtest/gtest.h>

#include "testing/test_util.h"

namespace hearsay {
namespace {

using test::make_tx;
using test::test_key;

BlockHeader sample_header(uint64_t height = 42) {
  BlockHeader h;
  h.network = test::kTestNetwork;
  h.prev.fill(0xaa);
  h.height = height;
  h.time = 1'700'000'000;
  h.merkle_root.fill(0xbb);
  h.sign(test_key(7));
  return h;
}

Block sample_block(size_t ntx) {
  Block b;
  for (size_t i = 0; i < ntx; ++i)
    b.txs.push_back(make_tx(static_cast<uint8_t>(1 + i % 3), i, 100 + i, 10 * i));
  b.header = sample_header();
  b.header.merkle_root = merkle_root(b.txs);
  b.header.sign(test_key(7));
  return b;
}

std::vector<uint8_t> encode(const BlockHeader& h) {
  std::vector<uint8_t> out;
  h.encode(out);
  return out;
}
std::vector<uint8_t> encode(const Block& b) {
  std::vector<uint8_t> out;
  b.encode(out);
  return out;
}

Result<Block, DecodeError> decode_block(std::span<const uint8_t> data) {
  Reader r(data);
  auto b = Block::decode_from(r);
  if (b && !r.expect_end()) return fail(r.error());
  return b;
}

Hash256 hash_pair(const Hash256& a, const Hash256& b) {
  std::vector<uint8_t> cat(a.begin(), a.end());
  cat.insert(cat.end(), b.begin(), b.end());
  return sha256d(cat);
}

TEST(BlockHeader, LayoutAndSize) {
  BlockHeader h = sample_header(0x0102);
  auto enc = encode(h);
  ASSERT_EQ(enc.size(), kBlockHeaderSize);
  EXPECT_EQ(enc[0], 0x74);   // network "test" little-endian
  EXPECT_EQ(enc[4], 0xaa);   // prev
  EXPECT_EQ(enc[36], 0x02);  // height
  EXPECT_EQ(enc[37], 0x01);
  EXPECT_EQ(enc[52], 0xbb);  // merkle root
  EXPECT_TRUE(std::equal(h.producer.begin(), h.producer.end(), enc.begin() + 84));
  EXPECT_TRUE(std::equal(h.signature.begin(), h.signature.end(), enc.begin() + 116));
  EXPECT_EQ(h.id(), sha256d(enc));
}

TEST(BlockHeader, SighashIsTaggedHashOfTheFirst116Bytes) {
  BlockHeader h = sample_header();
  auto enc = encode(h);
  Hash256 tag = sha256(as_bytes("hearsay/block"));
  Sha256 s;
  s.update(tag).update(tag).update(std::span<const uint8_t>(enc).first(116));
  EXPECT_EQ(h.sighash(), s.finish());
}

TEST(BlockHeader, SignVerifyAndTamper) {
  BlockHeader h = sample_header();
  EXPECT_EQ(h.producer, test_key(7).public_key());
  EXPECT_TRUE(h.verify_signature());
  auto enc = encode(h);
  for (size_t i = 0; i < enc.size(); ++i) {
    auto bad = enc;
    bad[i] ^= 0x80;
    Reader r(bad);
    auto d = BlockHeader::decode_from(r);
    ASSERT_TRUE(d);
    EXPECT_FALSE(d->verify_signature()) << i;
    EXPECT_NE(d->id(), h.id()) << i;
  }
}

TEST(BlockHeader, RoundTripAndTruncation) {
  BlockHeader h = sample_header();
  auto enc = encode(h);
  Reader r(enc);
  auto d = BlockHeader::decode_from(r);
  ASSERT_TRUE(d);
  EXPECT_TRUE(r.expect_end());
  EXPECT_EQ(*d, h);
  EXPECT_EQ(encode(*d), enc);
  for (size_t len = 0; len < enc.size(); ++len) {
    Reader t(std::span<const uint8_t>(enc).first(len));
    auto bad = BlockHeader::decode_from(t);
    ASSERT_FALSE(bad) << len;
    EXPECT_EQ(bad.error(), DecodeError::kTruncated) << len;
  }
}

TEST(Block, RoundTripIsByteExact) {
  for (size_t n : {0, 1, 2, 5}) {
    Block b = sample_block(n);
    auto enc = encode(b);
    EXPECT_EQ(enc.size(), b.encoded_size());
    auto d = decode_block(enc);
    ASSERT_TRUE(d) << n << ": " << to_string(d.error());
    EXPECT_EQ(d->header, b.header);
    ASSERT_EQ(d->txs.size(), n);
    for (size_t i = 0; i < n; ++i)
      EXPECT_EQ(d->txs[i]->id(), b.txs[i]->id());
    EXPECT_EQ(encode(*d), enc);
    EXPECT_EQ(merkle_root(d->txs), d->header.merkle_root);
  }
}

TEST(Block, EveryProperPrefixIsTruncated) {
  auto enc = encode(sample_block(3));
  for (size_t len = 0; len < enc.size(); ++len) {
    auto d = decode_block(std::span<const uint8_t>(enc).first(len));
    ASSERT_FALSE(d) << len;
    EXPECT_EQ(d.error(), DecodeError::kTruncated) << len;
  }
}

TEST(Block, TrailingBytesCountTooManyAndNonCanonicalCount) {
  auto enc = encode(sample_block(1));
  enc.push_back(0);
  auto d = decode_block(enc);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error(), DecodeError::kTrailingBytes);

  std::vector<uint8_t> over = encode(sample_header());
  Writer(over).compact_size(kMaxBlockTxs + 1);
  d = decode_block(over);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error(), DecodeError::kTooLarge);

  std::vector<uint8_t> nc = encode(sample_header());
  Writer(nc).u8(0xfd).u16(1);  // 1 as a 3-byte CompactSize
  Writer(nc).bytes(make_tx(1, 1)->encoding());
  d = decode_block(nc);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error(), DecodeError::kNonCanonical);

  // A count that promises more transactions than the bytes hold: truncated, not allocated.
  std::vector<uint8_t> lie = encode(sample_header());
  Writer(lie).compact_size(kMaxBlockTxs);
  d = decode_block(lie);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error(), DecodeError::kTruncated);
}

TEST(Block, BadTransactionInsideFailsWithItsCause) {
  Block b = sample_block(2);
  auto enc = encode(b);
  // The second transaction's payload length (10 → fd 0a 00) made non-minimal.
  size_t off = kBlockHeaderSize + 1 + b.txs[0]->size() + kTxFixedPrefix;
  ASSERT_EQ(enc[off], 10);
  enc[off] = 0xfd;
  enc.insert(enc.begin() + off + 1, {0x0a, 0x00});
  auto d = decode_block(enc);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error(), DecodeError::kNonCanonical);
}

TEST(Merkle, AgainstHandComputation) {
  std::vector<TxId> ids(5);
  for (size_t i = 0; i < ids.size(); ++i)
    ids[i].fill(static_cast<uint8_t>(0x10 + i));
  const Hash256 &a = ids[0], &b = ids[1], &c = ids[2], &d = ids[3], &e = ids[4];
  auto root = [&](size_t n) { return merkle_root(std::span<const TxId>(ids).first(n)); };

  EXPECT_EQ(root(0), Hash256{});
  EXPECT_EQ(root(1), a);
  EXPECT_EQ(root(2), hash_pair(a, b));
  // An odd last node is carried up unchanged, never paired with itself.
  EXPECT_EQ(root(3), hash_pair(hash_pair(a, b), c));
  EXPECT_NE(root(3), hash_pair(hash_pair(a, b), hash_pair(c, c)));
  EXPECT_EQ(root(4), hash_pair(hash_pair(a, b), hash_pair(c, d)));
  EXPECT_EQ(root(5), hash_pair(hash_pair(hash_pair(a, b), hash_pair(c, d)), e));
}

TEST(Merkle, DuplicatingTheLastTransactionChangesTheRoot) {
  // Bitcoin's CVE-2012-2459: [a, b, c] and [a, b, c, c] must not share a root.
  std::vector<TxId> ids(4);
  for (size_t i = 0; i < 3; ++i)
    ids[i].fill(static_cast<uint8_t>(i + 1));
  ids[3] = ids[2];
  EXPECT_NE(merkle_root(std::span<const TxId>(ids).first(3)), merkle_root(ids));
}

TEST(Merkle, TxRefOverloadUsesIds) {
  Block b = sample_block(3);
  std::vector<TxId> ids;
  for (const TxRef& tx : b.txs)
    ids.push_back(tx->id());
  EXPECT_EQ(merkle_root(b.txs), merkle_root(ids));
}

}  // namespace
}  // namespace hearsay
