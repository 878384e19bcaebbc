// Serialization primitives: integers, CompactSize boundaries and canonical form, byte strings,
// and the Reader's failure modes (truncation, limits, trailing bytes, sticky first error).
#include "p2p/serialize.h"

#include <gtest/gtest.h>

#include <limits>
#include <set>
#include <string>

#include "testing/test_util.h"

namespace hearsay {
namespace {

using test::bytes_of;

std::vector<uint8_t> encode_cs(uint64_t v) {
  std::vector<uint8_t> out;
  Writer(out).compact_size(v);
  return out;
}

// Decodes a single CompactSize that must fill `data` exactly.
Result<uint64_t, DecodeError> decode_cs(std::span<const uint8_t> data,
                                        uint64_t max = std::numeric_limits<uint64_t>::max()) {
  Reader r(data);
  uint64_t v = 0;
  if (!r.compact_size(v, max) || !r.expect_end()) return fail(r.error());
  return v;
}

TEST(Serialize, IntegersAreLittleEndianAndRoundTrip) {
  std::vector<uint8_t> out;
  Writer(out).u8(0xab).u16(0x0102).u32(0x03040506).u64(0x0708090a0b0c0d0eULL).i64(-2);
  EXPECT_EQ(out, bytes_of("ab"
                          "0201"
                          "06050403"
                          "0e0d0c0b0a090807"
                          "feffffffffffffff"));
  Reader r(out);
  uint8_t a;
  uint16_t b;
  uint32_t c;
  uint64_t d;
  int64_t e;
  ASSERT_TRUE(r.u8(a) && r.u16(b) && r.u32(c) && r.u64(d) && r.i64(e));
  EXPECT_TRUE(r.expect_end());
  EXPECT_EQ(a, 0xab);
  EXPECT_EQ(b, 0x0102);
  EXPECT_EQ(c, 0x03040506u);
  EXPECT_EQ(d, 0x0708090a0b0c0d0eULL);
  EXPECT_EQ(e, -2);
}

TEST(Serialize, IntegerExtremesRoundTrip) {
  std::vector<uint8_t> out;
  Writer(out)
      .u16(0xffff)
      .u32(0xffffffff)
      .u64(std::numeric_limits<uint64_t>::max())
      .i64(std::numeric_limits<int64_t>::min())
      .i64(std::numeric_limits<int64_t>::max());
  Reader r(out);
  uint16_t b;
  uint32_t c;
  uint64_t d;
  int64_t e1, e2;
  ASSERT_TRUE(r.u16(b) && r.u32(c) && r.u64(d) && r.i64(e1) && r.i64(e2) && r.expect_end());
  EXPECT_EQ(b, 0xffff);
  EXPECT_EQ(c, 0xffffffffu);
  EXPECT_EQ(d, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(e1, std::numeric_limits<int64_t>::min());
  EXPECT_EQ(e2, std::numeric_limits<int64_t>::max());
}

TEST(Serialize, EveryIntegerWidthTruncatesAtEveryOffset) {
  for (size_t width : {1, 2, 4, 8}) {
    std::vector<uint8_t> data(width, 0x5a);
    for (size_t len = 0; len < width; ++len) {
      Reader r(std::span<const uint8_t>(data).first(len));
      bool ok = true;
      uint8_t a;
      uint16_t b;
      uint32_t c;
      uint64_t d;
      switch (width) {
        case 1:
          ok = r.u8(a);
          break;
        case 2:
          ok = r.u16(b);
          break;
        case 4:
          ok = r.u32(c);
          break;
        case 8:
          ok = r.u64(d);
          break;
      }
      EXPECT_FALSE(ok) << width << "/" << len;
      EXPECT_EQ(r.error(), DecodeError::kTruncated) << width << "/" << len;
      EXPECT_EQ(r.position(), 0u);
    }
  }
}

struct CsCase {
  uint64_t value;
  const char* hex;
};

TEST(Serialize, CompactSizeBoundariesRoundTrip) {
  const CsCase cases[] = {
      {0, "00"},
      {1, "01"},
      {0xfc, "fc"},
      {0xfd, "fdfd00"},
      {0xfe, "fdfe00"},
      {0xff, "fdff00"},
      {0xffff, "fdffff"},
      {0x10000, "fe00000100"},
      {0xffffffff, "feffffffff"},
      {0x100000000ULL, "ff0000000001000000"},
      {std::numeric_limits<uint64_t>::max(), "ffffffffffffffffff"},
  };
  for (const CsCase& c : cases) {
    auto enc = encode_cs(c.value);
    EXPECT_EQ(enc, bytes_of(c.hex)) << c.value;
    EXPECT_EQ(enc.size(), compact_size_len(c.value)) << c.value;
    auto dec = decode_cs(enc);
    ASSERT_TRUE(dec) << c.value << ": " << to_string(dec.error());
    EXPECT_EQ(*dec, c.value);
  }
}

TEST(Serialize, NonMinimalCompactSizeIsNonCanonical) {
  const char* bad[] = {
      "fd0000",              // 0 in 3 bytes
      "fdfc00",              // 0xfc in 3 bytes (largest value that fits 1 byte)
      "fe00000000",          // 0 in 5 bytes
      "fefc000000",          // 0xfc in 5 bytes
      "fefd000000",          // 0xfd in 5 bytes
      "feffff0000",          // 0xffff in 5 bytes
      "ff0000000000000000",  // 0 in 9 bytes
      "fffc00000000000000",  // 0xfc in 9 bytes
      "ffffff000000000000",  // 0xffff in 9 bytes
      "ff0000010000000000",  // 0x10000 in 9 bytes
      "ffffffffff00000000",  // 0xffffffff in 9 bytes
  };
  for (const char* hex : bad) {
    auto data = bytes_of(hex);
    auto dec = decode_cs(data);
    ASSERT_FALSE(dec) << hex;
    EXPECT_EQ(dec.error(), DecodeError::kNonCanonical) << hex;
  }
}

TEST(Serialize, CompactSizeTruncatedAtEveryOffset) {
  for (uint64_t v : {uint64_t{0xfd}, uint64_t{0x10000}, uint64_t{0x100000000ULL}}) {
    auto enc = encode_cs(v);
    for (size_t len = 0; len < enc.size(); ++len) {
      auto dec = decode_cs(std::span<const uint8_t>(enc).first(len));
      ASSERT_FALSE(dec) << v << "/" << len;
      EXPECT_EQ(dec.error(), DecodeError::kTruncated) << v << "/" << len;
    }
  }
}

TEST(Serialize, CompactSizeOverLimitIsTooLarge) {
  EXPECT_TRUE(decode_cs(encode_cs(100), 100));
  auto dec = decode_cs(encode_cs(101), 100);
  ASSERT_FALSE(dec);
  EXPECT_EQ(dec.error(), DecodeError::kTooLarge);
  dec = decode_cs(encode_cs(0x100000000ULL), 0xffffffff);
  ASSERT_FALSE(dec);
  EXPECT_EQ(dec.error(), DecodeError::kTooLarge);
  // Canonical form is checked before the limit: a non-minimal encoding is non-canonical
  // whatever its value.
  auto non_minimal = bytes_of("fd0000");
  dec = decode_cs(non_minimal, 0);
  ASSERT_FALSE(dec);
  EXPECT_EQ(dec.error(), DecodeError::kNonCanonical);
}

TEST(Serialize, VarBytesRoundTripAndLimits) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{0xfc}, size_t{0xfd}, size_t{0x10000}}) {
    std::vector<uint8_t> payload(n);
    for (size_t i = 0; i < n; ++i)
      payload[i] = static_cast<uint8_t>(i);
    std::vector<uint8_t> out;
    Writer(out).var_bytes(payload);
    EXPECT_EQ(out.size(), compact_size_len(n) + n);
    Reader r(out);
    std::span<const uint8_t> view;
    ASSERT_TRUE(r.var_bytes(view, n));
    EXPECT_TRUE(r.expect_end());
    EXPECT_TRUE(std::equal(view.begin(), view.end(), payload.begin(), payload.end()));
    if (n > 0) {
      Reader small(out);
      EXPECT_FALSE(small.var_bytes(view, n - 1));
      EXPECT_EQ(small.error(), DecodeError::kTooLarge);
      // Every proper prefix is truncated.
      for (size_t len = 0; len < out.size(); len += 1 + len / 7) {
        Reader t(std::span<const uint8_t>(out).first(len));
        EXPECT_FALSE(t.var_bytes(view, n));
        EXPECT_EQ(t.error(), DecodeError::kTruncated) << n << "/" << len;
      }
    }
  }
}

