// Transaction: creation, canonical encoding, decode failures by cause, signatures, ids,
// fee rate and expiry fields.
#include "p2p/transaction.h"

#include <gtest/gtest.h>

#include <limits>

#include "testing/test_util.h"

namespace hearsay {
namespace {

using test::make_tx;
using test::test_key;

std::vector<uint8_t> copy_of(std::span<const uint8_t> s) {
  return {s.begin(), s.end()};
}

TEST(Transaction, CreateSetsEveryField) {
  TxFields f;
  f.network = 0x01020304;
  f.nonce = 7;
  f.fee = 1234;
  f.expiry = kExpiryTimeThreshold + 5;
  f.payload = {1, 2, 3};
  KeyPair key = test_key(3);
  TxRef tx = Transaction::create(f, key);
  EXPECT_EQ(tx->network(), f.network);
  EXPECT_EQ(tx->sender(), key.public_key());
  EXPECT_EQ(tx->nonce(), 7u);
  EXPECT_EQ(tx->fee(), 1234u);
  EXPECT_EQ(tx->expiry(), kExpiryTimeThreshold + 5);
  EXPECT_EQ(copy_of(tx->payload()), f.payload);
  EXPECT_EQ(tx->size(), kTxFixedPrefix + 1 + 3 + kTxSignatureSize);
  EXPECT_EQ(tx->id(), sha256d(tx->encoding()));
  EXPECT_TRUE(tx->verify_signature());
}

TEST(Transaction, LayoutMatchesTheSpec) {
  TxRef tx = make_tx(1, 0x1122334455667788ULL, 0x99, 2, 0x0a, 0xdeadbeef);
  auto e = tx->encoding();
  ASSERT_EQ(e.size(), 4u + 32 + 8 + 8 + 8 + 1 + 2 + 64);
  EXPECT_EQ(e[0], 0xef);  // network, little-endian
  EXPECT_EQ(e[3], 0xde);
  EXPECT_TRUE(std::equal(e.begin() + 4, e.begin() + 36, test_key(1).public_key().begin()));
  EXPECT_EQ(e[36], 0x88);  // nonce
  EXPECT_EQ(e[43], 0x11);
  EXPECT_EQ(e[44], 0x99);  // fee
  EXPECT_EQ(e[52], 0x0a);  // expiry
  EXPECT_EQ(e[60], 2);     // payload length
  Signature sig = tx->signature();
  EXPECT_TRUE(std::equal(sig.begin(), sig.end(), e.end() - 64));
}

TEST(Transaction, SighashIsTaggedHashOfEverythingBeforeTheSignature) {
  TxRef tx = make_tx(2, 1);
  Hash256 tag = sha256(as_bytes("hearsay/tx"));
  Sha256 h;
  h.update(tag).update(tag).update(tx->encoding().first(tx->size() - kTxSignatureSize));
  EXPECT_EQ(tx->sighash(), h.finish());
  EXPECT_TRUE(verify(tx->sender(), tx->sighash(), tx->signature()));
}

TEST(Transaction, DecodeEncodeIsIdentity) {
  for (size_t payload :
       {size_t{0}, size_t{1}, size_t{0xfc}, size_t{0xfd}, size_t{1000}, kMaxTxPayload}) {
    TxRef tx = make_tx(1, payload, 500, payload);
    auto dec = Transaction::decode(copy_of(tx->encoding()));
    ASSERT_TRUE(dec) << payload << ": " << to_string(dec.error());
    TxRef back = *dec;
    EXPECT_TRUE(std::ranges::equal(back->encoding(), tx->encoding()));
    EXPECT_EQ(back->id(), tx->id());
    EXPECT_TRUE(std::ranges::equal(back->payload(), tx->payload()));
    EXPECT_EQ(back->nonce(), tx->nonce());
    EXPECT_TRUE(back->verify_signature());
  }
}

TEST(Transaction, DecodeFromReadsOneTransactionInsideALargerStructure) {
  TxRef a = make_tx(1, 1, 10, 3);
  TxRef b = make_tx(2, 2, 20, 300);
  std::vector<uint8_t> buf;
  Writer(buf).bytes(a->encoding()).bytes(b->encoding()).u8(0x77);
  Reader r(buf);
  auto da = Transaction::decode_from(r);
  auto db = Transaction::decode_from(r);
  ASSERT_TRUE(da && db);
  EXPECT_EQ((*da)->id(), a->id());
  EXPECT_EQ((*db)->id(), b->id());
  EXPECT_EQ(r.remaining(), 1u);
}

TEST(Transaction, EveryProperPrefixIsTruncated) {
  TxRef tx = make_tx(1, 1, 1000, 300);  // 3-byte payload length
  auto enc = copy_of(tx->encoding());
  for (size_t len = 0; len < enc.size(); ++len) {
    auto dec = Transaction::decode(std::vector<uint8_t>(enc.begin(), enc.begin() + len));
    ASSERT_FALSE(dec) << len;
    EXPECT_EQ(dec.error(), DecodeError::kTruncated) << len;
    Reader r(std::span<const uint8_t>(enc).first(len));
    auto dec2 = Transaction::decode_from(r);
    ASSERT_FALSE(dec2) << len;
    EXPECT_EQ(dec2.error(), DecodeError::kTruncated) << len;
  }
}

TEST(Transaction, TrailingBytesAreRejected) {
  auto enc = copy_of(make_tx(1, 1)->encoding());
  enc.push_back(0);
  auto dec = Transaction::decode(std::move(enc));
  ASSERT_FALSE(dec);
  EXPECT_EQ(dec.error(), DecodeError::kTrailingBytes);
}

TEST(Transaction, NonMinimalPayloadLengthIsNonCanonical) {
  auto enc = copy_of(make_tx(1, 1, 1000, 4)->encoding());
  ASSERT_EQ(enc[kTxFixedPrefix], 4);
  // Re-write the 1-byte length 04 as fd 04 00.
  enc[kTxFixedPrefix] = 0xfd;
  enc.insert(enc.begin() + kTxFixedPrefix + 1, {0x04, 0x00});
  auto dec = Transaction::decode(std::move(enc));
  ASSERT_FALSE(dec);
  EXPECT_EQ(dec.error(), DecodeError::kNonCanonical);
}

TEST(Transaction, PayloadOverTheLimitIsTooLarge) {
  // Hand-built: a valid-looking prefix, then a payload one byte over kMaxTxPayload.
  std::vector<uint8_t> enc(kTxFixedPrefix, 0);
  Writer(enc).compact_size(kMaxTxPayload + 1);
  enc.resize(enc.size() + kMaxTxPayload + 1 + kTxSignatureSize);
  auto dec = Transaction::decode(std::move(enc));
  ASSERT_FALSE(dec);
  EXPECT_EQ(dec.error(), DecodeError::kTooLarge);
  // The largest allowed payload is fine and fits the size limit exactly (3-byte length).
  TxRef big = make_tx(1, 1, 1, kMaxTxPayload);
  EXPECT_LE(big->size(), kMaxTxSize);
  EXPECT_GE(make_tx(1, 1, 1, 0)->size(), kMinTxSize);
}

TEST(TransactionDeathTest, CreateRefusesOversizePayload) {
  TxFields f;
  f.payload.resize(kMaxTxPayload + 1);
  KeyPair key = test_key(1);
  EXPECT_DEATH(Transaction::create(f, key), "internal invariant");
}

TEST(Transaction, TamperingWithAnyByteBreaksIt) {
  TxRef tx = make_tx(4, 9, 1000, 20, 77);
  auto enc = copy_of(tx->encoding());
  for (size_t i = 0; i < enc.size(); ++i) {
    auto bad = enc;
    bad[i] ^= 0x01;
    auto dec = Transaction::decode(std::move(bad));
    if (!dec) continue;  // e.g. the payload length byte: no longer parses
    EXPECT_NE((*dec)->id(), tx->id()) << i;
    EXPECT_FALSE((*dec)->verify_signature()) << "byte " << i;
  }
}

TEST(Transaction, SignatureFromAnotherKeyFails) {
  TxRef a = make_tx(1, 5);
  TxRef b = make_tx(2, 5);
  auto enc = copy_of(a->encoding());
  Signature sb = b->signature();
  std::copy(sb.begin(), sb.end(), enc.end() - 64);
  auto dec = Transaction::decode(std::move(enc));
  ASSERT_TRUE(dec);
  EXPECT_FALSE((*dec)->verify_signature());
}

TEST(Transaction, FeeRateIsPerThousandBytesRoundedDown) {
  TxRef tx = make_tx(1, 1, 1000, 4);  // 60 + 1 + 4 + 64 = 129 bytes
  ASSERT_EQ(tx->size(), 129u);
  EXPECT_EQ(tx->fee_rate(), 1000u * 1000 / 129);  // 7751
  EXPECT_EQ(make_tx(1, 1, 0, 4)->fee_rate(), 0u);
  EXPECT_EQ(make_tx(1, 1, 129, 4)->fee_rate(), 1000u);
  EXPECT_EQ(make_tx(1, 1, 128, 4)->fee_rate(), 992u);  // 992.2 rounded down
  // No wrap-around for enormous fees: the rate saturates.
  uint64_t max = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(make_tx(1, 1, max, 4)->fee_rate(), max);
  uint64_t fee = max / 1000 * 129;  // rate just below 2^64
  EXPECT_EQ(make_tx(1, 1, fee, 4)->fee_rate(), fee / 129 * 1000);
}

TEST(Transaction, ExpiryIsCarriedUnchanged) {
  for (uint64_t e : {uint64_t{0}, uint64_t{1}, kExpiryTimeThreshold - 1, kExpiryTimeThreshold,
                     std::numeric_limits<uint64_t>::max()}) {
    TxRef tx = make_tx(1, 1, 1000, 10, e);
    auto dec = Transaction::decode(copy_of(tx->encoding()));
    ASSERT_TRUE(dec);
    EXPECT_EQ((*dec)->expiry(), e);
  }
}

TEST(Transaction, IdCoversTheSignatureAndEveryField) {
  TxRef a = make_tx(1, 1);
  EXPECT_NE(a->id(), make_tx(1, 2)->id());
  EXPECT_NE(a->id(), make_tx(2, 1)->id());
  EXPECT_NE(a->id(), make_tx(1, 1, 1001)->id());
  EXPECT_EQ(a->id(), make_tx(1, 1)->id());  // Ed25519 is deterministic
}

}  // namespace
}  // namespace hearsay
