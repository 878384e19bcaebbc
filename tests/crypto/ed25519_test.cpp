#include "crypto/ed25519.h"

#include <gtest/gtest.h>

#include "crypto/hex.h"
#include "testing/test_util.h"

namespace hearsay {
namespace {

struct Rfc8032Vector {
  const char* secret;
  const char* public_key;
  const char* message;
  const char* signature;
};

// RFC 8032 §7.1, TEST 1 to TEST 3.
const Rfc8032Vector kVectors[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9"
     "b46bd25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f1"
     "1d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984d"
     "c6594a7c15e9716ed28dc027beceea1ec40a"},
};

TEST(Ed25519, Rfc8032KnownAnswers) {
  crypto_init();
  for (const auto& v : kVectors) {
    SCOPED_TRACE(v.public_key);
    auto seed = from_hex_array<32>(v.secret);
    ASSERT_TRUE(seed);
    KeyPair kp = KeyPair::from_seed(*seed);
    EXPECT_EQ(to_hex(kp.public_key()), v.public_key);
    auto msg = test::bytes_of(v.message);
    Signature sig = kp.sign(msg);
    EXPECT_EQ(to_hex(sig), v.signature);
    EXPECT_TRUE(verify(kp.public_key(), msg, sig));
  }
}

TEST(Ed25519, RejectsTamperedMessageSignatureAndKey) {
  KeyPair kp = test::test_key(1);
  std::vector<uint8_t> msg = {1, 2, 3};
  Signature sig = kp.sign(msg);
  ASSERT_TRUE(verify(kp.public_key(), msg, sig));
  auto bad_msg = msg;
  bad_msg[0] ^= 1;
  EXPECT_FALSE(verify(kp.public_key(), bad_msg, sig));
  auto bad_sig = sig;
  bad_sig[10] ^= 1;
  EXPECT_FALSE(verify(kp.public_key(), msg, bad_sig));
  EXPECT_FALSE(verify(test::test_key(2).public_key(), msg, sig));
}

TEST(Ed25519, RejectsNonCanonicalS) {
  // S + L (the group order) is the same point multiple but must be refused, or a signature
  // and hence a transaction id could be mangled.
  KeyPair kp = test::test_key(3);
  std::vector<uint8_t> msg = {9};
  Signature sig = kp.sign(msg);
  static const uint8_t kL[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                 0xa2, 0xde, 0xf9, 0xde, 0x14, 0,    0,    0,    0,    0,    0,
                                 0,    0,    0,    0,    0,    0,    0,    0,    0,    0x10};
  unsigned carry = 0;
  for (int i = 0; i < 32; ++i) {
    unsigned s = sig[32 + i] + kL[i] + carry;
    sig[32 + i] = static_cast<uint8_t>(s);
    carry = s >> 8;
  }
  EXPECT_FALSE(verify(kp.public_key(), msg, sig));
}

TEST(Ed25519, GeneratedKeysDiffer) {
  crypto_init();
  EXPECT_NE(KeyPair::generate().public_key(), KeyPair::generate().public_key());
}

}  // namespace
}  // namespace hearsay
