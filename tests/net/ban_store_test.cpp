// BanList (the in-memory rules) and banlist.dat (round trip, expiry at load, corrupt and
// unreadable files, unwritable data directory).
#include "net/ban_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "crypto/hex.h"
#include "net/addr_store.h"
#include "testing/net_util.h"

namespace hearsay::test {
namespace {

namespace fs = std::filesystem;

constexpr Time kNow = Time(std::chrono::seconds(1'800'000'000));

NetAddress ip(const std::string& text) {
  auto a = parse_ip(text);
  HEARSAY_CHECK(a.ok());
  return *a;
}

BanEntry id_ban(uint8_t key, Time until, std::string reason = "forged a signature") {
  return BanEntry{test_key(key).public_key(), kNow, until, std::move(reason)};
}
BanEntry ip_ban(const std::string& addr, Time until, std::string reason = "manual") {
  return BanEntry{ip(addr), kNow, until, std::move(reason)};
}

TEST(BanList, IdentityAndIpBans) {
  BanList bans;
  EXPECT_TRUE(bans.add(id_ban(1, kNow + 1h)));
  NetAddress with_port = ip("192.0.2.7");
  with_port.port = 8333;
  EXPECT_TRUE(bans.add(BanEntry{with_port, kNow, kNow + 2h, "manual"}));
  EXPECT_TRUE(bans.is_banned(test_key(1).public_key(), kNow));
  EXPECT_FALSE(bans.is_banned(test_key(2).public_key(), kNow));
  NetAddress other_port = with_port;
  other_port.port = 1;
  EXPECT_TRUE(bans.is_banned_ip(other_port, kNow));  // any port of the address
  EXPECT_FALSE(bans.is_banned_ip(ip("192.0.2.8"), kNow));
  // Ends: not banned at or after `until`.
  EXPECT_FALSE(bans.is_banned(test_key(1).public_key(), kNow + 1h));
  EXPECT_TRUE(bans.is_banned_ip(with_port, kNow + 1h));
  auto list = bans.entries(kNow);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0], id_ban(1, kNow + 1h));
  EXPECT_EQ(std::get<NetAddress>(list[1].target), ip("192.0.2.7"));  // port dropped
  EXPECT_EQ(bans.entries(kNow + 90min).size(), 1u);
  EXPECT_EQ(bans.expire(kNow + 90min), 1u);
  EXPECT_EQ(bans.size(), 1u);
  bans.sanity_check();
}

TEST(BanList, RebanKeepsTheLaterEndAndTheNewerReason) {
  BanList bans;
  bans.add(id_ban(1, kNow + 2h, "first"));
  bans.add(id_ban(1, kNow + 1h, "second"));
  auto list = bans.entries(kNow);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].until, kNow + 2h);
  EXPECT_EQ(list[0].reason, "second");
}

TEST(BanList, LoopbackIsNeverBannedByIp) {
  BanList bans;
  EXPECT_FALSE(bans.add(ip_ban("127.0.0.1", kNow + 1h)));
  EXPECT_FALSE(bans.add(ip_ban("::1", kNow + 1h)));
  EXPECT_FALSE(bans.is_banned_ip(ip("127.0.0.1"), kNow));
  EXPECT_EQ(bans.size(), 0u);
}

TEST(BanList, RemoveAndClear) {
  BanList bans;
  bans.add(id_ban(1, kNow + 1h));
  bans.add(ip_ban("2001:db8::7", kNow + 1h));
  EXPECT_TRUE(bans.remove(ip("[2001:db8::7]")));
  EXPECT_FALSE(bans.remove(ip("2001:db8::7")));
  EXPECT_TRUE(bans.remove(test_key(1).public_key()));
  bans.add(id_ban(2, kNow + 1h));
  bans.clear();
  EXPECT_EQ(bans.size(), 0u);
}

TEST(BanList, BoundedDropsTheBanEndingFirst) {
  BanList bans;
  for (size_t i = 0; i < kMaxBans; ++i) {
    PublicKey k{};
    std::memcpy(k.data(), &i, sizeof(i));
    bans.add(BanEntry{k, kNow, kNow + std::chrono::seconds(10 + i), "x"});
  }
  PublicKey first{};  // i == 0 ends first
  EXPECT_TRUE(bans.is_banned(first, kNow));
  bans.add(id_ban(1, kNow + 24h));
  EXPECT_EQ(bans.size(), kMaxBans);
  EXPECT_FALSE(bans.is_banned(first, kNow));
  EXPECT_TRUE(bans.is_banned(test_key(1).public_key(), kNow));
  bans.sanity_check();
}

