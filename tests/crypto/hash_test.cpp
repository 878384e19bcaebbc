#include "crypto/hash.h"

#include <gtest/gtest.h>

#include <string>

#include "crypto/hex.h"
#include "testing/test_util.h"

namespace hearsay {
namespace {

std::string sha_hex(const std::string& s) {
  return to_hex(sha256(as_bytes(s)));
}

// FIPS 180-2 appendix B examples.
TEST(Sha256, Fips180KnownAnswers) {
  EXPECT_EQ(sha_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(sha_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, DoubleIsShaOfSha) {
  Hash256 once = sha256(as_bytes("hello"));
  EXPECT_EQ(sha256d(as_bytes("hello")), sha256(once));
  // Bitcoin's checksum of an empty payload is 5df6e0e2.
  Hash256 empty = sha256d({});
  EXPECT_EQ(to_hex(std::span(empty).first(4)), "5df6e0e2");
}

TEST(Sha256, IncrementalMatchesOneShot) {
  std::string data(1000, 'x');
  Sha256 h;
  h.update(as_bytes(data.substr(0, 10))).update(as_bytes(data.substr(10)));
  EXPECT_EQ(h.finish(), sha256(as_bytes(data)));
}

TEST(TaggedHash, DependsOnTag) {
  Hash256 a = TaggedHasher("a").update(as_bytes("x")).finish();
  Hash256 b = TaggedHasher("b").update(as_bytes("x")).finish();
  EXPECT_NE(a, b);
  Hash256 t = sha256(as_bytes("a"));
  Sha256 manual;
  manual.update(t).update(t).update(as_bytes("x"));
  EXPECT_EQ(a, manual.finish());
}

// Test vectors from the SipHash paper's reference implementation (vectors.h): key 00..0f,
// message 00..n-1.
TEST(SipHash, PaperVectors) {
  crypto_init();
  SipKey key;
  for (int i = 0; i < 16; ++i)
    key[i] = static_cast<uint8_t>(i);
  std::vector<uint8_t> msg;
  for (int i = 0; i < 64; ++i)
    msg.push_back(static_cast<uint8_t>(i));
  EXPECT_EQ(siphash24(key, std::span(msg).first(0)), 0x726fdb47dd0e0e31ULL);
  EXPECT_EQ(siphash24(key, std::span(msg).first(1)), 0x74f839c593dc67fdULL);
  EXPECT_EQ(siphash24(key, std::span(msg).first(15)), 0xa129ca6149be45e5ULL);
}

TEST(SipHash, KeyMatters) {
  crypto_init();
  SipKey k1{}, k2{};
  k2[0] = 1;
  Hash256 id = sha256(as_bytes("id"));
  EXPECT_NE(siphash24(k1, id), siphash24(k2, id));
  EXPECT_EQ(siphash24(k1, id), siphash24(k1, Bytes(id)));
}

}  // namespace
}  // namespace hearsay
