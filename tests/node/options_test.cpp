#include "node/options.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/util/test_util.h"

namespace hearsay {
namespace {

Result<ParsedOptions, std::string> parse(std::vector<std::string> args) {
  args.insert(args.begin(), "hearsayd");
  return parse_node_options(args);
}

TEST(Options, DefaultsAreBitcoinLike) {
  test::TempDir dir;
  auto r = parse({"--datadir", dir.str()});
  ASSERT_TRUE(r) << r.error();
  const NodeOptions& o = r->options;
  EXPECT_EQ(r->outcome, OptionsOutcome::kRun);
  EXPECT_EQ(o.datadir, dir.str());
  EXPECT_EQ(o.max_outbound, 8u);
  EXPECT_EQ(o.max_inbound, 117u);
  EXPECT_EQ(o.mempool_max_mb, 300u);
  EXPECT_EQ(o.mempool_expiry_hours, 336u);
  EXPECT_EQ(o.ban_time_s, 86400u);
  EXPECT_EQ(o.rpc, "127.0.0.1:18732");
  EXPECT_FALSE(o.mempool_sync);
}

TEST(Options, HelpAndVersion) {
  auto h = parse({"--help"});
  ASSERT_TRUE(h);
  EXPECT_EQ(h->outcome, OptionsOutcome::kHelp);
  EXPECT_NE(h->text.find("--max-outbound"), std::string::npos);
  EXPECT_NE(h->text.find("[0..64]"), std::string::npos);
  auto v = parse({"--version"});
  ASSERT_TRUE(v);
  EXPECT_EQ(v->outcome, OptionsOutcome::kVersion);
}

TEST(Options, OutOfRangeNamesOptionAndRange) {
  test::TempDir dir;
  for (const char* bad : {"65", "-1", "abc", "", "1e3", "8x"}) {
    auto r = parse({"--datadir", dir.str(), "--max-outbound", bad});
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().find("--max-outbound"), std::string::npos) << r.error();
    EXPECT_NE(r.error().find("from 0 to 64"), std::string::npos) << r.error();
  }
  auto r = parse({"--datadir", dir.str(), "--mempool-max-mb", "0"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("--mempool-max-mb"), std::string::npos);
}

TEST(Options, UnknownOptionIsAnError) {
  auto r = parse({"--no-such-option"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("no-such-option"), std::string::npos);
}

TEST(Options, BadLogLevelAndLoneRpcUser) {
  test::TempDir dir;
  auto r = parse({"--datadir", dir.str(), "--log-level", "loud"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("--log-level"), std::string::npos);
  r = parse({"--datadir", dir.str(), "--rpc-user", "u"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("--rpc-password"), std::string::npos);
}

TEST(Options, ConfigFileFillsInAndCommandLineWins) {
  test::TempDir dir;
  std::ofstream(dir.file("hearsay.conf")) << "# comment\nmax-outbound=3\npush-peers=2\n"
                                          << "connect=127.0.0.1:1\nconnect=127.0.0.1:2\n";
  auto r = parse({"--datadir", dir.str(), "--max-outbound", "5"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->options.max_outbound, 5u);  // command line wins
  EXPECT_EQ(r->options.push_peers, 2u);    // from the file
  EXPECT_EQ(r->options.connect.size(), 2u);
}

TEST(Options, BadConfigFileNamesFile) {
  test::TempDir dir;
  std::ofstream(dir.file("hearsay.conf")) << "bogus-key=1\n";
  auto r = parse({"--datadir", dir.str()});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find(dir.file("hearsay.conf")), std::string::npos) << r.error();

  std::ofstream(dir.file("hearsay.conf")) << "max-outbound=999\n";
  r = parse({"--datadir", dir.str()});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("--max-outbound"), std::string::npos) << r.error();
}

TEST(Options, MissingExplicitConfIsAnError) {
  test::TempDir dir;
  auto r = parse({"--datadir", dir.str(), "--conf", dir.file("absent.conf")});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("absent.conf"), std::string::npos);
}

TEST(Options, BadConnectAndListenAreRefused) {
  test::TempDir dir;
  auto r = parse({"--datadir", dir.str(), "--connect", "nohost"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("--connect"), std::string::npos);
  r = parse({"--datadir", dir.str(), "--connect", "h:0"});
  ASSERT_FALSE(r);
  r = parse({"--datadir", dir.str(), "--listen", "h:x"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("--listen"), std::string::npos);
}

}  // namespace
}  // namespace hearsay
