// hearsay-cli: offline tools (keygen, tx) round-tripping through Transaction::decode, argument
// conversion, RPC commands and sendtx against an in-process fake node, exit codes and stderr.
#include "node/cli.h"
#include "node/node.h"
#include "node/rpc_client.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <sstream>

#include "chainstub/params.h"
#include "crypto/hex.h"
#include "crypto/keyfile.h"
#include "mempool/policy.h"
#include "testing/fake_rpc_node.h"
#include "testing/test_util.h"

namespace hearsay {
namespace {

namespace json = boost::json;

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

CliRun cli(std::vector<std::string> args) {
  std::ostringstream out, err;
  CliRun r;
  r.code = run_cli(args, {out, err, false});
  r.out = out.str();
  r.err = err.str();
  return r;
}

// One line on stderr, nothing on stdout.
void expect_one_error_line(const CliRun& r, const std::string& needle) {
  EXPECT_TRUE(r.out.empty()) << r.out;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

uint16_t closed_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  uint16_t port = a.local_endpoint().port();
  a.close();
  return port;
}

TxRef decode_hex(const std::string& line) {
  std::string hex = line;
  while (!hex.empty() && hex.back() == '\n')
    hex.pop_back();
  auto bytes = from_hex(hex);
  EXPECT_TRUE(bytes) << line;
  if (!bytes) return nullptr;
  auto tx = Transaction::decode(std::move(*bytes));
  EXPECT_TRUE(tx);
  return tx ? *tx : nullptr;
}

class CliTest : public ::testing::Test {
 protected:
  std::string keygen() {
    std::string path = m_dir.file("key" + std::to_string(m_keys++));
    CliRun r = cli({"keygen", "--out", path});
    EXPECT_EQ(r.code, kCliOk) << r.err;
    return path;
  }
  test::TempDir m_dir;
  int m_keys = 0;
};

TEST_F(CliTest, KeygenWritesAKeyAndPrintsItsPublicKey) {
  const std::string path = m_dir.file("k");
  CliRun r = cli({"keygen", "--out", path});
  ASSERT_EQ(r.code, kCliOk) << r.err;
  auto key = load_key_file(path);
  ASSERT_TRUE(key) << key.error();
  EXPECT_EQ(r.out, to_hex(key->public_key()) + "\n");
  EXPECT_TRUE(r.err.empty());

  // Never overwrites a key.
  CliRun again = cli({"keygen", "--out=" + path});
  EXPECT_EQ(again.code, kCliFailure);
  expect_one_error_line(again, path);
  EXPECT_EQ(load_key_file(path)->public_key(), key->public_key());

  EXPECT_EQ(cli({"keygen"}).code, kCliUsage);
  EXPECT_EQ(cli({"keygen", "--out", m_dir.file("x"), "extra"}).code, kCliUsage);
  CliRun bad_dir = cli({"keygen", "--out", m_dir.file("no/such/dir/k")});
  EXPECT_EQ(bad_dir.code, kCliFailure);
  expect_one_error_line(bad_dir, m_dir.file("no/such/dir"));
}

TEST_F(CliTest, TxRoundTripsThroughDecode) {
  const std::string key_file = keygen();
  auto key = load_key_file(key_file);
  ASSERT_TRUE(key);
  CliRun r = cli({"tx", "--key", key_file, "--nonce", "5", "--fee", "1234", "--payload", "deadBEEF",
                  "--expiry", "99", "--network", "0x01020304"});
  ASSERT_EQ(r.code, kCliOk) << r.err;
  TxRef tx = decode_hex(r.out);
  ASSERT_TRUE(tx);
  EXPECT_TRUE(tx->verify_signature());
  EXPECT_EQ(tx->sender(), key->public_key());
  EXPECT_EQ(tx->nonce(), 5u);
  EXPECT_EQ(tx->fee(), 1234u);
  EXPECT_EQ(tx->expiry(), 99u);
  EXPECT_EQ(tx->network(), 0x01020304u);
  EXPECT_EQ(to_hex(tx->payload()), "deadbeef");

  // Deterministic: the same options give the same transaction.
  CliRun again = cli({"tx", "--key", key_file, "--nonce", "5", "--fee", "1234", "--payload",
                      "deadbeef", "--expiry", "99", "--network", "16909060"});
  EXPECT_EQ(again.out, r.out);
}

TEST_F(CliTest, TxDefaultsToDevnetAndTheMinimumFeeRate) {
  const std::string key_file = keygen();
  for (size_t size : {kMinTxSize, size_t{250}, size_t{377}, size_t{1001}, size_t{4096}}) {
    CliRun r = cli({"tx", "--key", key_file, "--nonce", "0", "--size", std::to_string(size)});
    ASSERT_EQ(r.code, kCliOk) << r.err;
    TxRef tx = decode_hex(r.out);
    ASSERT_TRUE(tx);
    EXPECT_EQ(tx->size(), size);
    EXPECT_EQ(tx->network(), kDevnetMagic);
    EXPECT_GE(tx->fee_rate(), kDefaultMinFeeRate) << size;
    EXPECT_EQ(tx->fee(), min_fee_for(size, kDefaultMinFeeRate));
    // The smallest such fee: one less falls under the rate.
    EXPECT_LT((tx->fee() - 1) * 1000 / size, kDefaultMinFeeRate) << size;
  }
  // No payload option: an empty payload.
  CliRun r = cli({"tx", "--key", key_file, "--nonce", "1"});
  ASSERT_EQ(r.code, kCliOk) << r.err;
  EXPECT_EQ(decode_hex(r.out)->payload().size(), 0u);
}

TEST(CliPieces, PayloadSizeForEveryReachableSize) {
  EXPECT_EQ(*payload_size_for(kMinTxSize), 0u);
  EXPECT_EQ(*payload_size_for(377), 252u);
  // 378 and 379 cannot be made (the length prefix grows from 1 to 3 bytes): 380 is.
  EXPECT_EQ(*payload_size_for(378), 253u);
  EXPECT_EQ(*payload_size_for(379), 253u);
  EXPECT_EQ(*payload_size_for(380), 253u);
  EXPECT_EQ(*payload_size_for(kMaxTxSize), kMaxTxPayload);
  EXPECT_FALSE(payload_size_for(kMinTxSize - 1));
  EXPECT_FALSE(payload_size_for(kMaxTxSize + 1));
  for (size_t size = kMinTxSize; size < 1000; ++size) {
    size_t p = *payload_size_for(size);
    size_t made = kTxFixedPrefix + compact_size_len(p) + p + kTxSignatureSize;
    EXPECT_GE(made, size);
    if (size != 378 && size != 379) {
      EXPECT_EQ(made, size);
    }
  }
}

TEST(CliPieces, MinFee) {
  EXPECT_EQ(min_fee_for(250, 100), 25u);
  EXPECT_EQ(min_fee_for(1001, 100), 101u);
  EXPECT_EQ(min_fee_for(125, 0), 0u);
  EXPECT_EQ(min_fee_for(1000, UINT64_MAX), UINT64_MAX);
}

TEST(CliPieces, ConvertParamsAsBitcoinCli) {
  auto p = convert_rpc_params("setban", {"1.2.3.4", "add", "86400", "true"});
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(*p, (json::array{"1.2.3.4", "add", 86400, true}));
  // Unlisted methods and parameters stay strings, even when they look like numbers.
  p = convert_rpc_params("disconnectpeer", {"12"});
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, (json::array{"12"}));
  p = convert_rpc_params("getnextnonce", {"00ff"});
  EXPECT_EQ(*p, (json::array{"00ff"}));
  p = convert_rpc_params("somefuturemethod", {"1", "x"});
  EXPECT_EQ(*p, (json::array{"1", "x"}));
  p = convert_rpc_params("getrawmempool", {"false"});
  EXPECT_EQ(*p, (json::array{false}));
  p = convert_rpc_params("disconnectnode", {"", "3"});
  EXPECT_EQ(*p, (json::array{"", 3}));
  p = convert_rpc_params("setnetworkactive", {"false"});
  EXPECT_EQ(*p, (json::array{false}));
  EXPECT_EQ(*convert_rpc_params("getinfo", {}), json::array());
  // Block queries: getblock's verbosity is a number, getblockheader's verbose a bool.
  p = convert_rpc_params("getblock", {"00ab", "2"});
  EXPECT_EQ(*p, (json::array{"00ab", 2}));
  p = convert_rpc_params("getblockheader", {"00ab", "false"});
  EXPECT_EQ(*p, (json::array{"00ab", false}));
  EXPECT_EQ(*convert_rpc_params("generateblock", {}), json::array());
  // A listed parameter that is not JSON names the argument.
  auto bad = convert_rpc_params("setban", {"1.2.3.4", "add", "a day"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("argument 3 of setban"), std::string::npos) << bad.error();
  for (size_t i = 0; i < kRpcNumericParamsCount; ++i)
    EXPECT_GE(kRpcNumericParams[i].index, 0);
}

TEST(CliPieces, HostPortAndNetwork) {
  auto hp = parse_host_port("127.0.0.1:1234", 9);
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "127.0.0.1");
  EXPECT_EQ(hp->port, 1234);
  hp = parse_host_port("[::1]:80", 9);
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "::1");
  EXPECT_EQ(hp->port, 80);
  hp = parse_host_port("localhost", 9);
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->port, 9);
  for (const char* bad : {"", ":80", "h:", "h:0", "h:65536", "h:x", "::1:80", "[::1", "[]:1"})
    EXPECT_FALSE(parse_host_port(bad, 9)) << bad;

  EXPECT_EQ(*parse_network("devnet"), kDevnetMagic);
  EXPECT_EQ(*parse_network("0x68727364"), kDevnetMagic);
  EXPECT_EQ(*parse_network("7"), 7u);
  for (const char* bad : {"", "0", "0x", "0x100000000", "mainnet", "-1", "12x"})
    EXPECT_FALSE(parse_network(bad)) << bad;
}

