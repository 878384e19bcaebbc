// hearsayd's configuration from options (network file, producer key, block options, the
// mempool's network limits) and Node::start's chain store errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "chainstub/chain.h"
#include "chainstub/params.h"
#include "crypto/hex.h"
#include "crypto/keyfile.h"
#include "node/node.h"
#include "node/options.h"
#include "testing/test_util.h"

namespace hearsay {
namespace {

namespace fs = std::filesystem;

NodeOptions options(const test::TempDir& dir) {
  auto r = parse_node_options({"hearsayd", "--datadir", dir.file("node")});
  EXPECT_TRUE(r) << r.error();
  return r->options;
}

// A network file with two producers and a minimum fee rate of 250, in dir/net.
NetworkParams make_network(const test::TempDir& dir) {
  NewNetworkOptions o;
  o.producers = 2;
  o.out_dir = dir.file("net");
  o.name = "cfgtest";
  o.magic = 0x0badcafe;
  o.block_interval_s = 5;
  auto p = create_network(o, 1'763'800'000);
  EXPECT_TRUE(p) << p.error();
  // A higher relay fee floor than the default, to see it reach the mempool.
  NetworkParams params = *p;
  params.min_relay_fee_rate = 250;
  params.max_tx_size = 20'000;
  fs::remove(dir.file("net/network.json"));
  EXPECT_TRUE(save_network_file(dir.file("net/network.json"), params).ok());
  return params;
}

// The node config that hearsayd would run with these arguments (a data directory under `dir`
// added); the arguments must be accepted.
NodeConfig config_of(test::TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), {"hearsayd", "--datadir", dir.file("node")});
  auto r = parse_node_options(args);
  EXPECT_TRUE(r) << r.error();
  auto c = node_config_from_options(r->options);
  EXPECT_TRUE(c) << c.error();
  return c ? *c : NodeConfig{};
}

TEST(NodeConfig, DevnetByDefaultWithItsMempoolLimits) {
  test::TempDir dir;
  auto c = node_config_from_options(options(dir));
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->network.name, "devnet");
  EXPECT_EQ(c->network.magic, kDevnetMagic);
  EXPECT_EQ(c->mempool.min_fee_rate, devnet_params().min_relay_fee_rate);
  EXPECT_EQ(c->mempool.max_tx_size, devnet_params().max_tx_size);
  EXPECT_FALSE(c->block_relay.producer_key);
  EXPECT_EQ(c->block_relay.high_bandwidth_peers, 3u);
  EXPECT_EQ(c->block_relay.block_interval, Duration(0));
}

TEST(NodeConfig, NetworkFileSetsMagicNameAndMempoolLimitsUnlessMinFeeRateIsGiven) {
  test::TempDir dir;
  const NetworkParams net = make_network(dir);
  NodeOptions o = options(dir);
  o.network = dir.file("net/network.json");
  o.cmpct_hb_peers = 1;
  auto c = node_config_from_options(o);
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->network.name, "cfgtest");
  EXPECT_EQ(c->network.magic, 0x0badcafeu);
  EXPECT_EQ(c->network.genesis_id(), net.genesis_id());
  EXPECT_EQ(c->mempool.min_fee_rate, 250u);
  EXPECT_EQ(c->mempool.max_tx_size, 20'000u);
  EXPECT_EQ(c->block_relay.high_bandwidth_peers, 1u);

  o.min_fee_rate = 3;  // --min-fee-rate wins over the network's
  c = node_config_from_options(o);
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->mempool.min_fee_rate, 3u);
}

TEST(NodeConfig, MissingOrBadNetworkFileIsNamed) {
  test::TempDir dir;
  NodeOptions o = options(dir);
  o.network = dir.file("absent.json");
  auto c = node_config_from_options(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().rfind("--network: ", 0), 0u) << c.error();
  EXPECT_NE(c.error().find(o.network), std::string::npos) << c.error();

  std::ofstream(dir.file("bad.json")) << "{\"name\": 5}";
  o.network = dir.file("bad.json");
  c = node_config_from_options(o);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find(o.network), std::string::npos) << c.error();
}

