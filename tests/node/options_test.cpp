#include "node/options.h"

#include <gtest/gtest.h>

#include <fstream>

#include "testing/test_util.h"

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
  EXPECT_NE(r.error().find("max-outbound"), std::string::npos) << r.error();
}

// A line with nothing before '=' (found by fuzz/options: Boost threw for the empty name).
TEST(Options, ConfigLineWithoutANameIsRefused) {
  for (const char* text : {"=110\n", "  = x\n"}) {
    auto r =
        parse_node_options_with_config({"hearsayd", "--datadir=/nonexistent"}, std::string(text));
    ASSERT_FALSE(r) << text;
    EXPECT_NE(r.error().find("line 1"), std::string::npos) << r.error();
    EXPECT_NE(r.error().find("no option name"), std::string::npos) << r.error();
  }
}

TEST(Options, HelpIsGroupedWithValueNames) {
  auto h = parse({"--help"});
  ASSERT_TRUE(h);
  const std::string& text = h->text;
  size_t last = 0;
  for (const char* group :
       {"General and data directory:", "P2P network:", "Relay and mempool:", "Blocks:",
        "RPC and metrics:", "Logging and tracing:", "Link emulation (for tests):"}) {
    const size_t at = text.find(group);
    ASSERT_NE(at, std::string::npos) << group << "\n" << text;
    EXPECT_GT(at, last) << group << " out of order\n" << text;
    last = at;
  }
  for (const char* named :
       {"--datadir DIR", "--conf FILE", "--listen HOST:PORT (=0.0.0.0:18733)",
        "--connect [PUBKEY@]HOST:PORT", "--max-inbound N (=117)", "--log-file FILE|none",
        "--rpc HOST:PORT (=127.0.0.1:18732)", "--mempool-repair", "--log-stderr 0|1 (=1)",
        "<datadir>/debug.log", "--link-delay-ms MS (=0)", "[0..10000]"})
    EXPECT_NE(text.find(named), std::string::npos) << named << "\n" << text;
  for (const char* bare : {" arg ", " arg\n", " arg ("})
    EXPECT_EQ(text.find(bare), std::string::npos) << "a value without a name\n" << text;
  // The switch's help follows --mempool-repair in the relay group, before the blocks group.
  EXPECT_LT(text.find("--mempool-repair"), text.find("Blocks:"));
  EXPECT_GT(text.find("--mempool-repair"), text.find("Relay and mempool:"));
}

TEST(Options, ConfigFileValueOutOfRangeNamesFileLineAndValue) {
  test::TempDir dir;
  const std::string conf = dir.file("hearsay.conf");
  std::ofstream(conf) << "# limits\nmax-outbound=3\n\nmax-inbound = 99999\n";
  auto r = parse({"--datadir", dir.str()});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "config file " + conf +
                           " line 4: max-inbound=99999 is not allowed: expected a whole number "
                           "from 0 to 10000");
  // From the command line, the same value keeps the --name form.
  std::ofstream(conf) << "max-outbound=3\n";
  r = parse({"--datadir", dir.str(), "--max-inbound", "99999"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(),
            "--max-inbound: '99999' is not allowed: expected a whole number from 0 to 10000");
}

TEST(Options, ConfigFileTextOptionsNameFileAndLine) {
  test::TempDir dir;
  const std::string conf = dir.file("hearsay.conf");
  struct Case {
    const char* line;
    const char* expect;
  };
  for (const Case& c : {Case{"listen=h:x", "line 2: listen"}, Case{"rpc=nohost", "line 2: rpc"},
                        Case{"connect=nohost", "line 2: connect=nohost"},
                        Case{"log-level=loud", "line 2: log-level=loud is not allowed"},
                        Case{"log-file=", "line 2: log-file= is not allowed"}}) {
    std::ofstream(conf) << "push-peers=1\n" << c.line << "\n";
    auto r = parse({"--datadir", dir.str()});
    ASSERT_FALSE(r) << c.line;
    EXPECT_NE(r.error().find("config file " + conf + " " + c.expect), std::string::npos)
        << r.error();
    EXPECT_EQ(r.error().find("--"), std::string::npos) << r.error();
  }
  // The same from the command line: --name.
  std::ofstream(conf) << "\n";
  auto r = parse({"--datadir", dir.str(), "--listen", "h:x"});
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().starts_with("--listen: ")) << r.error();
  r = parse({"--datadir", dir.str(), "--log-level", "loud"});
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().starts_with("--log-level: 'loud'")) << r.error();
}