TEST_F(CliTest, BadCommandLinesExitTwoWithOneLine) {
  const std::string key_file = keygen();
  struct Case {
    std::vector<std::string> args;
    const char* needle;
  };
  const Case cases[] = {
      {{"--bogus", "getinfo"}, "unknown option --bogus"},
      {{"--rpc"}, "--rpc needs a value"},
      {{"--rpc", "nowhere:99999", "getinfo"}, "--rpc"},
      {{"--rpc-user", "u", "getinfo"}, "--rpc-user and --rpc-password go together"},
      {{"tx", "--nonce", "1"}, "--key FILE is required"},
      {{"tx", "--key", key_file}, "--nonce N is required"},
      {{"tx", "--key", key_file, "--nonce", "x"}, "--nonce: 'x'"},
      {{"tx", "--key", key_file, "--nonce", "-1"}, "--nonce"},
      {{"tx", "--key", key_file, "--nonce", "1", "--payload", "abc"}, "--payload: not hex"},
      {{"tx", "--key", key_file, "--nonce", "1", "--size", "10"}, "--size"},
      {{"tx", "--key", key_file, "--nonce", "1", "--size", "200", "--payload", "00"}, "not both"},
      {{"tx", "--key", key_file, "--nonce", "1", "--network", "moon"}, "--network"},
      {{"tx", "--key", key_file, "--nonce", "1", "--colour", "red"}, "unknown option --colour"},
      {{"tx", "--key", key_file, "--nonce", "1", "--nonce", "2"}, "given twice"},
      {{"setban", "1.2.3.4", "add", "soon"}, "argument 3 of setban"},
      {{"inject", "--count", "0"}, "--count"},
      {{"inject", "--rate", "fast"}, "--rate"},
      {{"network"}, "network new"},
      {{"network", "old"}, "network new"},
      {{"network", "new", "--out", "d"}, "--producers N and --out DIR are required"},
      {{"network", "new", "--producers", "2"}, "--producers N and --out DIR are required"},
      {{"network", "new", "--producers", "0", "--out", "d"}, "--producers"},
      {{"network", "new", "--producers", "1001", "--out", "d"}, "--producers"},
      {{"network", "new", "--producers", "1", "--out", "d", "--magic", "xyz"}, "--magic"},
      {{"network", "new", "--producers", "1", "--out", "d", "--magic", "0x68727364"},
       "devnet's magic"},
      {{"network", "new", "--producers", "1", "--out", "d", "--block-interval", "0"},
       "--block-interval"},
      {{"network", "new", "--producers", "1", "--out", "d", "--max-block-size", "9999"},
       "--max-block-size"},
      {{"network", "new", "--producers", "1", "--out", "d", "--colour", "red"},
       "unknown option --colour"},
      {{"getblock", "00", "one"}, "argument 2 of getblock"},
  };
  for (const Case& c : cases) {
    CliRun r = cli(c.args);
    EXPECT_EQ(r.code, kCliUsage) << c.args[0] << " " << r.err;
    expect_one_error_line(r, c.needle);
    EXPECT_TRUE(r.err.starts_with("error")) << r.err;
  }
  // No command: the usage on stderr.
  CliRun none = cli({});
  EXPECT_EQ(none.code, kCliUsage);
  EXPECT_NE(none.err.find("Usage: hearsay-cli"), std::string::npos);
  // Help is not an error.
  CliRun help = cli({"--help"});
  EXPECT_EQ(help.code, kCliOk);
  EXPECT_NE(help.out.find("Usage: hearsay-cli"), std::string::npos);
  CliRun tx_help = cli({"help", "tx"});
  EXPECT_EQ(tx_help.code, kCliOk);
  EXPECT_NE(tx_help.out.find("--payload"), std::string::npos);
}