TEST(NodeConfig, ProducerKeyMustBeAuthorisedByTheNetwork) {
  test::TempDir dir;
  const NetworkParams net = make_network(dir);
  NodeOptions o = options(dir);
  o.network = dir.file("net/network.json");
  o.producer_key = dir.file("net/producer-1.key");
  o.block_interval_s = 5;
  auto c = node_config_from_options(o);
  ASSERT_TRUE(c) << c.error();
  ASSERT_TRUE(c->block_relay.producer_key);
  EXPECT_EQ(c->block_relay.producer_key->public_key(), net.producers[1]);
  EXPECT_EQ(c->block_relay.block_interval, std::chrono::seconds(5));

  // A key of another network (the devnet's producer 0 here) is refused, naming file and network.
  const std::string other = dir.file("other.key");
  ASSERT_TRUE(save_key_file(other, devnet_producer_key(0)).ok());
  o.producer_key = other;
  c = node_config_from_options(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().rfind("--producer-key: ", 0), 0u) << c.error();
  EXPECT_NE(c.error().find(other), std::string::npos) << c.error();
  EXPECT_NE(c.error().find("cfgtest"), std::string::npos) << c.error();

  // ... and the devnet accepts its own.
  o.network = "devnet";
  c = node_config_from_options(o);
  ASSERT_TRUE(c) << c.error();

  o.producer_key = dir.file("absent.key");
  c = node_config_from_options(o);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("absent.key"), std::string::npos) << c.error();
}

TEST(NodeConfig, BlockIntervalNeedsAProducerKey) {
  test::TempDir dir;
  NodeOptions o = options(dir);
  o.block_interval_s = 10;
  auto c = node_config_from_options(o);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("--block-interval"), std::string::npos) << c.error();
  EXPECT_NE(c.error().find("--producer-key"), std::string::npos) << c.error();
}

// The relay mode in effect, from options as parse_node_options leaves them.
TEST(NodeConfig, RelayModeReachesTheRelayConfig) {
  test::TempDir dir;
  auto parsed = [&](std::vector<std::string> args) { return config_of(dir, std::move(args)); };
  NodeConfig c = parsed({});
  EXPECT_FALSE(c.tree_relay);
  EXPECT_EQ(c.relay.push_peers, 0u);
  EXPECT_EQ(c.relay.graft_timeout, kGraftTimeout);
  EXPECT_EQ(c.relay.lazy_interval, kLazyInterval);
  EXPECT_STREQ(relay_mode_name(c), "pull");

  c = parsed({"--relay-mode", "push"});
  EXPECT_FALSE(c.tree_relay);
  EXPECT_EQ(c.relay.push_peers, kDefaultPushPeers);
  EXPECT_STREQ(relay_mode_name(c), "push");
  c = parsed({"--push-peers", "4"});
  EXPECT_EQ(c.relay.push_peers, 4u);
  EXPECT_STREQ(relay_mode_name(c), "push");

  c = parsed({"--relay-mode", "tree", "--graft-timeout-ms", "250", "--lazy-interval-ms", "0"});
  EXPECT_TRUE(c.tree_relay);
  EXPECT_EQ(c.relay.push_peers, 0u);
  EXPECT_EQ(c.relay.graft_timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(c.relay.lazy_interval, Duration(0));
  EXPECT_STREQ(relay_mode_name(c), "tree");
}

TEST(NodeConfig, RelayModeThatDisagreesWithPushPeersIsRefused) {
  test::TempDir dir;
  NodeOptions o = options(dir);
  o.relay_mode = "tree";
  o.push_peers = 2;
  auto c = node_config_from_options(o);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("--relay-mode tree and --push-peers 2"), std::string::npos) << c.error();
  o.relay_mode = "push";
  o.push_peers = 0;
  c = node_config_from_options(o);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("--relay-mode push and --push-peers 0"), std::string::npos) << c.error();
  o.relay_mode = "gossip";
  c = node_config_from_options(o);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("--relay-mode: 'gossip'"), std::string::npos) << c.error();
}

