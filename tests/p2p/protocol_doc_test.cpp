// docs/protocol.md is normative: its hex examples must be exactly what the code produces.
// Each example is a line `<!-- example: NAME -->` followed by a ```hex fenced block; the hex
// may be split over lines and spaced freely (whitespace is ignored).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "crypto/hex.h"
#include "p2p/sketch.h"
#include "p2p/transport.h"
#include "testing/test_util.h"

namespace hearsay {
namespace {

constexpr uint32_t kDevnetMagic = 0x68727364;

std::map<std::string, std::string> read_examples() {
  std::ifstream in(HEARSAY_SOURCE_DIR "/docs/protocol.md");
  EXPECT_TRUE(in) << "cannot open docs/protocol.md";
  std::map<std::string, std::string> out;
  std::string line, name;
  enum { kSeek, kFence, kBody } state = kSeek;
  const std::string marker = "<!-- example: ";
  while (std::getline(in, line)) {
    if (state == kSeek) {
      auto at = line.find(marker);
      if (at == std::string::npos) continue;
      auto end = line.find(" -->", at);
      name = line.substr(at + marker.size(), end - at - marker.size());
      state = kFence;
    } else if (state == kFence) {
      if (line.rfind("```hex", 0) == 0)
        state = kBody;
      else if (!line.empty())
        ADD_FAILURE() << "example " << name << " is not followed by ```hex";
    } else if (line.rfind("```", 0) == 0) {
      state = kSeek;
    } else {
      for (char c : line)
        if (!std::isspace(static_cast<unsigned char>(c))) out[name] += c;
    }
  }
  return out;
}

void expect_example(const std::map<std::string, std::string>& ex, const std::string& name,
                    const std::vector<uint8_t>& want) {
  auto it = ex.find(name);
  ASSERT_NE(it, ex.end()) << "docs/protocol.md lacks example " << name;
  auto got = from_hex(it->second);
  ASSERT_TRUE(got.has_value()) << name << ": not valid hex";
  EXPECT_EQ(to_hex(*got), to_hex(want)) << name << ": the document should say\n" << to_hex(want);
}

TEST(ProtocolDoc, PingFrame) {
  auto frame = encode_frame(kDevnetMagic, PingMsg{0x0123456789abcdefULL});
  expect_example(read_examples(), "ping-frame", *frame);
}

// The example transaction of §10 (its id is also the transaction of the short-id example).
TxRef example_tx() {
  TxFields f;
  f.network = kDevnetMagic;
  f.nonce = 0;
  f.fee = 1000;
  f.expiry = 0;
  f.payload = {0xde, 0xad, 0xbe, 0xef};
  return Transaction::create(f, test::test_key(1));
}

std::vector<uint8_t> bytes_of(std::span<const uint8_t> s) {
  return {s.begin(), s.end()};
}

std::vector<uint8_t> u64_le(uint64_t v) {
  std::vector<uint8_t> out;
  Writer(out).u64(v);
  return out;
}

TEST(ProtocolDoc, TxFrame) {
  TxRef tx = example_tx();
  auto frame = encode_frame(kDevnetMagic, TxMsg{tx});
  auto ex = read_examples();
  expect_example(ex, "tx-frame", *frame);
  // The documented frame decodes to a transaction with a valid signature.
  auto it = ex.find("tx-frame");
  ASSERT_NE(it, ex.end());
  auto bytes = from_hex(it->second);
  ASSERT_TRUE(bytes && bytes->size() > kFrameHeaderSize);
  auto dec =
      Transaction::decode(std::vector<uint8_t>(bytes->begin() + kFrameHeaderSize, bytes->end()));
  ASSERT_TRUE(dec);
  EXPECT_TRUE((*dec)->verify_signature());
  // The id and sighash the document quotes.
  expect_example(ex, "tx-id", std::vector<uint8_t>(tx->id().begin(), tx->id().end()));
  Hash256 sighash = tx->sighash();
  expect_example(ex, "tx-sighash", std::vector<uint8_t>(sighash.begin(), sighash.end()));
}

// The short-id example of §10: node A (nonce kNonceA) announces to node B (nonce kNonceB,
// bucket salt kSaltB). A's nonce is the larger, so the example shows the min/max ordering.
constexpr uint64_t kNonceA = 0xfedcba9876543210ULL;
constexpr uint64_t kNonceB = 0x0123456789abcdefULL;
constexpr uint64_t kSaltB = 0x8877665544332211ULL;

TxId all_0x11_id() {
  TxId id;
  id.fill(0x11);
  return id;
}

TEST(ProtocolDoc, SendShortIdsFrame) {
  SendShortIdsMsg m{1, kNonceB, kSaltB};
  auto ex = read_examples();
  expect_example(ex, "sendshortids-frame", *encode_frame(kDevnetMagic, m));
  // The documented payload decodes back to the same message.
  auto it = ex.find("sendshortids-frame");
  ASSERT_NE(it, ex.end());
  auto bytes = from_hex(it->second);
  ASSERT_TRUE(bytes && bytes->size() == kFrameHeaderSize + kSendShortIdsPayload);
  auto dec = decode_payload(MsgType::kSendShortIds,
                            std::vector<uint8_t>(bytes->begin() + kFrameHeaderSize, bytes->end()));
  ASSERT_TRUE(dec);
  EXPECT_EQ(std::get<SendShortIdsMsg>(*dec), m);
}

TEST(ProtocolDoc, ShortIdWorkedExample) {
  auto ex = read_examples();
  TxId txid = example_tx()->id();
  SipKey link = short_id_link_key(kNonceA, kNonceB);
  SipKey bucket = short_id_bucket_key(kSaltB);
  // Both ends derive the same link key, whichever nonce they call their own.
  EXPECT_EQ(short_id_link_key(kNonceB, kNonceA), link);
  expect_example(ex, "short-id-link-key", bytes_of(link));
  expect_example(ex, "short-id-bucket-key", bytes_of(bucket));
  expect_example(ex, "short-id-link-siphash", u64_le(siphash24(link, txid)));
  expect_example(ex, "short-id-bucket-siphash", u64_le(siphash24(bucket, txid)));
  // The 6 wire bytes, as the txinv encoder writes them (after its 1-byte count).
  uint64_t sid = tx_short_id(bucket, link, txid);
  std::vector<uint8_t> payload;
  encode_payload(TxInvMsg{{sid}}, payload);
  ASSERT_EQ(payload.size(), 1 + kShortIdSize);
  expect_example(ex, "short-id", std::vector<uint8_t>(payload.begin() + 1, payload.end()));
}

TEST(ProtocolDoc, TxInvFrame) {
  SipKey link = short_id_link_key(kNonceA, kNonceB);
  SipKey bucket = short_id_bucket_key(kSaltB);
  TxInvMsg m{
      {tx_short_id(bucket, link, example_tx()->id()), tx_short_id(bucket, link, all_0x11_id())}};
  auto ex = read_examples();
  expect_example(ex, "txinv-frame", *encode_frame(kDevnetMagic, m));
  auto it = ex.find("txinv-frame");
  ASSERT_NE(it, ex.end());
  auto bytes = from_hex(it->second);
  ASSERT_TRUE(bytes && bytes->size() > kFrameHeaderSize);
  auto dec = decode_payload(MsgType::kTxInv,
                            std::vector<uint8_t>(bytes->begin() + kFrameHeaderSize, bytes->end()));
  ASSERT_TRUE(dec);
  EXPECT_EQ(std::get<TxInvMsg>(*dec), m);
}

// The tree relay examples of §10: the example transaction pushed down the tree of origin
// kOrigin, and that origin (with one more) pruned and grafted.
constexpr uint32_t kOrigin = 0xa1b2c3d4;

// The payload of the frame the document shows as `name`.
std::vector<uint8_t> documented_payload(const std::map<std::string, std::string>& ex,
                                        const std::string& name) {
  auto it = ex.find(name);
  if (it == ex.end()) return {};
  auto bytes = from_hex(it->second);
  if (!bytes || bytes->size() < kFrameHeaderSize) return {};
  return {bytes->begin() + kFrameHeaderSize, bytes->end()};
}

TEST(ProtocolDoc, TreeTxFrame) {
  TxRef tx = example_tx();
  auto ex = read_examples();
  expect_example(ex, "treetx-frame", *encode_frame(kDevnetMagic, TreeTxMsg{tx, kOrigin}));
  // The documented payload is the tx example's, then the origin; it decodes to both.
  auto payload = documented_payload(ex, "treetx-frame");
  auto tx_payload = documented_payload(ex, "tx-frame");
  ASSERT_EQ(payload.size(), tx_payload.size() + kTreeOriginSize);
  EXPECT_TRUE(std::equal(tx_payload.begin(), tx_payload.end(), payload.begin()));
  auto dec = decode_payload(MsgType::kTreeTx, std::move(payload));
  ASSERT_TRUE(dec);
  const auto& m = std::get<TreeTxMsg>(*dec);
  EXPECT_EQ(m.origin, kOrigin);
  EXPECT_EQ(m.tx->id(), tx->id());
  EXPECT_TRUE(m.tx->verify_signature());
}

TEST(ProtocolDoc, PruneAndGraftFrames) {
  auto ex = read_examples();
  PruneMsg prune{{kOrigin, 0x00000001}};
  GraftMsg graft{{kOrigin}};
  expect_example(ex, "prune-frame", *encode_frame(kDevnetMagic, prune));
  expect_example(ex, "graft-frame", *encode_frame(kDevnetMagic, graft));
  auto p = decode_payload(MsgType::kPrune, documented_payload(ex, "prune-frame"));
  ASSERT_TRUE(p);
  EXPECT_EQ(std::get<PruneMsg>(*p), prune);
  auto g = decode_payload(MsgType::kGraft, documented_payload(ex, "graft-frame"));
  ASSERT_TRUE(g);
  EXPECT_EQ(std::get<GraftMsg>(*g), graft);
}

// The frame the document shows as `name` is `m`'s, byte for byte, and its payload decodes to
// `m` and re-encodes to the same bytes.
template <class Msg>
void expect_frame(const std::map<std::string, std::string>& ex, const std::string& name,
                  const Msg& m) {
  expect_example(ex, name, *encode_frame(kDevnetMagic, m));
  auto payload = documented_payload(ex, name);
  auto dec = decode_payload(type_of(Message{m}), std::vector<uint8_t>(payload));
  ASSERT_TRUE(dec) << name << ": " << to_string(dec.error());
  EXPECT_EQ(std::get<Msg>(*dec), m) << name;
  std::vector<uint8_t> again;
  encode_payload(*dec, again);
  EXPECT_EQ(again, payload) << name;
}

// The set reconciliation examples of §10, on the short-id example's link: A (the asker) holds
// the example transaction and the all-0x11 and all-0x22 ones, B holds only the last.
TEST(ProtocolDoc, ReconciliationFrames) {
  auto ex = read_examples();
  const SipKey link = short_id_link_key(kNonceA, kNonceB);
  TxId all_0x22;
  all_0x22.fill(0x22);
  const uint32_t e_tx = short_id_link_part(link, example_tx()->id());
  const uint32_t e_11 = short_id_link_part(link, all_0x11_id());
  const uint32_t e_22 = short_id_link_part(link, all_0x22);
  ASSERT_TRUE(e_tx != 0 && e_11 != 0 && e_22 != 0);  // 0 would count as 1
  p2p::Sketch a(2);
  for (uint32_t e : {e_tx, e_11, e_22})
    a.add(e);
  // s1 is the XOR of the elements, as the document says.
  EXPECT_EQ(a.syndromes()[0], e_tx ^ e_11 ^ e_22);
  const ReqReconMsg request{1, 0, 0, 3, a.serialize()};
  expect_frame(ex, "reqrecon-frame", request);

  // B merges its sketch with the documented one and decodes what A has and it lacks.
  auto theirs = p2p::Sketch::parse(request.sketch);
  ASSERT_TRUE(theirs);
  p2p::Sketch b(2);
  b.add(e_22);
  b.merge(*theirs);
  auto diff = b.decode();
  ASSERT_TRUE(diff);
  EXPECT_EQ(*diff, (std::vector<uint32_t>{e_11, e_tx}));
  expect_frame(ex, "recondiff-decoded-frame",
               ReconDiffMsg{1, 0, 0, ReconResult::kDecoded, 1, *diff});
  // A announces them with the txinv example: its short ids' link parts are the asked elements.
  auto txinv = decode_payload(MsgType::kTxInv, documented_payload(ex, "txinv-frame"));
  ASSERT_TRUE(txinv);
  std::vector<uint32_t> link_parts;
  for (uint64_t sid : std::get<TxInvMsg>(*txinv).ids)
    link_parts.push_back(static_cast<uint32_t>(sid));
  EXPECT_EQ(link_parts, (std::vector<uint32_t>{e_tx, e_11}));

  expect_frame(ex, "recondiff-failed-frame", ReconDiffMsg{2, 1, 1, ReconResult::kFailed, 7, {}});
}

}  // namespace
}  // namespace hearsay