TEST_F(CliTest, NetworkNewWritesALoadableNetworkAndItsProducerKeys) {
  const std::string out = m_dir.file("net");
  CliRun r = cli({"network", "new", "--producers", "3", "--out", out, "--name", "clinet", "--magic",
                  "0x1a2b3c4d", "--block-interval", "7", "--max-block-size", "200000"});
  ASSERT_EQ(r.code, kCliOk) << r.err;
  EXPECT_EQ(r.err, "");
  auto net = load_network_file(out + "/network.json");
  ASSERT_TRUE(net) << net.error();
  EXPECT_EQ(net->name, "clinet");
  EXPECT_EQ(net->magic, 0x1a2b3c4du);
  EXPECT_EQ(net->block_interval_s, 7u);
  EXPECT_EQ(net->max_block_size, 200'000u);
  ASSERT_EQ(net->producers.size(), 3u);
  // Printed: the network, the file, the genesis id, each producer's key file and public key.
  EXPECT_NE(r.out.find("network  clinet (magic 0x1a2b3c4d)\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("file     " + out + "/network.json\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("genesis  " + to_hex(net->genesis_id()) + "\n"), std::string::npos) << r.out;
  for (size_t i = 0; i < 3; ++i) {
    const std::string key_file = out + "/producer-" + std::to_string(i) + ".key";
    auto key = load_key_file(key_file);
    ASSERT_TRUE(key) << key.error();
    EXPECT_TRUE(net->is_producer(key->public_key()));
    EXPECT_NE(r.out.find("producer " + key_file + " " + to_hex(key->public_key())),
              std::string::npos)
        << r.out;
  }
  // Never over an existing network: a failure (exit 1) naming the file.
  CliRun again = cli({"network", "new", "--producers", "1", "--out", out});
  EXPECT_EQ(again.code, kCliFailure);
  expect_one_error_line(again, "network.json");

  // Defaults: a generated name, a random magic other than the devnet's.
  CliRun d = cli({"network", "new", "--producers", "1", "--out", m_dir.file("net2")});
  ASSERT_EQ(d.code, kCliOk) << d.err;
  auto net2 = load_network_file(m_dir.file("net2/network.json"));
  ASSERT_TRUE(net2) << net2.error();
  EXPECT_EQ(net2->name.rfind("testnet-", 0), 0u) << net2->name;
  EXPECT_NE(net2->magic, kDevnetMagic);

  CliRun help = cli({"help", "network"});
  EXPECT_EQ(help.code, kCliOk);
  for (const char* needle : {"--producers N", "--out DIR", "--name", "--magic", "--block-interval",
                             "--max-block-size", "[1..1000]", "[1..86400]"})
    EXPECT_NE(help.out.find(needle), std::string::npos) << needle;
}

TEST_F(CliTest, MissingKeyFileIsAFailureNamingThePath) {
  const std::string missing = m_dir.file("absent.key");
  CliRun r = cli({"tx", "--key", missing, "--nonce", "1"});
  EXPECT_EQ(r.code, kCliFailure);
  expect_one_error_line(r, missing);
}

TEST_F(CliTest, RpcCommandsPrintAsBitcoinCli) {
  test::FakeNode node;
  const std::vector<std::string> g = {"--rpc", node.rpc(),       "--rpc-user",
                                      "u",     "--rpc-password", "p"};
  auto with = [&](std::vector<std::string> rest) {
    std::vector<std::string> a = g;
    a.insert(a.end(), rest.begin(), rest.end());
    return cli(a);
  };
  CliRun info = with({"getinfo"});
  ASSERT_EQ(info.code, kCliOk) << info.err;
  EXPECT_EQ(info.out, "{\n  \"version\": \"fake\",\n  \"peers\": 0\n}\n");
  CliRun best = with({"getbestblock"});
  EXPECT_EQ(best.out, "00ff\n");  // a string, bare
  CliRun stop = with({"stop"});
  EXPECT_EQ(stop.code, kCliOk);
  EXPECT_EQ(stop.out, "");  // null prints nothing
  // Unknown methods pass strings; listed ones convert.
  CliRun echo = with({"echo", "1", "two"});
  EXPECT_EQ(echo.out, "[\n  \"1\",\n  \"two\"\n]\n");
  // The daemon's error: exit 1, bitcoin-cli's line.
  CliRun missing = with({"nosuchmethod"});
  EXPECT_EQ(missing.code, kCliFailure);
  expect_one_error_line(missing, "error code: -32601");
  // Wrong credentials: no answer to use, exit 3.
  CliRun denied = cli({"--rpc", node.rpc(), "--rpc-user", "u", "--rpc-password", "x", "getinfo"});
  EXPECT_EQ(denied.code, kCliUnreachable);
  expect_one_error_line(denied, "refused the credentials");
}

TEST_F(CliTest, CookieFromDatadir) {
  test::FakeNode node("", "");
  CliRun r = cli({"--datadir", node.datadir(), "--rpc", node.rpc(), "getbestblock"});
  ASSERT_EQ(r.code, kCliOk) << r.err;
  EXPECT_EQ(r.out, "00ff\n");
  // Another datadir has no cookie: the error names the file.
  CliRun bad = cli({"--datadir", m_dir.str(), "--rpc", node.rpc(), "getbestblock"});
  EXPECT_EQ(bad.code, kCliUnreachable);
  expect_one_error_line(bad, m_dir.file(".cookie"));
}

TEST_F(CliTest, NoDaemonExitsThree) {
  const std::string port = std::to_string(closed_port());
  CliRun r =
      cli({"--rpc", "127.0.0.1:" + port, "--rpc-user", "u", "--rpc-password", "p", "getinfo"});
  EXPECT_EQ(r.code, kCliUnreachable);
  expect_one_error_line(r, "127.0.0.1:" + port);
}

TEST_F(CliTest, SendtxAsksForTheNonceAndPrintsTheId) {
  test::FakeNode node;
  node.next_nonce = 7;
  const std::string key_file = keygen();
  auto key = load_key_file(key_file);
  ASSERT_TRUE(key);
  const std::vector<std::string> g = {"--rpc", node.rpc(),       "--rpc-user",
                                      "u",     "--rpc-password", "p"};
  std::vector<std::string> a = g;
  for (const char* s : {"sendtx", "--key"})
    a.push_back(s);
  a.push_back(key_file);
  a.push_back("--size");
  a.push_back("300");
  CliRun r = cli(a);
  ASSERT_EQ(r.code, kCliOk) << r.err;
  auto got = node.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]->nonce(), 7u);
  EXPECT_EQ(got[0]->size(), 300u);
  EXPECT_EQ(got[0]->sender(), key->public_key());
  EXPECT_EQ(r.out, to_hex(got[0]->id()) + "\n");
  ASSERT_EQ(node.nonce_queries().size(), 1u);
  EXPECT_EQ(node.nonce_queries()[0], to_hex(key->public_key()));

  // With --nonce no query is made.
  a.push_back("--nonce");
  a.push_back("42");
  r = cli(a);
  ASSERT_EQ(r.code, kCliOk) << r.err;
  EXPECT_EQ(node.received().back()->nonce(), 42u);
  EXPECT_EQ(node.nonce_queries().size(), 1u);

  // A rejection: exit 1 and the daemon's code and message.
  node.reject = [](const Transaction&) { return "fee-rate-too-low"; };
  a.back() = "43";
  r = cli(a);
  EXPECT_EQ(r.code, kCliFailure);
  expect_one_error_line(r, "error code: -26: fee-rate-too-low");
}