// Reconciliation in effect, from options as parse_node_options leaves them.
TEST(NodeConfig, ReconciliationReachesTheRelayConfig) {
  test::TempDir dir;
  auto parsed = [&](std::vector<std::string> args) { return config_of(dir, std::move(args)); };
  NodeConfig c = parsed({});
  EXPECT_TRUE(c.reconcile);
  EXPECT_TRUE(reconciles(c));
  EXPECT_EQ(c.relay.reconcile_interval, kReconcileInterval);
  EXPECT_EQ(c.relay.flood_peers, 0u);

  c = parsed({"--reconcile-interval-ms", "750", "--flood-peers", "3"});
  EXPECT_TRUE(reconciles(c));
  EXPECT_EQ(c.relay.reconcile_interval, std::chrono::milliseconds(750));
  EXPECT_EQ(c.relay.flood_peers, 3u);

  c = parsed({"--reconcile", "0"});
  EXPECT_FALSE(c.reconcile);
  EXPECT_FALSE(reconciles(c));
  c = parsed({"--short-ids", "0"});
  EXPECT_FALSE(c.short_ids);
  EXPECT_FALSE(c.reconcile);
  // A config built otherwise reconciles only with short ids, which reconciliation compares.
  c = parsed({});
  c.short_ids = false;
  EXPECT_FALSE(reconciles(c));
}

TEST(NodeConfig, ReconciliationOptionsThatDisagreeAreRefused) {
  test::TempDir dir;
  NodeOptions o = options(dir);
  o.short_ids = false;  // reconcile stays on
  auto c = node_config_from_options(o);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("--reconcile 1 and --short-ids 0"), std::string::npos) << c.error();

  struct Case {
    bool reconcile;
    uint32_t interval_ms;
    const char* mode;
    uint32_t push_peers;
  };
  for (const Case& k : {Case{false, 2000, "pull", 0}, Case{true, 0, "pull", 0},
                        Case{true, 2000, "tree", 0}, Case{true, 2000, "push", 2}}) {
    o = options(dir);
    o.reconcile = k.reconcile;
    o.reconcile_interval_ms = k.interval_ms;
    o.relay_mode = k.mode;
    o.push_peers = k.push_peers;
    o.flood_peers = 4;
    c = node_config_from_options(o);
    ASSERT_FALSE(c) << k.mode << " " << k.interval_ms;
    EXPECT_NE(c.error().find("--flood-peers 4 needs --reconcile 1, --reconcile-interval-ms > 0 "
                             "and --relay-mode pull"),
              std::string::npos)
        << c.error();
  }
}

// --- Node::start and the chain store -----------------------------------------------------------

NodeConfig node_config(const std::string& datadir) {
  NodeConfig c;
  c.datadir = datadir;
  c.host.listen = "127.0.0.1:0";
  c.host.verify_threads = 1;
  c.host.peer_manager.max_outbound = 0;
  return c;
}

void expect_one_line_naming(const std::string& error, const std::string& path) {
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
}

TEST(NodeStart, ChainIsOpenedAndReloaded) {
  test::TempDir dir;
  const std::string datadir = dir.file("node");
  BlockId tip{};
  {
    NodeConfig c = node_config(datadir);
    c.block_relay.producer_key = devnet_producer_key(1);
    auto n = Node::start(std::move(c));
    ASSERT_TRUE(n) << n.error();
    EXPECT_TRUE(fs::is_directory(datadir + "/chain"));
    EXPECT_EQ((*n)->chain_info().height, 0u);
    EXPECT_EQ((*n)->chain_info().tip, devnet_params().genesis_id());
    auto b = (*n)->generate_block();
    ASSERT_TRUE(b) << b.error();
    tip = (*b)->header.id();
    EXPECT_EQ((*n)->chain_info().height, 1u);
  }
  auto n = Node::start(node_config(datadir));
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ((*n)->chain_info().tip, tip);
  EXPECT_FALSE((*n)->is_producer());
  auto refused = (*n)->generate_block();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), kNotAProducerError);

  // A complete block from a local source is validated like a peer's.
  auto make = [&](const KeyPair& key) {
    auto b = std::make_shared<Block>();
    b->header.network = kDevnetMagic;
    b->header.prev = tip;
    b->header.height = 2;
    b->header.time = (*n)->chain_info().tip_time;
    b->header.merkle_root = merkle_root(b->txs);
    b->header.sign(key);
    return BlockRef(b);
  };
  EXPECT_EQ((*n)->submit_block(make(test::test_key(4))).error, BlockError::kBadProducer);
  EXPECT_EQ((*n)->chain_info().height, 1u);
  const BlockRef good = make(devnet_producer_key(2));
  EXPECT_EQ((*n)->submit_block(good).error, BlockError::kOk);
  EXPECT_EQ((*n)->chain_info().tip, good->header.id());
}

