// Network parameters: the devnet, validation, every network-file error, the round trip and
// `network new`.
#include "chainstub/params.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "crypto/hex.h"
#include "crypto/keyfile.h"
#include "mempool/policy.h"
#include "testing/test_util.h"

namespace hearsay {
namespace {

void write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

NetworkParams sample() {
  NetworkParams p;
  p.name = "mynet";
  p.magic = 0x1a2b3c4d;
  p.genesis_time = 1'763'769'600;
  p.producers = {test::test_key(1).public_key(), test::test_key(2).public_key()};
  return p;
}

// The JSON of `sample()` with `key` replaced by `value` (raw JSON), or removed when empty.
std::string with(const std::string& key, const std::string& value) {
  NetworkParams p = sample();
  std::string json = network_to_json(p);
  std::istringstream in(json);
  std::string line, out;
  while (std::getline(in, line)) {
    if (line.find("\"" + key + "\":") != std::string::npos) {
      if (key == "producers") {  // skip the array's lines
        while (line.find(']') == std::string::npos)
          std::getline(in, line);
      }
      if (!value.empty()) out += "  \"" + key + "\": " + value + ",\n";
      continue;
    }
    out += line + "\n";
  }
  // Remove a trailing comma before the closing brace, if the last key was edited.
  auto pos = out.rfind(",\n}");
  if (pos != std::string::npos) out.erase(pos, 1);
  return out;
}

class NetworkFileTest : public ::testing::Test {
 protected:
  // Loads `text` from a file; returns the error (empty when it loaded).
  std::string load_error(const std::string& text) {
    std::string path = dir.file("network.json");
    write(path, text);
    auto r = load_network_file(path);
    if (r.ok()) return "";
    EXPECT_NE(r.error().find(path), std::string::npos) << r.error();
    return r.error();
  }
  test::TempDir dir;
};

TEST(ParamsTest, DevnetIsEmbeddedAndValid) {
  const NetworkParams& d = devnet_params();
  EXPECT_EQ(d.name, "devnet");
  EXPECT_EQ(d.magic, kDevnetMagic);
  EXPECT_EQ(d.genesis_time, kDevnetGenesisTime);
  ASSERT_EQ(d.producers.size(), kDevnetProducers);
  for (size_t i = 0; i < kDevnetProducers; ++i) {
    EXPECT_EQ(d.producers[i], devnet_producer_key(i).public_key());
    EXPECT_TRUE(d.is_producer(devnet_producer_key(i).public_key()));
  }
  EXPECT_FALSE(d.is_producer(test::test_key(1).public_key()));
  EXPECT_EQ(d.block_interval_s, 10u);
  EXPECT_EQ(d.min_relay_fee_rate, kDefaultMinFeeRate);
  EXPECT_EQ(d.max_block_size, kDefaultMaxBlockSize);
  EXPECT_EQ(d.max_tx_size, kMaxTxSize);
  EXPECT_TRUE(d.validate().ok());
  // The producer seeds are public: SHA-256 of "hearsay devnet producer <i>".
  EXPECT_EQ(devnet_producer_key(2).seed(), sha256(as_bytes("hearsay devnet producer 2")));
  EXPECT_EQ(NetworkParams{}.max_tx_size, kMaxTxSize);
}

TEST(ParamsTest, GenesisFollowsFromTheFields) {
  NetworkParams p = sample();
  BlockHeader g = p.genesis();
  EXPECT_EQ(g.network, p.magic);
  EXPECT_EQ(g.height, 0u);
  EXPECT_EQ(g.time, p.genesis_time);
  EXPECT_EQ(g.prev, BlockId{});
  EXPECT_EQ(g.producer, PublicKey{});
  EXPECT_EQ(p.genesis_id(), g.id());
  NetworkParams q = p;
  q.genesis_time += 1;
  EXPECT_NE(q.genesis_id(), p.genesis_id());
}

TEST(ParamsTest, ValidateChecksEveryRule) {
  auto bad = [](auto edit, const std::string& key) {
    NetworkParams p = sample();
    edit(p);
    Status s = p.validate();
    EXPECT_FALSE(s.ok()) << key;
    EXPECT_NE(s.message().find("\"" + key + "\""), std::string::npos) << s.message();
  };
  EXPECT_TRUE(sample().validate().ok());
  bad([](NetworkParams& p) { p.name = ""; }, "name");
  bad([](NetworkParams& p) { p.name = std::string(33, 'a'); }, "name");
  bad([](NetworkParams& p) { p.name = "my net"; }, "name");
  bad([](NetworkParams& p) { p.magic = kDevnetMagic; }, "magic");
  bad([](NetworkParams& p) { p.name = "devnet"; }, "name");
  bad([](NetworkParams& p) { p.genesis_time = kMaxGenesisTime + 1; }, "genesis_time");
  bad([](NetworkParams& p) { p.producers.clear(); }, "producers");
  bad([](NetworkParams& p) { p.producers.push_back(p.producers[0]); }, "producers");
  bad([](NetworkParams& p) { p.producers.resize(kMaxProducers + 1); }, "producers");
  bad([](NetworkParams& p) { p.block_interval_s = 0; }, "block_interval_s");
  bad([](NetworkParams& p) { p.block_interval_s = kMaxBlockIntervalSeconds + 1; },
      "block_interval_s");
  bad([](NetworkParams& p) { p.min_relay_fee_rate = kMaxMinRelayFeeRate + 1; },
      "min_relay_fee_rate");
  bad([](NetworkParams& p) { p.max_block_size = kMinMaxBlockSize - 1; }, "max_block_size");
  bad([](NetworkParams& p) { p.max_block_size = kMaxBlockSize + 1; }, "max_block_size");
  bad([](NetworkParams& p) { p.max_tx_size = kMinTxSize - 1; }, "max_tx_size");
  bad([](NetworkParams& p) { p.max_tx_size = kMaxTxSize + 1; }, "max_tx_size");
  bad(
      [](NetworkParams& p) {
        p.max_block_size = kMinMaxBlockSize;
        p.max_tx_size = kMinMaxBlockSize + 1;
      },
      "max_tx_size");
}

TEST_F(NetworkFileTest, RoundTrip) {
  NetworkParams p = sample();
  p.block_interval_s = 7;
  p.min_relay_fee_rate = 0;
  p.max_block_size = 123'456;
  p.max_tx_size = 5'000;
  std::string path = dir.file("net.json");
  ASSERT_TRUE(save_network_file(path, p).ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  auto r = load_network_file(path);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->name, p.name);
  EXPECT_EQ(r->magic, p.magic);
  EXPECT_EQ(r->genesis_time, p.genesis_time);
  EXPECT_EQ(r->producers, p.producers);
  EXPECT_EQ(r->block_interval_s, 7u);
  EXPECT_EQ(r->min_relay_fee_rate, 0u);
  EXPECT_EQ(r->max_block_size, 123'456u);
  EXPECT_EQ(r->max_tx_size, 5'000u);
  EXPECT_EQ(r->genesis_id(), p.genesis_id());
  EXPECT_EQ(network_to_json(*r), network_to_json(p));
  // Keys in the documented order, genesis_id included.
  std::string j = network_to_json(p);
  EXPECT_LT(j.find("\"name\""), j.find("\"magic\""));
  EXPECT_LT(j.find("\"genesis_time\""), j.find("\"genesis_id\""));
  EXPECT_LT(j.find("\"genesis_id\""), j.find("\"producers\""));
  EXPECT_LT(j.find("\"max_block_size\""), j.find("\"max_tx_size\""));
  EXPECT_NE(j.find(to_hex(p.genesis_id())), std::string::npos);
}

TEST_F(NetworkFileTest, OptionalAndAlternativeForms) {
  EXPECT_EQ(load_error(with("genesis_id", "")), "");
  EXPECT_EQ(load_error(with("magic", "439041101")), "");  // 0x1a2b3c4d as a number
  EXPECT_EQ(load_error(with("magic", "\"0X1A2B3C4D\"")), "");
}

TEST_F(NetworkFileTest, MissingUnreadableTooLargeNotJson) {
  auto r = load_network_file(dir.file("absent.json"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find(dir.file("absent.json")), std::string::npos);
  EXPECT_NE(r.error().find("does not exist"), std::string::npos);

  r = load_network_file(dir.str());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("directory"), std::string::npos) << r.error();

  std::string path = dir.file("noread.json");
  write(path, network_to_json(sample()));
  std::filesystem::permissions(path, std::filesystem::perms::none);
  if (::access(path.c_str(), R_OK) != 0) {  // root reads anything
    r = load_network_file(path);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("cannot read"), std::string::npos) << r.error();
    EXPECT_NE(r.error().find(path), std::string::npos);
  }

  EXPECT_NE(load_error(std::string(kMaxNetworkFileSize + 1, ' ')).find("larger than"),
            std::string::npos);
  EXPECT_NE(load_error("{\"name\": ").find("not valid JSON"), std::string::npos);
  EXPECT_NE(load_error("[1, 2]").find("one JSON object"), std::string::npos);
}

TEST_F(NetworkFileTest, EveryKeyOutOfRangeNamesTheKeyAndTheRange) {
  struct Case {
    std::string key, value, want;
  };
  std::vector<Case> cases = {
      {"name", "\"\"", "1..32"},
      {"name", "\"bad name\"", "[A-Za-z0-9_-]"},
      {"name", "7", "string"},
      {"magic", "\"0x1234567890\"", "1..8 hex"},
      {"magic", "\"12\"", "1..8 hex"},
      {"magic", "\"0xzz\"", "1..8 hex"},
      {"magic", "4294967296", "0..4294967295"},
      {"magic", "-1", "negative"},
      {"magic", "\"0x68727364\"", "devnet"},
      {"genesis_time", "4102444801", "0..4102444800"},
      {"genesis_time", "1.5", "unsigned integer"},
      {"genesis_id", "\"00\"", "64 hex"},
      {"genesis_id", "\"" + std::string(64, '0') + "\"", "edited"},
      {"producers", "[]", "1..1000"},
      {"producers", "\"ab\"", "array"},
      {"producers", "[\"00\"]", "entry 0"},
      {"producers",
       "[\"" + to_hex(test::test_key(1).public_key()) + "\", \"" +
           to_hex(test::test_key(1).public_key()) + "\"]",
       "twice"},
      {"block_interval_s", "0", "1..86400"},
      {"block_interval_s", "86401", "1..86400"},
      {"min_relay_fee_rate", "1000000000001", "0..1000000000000"},
      {"max_block_size", "9999", "10000..4000000"},
      {"max_block_size", "4000001", "10000..4000000"},
      {"max_tx_size", "122", std::to_string(kMinTxSize) + ".." + std::to_string(kMaxTxSize)},
      {"max_tx_size", std::to_string(kMaxTxSize + 1),
       std::to_string(kMinTxSize) + ".." + std::to_string(kMaxTxSize)},
      {"max_tx_size", "\"big\"", "unsigned integer"},
  };
  for (const Case& c : cases) {
    std::string err = load_error(with(c.key, c.value));
    EXPECT_NE(err.find("\"" + c.key + "\""), std::string::npos)
        << c.key << "=" << c.value << ": " << err;
    EXPECT_NE(err.find(c.want), std::string::npos) << c.key << "=" << c.value << ": " << err;
  }
}

TEST_F(NetworkFileTest, TxSizeAboveTheBlockSizeIsRefused) {
  std::string text = with("max_block_size", "20000");
  std::string old = "\"max_tx_size\": " + std::to_string(kMaxTxSize);
  ASSERT_NE(text.find(old), std::string::npos);
  text.replace(text.find(old), old.size(), "\"max_tx_size\": 30000");
  std::string err = load_error(text);
  EXPECT_NE(err.find("max_tx_size"), std::string::npos) << err;
  EXPECT_NE(err.find("..20000"), std::string::npos) << err;
}

TEST_F(NetworkFileTest, MissingAndUnknownKeys) {
  for (const char* key : {"name", "magic", "genesis_time", "producers", "block_interval_s",
                          "min_relay_fee_rate", "max_block_size", "max_tx_size"}) {
    std::string err = load_error(with(key, ""));
    EXPECT_NE(err.find(std::string("\"") + key + "\" is missing"), std::string::npos) << err;
  }
  std::string text = network_to_json(sample());
  text.insert(text.find("\"name\""), "\"max_blocksize\": 5,\n  ");
  std::string err = load_error(text);
  EXPECT_NE(err.find("unknown key \"max_blocksize\""), std::string::npos) << err;
  EXPECT_NE(err.find("allowed: name, magic"), std::string::npos) << err;
}

TEST(CreateNetworkTest, WritesNetworkAndKeysAndRefusesToOverwrite) {
  test::TempDir dir;
  NewNetworkOptions o;
  o.producers = 3;
  o.out_dir = (dir.path() / "sub" / "net").string();  // created if missing
  auto p = create_network(o, 1'763'769'659);
  ASSERT_TRUE(p.ok()) << p.error();
  EXPECT_EQ(p->producers.size(), 3u);
  EXPECT_EQ(p->genesis_time, 1'763'769'600u);  // rounded down to the minute
  EXPECT_NE(p->magic, kDevnetMagic);
  EXPECT_EQ(p->name.rfind("testnet-", 0), 0u);
  EXPECT_EQ(p->name.size(), 16u);
  EXPECT_TRUE(p->validate().ok());
  auto loaded = load_network_file(o.out_dir + "/network.json");
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  EXPECT_EQ(loaded->genesis_id(), p->genesis_id());
  for (size_t i = 0; i < 3; ++i) {
    std::string kp = o.out_dir + "/producer-" + std::to_string(i) + ".key";
    auto k = load_key_file(kp);
    ASSERT_TRUE(k.ok()) << k.error();
    EXPECT_EQ(k->public_key(), p->producers[i]);
    auto perms = std::filesystem::status(kp).permissions();
    EXPECT_EQ(perms & std::filesystem::perms::others_read, std::filesystem::perms::none);
  }
  auto again = create_network(o, 1'763'769'659);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().find("already exists"), std::string::npos) << again.error();
  EXPECT_NE(again.error().find(o.out_dir + "/network.json"), std::string::npos);
  // The original is untouched.
  auto still = load_network_file(o.out_dir + "/network.json");
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->producers, p->producers);
}

TEST(CreateNetworkTest, HonoursItsOptionsAndRefusesBadOnes) {
  test::TempDir dir;
  NewNetworkOptions o;
  o.out_dir = dir.str();
  o.name = "lab";
  o.magic = 0xabcdef01;
  o.block_interval_s = 3;
  o.max_block_size = 50'000;
  o.genesis_time = 1'700'000'000;
  auto p = create_network(o, 0);
  ASSERT_TRUE(p.ok()) << p.error();
  EXPECT_EQ(p->name, "lab");
  EXPECT_EQ(p->magic, 0xabcdef01u);
  EXPECT_EQ(p->block_interval_s, 3u);
  EXPECT_EQ(p->max_block_size, 50'000u);
  EXPECT_EQ(p->max_tx_size, 50'000u - kBlockHeaderSize -
                                compact_size_len(kMaxBlockTxs));  // a block can hold the largest
  EXPECT_EQ(p->genesis_time, 1'700'000'000u);

  test::TempDir dir2;
  o.out_dir = dir2.str();
  o.magic = kDevnetMagic;
  auto bad = create_network(o, 0);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("magic"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir2.file("network.json")));
  EXPECT_FALSE(std::filesystem::exists(dir2.file("producer-0.key")));
  o.magic.reset();
  o.producers = 0;
  EXPECT_FALSE(create_network(o, 0).ok());
  o.producers = 1;
  o.max_block_size = 100;
  EXPECT_NE(create_network(o, 0).error().find("max_block_size"), std::string::npos);
}

}  // namespace
}  // namespace hearsay