TEST(Options, GarbageConfigFileIsShownEscapedAndShort) {
  std::string garbage = "\x01\x1b[2J\xff\xfe";
  for (int i = 0; i < 50; ++i)
    garbage += "\x7f\x80zz\t";
  // A line that is no name=value, then an unknown name.
  for (const auto& [text, at] :
       {std::pair{"# comment\n" + garbage + "\n", "line 2: '"},
        std::pair{"# comment\nmax-outbound=1\n" + garbage + "=1\n", "line 3: unknown option '"}}) {
    auto r = parse_node_options_with_config({"hearsayd", "--datadir=/nonexistent"}, text);
    ASSERT_FALSE(r);
    const std::string& e = r.error();
    EXPECT_NE(e.find(std::string("config file /nonexistent/hearsay.conf ") + at), std::string::npos)
        << e;
    EXPECT_NE(e.find("\\x01\\x1b[2J\\xff\\xfe"), std::string::npos) << e;
    EXPECT_NE(e.find("fix or remove that line"), std::string::npos) << e;
    for (const char c : e)
      EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "unescaped byte " << int(c) << " in " << e;
    EXPECT_LT(e.size(), 400u) << e;
  }
}

TEST(Options, CommandLineOnlyOptionsAreRefusedInTheConfigFile) {
  auto r = parse_node_options_with_config({"hearsayd", "--datadir=/nonexistent"},
                                          "datadir=/elsewhere\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("line 1: datadir works on the command line only"), std::string::npos)
      << r.error();
}

TEST(Options, MempoolRepairAndResetExcludeEachOther) {
  test::TempDir dir;
  auto r = parse({"--datadir", dir.str(), "--mempool-repair"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->options.mempool_repair);
  r = parse({"--datadir", dir.str(), "--mempool-repair", "--mempool-reset"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("--mempool-repair and --mempool-reset"), std::string::npos) << r.error();
}

TEST(Options, LogFileDefaultsToDebugLogInTheDatadir) {
  test::TempDir dir;
  auto r = parse({"--datadir", dir.str()});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(log_file_path(r->options), dir.str() + "/debug.log");
  EXPECT_TRUE(r->options.log_stderr);
  r = parse({"--datadir", dir.str(), "--log-file", "none", "--log-stderr", "0"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(log_file_path(r->options), "");
  EXPECT_FALSE(r->options.log_stderr);
  r = parse({"--datadir", dir.str(), "--log-file", dir.file("elsewhere.log")});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(log_file_path(r->options), dir.file("elsewhere.log"));
}

// Boost.ProgramOptions' error message loops forever on an option name or value holding its
// own placeholder; found by fuzz/options.cpp (a config line hung start-up).
TEST(Options, PlaceholderInOptionNameOrValueIsRefusedNotHung) {
  for (const char* line : {"%canonical_option%=1\n", "option '%canonical_option%'=d\n",
                           "mempool-sync=%value%\n", "%original_token%=1\n"}) {
    auto r = parse_node_options_with_config({"hearsayd", "--datadir=/nonexistent"}, line);
    ASSERT_FALSE(r) << line;
    EXPECT_NE(r.error().find("config file"), std::string::npos) << r.error();
  }
  auto r = parse({"--%canonical_option%=1"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("%canonical_option%"), std::string::npos) << r.error();
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

TEST(Options, BlockOptionsDefaultsAndRanges) {
  test::TempDir dir;
  auto r = parse({"--datadir", dir.str()});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->options.network, "devnet");
  EXPECT_EQ(r->options.cmpct_hb_peers, 3u);
  EXPECT_EQ(r->options.block_interval_s, 0u);
  EXPECT_TRUE(r->options.producer_key.empty());
  EXPECT_FALSE(r->options.min_fee_rate) << "absent: the network's rate applies";

  r = parse({"--datadir", dir.str(), "--cmpct-hb-peers", "8", "--block-interval", "86400",
             "--min-fee-rate", "0", "--producer-key", "p.key", "--network", "net.json"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->options.cmpct_hb_peers, 8u);
  EXPECT_EQ(r->options.block_interval_s, 86400u);
  EXPECT_EQ(r->options.min_fee_rate, std::optional<uint64_t>(0));
  EXPECT_EQ(r->options.producer_key, "p.key");
  EXPECT_EQ(r->options.network, "net.json");

  struct Bad {
    const char* option;
    const char* value;
    const char* range;
  };
  for (const Bad& b : {Bad{"--cmpct-hb-peers", "9", "from 0 to 8"},
                       Bad{"--block-interval", "86401", "from 0 to 86400"},
                       Bad{"--min-fee-rate", "1000000000001", "from 0 to 1000000000000"},
                       Bad{"--min-fee-rate", "-1", "from 0 to 1000000000000"}}) {
    auto bad = parse({"--datadir", dir.str(), b.option, b.value});
    ASSERT_FALSE(bad) << b.option << " " << b.value;
    EXPECT_NE(bad.error().find(b.option), std::string::npos) << bad.error();
    EXPECT_NE(bad.error().find(b.range), std::string::npos) << bad.error();
  }
}

TEST(Options, HelpGivesTheBlockOptionsAndTheirRanges) {
  auto h = parse({"--help"});
  ASSERT_TRUE(h);
  for (const char* needle :
       {"--network", "network file", "--producer-key", "--block-interval", "[0..86400]",
        "--cmpct-hb-peers", "[0..8]", "--min-fee-rate", "[0..1000000000000]"})
    EXPECT_NE(h->text.find(needle), std::string::npos) << needle << "\n" << h->text;
}

TEST(Options, MinFeeRateFromTheConfigFileCountsAsGiven) {
  test::TempDir dir;
  std::ofstream(dir.file("hearsay.conf")) << "min-fee-rate=7\n";
  auto r = parse({"--datadir", dir.str()});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->options.min_fee_rate, std::optional<uint64_t>(7));
  r = parse({"--datadir", dir.str(), "--min-fee-rate", "9"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->options.min_fee_rate, std::optional<uint64_t>(9));  // command line wins
}

TEST(Options, RelayModeDefaultsToPullAndTreeTakesItsTimers) {
  test::TempDir dir;
  auto r = parse({"--datadir", dir.str()});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->options.relay_mode, "pull");
  EXPECT_EQ(r->options.push_peers, 0u);
  EXPECT_EQ(r->options.graft_timeout_ms, 100u);
  EXPECT_EQ(r->options.lazy_interval_ms, 500u);

  r = parse({"--datadir", dir.str(), "--relay-mode", "tree", "--graft-timeout-ms", "250",
             "--lazy-interval-ms", "0"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->options.relay_mode, "tree");
  EXPECT_EQ(r->options.push_peers, 0u);
  EXPECT_EQ(r->options.graft_timeout_ms, 250u);
  EXPECT_EQ(r->options.lazy_interval_ms, 0u);
  // --push-peers 0 says nothing against pull or tree.
  for (const char* mode : {"pull", "tree"}) {
    r = parse({"--datadir", dir.str(), "--relay-mode", mode, "--push-peers", "0"});
    ASSERT_TRUE(r) << mode << ": " << r.error();
    EXPECT_EQ(r->options.relay_mode, mode);
  }
}

TEST(Options, PushModeFromEitherOption) {
  test::TempDir dir;
  struct Case {
    std::vector<std::string> args;
    const char* mode;
    uint32_t push_peers;
  };
  for (const Case& c : {Case{{"--relay-mode", "push"}, "push", 2},
                        Case{{"--relay-mode", "push", "--push-peers", "5"}, "push", 5},
                        Case{{"--push-peers", "3"}, "push", 3},  // alone, as before --relay-mode
                        Case{{"--push-peers", "0"}, "pull", 0}}) {
    std::vector<std::string> args{"--datadir", dir.str()};
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto r = parse(args);
    ASSERT_TRUE(r) << c.args[1] << ": " << r.error();
    EXPECT_EQ(r->options.relay_mode, c.mode) << c.args[1];
    EXPECT_EQ(r->options.push_peers, c.push_peers) << c.args[1];
  }
}

TEST(Options, ContradictoryRelayOptionsNameBoth) {
  test::TempDir dir;
  struct Case {
    const char* mode;
    const char* push_peers;
  };
  for (const Case& c : {Case{"pull", "3"}, Case{"tree", "3"}, Case{"push", "0"}}) {
    auto r = parse({"--datadir", dir.str(), "--relay-mode", c.mode, "--push-peers", c.push_peers});
    ASSERT_FALSE(r) << c.mode << " " << c.push_peers;
    EXPECT_NE(r.error().find(std::string("--relay-mode: '") + c.mode + "'"), std::string::npos)
        << r.error();
    EXPECT_NE(r.error().find(std::string("--push-peers: '") + c.push_peers + "'"),
              std::string::npos)
        << r.error();
    EXPECT_NE(r.error().find("contradict"), std::string::npos) << r.error();
  }
  // One from the config file, the other from the command line: each named where it was given.
  const std::string conf = dir.file("hearsay.conf");
  std::ofstream(conf) << "# relay\nrelay-mode=tree\n";
  auto r = parse({"--datadir", dir.str(), "--push-peers", "3"});
  ASSERT_FALSE(r);
  EXPECT_NE(
      r.error().find("config file " + conf + " line 2: relay-mode=tree and --push-peers: '3'"),
      std::string::npos)
      << r.error();
}

TEST(Options, TreeTimersOutsideTreeModeAreRefused) {
  test::TempDir dir;
  struct Case {
    std::vector<std::string> args;
    const char* named;  // the option that chose the mode, as the message names it
  };
  for (const Case& c :
       {Case{{"--graft-timeout-ms", "200"}, "pull (the default)"},
        Case{{"--graft-timeout-ms", "100"}, "pull (the default)"},  // the default, given
        Case{{"--relay-mode", "push", "--lazy-interval-ms", "10"}, "push (--relay-mode: 'push')"},
        Case{{"--push-peers", "2", "--lazy-interval-ms", "10"}, "push (--push-peers: '2')"}}) {
    std::vector<std::string> args{"--datadir", dir.str()};
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto r = parse(args);
    ASSERT_FALSE(r) << c.named;
    const std::string& timer = c.args[c.args.size() - 2];
    EXPECT_TRUE(r.error().starts_with(timer + ": '" + c.args.back() + "'")) << r.error();
    EXPECT_NE(r.error().find("applies to --relay-mode tree only"), std::string::npos) << r.error();
    EXPECT_NE(r.error().find(c.named), std::string::npos) << r.error();
  }
}

TEST(Options, RelayModeAndTreeTimerRanges) {
  test::TempDir dir;
  auto r = parse({"--datadir", dir.str(), "--relay-mode", "gossip"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "--relay-mode: 'gossip' is not allowed: expected pull, push or tree");
  struct Bad {
    const char* option;
    const char* value;
    const char* range;
  };
  for (const Bad& b : {Bad{"--graft-timeout-ms", "0", "from 1 to 60000"},
                       Bad{"--graft-timeout-ms", "60001", "from 1 to 60000"},
                       Bad{"--lazy-interval-ms", "60001", "from 0 to 60000"},
                       Bad{"--lazy-interval-ms", "-1", "from 0 to 60000"}}) {
    auto bad = parse({"--datadir", dir.str(), "--relay-mode", "tree", b.option, b.value});
    ASSERT_FALSE(bad) << b.option << " " << b.value;
    EXPECT_NE(bad.error().find(b.option), std::string::npos) << bad.error();
    EXPECT_NE(bad.error().find(b.range), std::string::npos) << bad.error();
  }
  r = parse({"--datadir", dir.str(), "--relay-mode", "tree", "--graft-timeout-ms", "60000",
             "--lazy-interval-ms", "60000"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->options.graft_timeout_ms, 60000u);
}

TEST(Options, RelayModeFromTheConfigFile) {
  test::TempDir dir;
  std::ofstream(dir.file("hearsay.conf")) << "relay-mode=tree\ngraft-timeout-ms=30\n";
  auto r = parse({"--datadir", dir.str()});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->options.relay_mode, "tree");
  EXPECT_EQ(r->options.graft_timeout_ms, 30u);
  // The command line wins, and the file's timer then belongs to no tree.
  r = parse({"--datadir", dir.str(), "--relay-mode", "pull"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("line 2: graft-timeout-ms=30 applies to --relay-mode tree only"),
            std::string::npos)
      << r.error();
  std::ofstream(dir.file("hearsay.conf")) << "relay-mode=push\n";
  r = parse({"--datadir", dir.str()});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->options.push_peers, 2u);
}

TEST(Options, HelpGivesTheRelayModesAndTreeTimers) {
  auto h = parse({"--help"});
  ASSERT_TRUE(h);
  for (const char* needle :
       {"--relay-mode pull|push|tree (=pull)", "--graft-timeout-ms MS (=100)", "[1..60000]",
        "--lazy-interval-ms MS (=500)", "with --relay-mode tree", "with --relay-mode push"})
    EXPECT_NE(h->text.find(needle), std::string::npos) << needle << "\n" << h->text;
  // In the relay group.
  EXPECT_GT(h->text.find("--relay-mode"), h->text.find("Relay and mempool:"));
  EXPECT_LT(h->text.find("--lazy-interval-ms"), h->text.find("Blocks:"));
}

TEST(Options, ReconciliationIsOnByDefaultAndTakesItsValues) {
  test::TempDir dir;
  auto r = parse({"--datadir", dir.str()});
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->options.reconcile);
  EXPECT_EQ(r->options.reconcile_interval_ms, 2000u);
  EXPECT_EQ(r->options.flood_peers, 0u);

  r = parse({"--datadir", dir.str(), "--reconcile", "1", "--reconcile-interval-ms", "0"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->options.reconcile);
  EXPECT_EQ(r->options.reconcile_interval_ms, 0u);
  r = parse({"--datadir", dir.str(), "--reconcile-interval-ms", "3600000", "--flood-peers", "125"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->options.reconcile_interval_ms, 3'600'000u);
  EXPECT_EQ(r->options.flood_peers, 125u);
  r = parse({"--datadir", dir.str(), "--reconcile", "0"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_FALSE(r->options.reconcile);
  // --flood-peers 0 is announcing to every peer: nothing to contradict, in any mode.
  for (const char* mode : {"pull", "push", "tree"}) {
    r = parse(
        {"--datadir", dir.str(), "--reconcile", "0", "--relay-mode", mode, "--flood-peers", "0"});
    ASSERT_TRUE(r) << mode << ": " << r.error();
  }
  struct Bad {
    const char* option;
    const char* value;
    const char* range;
  };
  for (const Bad& b : {Bad{"--reconcile-interval-ms", "3600001", "from 0 to 3600000"},
                       Bad{"--reconcile-interval-ms", "-1", "from 0 to 3600000"},
                       Bad{"--flood-peers", "126", "from 0 to 125"}}) {
    auto bad = parse({"--datadir", dir.str(), b.option, b.value});
    ASSERT_FALSE(bad) << b.option << " " << b.value;
    EXPECT_NE(bad.error().find(b.option), std::string::npos) << bad.error();
    EXPECT_NE(bad.error().find(b.range), std::string::npos) << bad.error();
  }
}

TEST(Options, ShortIdsOffTurnsReconciliationOffUnlessItIsAskedFor) {
  test::TempDir dir;
  auto r = parse({"--datadir", dir.str(), "--short-ids", "0"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_FALSE(r->options.short_ids);
  EXPECT_FALSE(r->options.reconcile);
  r = parse({"--datadir", dir.str(), "--short-ids", "0", "--reconcile", "0"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_FALSE(r->options.reconcile);

  r = parse({"--datadir", dir.str(), "--short-ids", "0", "--reconcile", "1"});
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().starts_with("--reconcile: '1' and --short-ids: '0' contradict each other"))
      << r.error();
  EXPECT_NE(r.error().find("compares the short ids"), std::string::npos) << r.error();
  // From the config file: named by its line.
  const std::string conf = dir.file("hearsay.conf");
  std::ofstream(conf) << "short-ids=0\nreconcile=1\n";
  r = parse({"--datadir", dir.str()});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("config file " + conf + " line 2: reconcile=1 and config file " + conf +
                           " line 1: short-ids=0 contradict each other"),
            std::string::npos)
      << r.error();
  // The command line wins over the file's reconcile=1.
  r = parse({"--datadir", dir.str(), "--reconcile", "0"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_FALSE(r->options.reconcile);
}

TEST(Options, ReconciliationOptionsWithoutReconciliationAreRefused) {
  test::TempDir dir;
  struct Case {
    std::vector<std::string> args;
    const char* refused;  // the option refused, as named
    const char* why;      // what turned reconciliation off, as named
    const char* fix;
  };
  for (const Case& c :
       {Case{{"--reconcile", "0", "--reconcile-interval-ms", "500"},
             "--reconcile-interval-ms: '500'",
             "(--reconcile: '0')",
             "give --reconcile 1"},
        Case{{"--reconcile", "0", "--reconcile-interval-ms", "2000"},  // the default, given
             "--reconcile-interval-ms: '2000'",
             "(--reconcile: '0')",
             "give --reconcile 1"},
        Case{{"--short-ids", "0", "--reconcile-interval-ms", "500"},
             "--reconcile-interval-ms: '500'",
             "(--short-ids: '0' turns it off)",
             "give --short-ids 1"},
        Case{{"--reconcile", "0", "--flood-peers", "2"},
             "--flood-peers: '2'",
             "(--reconcile: '0')",
             "give --reconcile 1"},
        Case{{"--short-ids", "0", "--flood-peers", "2"},
             "--flood-peers: '2'",
             "(--short-ids: '0' turns it off)",
             "give --short-ids 1"}}) {
    std::vector<std::string> args{"--datadir", dir.str()};
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto r = parse(args);
    ASSERT_FALSE(r) << c.refused << " " << c.why;
    EXPECT_TRUE(r.error().starts_with(c.refused)) << r.error();
    EXPECT_NE(r.error().find("applies only with reconciliation, and reconciliation is off"),
              std::string::npos)
        << r.error();
    EXPECT_NE(r.error().find(c.why), std::string::npos) << r.error();
    EXPECT_NE(r.error().find(c.fix), std::string::npos) << r.error();
  }
}

TEST(Options, FloodPeersNeedPeriodicRoundsAndPullMode) {
  test::TempDir dir;
  auto r = parse({"--datadir", dir.str(), "--flood-peers", "2", "--reconcile-interval-ms", "0"});
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().starts_with(
      "--flood-peers: '2' and --reconcile-interval-ms: '0' contradict each other"))
      << r.error();
  EXPECT_NE(r.error().find("never learn"), std::string::npos) << r.error();
  struct Case {
    std::vector<std::string> args;
    const char* named;  // the relay mode and what chose it, as the message names them
  };
  for (const Case& c : {Case{{"--relay-mode", "tree"}, "tree (--relay-mode: 'tree')"},
                        Case{{"--relay-mode", "push"}, "push (--relay-mode: 'push')"},
                        Case{{"--push-peers", "3"}, "push (--push-peers: '3')"}}) {
    std::vector<std::string> args{"--datadir", dir.str(), "--flood-peers", "2"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    r = parse(args);
    ASSERT_FALSE(r) << c.named;
    EXPECT_TRUE(r.error().starts_with(
        "--flood-peers: '2' applies to --relay-mode pull only, and the relay mode is "))
        << r.error();
    EXPECT_NE(r.error().find(c.named), std::string::npos) << r.error();
  }
  r = parse({"--datadir", dir.str(), "--flood-peers", "2", "--relay-mode", "pull"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->options.flood_peers, 2u);
}

TEST(Options, HelpGivesTheReconciliationOptions) {
  auto h = parse({"--help"});
  ASSERT_TRUE(h);
  for (const char* needle :
       {"--reconcile 0|1 (=1)", "--reconcile-interval-ms MS (=2000)", "[0..3600000]",
        "--flood-peers K (=0)", "[0..125]", "with --reconcile 1", "with --short-ids 0",
        "0 = only on connect", "every peer) [0..125]"})
    EXPECT_NE(h->text.find(needle), std::string::npos) << needle << "\n" << h->text;
  EXPECT_GT(h->text.find("--flood-peers"), h->text.find("Relay and mempool:"));
  EXPECT_LT(h->text.find("--flood-peers"), h->text.find("Blocks:"));
}

}  // namespace
}  // namespace hearsay