TEST(Serialize, LengthCheckedBeforeAnyRead) {
  // A length that claims far more than the input holds fails on the limit, not later.
  auto data = bytes_of("feffffffff");
  Reader r(data);
  std::span<const uint8_t> view;
  EXPECT_FALSE(r.var_bytes(view, 1000));
  EXPECT_EQ(r.error(), DecodeError::kTooLarge);
  // Within the limit but longer than the input: truncated.
  auto data2 = bytes_of("0a0102");
  Reader r2(data2);
  EXPECT_FALSE(r2.var_bytes(view, 1000));
  EXPECT_EQ(r2.error(), DecodeError::kTruncated);
}

TEST(Serialize, TrailingBytesAreRejected) {
  auto data = bytes_of("0102030405");
  Reader r(data);
  uint32_t v;
  ASSERT_TRUE(r.u32(v));
  EXPECT_EQ(r.remaining(), 1u);
  EXPECT_FALSE(r.expect_end());
  EXPECT_EQ(r.error(), DecodeError::kTrailingBytes);
}

TEST(Serialize, FirstErrorIsSticky) {
  auto data = bytes_of(
      "fd0000"
      "0102");
  Reader r(data);
  uint64_t v;
  EXPECT_FALSE(r.compact_size(v, 1000));
  EXPECT_EQ(r.error(), DecodeError::kNonCanonical);
  uint8_t b;
  EXPECT_FALSE(r.u8(b));  // bytes remain, but the reader has failed
  EXPECT_FALSE(r.expect_end());
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_FALSE(r.set_error(DecodeError::kBadValue));
  EXPECT_EQ(r.error(), DecodeError::kNonCanonical);  // still the first cause
}

TEST(Serialize, ArrayAndBytesAreViewsIntoTheInput) {
  auto data = bytes_of("00112233445566");
  Reader r(data);
  std::array<uint8_t, 3> a;
  std::span<const uint8_t> s;
  ASSERT_TRUE(r.array(a));
  ASSERT_TRUE(r.bytes(4, s));
  EXPECT_EQ(a, (std::array<uint8_t, 3>{0x00, 0x11, 0x22}));
  EXPECT_EQ(s.data(), data.data() + 3);
  EXPECT_EQ(r.position(), 7u);
  EXPECT_FALSE(r.bytes(1, s));
  EXPECT_EQ(r.error(), DecodeError::kTruncated);
}

TEST(Serialize, EveryErrorHasItsOwnDescription) {
  std::set<std::string> seen;
  for (int e = 0; e <= static_cast<int>(DecodeError::kBadChecksum); ++e)
    EXPECT_TRUE(seen.insert(to_string(static_cast<DecodeError>(e))).second) << e;
}

}  // namespace
}  // namespace hearsay
