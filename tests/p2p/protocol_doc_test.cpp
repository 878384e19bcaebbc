// docs/protocol.md is normative: its hex examples must be exactly what the code produces.
// Each example is a line `<!-- example: NAME -->` followed by a ```hex fenced block; the hex
// may be split over lines and spaced freely (whitespace is ignored).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "crypto/hex.h"
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

TEST(ProtocolDoc, TxFrame) {
  TxFields f;
  f.network = kDevnetMagic;
  f.nonce = 0;
  f.fee = 1000;
  f.expiry = 0;
  f.payload = {0xde, 0xad, 0xbe, 0xef};
  TxRef tx = Transaction::create(f, test::test_key(1));
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

}  // namespace
}  // namespace hearsay