TEST_F(CliTest, SendtxUsesTheNodesNetworkUnlessTold) {
  test::FakeNode node;
  node.magic = 0x58457eea;
  const std::string key_file = keygen();
  const std::vector<std::string> a = {"--rpc",          node.rpc(), "--rpc-user", "u",
                                      "--rpc-password", "p",        "sendtx",     "--key",
                                      key_file,         "--nonce",  "0"};
  CliRun r = cli(a);
  ASSERT_EQ(r.code, kCliOk) << r.err;
  ASSERT_EQ(node.received().size(), 1u);
  EXPECT_EQ(node.received()[0]->network(), 0x58457eeau);
  // An explicit --network wins.
  std::vector<std::string> told = a;
  told.back() = "1";
  told.insert(told.end(), {"--network", "devnet"});
  r = cli(told);
  ASSERT_EQ(r.code, kCliOk) << r.err;
  EXPECT_EQ(node.received().back()->network(), kDevnetMagic);
  // tx is offline: devnet unless told.
  r = cli({"tx", "--key", key_file, "--nonce", "0"});
  ASSERT_EQ(r.code, kCliOk) << r.err;
  EXPECT_EQ(decode_hex(r.out)->network(), kDevnetMagic);
  CliRun help = cli({"help", "tx"});
  EXPECT_NE(help.out.find("tx (offline) defaults\n                   to devnet"), std::string::npos)
      << help.out;
}

