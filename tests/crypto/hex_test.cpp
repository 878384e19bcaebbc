#include "crypto/hex.h"

#include <gtest/gtest.h>

namespace hearsay {
namespace {

TEST(Hex, RoundTrip) {
  std::vector<uint8_t> v = {0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(to_hex(v), "0001abff");
  EXPECT_EQ(from_hex("0001abff"), v);
  EXPECT_EQ(from_hex("0001ABFF"), v);
  EXPECT_EQ(from_hex(""), std::vector<uint8_t>{});
}

TEST(Hex, RejectsOddLengthAndNonHex) {
  EXPECT_FALSE(from_hex("abc"));
  EXPECT_FALSE(from_hex("zz"));
  EXPECT_FALSE(from_hex("0x"));
  EXPECT_FALSE(from_hex(" 00"));
  EXPECT_FALSE(from_hex_array<2>("00"));
  EXPECT_TRUE(from_hex_array<2>("0000"));
}

}  // namespace
}  // namespace hearsay
