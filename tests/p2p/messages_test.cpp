// Message payload codecs: every message round-trips byte for byte; every decoder rejects
// truncation, trailing bytes, oversize payloads, over-limit counts, non-canonical counts and
// forbidden values, each with its own error.
#include "p2p/messages.h"

#include <gtest/gtest.h>

#include <concepts>
#include <cstring>
#include <initializer_list>
#include <span>

#include "crypto/hex.h"
#include "testing/samples.h"
#include "testing/test_util.h"

namespace hearsay {
namespace {

using test::payload_of;
using test::sample_messages;

DecodeError decode_error(MsgType t, std::vector<uint8_t> payload) {
  auto m = decode_payload(t, std::move(payload));
  return m ? DecodeError::kNone : m.error();
}

std::array<uint8_t, kCommandSize> command_bytes(std::string_view s) {
  std::array<uint8_t, kCommandSize> a{};
  std::memcpy(a.data(), s.data(), std::min(s.size(), kCommandSize));
  return a;
}

TEST(Messages, SamplesCoverEveryTypeInOrder) {
  auto msgs = sample_messages();
  ASSERT_EQ(msgs.size(), kMsgTypeCount);
  for (size_t i = 0; i < msgs.size(); ++i)
    EXPECT_EQ(type_of(msgs[i]), static_cast<MsgType>(i));
}

TEST(Messages, CommandNamesAndLimits) {
  const std::pair<const char*, size_t> expected[kMsgTypeCount] = {
      {"version", 309},
      {"verack", 0},
      {"ping", 8},
      {"pong", 8},
      {"inv", 1'800'005},
      {"getdata", 1'800'005},
      {"notfound", 1'800'005},
      {"tx", 102'400},
      {"getheaders", 3'269},
      {"headers", 360'005},
      {"block", 4'000'000},
      {"sendcmpct", 9},
      {"cmpctblock", 4'000'000},
      {"getblocktxn", 32 + 5 + kMaxBlockTxs * 3},
      {"blocktxn", 4'000'000},
      {"addr", 122'005},
      {"getaddr", 0},
      {"feefilter", 8},
      {"sendheaders", 0},
      {"sendshortids", 17},
      {"txinv", 300'005},
      {"gettx", 300'005},
      {"txnotfound", 300'005},
      {"treetx", 102'404},
      {"prune", 4'003},
      {"graft", 4'003},
      {"reqrecon", 1'040},
      {"recondiff", 1'041},
  };
  EXPECT_EQ(kMaxBlockTxs, 31'998u);  // docs/protocol.md quotes this number
  for (size_t i = 0; i < kMsgTypeCount; ++i) {
    MsgType t = static_cast<MsgType>(i);
    EXPECT_STREQ(command_name(t), expected[i].first);
    EXPECT_EQ(max_payload(t), expected[i].second) << expected[i].first;
    EXPECT_LE(max_payload(t), kMaxMessagePayload);
    auto parsed = parse_command(command_bytes(expected[i].first));
    ASSERT_TRUE(parsed) << expected[i].first;
    EXPECT_EQ(*parsed, t);
  }
}

TEST(Messages, ParseCommandRejectsMalformedNames) {
  auto bad = [](std::array<uint8_t, kCommandSize> raw) {
    auto r = parse_command(raw);
    return r ? DecodeError::kNone : r.error();
  };
  EXPECT_EQ(bad(command_bytes("")), DecodeError::kBadCommand);  // all NUL
  auto gap = command_bytes("ping");
  gap[6] = 'x';  // non-NUL after the padding started
  EXPECT_EQ(bad(gap), DecodeError::kBadCommand);
  EXPECT_EQ(bad(command_bytes("pi ng")), DecodeError::kBadCommand);  // space
  EXPECT_EQ(bad(command_bytes("ping\x7f")), DecodeError::kBadCommand);
  EXPECT_EQ(bad(command_bytes("ping\x01")), DecodeError::kBadCommand);
  auto high = command_bytes("ping");
  high[1] = 0xe9;
  EXPECT_EQ(bad(high), DecodeError::kBadCommand);
  EXPECT_EQ(bad(command_bytes("PING")), DecodeError::kUnknownCommand);
  EXPECT_EQ(bad(command_bytes("mempool")), DecodeError::kUnknownCommand);
  EXPECT_EQ(bad(command_bytes("abcdefghijkl")), DecodeError::kUnknownCommand);  // no NUL
  EXPECT_EQ(bad(command_bytes("pingx")), DecodeError::kUnknownCommand);
}

TEST(Messages, EveryMessageRoundTripsByteForByte) {
  for (const Message& m : sample_messages()) {
    MsgType t = type_of(m);
    auto bytes = payload_of(m);
    ASSERT_LE(bytes.size(), max_payload(t)) << command_name(t);
    auto dec = decode_payload(t, std::vector<uint8_t>(bytes));
    ASSERT_TRUE(dec) << command_name(t) << ": " << to_string(dec.error());
    EXPECT_EQ(type_of(*dec), t);
    EXPECT_EQ(payload_of(*dec), bytes) << command_name(t);
  }
}

TEST(Messages, DecodedFieldsEqualTheOriginal) {
  auto msgs = sample_messages();
  auto back = [&](MsgType t) {
    auto dec = decode_payload(t, payload_of(msgs[static_cast<size_t>(t)]));
    HEARSAY_CHECK(dec.ok());
    return std::move(dec.value());
  };
  // Field-wise equality for the types that define it (those holding shared items do not).
  auto same = [&](MsgType t) {
    Message got = back(t);
    const Message& want = msgs[static_cast<size_t>(t)];
    if (got.index() != want.index()) return false;
    return std::visit(
        [&](const auto& x) -> bool {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::equality_comparable<T>)
            return x == std::get<T>(want);
          else
            return false;
        },
        got);
  };
  for (MsgType t :
       {MsgType::kVersion, MsgType::kVerack,    MsgType::kPing,        MsgType::kPong,
        MsgType::kInv,     MsgType::kGetData,   MsgType::kNotFound,    MsgType::kGetHeaders,
        MsgType::kHeaders, MsgType::kSendCmpct, MsgType::kGetBlockTxn, MsgType::kAddr,
        MsgType::kGetAddr, MsgType::kFeeFilter, MsgType::kSendHeaders, MsgType::kSendShortIds,
        MsgType::kTxInv,   MsgType::kGetTx,     MsgType::kTxNotFound,  MsgType::kPrune,
        MsgType::kGraft,   MsgType::kReqRecon,  MsgType::kReconDiff})
    EXPECT_TRUE(same(t)) << command_name(t);
  auto cmpct = std::get<CmpctBlockMsg>(back(MsgType::kCmpctBlock));
  const auto& orig = std::get<CmpctBlockMsg>(msgs[static_cast<size_t>(MsgType::kCmpctBlock)]);
  EXPECT_EQ(cmpct.header, orig.header);
  EXPECT_EQ(cmpct.nonce, orig.nonce);
  EXPECT_EQ(cmpct.short_ids, orig.short_ids);
  ASSERT_EQ(cmpct.prefilled.size(), 2u);
  EXPECT_EQ(cmpct.prefilled[0].index, 0u);
  EXPECT_EQ(cmpct.prefilled[1].index, 3u);
  EXPECT_EQ(cmpct.prefilled[1].tx->id(), orig.prefilled[1].tx->id());
  auto tx = std::get<TxMsg>(back(MsgType::kTx));
  EXPECT_TRUE(tx.tx->verify_signature());
  auto addr = std::get<AddrMsg>(back(MsgType::kAddr));
  for (const PeerRecord& p : addr.records)
    EXPECT_TRUE(p.verify_signature());
  auto tree = std::get<TreeTxMsg>(back(MsgType::kTreeTx));
  const auto& tree_orig = std::get<TreeTxMsg>(msgs[static_cast<size_t>(MsgType::kTreeTx)]);
  EXPECT_EQ(tree.origin, tree_orig.origin);
  EXPECT_EQ(tree.tx->id(), tree_orig.tx->id());
  EXPECT_TRUE(tree.tx->verify_signature());
}

TEST(Messages, EveryProperPrefixIsTruncated) {
  for (const Message& m : sample_messages()) {
    auto bytes = payload_of(m);
    for (size_t len = 0; len < bytes.size(); ++len)
      ASSERT_EQ(decode_error(type_of(m), {bytes.begin(), bytes.begin() + len}),
                DecodeError::kTruncated)
          << command_name(type_of(m)) << " prefix " << len;
  }
}

TEST(Messages, TrailingBytesAreRejected) {
  for (const Message& m : sample_messages()) {
    auto bytes = payload_of(m);
    bytes.push_back(0);
    if (bytes.size() > max_payload(type_of(m))) {
      EXPECT_EQ(decode_error(type_of(m), bytes), DecodeError::kOversizePayload);
      continue;
    }
    EXPECT_EQ(decode_error(type_of(m), bytes), DecodeError::kTrailingBytes)
        << command_name(type_of(m));
  }
}

TEST(Messages, PayloadOverTheCommandLimitIsOversize) {
  for (size_t i = 0; i < kMsgTypeCount; ++i) {
    MsgType t = static_cast<MsgType>(i);
    EXPECT_EQ(decode_error(t, std::vector<uint8_t>(max_payload(t) + 1)),
              DecodeError::kOversizePayload)
        << command_name(t);
  }
}

TEST(Messages, InvalidMessageTypeIsUnknownCommand) {
  EXPECT_EQ(decode_error(static_cast<MsgType>(kMsgTypeCount), {}), DecodeError::kUnknownCommand);
  EXPECT_EQ(decode_error(static_cast<MsgType>(255), {1, 2, 3}), DecodeError::kUnknownCommand);
}

// The three messages that are one list of short ids.
constexpr MsgType kShortIdLists[] = {MsgType::kTxInv, MsgType::kGetTx, MsgType::kTxNotFound};
// The two messages that are one list of tree origins.
constexpr MsgType kOriginLists[] = {MsgType::kPrune, MsgType::kGraft};
// The two set reconciliation messages: a part (round, bits, index), then their own fields up to
// a CompactSize count of 4-byte words.
constexpr MsgType kReconMessages[] = {MsgType::kReqRecon, MsgType::kReconDiff};
// Bytes before the count: the part, set_size, and recondiff's result.
size_t recon_count_offset(MsgType t) {
  return kReconHeaderSize + (t == MsgType::kReconDiff ? 1 : 0);
}

// Checks that `m` encodes to exactly `want` and decodes back to the same bytes; returns what it
// decoded. Decoding must succeed for a caller's std::get to mean anything (HEARSAY_CHECK:
// ASSERT_* cannot return a value).
Message layout_round_trip(const Message& m, const std::vector<uint8_t>& want) {
  MsgType t = type_of(m);
  auto p = payload_of(m);
  EXPECT_EQ(p, want) << command_name(t);
  auto dec = decode_payload(t, std::vector<uint8_t>(p));
  HEARSAY_CHECK(dec.ok());
  EXPECT_EQ(type_of(*dec), t);
  EXPECT_EQ(payload_of(*dec), p) << command_name(t);
  return std::move(dec.value());
}

// A list message's payload of two entries (`two`), for each of `types`: every cut is truncated,
// and `extras` bytes after the last entry are trailing.
void expect_list_refusals(std::span<const MsgType> types, const std::vector<uint8_t>& two,
                          std::initializer_list<size_t> extras) {
  for (MsgType t : types) {
    EXPECT_EQ(decode_error(t, two), DecodeError::kNone) << command_name(t);
    for (size_t len = 0; len < two.size(); ++len)
      EXPECT_EQ(decode_error(t, {two.begin(), two.begin() + len}), DecodeError::kTruncated)
          << command_name(t) << " prefix " << len;
    for (size_t extra : extras) {
      auto more = two;
      more.resize(two.size() + extra, 0x42);
      EXPECT_EQ(decode_error(t, more), DecodeError::kTrailingBytes)
          << command_name(t) << " + " << extra;
    }
  }
}

// A payload that is just a CompactSize count (after an optional fixed prefix).
std::vector<uint8_t> count_payload(size_t prefix, uint64_t count) {
  std::vector<uint8_t> p(prefix, 0);
  Writer(p).compact_size(count);
  return p;
}

TEST(Messages, CountsOverTheirLimitAreTooLarge) {
  for (MsgType t : {MsgType::kInv, MsgType::kGetData, MsgType::kNotFound})
    EXPECT_EQ(decode_error(t, count_payload(0, kMaxInvEntries + 1)), DecodeError::kTooLarge);
  for (MsgType t : kShortIdLists)
    EXPECT_EQ(decode_error(t, count_payload(0, kMaxShortIdEntries + 1)), DecodeError::kTooLarge);
  for (MsgType t : kOriginLists)
    EXPECT_EQ(decode_error(t, count_payload(0, kMaxTreeOriginEntries + 1)), DecodeError::kTooLarge);
  for (MsgType t : kReconMessages)
    EXPECT_EQ(decode_error(t, count_payload(recon_count_offset(t), kMaxReconCapacity + 1)),
              DecodeError::kTooLarge)
        << command_name(t);
  EXPECT_EQ(decode_error(MsgType::kGetHeaders, count_payload(0, kMaxLocatorHashes + 1)),
            DecodeError::kTooLarge);
  EXPECT_EQ(decode_error(MsgType::kHeaders, count_payload(0, kMaxHeadersResults + 1)),
            DecodeError::kTooLarge);
  EXPECT_EQ(decode_error(MsgType::kAddr, count_payload(0, kMaxAddrRecords + 1)),
            DecodeError::kTooLarge);
  EXPECT_EQ(decode_error(MsgType::kGetBlockTxn, count_payload(32, kMaxBlockTxs + 1)),
            DecodeError::kTooLarge);
  EXPECT_EQ(decode_error(MsgType::kBlockTxn, count_payload(32, kMaxBlockTxs + 1)),
            DecodeError::kTooLarge);
  EXPECT_EQ(decode_error(MsgType::kBlock, count_payload(kBlockHeaderSize, kMaxBlockTxs + 1)),
            DecodeError::kTooLarge);
  EXPECT_EQ(
      decode_error(MsgType::kCmpctBlock, count_payload(kBlockHeaderSize + 8, kMaxBlockTxs + 1)),
      DecodeError::kTooLarge);
  // Short ids and prefilled transactions share the block's transaction limit.
  auto both = count_payload(kBlockHeaderSize + 8, 0);
  Writer(both).compact_size(kMaxBlockTxs + 1);
  EXPECT_EQ(decode_error(MsgType::kCmpctBlock, both), DecodeError::kTooLarge);
  // User agent one byte over.
  VersionMsg v = std::get<VersionMsg>(sample_messages()[0]);
  v.user_agent.assign(kMaxUserAgent, 'a');
  EXPECT_EQ(decode_error(MsgType::kVersion, payload_of(v)), DecodeError::kNone);
  auto over = payload_of(v);
  // Rewrite the length (fd 00 01 → fd 01 01): the limit is checked before the bytes are read.
  // (With the 257th byte present the payload itself would be over the version limit.)
  size_t len_at = over.size() - kMaxUserAgent - 3;
  ASSERT_EQ(over[len_at], 0xfd);
  over[len_at + 1] = 0x01;
  EXPECT_EQ(decode_error(MsgType::kVersion, over), DecodeError::kTooLarge);
  over.push_back('a');
  EXPECT_EQ(decode_error(MsgType::kVersion, over), DecodeError::kOversizePayload);
}

TEST(Messages, CountsPromisingMoreThanTheBytesHoldAreTruncated) {
  for (MsgType t : {MsgType::kInv, MsgType::kGetData, MsgType::kNotFound})
    EXPECT_EQ(decode_error(t, count_payload(0, kMaxInvEntries)), DecodeError::kTruncated);
  for (MsgType t : kShortIdLists)
    EXPECT_EQ(decode_error(t, count_payload(0, kMaxShortIdEntries)), DecodeError::kTruncated);
  for (MsgType t : kOriginLists)
    EXPECT_EQ(decode_error(t, count_payload(0, kMaxTreeOriginEntries)), DecodeError::kTruncated);
  for (MsgType t : kReconMessages)
    EXPECT_EQ(decode_error(t, count_payload(recon_count_offset(t), kMaxReconCapacity)),
              DecodeError::kTruncated)
        << command_name(t);
  EXPECT_EQ(decode_error(MsgType::kGetHeaders, count_payload(0, kMaxLocatorHashes)),
            DecodeError::kTruncated);
  EXPECT_EQ(decode_error(MsgType::kHeaders, count_payload(0, kMaxHeadersResults)),
            DecodeError::kTruncated);
  EXPECT_EQ(decode_error(MsgType::kAddr, count_payload(0, kMaxAddrRecords)),
            DecodeError::kTruncated);
  EXPECT_EQ(decode_error(MsgType::kGetBlockTxn, count_payload(32, kMaxBlockTxs)),
            DecodeError::kTruncated);
  EXPECT_EQ(decode_error(MsgType::kBlockTxn, count_payload(32, kMaxBlockTxs)),
            DecodeError::kTruncated);
  EXPECT_EQ(decode_error(MsgType::kCmpctBlock, count_payload(kBlockHeaderSize + 8, 1000)),
            DecodeError::kTruncated);
}

TEST(Messages, NonCanonicalCountsAreRejected) {
  struct Case {
    MsgType type;
    size_t prefix;
  };
  const Case cases[] = {
      {MsgType::kInv, 0},
      {MsgType::kGetData, 0},
      {MsgType::kNotFound, 0},
      {MsgType::kGetHeaders, 0},
      {MsgType::kHeaders, 0},
      {MsgType::kAddr, 0},
      {MsgType::kGetBlockTxn, 32},
      {MsgType::kBlockTxn, 32},
      {MsgType::kBlock, kBlockHeaderSize},
      {MsgType::kCmpctBlock, kBlockHeaderSize + 8},
      {MsgType::kTxInv, 0},
      {MsgType::kGetTx, 0},
      {MsgType::kTxNotFound, 0},
      {MsgType::kPrune, 0},
      {MsgType::kGraft, 0},
      {MsgType::kReqRecon, recon_count_offset(MsgType::kReqRecon)},
      {MsgType::kReconDiff, recon_count_offset(MsgType::kReconDiff)},
  };
  for (const Case& c : cases) {
    std::vector<uint8_t> p(c.prefix, 0);
    Writer(p).u8(0xfd).u16(0);  // zero as a 3-byte CompactSize
    p.resize(p.size() + 64, 0);
    EXPECT_EQ(decode_error(c.type, p), DecodeError::kNonCanonical) << command_name(c.type);
  }
  // Inside a version message: the user agent's length.
  VersionMsg v = std::get<VersionMsg>(sample_messages()[0]);
  v.user_agent = "ab";
  auto p = payload_of(v);
  size_t len_at = p.size() - 3;
  ASSERT_EQ(p[len_at], 2);
  p[len_at] = 0xfd;
  p.insert(p.begin() + len_at + 1, {0x02, 0x00});
  EXPECT_EQ(decode_error(MsgType::kVersion, p), DecodeError::kNonCanonical);
}

TEST(Messages, InvTypeMustBeKnown) {
  for (uint32_t type : {0u, 3u, 5u, 0x40000001u}) {
    std::vector<uint8_t> p;
    Writer(p)
        .compact_size(2)
        .u32(1)
        .bytes(test::sample_hash(1))
        .u32(type)
        .bytes(test::sample_hash(2));
    for (MsgType t : {MsgType::kInv, MsgType::kGetData, MsgType::kNotFound})
      EXPECT_EQ(decode_error(t, p), DecodeError::kBadValue) << type;
  }
}

TEST(Messages, SendCmpctFlagIsZeroOrOne) {
  for (uint8_t flag : {0, 1, 2, 0xff}) {
    std::vector<uint8_t> p;
    Writer(p).u8(flag).u64(1);
    EXPECT_EQ(decode_error(MsgType::kSendCmpct, p),
              flag <= 1 ? DecodeError::kNone : DecodeError::kBadValue)
        << int(flag);
  }
}

TEST(Messages, UserAgentMustBePrintableAscii) {
  VersionMsg v = std::get<VersionMsg>(sample_messages()[0]);
  v.user_agent = "";
  EXPECT_EQ(decode_error(MsgType::kVersion, payload_of(v)), DecodeError::kNone);
  for (std::string ua : {std::string("a\nb"), std::string("\x7f"), std::string("tab\t"),
                         std::string("nul\0x", 5), std::string("caf\xc3\xa9")}) {
    v.user_agent = ua;
    EXPECT_EQ(decode_error(MsgType::kVersion, payload_of(v)), DecodeError::kBadValue) << ua;
  }
}

TEST(Messages, CompactBlockIndexOverflow) {
  auto base = [] {
    std::vector<uint8_t> p;
    test::sample_block_header(1).encode(p);
    Writer(p).u64(7);
    return p;
  };
  TxRef tx = test::make_tx(1, 1);
  // One prefilled transaction whose index is kMaxBlockTxs: over the limit.
  auto p = base();
  Writer(p).compact_size(0).compact_size(1).compact_size(kMaxBlockTxs).bytes(tx->encoding());
  EXPECT_EQ(decode_error(MsgType::kCmpctBlock, p), DecodeError::kTooLarge);
  // Two differences that each pass the limit but sum past it.
  p = base();
  Writer(p).compact_size(0).compact_size(2);
  Writer(p).compact_size(30000).bytes(tx->encoding()).compact_size(30000).bytes(tx->encoding());
  EXPECT_EQ(decode_error(MsgType::kCmpctBlock, p), DecodeError::kTooLarge);
  // An index past the block's last transaction (1 short id + 1 prefilled = 2 transactions).
  p = base();
  Writer(p).compact_size(1).u32(0).u16(0).compact_size(1).compact_size(2).bytes(tx->encoding());
  EXPECT_EQ(decode_error(MsgType::kCmpctBlock, p), DecodeError::kBadValue);
  p = base();
  Writer(p).compact_size(1).u32(0).u16(0).compact_size(1).compact_size(1).bytes(tx->encoding());
  EXPECT_EQ(decode_error(MsgType::kCmpctBlock, p), DecodeError::kNone);
}

TEST(Messages, GetBlockTxnIndexOverflow) {
  auto with = [](std::initializer_list<uint64_t> diffs) {
    std::vector<uint8_t> p(32, 0);
    Writer(p).compact_size(diffs.size());
    for (uint64_t d : diffs)
      Writer(p).compact_size(d);
    return decode_error(MsgType::kGetBlockTxn, p);
  };
  EXPECT_EQ(with({kMaxBlockTxs - 1}), DecodeError::kNone);
  EXPECT_EQ(with({kMaxBlockTxs}), DecodeError::kTooLarge);
  EXPECT_EQ(with({30000, 30000}), DecodeError::kTooLarge);
  EXPECT_EQ(with({0, kMaxBlockTxs - 2}), DecodeError::kNone);
  EXPECT_EQ(with({0, kMaxBlockTxs - 1}), DecodeError::kTooLarge);
}

TEST(Messages, IndexesAreDifferentiallyEncoded) {
  GetBlockTxnMsg m{test::sample_hash(1), {0, 1, 5, 300}};
  auto p = payload_of(m);
  std::vector<uint8_t> want(m.block_id.begin(), m.block_id.end());
  Writer(want).compact_size(4).compact_size(0).compact_size(0).compact_size(3).compact_size(294);
  EXPECT_EQ(p, want);
}

TEST(Messages, ShortIdsAreBip152Style) {
  BlockHeader h = test::sample_block_header(5);
  uint64_t nonce = 0x0102030405060708ULL;
  std::vector<uint8_t> buf;
  h.encode(buf);
  Writer(buf).u64(nonce);
  Hash256 digest = sha256(buf);
  SipKey key = short_id_key(h, nonce);
  EXPECT_TRUE(std::equal(key.begin(), key.end(), digest.begin()));
  TxId id = test::sample_hash(9);
  uint64_t sid = short_id(key, id);
  EXPECT_EQ(sid, siphash24(key, id) & 0xffffffffffffULL);
  EXPECT_LT(sid, uint64_t{1} << 48);
  EXPECT_NE(short_id_key(h, nonce + 1), key);
}

TEST(Messages, ShortIdsAreSixBytesLittleEndian) {
  CmpctBlockMsg m;
  m.header = test::sample_block_header(1);
  m.nonce = 1;
  m.short_ids = {0x0000a1a2a3a4a5a6ULL};
  auto p = payload_of(m);
  ASSERT_EQ(p.size(), kBlockHeaderSize + 8 + 1 + 6 + 1);
  std::vector<uint8_t> sid(p.begin() + kBlockHeaderSize + 9, p.begin() + kBlockHeaderSize + 15);
  EXPECT_EQ(sid, (std::vector<uint8_t>{0xa6, 0xa5, 0xa4, 0xa3, 0xa2, 0xa1}));
}

// --- short transaction ids: sendshortids, txinv, gettx, txnotfound ------------------------

std::vector<uint8_t> hex_bytes(std::string_view hex) {
  auto b = from_hex(hex);
  HEARSAY_CHECK(b.has_value());
  return *b;
}

TEST(Messages, SendShortIdsLayout) {
  SendShortIdsMsg m{kShortIdsVersion, 0xfedcba9876543210ULL, 0x8877665544332211ULL};
  auto p = payload_of(m);
  EXPECT_EQ(p, hex_bytes("01"
                         "1032547698badcfe"
                         "1122334455667788"));
  ASSERT_EQ(p.size(), kSendShortIdsPayload);
  auto dec = decode_payload(MsgType::kSendShortIds, std::vector<uint8_t>(p));
  ASSERT_TRUE(dec);
  EXPECT_EQ(std::get<SendShortIdsMsg>(*dec), m);
}

TEST(Messages, SendShortIdsIsExactlySeventeenBytes) {
  auto p = payload_of(SendShortIdsMsg{kShortIdsVersion, 1, 2});
  for (size_t len = 0; len < p.size(); ++len)
    EXPECT_EQ(decode_error(MsgType::kSendShortIds, {p.begin(), p.begin() + len}),
              DecodeError::kTruncated)
        << len;
  p.push_back(0);  // 18 bytes: over the command's limit, refused before decoding
  EXPECT_EQ(decode_error(MsgType::kSendShortIds, p), DecodeError::kOversizePayload);
}

TEST(Messages, SendShortIdsOfAnyVersionDecodes) {
  // Another version is a relay matter (the link stays in full-id mode), not a malformed
  // message: a future version must not get its sender disconnected.
  for (uint8_t version : {0, 1, 2, 0xff}) {
    auto dec = decode_payload(MsgType::kSendShortIds, payload_of(SendShortIdsMsg{version, 3, 4}));
    ASSERT_TRUE(dec) << int(version);
    EXPECT_EQ(std::get<SendShortIdsMsg>(*dec), (SendShortIdsMsg{version, 3, 4}));
  }
}

TEST(Messages, ShortIdListsLayoutAndRoundTrip) {
  const std::vector<uint64_t> ids = {0x0000a1a2a3a4a5a6ULL, 0xffffffffffffULL, 0,
                                     0x800000000001ULL};
  // Count, then per id the low 32 bits then the high 16, both little-endian; no entry type.
  const auto want = hex_bytes(
      "04"
      "a6a5a4a3a2a1"
      "ffffffffffff"
      "000000000000"
      "010000000080");
  EXPECT_EQ(std::get<TxInvMsg>(layout_round_trip(TxInvMsg{ids}, want)).ids, ids);
  EXPECT_EQ(std::get<GetTxMsg>(layout_round_trip(GetTxMsg{ids}, want)).ids, ids);
  EXPECT_EQ(std::get<TxNotFoundMsg>(layout_round_trip(TxNotFoundMsg{ids}, want)).ids, ids);
  for (MsgType t : kShortIdLists) {
    auto dec = decode_payload(t, {0x00});
    ASSERT_TRUE(dec) << command_name(t);
    EXPECT_EQ(payload_of(*dec), std::vector<uint8_t>{0x00});
  }
}

TEST(Messages, ShortIdListsRefuseMalformedPayloads) {
  auto two = payload_of(TxInvMsg{{0x0102030405ULL, 0xa0b0c0d0e0f0ULL}});
  ASSERT_EQ(two.size(), 1 + 2 * kShortIdSize);
  // Cuts inside an entry too; a partial third entry, and whole bytes after the last one.
  expect_list_refusals(kShortIdLists, two, {1, 5, 6, 7});
}

TEST(Messages, ShortIdListsAtTheirLimit) {
  for (MsgType t : kShortIdLists) {
    auto full = count_payload(0, kMaxShortIdEntries);
    full.resize(full.size() + kMaxShortIdEntries * kShortIdSize, 0x5a);
    EXPECT_LE(full.size(), max_payload(t));
    EXPECT_EQ(decode_error(t, full), DecodeError::kNone) << command_name(t);
    // One entry short of what the count promises.
    full.pop_back();
    EXPECT_EQ(decode_error(t, full), DecodeError::kTruncated) << command_name(t);
    // One entry too many cannot fit the command's limit; with as many bytes as the limit
    // allows after it, the count is what is refused.
    auto over = count_payload(0, kMaxShortIdEntries + 1);
    over.resize(max_payload(t), 0x5a);
    EXPECT_EQ(decode_error(t, over), DecodeError::kTooLarge) << command_name(t);
  }
}

// --- tree relay: treetx, prune, graft -------------------------------------------------------

std::vector<uint8_t> u32_le(uint32_t v) {
  std::vector<uint8_t> out;
  Writer(out).u32(v);
  return out;
}

// The payload of a treetx: the transaction's encoding, then the origin.
std::vector<uint8_t> tree_payload(const TxRef& tx, uint32_t origin) {
  std::vector<uint8_t> p(tx->encoding().begin(), tx->encoding().end());
  Writer(p).u32(origin);
  return p;
}

TEST(Messages, TreeTxIsTheTransactionThenItsOrigin) {
  TxRef tx = test::make_tx(3, 7, 1500, 60);
  for (uint32_t origin : {0u, 1u, 0x01020304u, 0x89abcdefu, 0xffffffffu}) {
    auto p = payload_of(TreeTxMsg{tx, origin});
    ASSERT_EQ(p.size(), tx->size() + kTreeOriginSize);
    EXPECT_TRUE(std::ranges::equal(std::span(p).first(tx->size()), tx->encoding()));
    // The trailer is the origin as a u32, little-endian.
    EXPECT_EQ(std::vector<uint8_t>(p.end() - kTreeOriginSize, p.end()), u32_le(origin));
    EXPECT_EQ(p, tree_payload(tx, origin));
    auto dec = decode_payload(MsgType::kTreeTx, std::vector<uint8_t>(p));
    ASSERT_TRUE(dec) << origin << ": " << to_string(dec.error());
    const auto& m = std::get<TreeTxMsg>(*dec);
    EXPECT_EQ(m.origin, origin);
    EXPECT_EQ(m.tx->id(), tx->id());
    EXPECT_TRUE(std::ranges::equal(m.tx->encoding(), tx->encoding()));
    EXPECT_TRUE(m.tx->verify_signature());
    EXPECT_EQ(payload_of(*dec), p);
  }
  EXPECT_EQ(to_hex(u32_le(0x89abcdefu)), "efcdab89");
}

TEST(Messages, TreeTxRefusesMalformedPayloads) {
  TxRef tx = test::make_tx(4, 1, 1000, 300);  // a 3-byte payload length: fd 2c 01
  const auto good = tree_payload(tx, 0x0a0b0c0d);
  ASSERT_EQ(decode_error(MsgType::kTreeTx, good), DecodeError::kNone);
  // Every cut is truncated: shorter than the origin alone, no transaction at all (exactly
  // the origin's 4 bytes), or a transaction that ends early.
  for (size_t len = 0; len < good.size(); ++len)
    ASSERT_EQ(decode_error(MsgType::kTreeTx, {good.begin(), good.begin() + len}),
              DecodeError::kTruncated)
        << "prefix " << len;
  for (std::vector<uint8_t> tiny :
       {std::vector<uint8_t>{}, {0x01}, {0x01, 0x02, 0x03}, {0x01, 0x02, 0x03, 0x04}})
    EXPECT_EQ(decode_error(MsgType::kTreeTx, tiny), DecodeError::kTruncated) << tiny.size();
  // A transaction without the origin: its last 4 bytes are taken for the origin, and the rest
  // is a transaction cut short. (A `tx` payload is no treetx.)
  EXPECT_EQ(decode_error(MsgType::kTreeTx, {tx->encoding().begin(), tx->encoding().end()}),
            DecodeError::kTruncated);
  // ... and a treetx payload is no `tx`: the origin is bytes after the transaction.
  EXPECT_EQ(decode_error(MsgType::kTx, good), DecodeError::kTrailingBytes);
  // Bytes between the transaction and the origin, or after the origin: the transaction part
  // has trailing bytes.
  for (size_t extra : {1, 3, 4, 5}) {
    auto between = good;
    between.insert(between.end() - kTreeOriginSize, extra, 0x42);
    EXPECT_EQ(decode_error(MsgType::kTreeTx, between), DecodeError::kTrailingBytes)
        << "+ " << extra << " before the origin";
    auto after = good;
    after.resize(good.size() + extra, 0x42);
    EXPECT_EQ(decode_error(MsgType::kTreeTx, after), DecodeError::kTrailingBytes)
        << "+ " << extra << " after the origin";
  }
  // A malformed transaction part is refused as a `tx` with it would be.
  auto non_canonical = good;  // payload length 300 as a 5-byte CompactSize
  ASSERT_EQ(non_canonical[kTxFixedPrefix], 0xfd);
  non_canonical[kTxFixedPrefix] = 0xfe;
  non_canonical.insert(non_canonical.begin() + kTxFixedPrefix + 3, {0x00, 0x00});
  EXPECT_EQ(decode_error(MsgType::kTreeTx, non_canonical), DecodeError::kNonCanonical);
  EXPECT_EQ(decode_error(MsgType::kTx, std::vector<uint8_t>(non_canonical.begin(),
                                                            non_canonical.end() - kTreeOriginSize)),
            DecodeError::kNonCanonical);
  auto too_long = good;  // payload length kMaxTxPayload + 1
  too_long[kTxFixedPrefix] = 0xfe;
  too_long.insert(too_long.begin() + kTxFixedPrefix + 3, {0x00, 0x00});
  too_long[kTxFixedPrefix + 1] = static_cast<uint8_t>(kMaxTxPayload + 1);
  too_long[kTxFixedPrefix + 2] = static_cast<uint8_t>((kMaxTxPayload + 1) >> 8);
  too_long[kTxFixedPrefix + 3] = static_cast<uint8_t>((kMaxTxPayload + 1) >> 16);
  EXPECT_EQ(decode_error(MsgType::kTreeTx, too_long), DecodeError::kTooLarge);
}

TEST(Messages, TreeTxAtItsLimit) {
  // The largest transaction with its origin fits the command's limit.
  TxRef big = test::make_tx(5, 1, 1000, kMaxTxPayload);
  ASSERT_EQ(big->size(), kMaxTxSize);
  auto p = payload_of(TreeTxMsg{big, 0xfeedface});
  EXPECT_LE(p.size(), max_payload(MsgType::kTreeTx));
  auto dec = decode_payload(MsgType::kTreeTx, std::move(p));
  ASSERT_TRUE(dec) << to_string(dec.error());
  EXPECT_EQ(std::get<TreeTxMsg>(*dec).tx->id(), big->id());
  EXPECT_EQ(std::get<TreeTxMsg>(*dec).origin, 0xfeedfaceu);
  // The limit is a tx message's plus the origin.
  EXPECT_EQ(max_payload(MsgType::kTreeTx), max_payload(MsgType::kTx) + kTreeOriginSize);
}

TEST(Messages, OriginListsLayoutAndRoundTrip) {
  const std::vector<uint32_t> origins = {0x01020304u, 0xffffffffu, 0, 0x80000001u};
  // Count, then each origin as a u32, little-endian.
  const auto want = hex_bytes(
      "04"
      "04030201"
      "ffffffff"
      "00000000"
      "01000080");
  EXPECT_EQ(std::get<PruneMsg>(layout_round_trip(PruneMsg{origins}, want)).origins, origins);
  EXPECT_EQ(std::get<GraftMsg>(layout_round_trip(GraftMsg{origins}, want)).origins, origins);
  for (MsgType t : kOriginLists) {
    auto dec = decode_payload(t, {0x00});
    ASSERT_TRUE(dec) << command_name(t);
    EXPECT_EQ(payload_of(*dec), std::vector<uint8_t>{0x00});
  }
}

TEST(Messages, OriginListsRefuseMalformedPayloads) {
  auto two = payload_of(PruneMsg{{0x01020304u, 0xa0b0c0d0u}});
  ASSERT_EQ(two.size(), 1 + 2 * kTreeOriginSize);
  expect_list_refusals(kOriginLists, two, {1, 3, 4, 5});
}

TEST(Messages, OriginListsAtTheirLimit) {
  for (MsgType t : kOriginLists) {
    auto full = count_payload(0, kMaxTreeOriginEntries);
    full.resize(full.size() + kMaxTreeOriginEntries * kTreeOriginSize, 0x5a);
    EXPECT_EQ(full.size(), max_payload(t)) << command_name(t);
    EXPECT_EQ(decode_error(t, full), DecodeError::kNone) << command_name(t);
    // One byte short of what the count promises.
    full.pop_back();
    EXPECT_EQ(decode_error(t, full), DecodeError::kTruncated) << command_name(t);
    // 1,001 origins: the count is refused, whatever follows it...
    auto over = count_payload(0, kMaxTreeOriginEntries + 1);
    over.resize(max_payload(t), 0x5a);
    EXPECT_EQ(decode_error(t, over), DecodeError::kTooLarge) << command_name(t);
    // ... and with all 1,001 present the payload is over the command's limit.
    std::vector<uint32_t> many(kMaxTreeOriginEntries + 1, 7);
    auto whole = payload_of(PruneMsg{many});
    EXPECT_GT(whole.size(), max_payload(t));
    EXPECT_EQ(decode_error(t, whole), DecodeError::kOversizePayload) << command_name(t);
  }
}

// --- set reconciliation: reqrecon, recondiff -------------------------------------------------

// A raw reqrecon or recondiff payload, so that any field may be out of range: round 7, the part
// (bits, index), recondiff's `result`, set_size 9, then `count` as a CompactSize and `words`
// 4-byte words.
std::vector<uint8_t> recon_payload(MsgType t, uint8_t bits, uint32_t index, uint64_t count,
                                   size_t words, uint8_t result = 0) {
  std::vector<uint8_t> p;
  Writer w(p);
  w.u32(7).u8(bits).u32(index);
  if (t == MsgType::kReconDiff) w.u8(result);
  w.u32(9).compact_size(count);
  p.resize(p.size() + words * kReconElementSize, 0x5a);
  return p;
}

TEST(Messages, ReqReconLayoutAndRoundTrip) {
  // Round, bits, index, set_size, the capacity in words, then the sketch's bytes as they are.
  const ReqReconMsg m{0x01020304, 3, 5, 0x0a0b0c0d, hex_bytes("1122334455667788")};
  const auto want = hex_bytes(
      "04030201"
      "03"
      "05000000"
      "0d0c0b0a"
      "02"
      "1122334455667788");
  EXPECT_EQ(std::get<ReqReconMsg>(layout_round_trip(m, want)), m);
  // The finest part and the largest sketch fill the command's limit exactly.
  const ReqReconMsg big{0xffffffff, kMaxReconBits, 0xffff, 0xffffffff,
                        std::vector<uint8_t>(kMaxReconCapacity * kReconElementSize, 0xa5)};
  auto p = payload_of(big);
  EXPECT_EQ(p.size(), max_payload(MsgType::kReqRecon));
  auto dec = decode_payload(MsgType::kReqRecon, std::move(p));
  ASSERT_TRUE(dec) << to_string(dec.error());
  EXPECT_EQ(std::get<ReqReconMsg>(*dec), big);
}

TEST(Messages, ReconDiffLayoutAndRoundTrip) {
  // Round, bits, index, result, set_size, then the asked elements, each a u32 little-endian.
  const ReconDiffMsg decoded{
      0x01020304, 2, 3, ReconResult::kDecoded, 0x0a0b0c0d, {0xc0000001u, 0xdeadbeefu}};
  EXPECT_EQ(std::get<ReconDiffMsg>(layout_round_trip(decoded, hex_bytes("04030201"
                                                                        "02"
                                                                        "03000000"
                                                                        "00"
                                                                        "0d0c0b0a"
                                                                        "02"
                                                                        "010000c0"
                                                                        "efbeadde"))),
            decoded);
  const ReconDiffMsg failed{1, kMaxReconBits, 0x8000, ReconResult::kFailed, 0, {}};
  EXPECT_EQ(std::get<ReconDiffMsg>(layout_round_trip(failed, hex_bytes("01000000"
                                                                       "10"
                                                                       "00800000"
                                                                       "01"
                                                                       "00000000"
                                                                       "00"))),
            failed);
  const ReconDiffMsg refused{2, 0, 0, ReconResult::kRefused, 5, {}};
  EXPECT_EQ(std::get<ReconDiffMsg>(layout_round_trip(refused, hex_bytes("02000000"
                                                                        "00"
                                                                        "00000000"
                                                                        "02"
                                                                        "05000000"
                                                                        "00"))),
            refused);
  // The most elements one answer asks for fill the command's limit exactly.
  ReconDiffMsg full{3, 1, 0, ReconResult::kDecoded, 300, {}};
  for (uint32_t i = 0; i < kMaxReconCapacity; ++i)
    full.ask.push_back(i + 1);
  auto p = payload_of(full);
  EXPECT_EQ(p.size(), max_payload(MsgType::kReconDiff));
  auto dec = decode_payload(MsgType::kReconDiff, std::move(p));
  ASSERT_TRUE(dec) << to_string(dec.error());
  EXPECT_EQ(std::get<ReconDiffMsg>(*dec), full);
}

TEST(Messages, ReconPartMustExist) {
  struct Part {
    uint8_t bits;
    uint32_t index;
    bool exists;
  };
  const Part parts[] = {
      {0, 0, true},           {0, 1, false},       {1, 1, true},   {1, 2, false},
      {15, 0x7fff, true},     {15, 0x8000, false}, {16, 0, true},  {16, 0xffff, true},
      {16, 0x10000, false},   {17, 0, false},      {32, 0, false}, {0xff, 0, false},
      {2, 0xffffffff, false},
  };
  for (MsgType t : kReconMessages)
    for (const Part& part : parts) {
      auto p = recon_payload(t, part.bits, part.index, 1, 1);
      EXPECT_EQ(decode_error(t, p), part.exists ? DecodeError::kNone : DecodeError::kBadValue)
          << command_name(t) << " bits " << int(part.bits) << " index " << part.index;
      // The part is checked as soon as it is read: what follows does not matter.
      if (!part.exists) {
        EXPECT_EQ(decode_error(t, {p.begin(), p.begin() + 9}), DecodeError::kBadValue)
            << command_name(t) << " bits " << int(part.bits) << " index " << part.index;
      }
    }
}

TEST(Messages, ReqReconSketchIsOneTo256Words) {
  const MsgType t = MsgType::kReqRecon;
  EXPECT_EQ(decode_error(t, recon_payload(t, 0, 0, 0, 0)), DecodeError::kBadValue);
  EXPECT_EQ(decode_error(t, recon_payload(t, 0, 0, 0, 1)), DecodeError::kBadValue);
  EXPECT_EQ(decode_error(t, recon_payload(t, 0, 0, 1, 1)), DecodeError::kNone);
  EXPECT_EQ(decode_error(t, recon_payload(t, 0, 0, kMaxReconCapacity, kMaxReconCapacity)),
            DecodeError::kNone);
  // 257 words: the count is refused before its words are looked for; with them all the payload
  // is over the command's limit.
  EXPECT_EQ(decode_error(t, recon_payload(t, 0, 0, kMaxReconCapacity + 1, 0)),
            DecodeError::kTooLarge);
  EXPECT_EQ(decode_error(t, recon_payload(t, 0, 0, kMaxReconCapacity + 1, kMaxReconCapacity + 1)),
            DecodeError::kOversizePayload);
  // A sketch cut short, inside a word or by whole words, and bytes after its last word.
  const auto two = recon_payload(t, 0, 0, 2, 2);
  ASSERT_EQ(decode_error(t, two), DecodeError::kNone);
  for (size_t cut : {1, 3, 4, 8})
    EXPECT_EQ(decode_error(t, {two.begin(), two.end() - static_cast<ptrdiff_t>(cut)}),
              DecodeError::kTruncated)
        << "- " << cut;
  for (size_t extra : {1, 4}) {
    auto more = two;
    more.resize(two.size() + extra, 0x42);
    EXPECT_EQ(decode_error(t, more), DecodeError::kTrailingBytes) << "+ " << extra;
  }
}

TEST(Messages, ReconDiffResultAndAskList) {
  const MsgType t = MsgType::kReconDiff;
  for (uint8_t result : {0, 1, 2, 3, 0x80, 0xff})
    EXPECT_EQ(decode_error(t, recon_payload(t, 0, 0, 0, 0, result)),
              result <= kMaxReconResult ? DecodeError::kNone : DecodeError::kBadValue)
        << int(result);
  // Only a decoded answer lists elements.
  EXPECT_EQ(decode_error(t, recon_payload(t, 0, 0, 1, 1, 0)), DecodeError::kNone);
  for (uint8_t result : {1, 2}) {
    EXPECT_EQ(decode_error(t, recon_payload(t, 0, 0, 1, 1, result)), DecodeError::kBadValue)
        << int(result);
    EXPECT_EQ(decode_error(t, recon_payload(t, 0, 0, kMaxReconCapacity, kMaxReconCapacity, result)),
              DecodeError::kBadValue)
        << int(result);
  }
  EXPECT_EQ(decode_error(t, recon_payload(t, 0, 0, 1, 1, 3)), DecodeError::kBadValue);
  // 257 elements: refused by count, in any answer and whatever follows.
  for (uint8_t result : {0, 1, 2})
    EXPECT_EQ(decode_error(t, recon_payload(t, 0, 0, kMaxReconCapacity + 1, 0, result)),
              DecodeError::kTooLarge)
        << int(result);
  EXPECT_EQ(decode_error(t, recon_payload(t, 0, 0, kMaxReconCapacity + 1, kMaxReconCapacity)),
            DecodeError::kTooLarge);
  // An ask list cut short, inside an element or by a whole one, and bytes after its last.
  const auto two = recon_payload(t, 0, 0, 2, 2);
  ASSERT_EQ(decode_error(t, two), DecodeError::kNone);
  for (size_t cut : {1, 3, 4, 8})
    EXPECT_EQ(decode_error(t, {two.begin(), two.end() - static_cast<ptrdiff_t>(cut)}),
              DecodeError::kTruncated)
        << "- " << cut;
  for (size_t extra : {1, 4}) {
    auto more = two;
    more.resize(two.size() + extra, 0x42);
    EXPECT_EQ(decode_error(t, more), DecodeError::kTrailingBytes) << "+ " << extra;
  }
  // A failed answer with bytes after its empty list.
  EXPECT_EQ(decode_error(t, recon_payload(t, 0, 0, 0, 1, 1)), DecodeError::kTrailingBytes);
}

// TaggedHash(tag, data), computed here from its definition rather than with the code under test.
Hash256 tagged_hash(std::string_view tag, std::span<const uint8_t> data) {
  Hash256 t = sha256(as_bytes(tag));
  Sha256 s;
  s.update(t).update(t).update(data);
  return s.finish();
}

TEST(Messages, ShortIdKeysAreTaggedHashes) {
  const uint64_t small = 3, large = 0xff00000000000000ULL;
  std::vector<uint8_t> nonces;
  Writer(nonces).u64(small).u64(large);
  Hash256 link_hash = tagged_hash("hearsay/short-id-link", nonces);
  SipKey link = short_id_link_key(large, small);
  EXPECT_TRUE(std::equal(link.begin(), link.end(), link_hash.begin()));
  // Both ends of a link derive it, each passing its own nonce first.
  EXPECT_EQ(short_id_link_key(small, large), link);
  EXPECT_NE(short_id_link_key(small, large + 1), link);

  std::vector<uint8_t> salt;
  Writer(salt).u64(large);
  Hash256 bucket_hash = tagged_hash("hearsay/short-id-bucket", salt);
  SipKey bucket = short_id_bucket_key(large);
  EXPECT_TRUE(std::equal(bucket.begin(), bucket.end(), bucket_hash.begin()));
  EXPECT_NE(short_id_bucket_key(large + 1), bucket);
}

TEST(Messages, TxShortIdIsBucketPartOverLinkPart) {
  SipKey bucket = short_id_bucket_key(7);
  SipKey link1 = short_id_link_key(1, 2);
  SipKey link2 = short_id_link_key(1, 3);
  for (uint8_t b : {1, 2, 3, 200}) {
    TxId id = test::sample_hash(b);
    uint64_t sid = tx_short_id(bucket, link1, id);
    EXPECT_LT(sid, uint64_t{1} << 48);
    EXPECT_EQ(sid >> 32, siphash24(bucket, id) & 0xffff);
    EXPECT_EQ(sid & 0xffffffff, siphash24(link1, id) & 0xffffffff);
    EXPECT_EQ(sid >> 32, short_id_bucket(bucket, id));
    EXPECT_EQ(sid & 0xffffffff, short_id_link_part(link1, id));
    // The receiver's bucket part is the same on all its links; the link part is not.
    uint64_t other = tx_short_id(bucket, link2, id);
    EXPECT_EQ(other >> 32, sid >> 32);
    EXPECT_NE(other & 0xffffffff, sid & 0xffffffff);
    // Another receiver (bucket key) on the same link: same link part.
    EXPECT_EQ(tx_short_id(short_id_bucket_key(8), link1, id) & 0xffffffff, sid & 0xffffffff);
  }
}

TEST(Messages, PeerRecordSignature) {
  PeerRecord p = test::sample_peer_record(3);
  EXPECT_EQ(p.identity, test::test_key(3).public_key());
  EXPECT_TRUE(p.verify_signature());
  std::vector<uint8_t> unsigned_part(p.identity.begin(), p.identity.end());
  Writer(unsigned_part).bytes(p.address.ip).u16(p.address.port).u64(p.time);
  ASSERT_EQ(unsigned_part.size(), kPeerRecordSize - kTxSignatureSize);
  Hash256 tag = sha256(as_bytes("hearsay/peer-record"));
  Sha256 s;
  s.update(tag).update(tag).update(unsigned_part);
  EXPECT_EQ(p.sighash(), s.finish());
  PeerRecord moved = p;
  moved.address.port++;
  EXPECT_FALSE(moved.verify_signature());
  PeerRecord later = p;
  later.time++;
  EXPECT_FALSE(later.verify_signature());
}

TEST(Messages, TxPayloadIsTheTransactionEncoding) {
  TxRef tx = test::make_tx(2, 2);
  auto p = payload_of(TxMsg{tx});
  EXPECT_TRUE(std::ranges::equal(p, tx->encoding()));
  // Decoding hands the buffer over: the transaction keeps the very same bytes.
  auto dec = decode_payload(MsgType::kTx, std::move(p));
  ASSERT_TRUE(dec);
  EXPECT_EQ(std::get<TxMsg>(*dec).tx->id(), tx->id());
}

}  // namespace
}  // namespace hearsay