TEST_F(CliTest, HelpMethodAsksTheNode) {
  test::FakeNode node;
  const std::vector<std::string> g = {"--rpc", node.rpc(),       "--rpc-user",
                                      "u",     "--rpc-password", "p"};
  auto with = [&](std::vector<std::string> rest) {
    std::vector<std::string> a = g;
    a.insert(a.end(), rest.begin(), rest.end());
    return cli(a);
  };
  CliRun r = with({"help", "getpeerinfo"});
  ASSERT_EQ(r.code, kCliOk) << r.err;
  // The node's own text: the fake documents getpeerinfo thus.
  EXPECT_NE(r.out.find("The fake node's peers: none."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("hearsay-cli getpeerinfo"), std::string::npos) << r.out;
  // An unknown name: the node's error, exit 1.
  r = with({"help", "foo"});
  EXPECT_EQ(r.code, kCliFailure);
  expect_one_error_line(r, "error code: -32601: help: unknown method 'foo'");
  // A tool's help is local: no node needed.
  const std::string closed = "127.0.0.1:" + std::to_string(closed_port());
  r = cli({"--rpc", closed, "--rpc-user", "u", "--rpc-password", "p", "help", "inject"});
  ASSERT_EQ(r.code, kCliOk) << r.err;
  EXPECT_NE(r.out.find("Usage: hearsay-cli inject"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("already_held"), std::string::npos) << r.out;
  // No node to ask: says so, exit 3.
  r = cli({"--rpc", closed, "--rpc-user", "u", "--rpc-password", "p", "help", "foo"});
  EXPECT_EQ(r.code, kCliUnreachable);
  expect_one_error_line(r, "the node could not be reached for RPC help");
  EXPECT_NE(r.err.find(closed), std::string::npos) << r.err;
  // help alone: the usage, which points at help METHOD and lists the new methods.
  r = cli({"--rpc", closed, "help"});
  ASSERT_EQ(r.code, kCliOk) << r.err;
  for (const char* needle :
       {"Usage: hearsay-cli", "hearsay-cli help METHOD documents each RPC", "getnetworkinfo",
        "getblockchaininfo", "getblockcount", "getconnectioncount", "uptime"})
    EXPECT_NE(r.out.find(needle), std::string::npos) << needle;
  EXPECT_EQ(cli({"help", "tx", "extra"}).code, kCliUsage);
}

// RpcClient's additions for inject: kept-alive connections and batch calls.
TEST(RpcClientBatch, ResultsInOrderOverOneKeptConnection) {
  test::FakeNode node;
  RpcClientConfig c;
  c.port = node.port();
  c.user = "u";
  c.password = "p";
  c.keep_alive = true;
  RpcClient client(c);
  TxRef tx = test::make_tx(3, 0, 1000, 10, 0, kDevnetMagic);
  for (int round = 0; round < 3; ++round) {
    std::vector<RpcCall> calls = {
        {"echo", json::array{round}},
        {"sendrawtransaction", json::array{"zz"}},
        {"sendrawtransaction", json::array{to_hex(tx->encoding())}},
    };
    auto r = client.call_batch(calls);
    ASSERT_TRUE(r) << r.error().one_line();
    ASSERT_EQ(r->size(), 3u);
    ASSERT_TRUE((*r)[0]);
    EXPECT_EQ(*(*r)[0], (json::array{round}));
    ASSERT_FALSE((*r)[1]);
    EXPECT_EQ((*r)[1].error().rpc_code, std::optional<int>(kRpcDeserializationError));
    ASSERT_TRUE((*r)[2]) << (*r)[2].error().one_line();
    EXPECT_EQ(*(*r)[2], json::value(to_hex(tx->id())));
    // Single calls share the connection too.
    auto one = client.call("getbestblock", json::array());
    ASSERT_TRUE(one) << one.error().one_line();
  }
  EXPECT_EQ(node.received().size(), 3u);
  auto empty = client.call_batch({});
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST(RpcClientBatch, AWholeBatchErrorIsTheOuterError) {
  test::FakeNode node;
  RpcClientConfig c;
  c.port = node.port();
  c.user = "u";
  c.password = "p";
  RpcClient client(c);
  std::vector<RpcCall> calls(kRpcMaxBatchRequests + 1, RpcCall{"echo", json::array()});
  auto r = client.call_batch(calls);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().rpc_code, std::optional<int>(kRpcInvalidRequest)) << r.error().one_line();
}

}  // namespace
}  // namespace hearsay