TEST(BanList, LongReasonsAreCut) {
  BanList bans;
  bans.add(id_ban(1, kNow + 1h, std::string(5 * kMaxBanReason, 'r')));
  EXPECT_EQ(bans.entries(kNow)[0].reason.size(), kMaxBanReason);
  bans.sanity_check();
}

TEST(BanTarget, ParseAndFormat) {
  const std::string hex = to_hex(test_key(4).public_key());
  auto id = parse_ban_target(hex);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(std::get<PublicKey>(*id), test_key(4).public_key());
  EXPECT_EQ(ban_target_string(*id), hex);
  for (std::string text : {"192.0.2.7", "2001:db8::7"}) {
    auto t = parse_ban_target(text);
    ASSERT_TRUE(t.ok()) << text;
    EXPECT_EQ(ban_target_string(*t), text);
  }
  EXPECT_EQ(ban_target_string(*parse_ban_target("[2001:db8::7]")), "2001:db8::7");
  for (std::string bad :
       std::vector<std::string>{"", "nonsense", "192.0.2.7:8333", "1.2.3", hex.substr(1)}) {
    auto t = parse_ban_target(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_NE(t.error().find("64 hex digits"), std::string::npos) << t.error();
  }
}

std::vector<BanEntry> sample() {
  return {id_ban(1, kNow + 1h), id_ban(2, kNow + 48h, ""), ip_ban("192.0.2.7", kNow + 2h),
          ip_ban("2001:db8::7", kNow + 3h, std::string(kMaxBanReason, 'z'))};
}

TEST(BanStore, EncodeDecodeRoundTrip) {
  std::vector<BanEntry> in = sample();
  auto bytes = encode_ban_list(in);
  auto out = decode_ban_list(bytes);
  ASSERT_TRUE(out.ok()) << out.error();
  EXPECT_EQ(*out, in);
  auto empty = decode_ban_list(encode_ban_list({}));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(BanStore, DecoderRefusesDamage) {
  auto good = encode_ban_list(sample());
  auto refused = [](std::vector<uint8_t> b, const std::string& why) {
    auto r = decode_ban_list(b);
    if (r.ok()) return testing::AssertionFailure() << "accepted";
    if (r.error().find(why) == std::string::npos)
      return testing::AssertionFailure() << "error '" << r.error() << "' lacks '" << why << "'";
    return testing::AssertionSuccess();
  };
  EXPECT_TRUE(refused({}, "too short"));
  auto bad_magic = good;
  bad_magic[0] ^= 1;
  EXPECT_TRUE(refused(bad_magic, "magic"));
  // Every single-bit flip and every truncation past the magic is caught (checksum).
  for (size_t i = 8; i < good.size(); i += 7) {
    auto b = good;
    b[i] ^= 0x10;
    EXPECT_FALSE(decode_ban_list(b).ok()) << "flip at " << i;
  }
  for (size_t n = 0; n < good.size(); n += 13)
    EXPECT_FALSE(decode_ban_list(std::span(good).first(n)).ok()) << "cut at " << n;
  auto longer = good;
  longer.push_back(0);
  EXPECT_FALSE(decode_ban_list(longer).ok());

  // Structurally wrong but correctly checksummed: re-sign the body.
  auto resum = [](std::vector<uint8_t> body) {
    Hash256 s = sha256d(body);
    body.insert(body.end(), s.begin(), s.begin() + 4);
    return body;
  };
  std::vector<uint8_t> body(good.begin(), good.end() - 4);
  auto v2 = body;
  v2[8] = 2;
  EXPECT_TRUE(refused(resum(v2), "version 2"));
  auto kind = body;
  kind[8 + 4 + 1] = 9;  // first entry's kind
  EXPECT_TRUE(refused(resum(kind), "unknown kind 9"));
  auto trailing = body;
  trailing.push_back(0);
  EXPECT_TRUE(refused(resum(trailing), "malformed"));
  auto fewer = body;
  fewer[12] = 5;  // count says 5, four entries follow
  EXPECT_TRUE(refused(resum(fewer), "malformed"));
}

TEST(BanStore, SaveLoadRoundTripDropsEndedBans) {
  TempDir dir;
  std::vector<BanEntry> in = sample();
  in.push_back(id_ban(9, kNow - 1s));     // ended before the load
  in.push_back(id_ban(8, kNow + 10min));  // ends between save and load
  ASSERT_TRUE(save_ban_list(dir.str(), in).ok());
  EXPECT_FALSE(fs::exists(dir.file("banlist.dat.tmp")));
  BanListLoad load = load_ban_list(dir.str(), kNow + 20min);
  EXPECT_TRUE(load.found);
  EXPECT_TRUE(load.warning.empty()) << load.warning;
  EXPECT_EQ(load.expired, 2u);
  std::vector<BanEntry> want = sample();
  EXPECT_EQ(load.entries.size(), want.size());
  for (const BanEntry& e : want)
    EXPECT_NE(std::find(load.entries.begin(), load.entries.end(), e), load.entries.end())
        << ban_target_string(e.target);
}

TEST(BanStore, MissingFileIsAFirstStart) {
  TempDir dir;
  BanListLoad load = load_ban_list(dir.str(), kNow);
  EXPECT_FALSE(load.found);
  EXPECT_TRUE(load.warning.empty());
  EXPECT_TRUE(load.entries.empty());
}

TEST(BanStore, CorruptFileIsMovedAside) {
  TempDir dir;
  {
    std::ofstream f(dir.file("banlist.dat"), std::ios::binary);
    f << "this is not a ban list at all";
  }
  BanListLoad load = load_ban_list(dir.str(), kNow);
  EXPECT_TRUE(load.entries.empty());
  const std::string aside = dir.file("banlist.dat.corrupt-1800000000");
  EXPECT_NE(load.warning.find(dir.file("banlist.dat")), std::string::npos) << load.warning;
  EXPECT_NE(load.warning.find(aside), std::string::npos) << load.warning;
  EXPECT_NE(load.warning.find("corrupt"), std::string::npos) << load.warning;
  EXPECT_FALSE(fs::exists(dir.file("banlist.dat")));
  EXPECT_TRUE(fs::exists(aside));
  // The next load is a clean start, and a save works again.
  EXPECT_TRUE(load_ban_list(dir.str(), kNow).warning.empty());
  ASSERT_TRUE(save_ban_list(dir.str(), sample()).ok());
  EXPECT_EQ(load_ban_list(dir.str(), kNow).entries.size(), sample().size());
}

TEST(BanStore, OversizedFileIsCorrupt) {
  TempDir dir;
  {
    std::ofstream f(dir.file("banlist.dat"), std::ios::binary);
    std::string chunk(1 << 20, 'x');
    for (size_t written = 0; written <= kMaxBanFileBytes; written += chunk.size())
      f << chunk;
  }
  BanListLoad load = load_ban_list(dir.str(), kNow);
  EXPECT_NE(load.warning.find("larger than"), std::string::npos) << load.warning;
  EXPECT_FALSE(fs::exists(dir.file("banlist.dat")));
}

TEST(BanStore, UnreadableFileWarnsAndIsNotMoved) {
  // A directory where the file should be: unreadable as a file, for root too.
  TempDir dir;
  fs::create_directory(dir.file("banlist.dat"));
  BanListLoad load = load_ban_list(dir.str(), kNow);
  EXPECT_TRUE(load.entries.empty());
  EXPECT_NE(load.warning.find(dir.file("banlist.dat")), std::string::npos) << load.warning;
  EXPECT_NE(load.warning.find("cannot read"), std::string::npos) << load.warning;
  EXPECT_TRUE(fs::is_directory(dir.file("banlist.dat")));
}

TEST(BanStore, UnwritableDirectoryIsAnErrorNamingThePath) {
  // The data directory is a regular file: nothing can be created inside it, for root too.
  TempDir dir;
  const std::string not_a_dir = dir.file("plain-file");
  { std::ofstream(not_a_dir) << "x"; }
  Status s = save_ban_list(not_a_dir, sample());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(not_a_dir + "/banlist.dat"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace hearsay::test