TEST(NodeStart, UnauthorisedProducerKeyIsRefused) {
  test::TempDir dir;
  NodeConfig c = node_config(dir.file("node"));
  c.block_relay.producer_key = test::test_key(3);
  auto n = Node::start(std::move(c));
  ASSERT_FALSE(n);
  EXPECT_NE(n.error().find("devnet"), std::string::npos) << n.error();
  EXPECT_NE(n.error().find(to_hex(test::test_key(3).public_key())), std::string::npos);
}

TEST(NodeStart, LockedChainStoreIsOneLineNamingThePath) {
  test::TempDir dir;
  const std::string datadir = dir.file("node");
  fs::create_directories(datadir);
  ChainOptions co;
  co.path = datadir + "/chain";
  auto holder = ChainState::open(devnet_params(), co);  // another process holding it
  ASSERT_TRUE(holder) << holder.error();
  auto n = Node::start(node_config(datadir));
  ASSERT_FALSE(n);
  expect_one_line_naming(n.error(), co.path);
}

TEST(NodeStart, CorruptChainStoreIsOneLineNamingThePath) {
  test::TempDir dir;
  const std::string datadir = dir.file("node");
  { ASSERT_TRUE(Node::start(node_config(datadir))); }
  size_t damaged = 0;
  for (const auto& e : fs::directory_iterator(datadir + "/chain")) {
    const std::string name = e.path().filename().string();
    if (name.rfind("MANIFEST", 0) == 0 || name == "CURRENT") {
      std::ofstream(e.path(), std::ios::trunc) << "this is not a LevelDB file\n";
      ++damaged;
    }
  }
  ASSERT_GT(damaged, 0u);
  auto n = Node::start(node_config(datadir));
  ASSERT_FALSE(n);
  expect_one_line_naming(n.error(), datadir + "/chain");
}

TEST(NodeStart, UnwritableChainStoreIsOneLineNamingThePath) {
  test::TempDir dir;
  const std::string datadir = dir.file("node");
  fs::create_directories(datadir);
  std::ofstream(datadir + "/chain") << "a file where the chain directory belongs\n";
  auto n = Node::start(node_config(datadir));
  ASSERT_FALSE(n);
  expect_one_line_naming(n.error(), datadir + "/chain");
}

TEST(NodeConfig, TrustedPeersFileIsLoadedWithoutExcludingOthersAndErrorsNameIt) {
  test::TempDir dir;
  const PublicKey key = test::test_key(7).public_key();
  std::ofstream(dir.file("trusted.txt")) << to_hex(key) << "\n";
  NodeConfig c = config_of(dir, {"--trusted-peers", dir.file("trusted.txt")});
  ASSERT_TRUE(c.host.trusted);
  EXPECT_EQ(c.host.trusted->size(), 1u);
  EXPECT_TRUE(c.host.trusted->count(key));
  EXPECT_FALSE(c.host.allow_list) << "trusting some identities shuts no one out";

  NodeOptions o = options(dir);
  o.trusted_peers = dir.file("absent.txt");
  auto bad = node_config_from_options(o);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().rfind("--trusted-peers: ", 0), 0u) << bad.error();
  EXPECT_NE(bad.error().find(o.trusted_peers), std::string::npos) << bad.error();
}

TEST(NodeConfig, PartialFrameMemoryIsInMibWithinItsRange) {
  test::TempDir dir;
  NodeConfig c = config_of(dir, {"--max-partial-frame-memory", "16"});
  EXPECT_EQ(c.host.max_partial_frame_bytes, size_t{16} * 1024 * 1024);
  auto r = parse_node_options({"hearsayd", "--max-partial-frame-memory", "4"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(),
            "--max-partial-frame-memory: '4' is not allowed: expected a whole number from 8 to "
            "65536");
}

}  // namespace
}  // namespace hearsay
