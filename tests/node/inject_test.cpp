// hearsay-cli inject against in-process fake nodes: every transaction signed, valid and sent
// once, nonces in order per sender, round robin over endpoints, --out lines, rejections counted
// by rule, already-held transactions counted apart, senders chosen from the nodes' per-sender
// limit, the network asked of the nodes, exit codes, progress output.
#include "node/inject.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "crypto/hex.h"
#include "mempool/policy.h"
#include "node/cli.h"
#include "node/node.h"
#include "testing/fake_rpc_node.h"
#include "testing/test_util.h"

namespace hearsay {
namespace {

namespace json = boost::json;

RpcClientConfig endpoint(const test::FakeNode& n) {
  RpcClientConfig c;
  c.port = n.port();
  c.user = "u";
  c.password = "p";
  c.timeout = std::chrono::seconds(60);
  return c;
}

InjectOptions options(std::vector<RpcClientConfig> endpoints, uint64_t count, uint32_t senders) {
  InjectOptions o;
  o.endpoints = std::move(endpoints);
  o.count = count;
  o.senders = senders;
  o.network = kDevnetMagic;
  o.sign_threads = 2;
  return o;
}

TEST(Inject, SenderKeysAreDeterministicAndDistinct) {
  crypto_init();
  EXPECT_EQ(inject_sender_key(1, 0).public_key(), inject_sender_key(1, 0).public_key());
  EXPECT_NE(inject_sender_key(1, 0).public_key(), inject_sender_key(1, 1).public_key());
  EXPECT_NE(inject_sender_key(1, 0).public_key(), inject_sender_key(2, 0).public_key());
}

TEST(Inject, BatchSize) {
  InjectOptions o;
  o.size = 250;
  EXPECT_EQ(inject_batch_size(o), kInjectMaxBatch);  // rate 0: full batches
  o.rate = 100;
  EXPECT_EQ(inject_batch_size(o), 2u);
  o.rate = 1;
  EXPECT_EQ(inject_batch_size(o), 1u);
  o.rate = 1e6;
  EXPECT_EQ(inject_batch_size(o), kInjectMaxBatch);
  o.batch = 7;
  EXPECT_EQ(inject_batch_size(o), 7u);
  // Large transactions: a batch still fits a request body.
  o.batch = 0;
  o.rate = 0;
  o.size = kMaxTxSize;
  EXPECT_GE(inject_batch_size(o), 1u);
  EXPECT_LE(inject_batch_size(o) * (2 * kMaxTxSize + 128), kRpcMaxBodyBytes);
}

TEST(Inject, ParseArgsPairsDatadirsWithEndpoints) {
  RpcClientConfig base;
  base.host = "127.0.0.1";
  base.port = 18732;
  base.datadir = "/base";
  auto o = parse_inject_args({}, base);
  ASSERT_TRUE(o) << o.error();
  ASSERT_EQ(o->endpoints.size(), 1u);
  EXPECT_EQ(o->endpoints[0].datadir, "/base");
  EXPECT_EQ(o->start_nonce, std::optional<uint64_t>(0));
  EXPECT_FALSE(o->network);   // asked of the nodes
  EXPECT_EQ(o->senders, 0u);  // chosen from the nodes' per-sender limit

  o = parse_inject_args(
      {"--rpc", "127.0.0.1:1", "--rpc=127.0.0.2:2", "--datadir", "/a", "--datadir", "/b", "--count",
       "10", "--rate", "2.5", "--start-nonce", "next", "--fee", "0"},
      base);
  ASSERT_TRUE(o) << o.error();
  ASSERT_EQ(o->endpoints.size(), 2u);
  EXPECT_EQ(o->endpoints[1].host, "127.0.0.2");
  EXPECT_EQ(o->endpoints[1].port, 2);
  EXPECT_EQ(o->endpoints[0].datadir, "/a");
  EXPECT_EQ(o->endpoints[1].datadir, "/b");
  EXPECT_EQ(o->count, 10u);
  EXPECT_DOUBLE_EQ(o->rate, 2.5);
  EXPECT_FALSE(o->start_nonce);
  EXPECT_EQ(o->fee, std::optional<uint64_t>(0));

  o = parse_inject_args({"--rpc", "h:1", "--rpc", "h:2", "--datadir", "/one"}, base);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->endpoints[1].datadir, "/one");

  for (std::vector<std::string> bad :
       {std::vector<std::string>{"--rpc", "h:1", "--rpc", "h:2", "--rpc", "h:3", "--datadir", "/a",
                                 "--datadir", "/b"},
        {"--count", "0"},
        {"--senders", "0"},
        {"--size", "100"},
        {"--rate", "-1"},
        {"--start-nonce", "soon"},
        {"--batch", "1001"},
        {"stray"},
        {"--out="}}) {
    auto r = parse_inject_args(bad, base);
    EXPECT_FALSE(r) << bad[0];
  }
}

TEST(Inject, SendsEveryTransactionOnceInNonceOrder) {
  test::FakeNode node;
  test::TempDir dir;
  InjectOptions o = options({endpoint(node)}, 250, 5);
  o.size = 300;
  o.out_file = dir.file("out.jsonl");
  std::ostringstream progress;
  auto s = run_inject(o, progress, false);
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->count, 250u);
  EXPECT_EQ(s->accepted, 250u);
  EXPECT_EQ(s->rejected, 0u);
  EXPECT_EQ(s->failed, 0u);

  auto got = node.received();
  ASSERT_EQ(got.size(), 250u);
  std::map<PublicKey, std::set<uint64_t>> nonces;
  std::set<TxId> ids;
  for (const TxRef& tx : got) {
    EXPECT_EQ(tx->size(), 300u);
    EXPECT_EQ(tx->network(), kDevnetMagic);
    EXPECT_GE(tx->fee_rate(), 100u);
    nonces[tx->sender()].insert(tx->nonce());
    ids.insert(tx->id());
  }
  EXPECT_EQ(ids.size(), 250u);
  ASSERT_EQ(nonces.size(), 5u);
  for (uint32_t s = 0; s < 5; ++s) {
    const auto& n = nonces[inject_sender_key(o.seed, s).public_key()];
    ASSERT_EQ(n.size(), 50u);
    EXPECT_EQ(*n.begin(), 0u);
    EXPECT_EQ(*n.rbegin(), 49u);
  }

  // --out: one JSON line per transaction, in order, with the node and the submit time.
  std::ifstream in(o.out_file);
  std::string line;
  size_t lines = 0;
  while (std::getline(in, line)) {
    json::value v = json::parse(line);
    const json::object& obj = v.as_object();
    EXPECT_TRUE(ids.count(*from_hex_array<32>(obj.at("id").as_string())));
    EXPECT_EQ(obj.at("node").as_string(), "127.0.0.1:" + std::to_string(node.port()));
    EXPECT_GT(obj.at("t").as_int64(), 1'600'000'000'000'000);
    EXPECT_TRUE(obj.at("accepted").as_bool());
    ++lines;
  }
  EXPECT_EQ(lines, 250u);

  // Progress: plain lines (no terminal), the last one complete; the summary parses.
  const std::string p = progress.str();
  EXPECT_EQ(p.find('\r'), std::string::npos);
  EXPECT_NE(p.find("inject: 250/250 answered (100%)"), std::string::npos) << p;
  json::value summary = json::parse(s->to_json());
  EXPECT_EQ(summary.at("accepted").to_number<uint64_t>(), 250u);
}

TEST(Inject, RoundRobinOverEndpointsAndNextNonce) {
  test::FakeNode a, b;
  a.next_nonce = 3;
  InjectOptions o = options({endpoint(a), endpoint(b)}, 300, 3);
  o.batch = 50;
  o.connections = 3;
  o.start_nonce.reset();
  std::ostringstream progress;
  auto s = run_inject(o, progress, true);
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->accepted, 300u);
  // Batches 0, 2, 4 to a; 1, 3, 5 to b.
  EXPECT_EQ(a.received().size(), 150u);
  EXPECT_EQ(b.received().size(), 150u);
  // getnextnonce went to the first endpoint only, once per sender.
  EXPECT_EQ(a.nonce_queries().size(), 3u);
  EXPECT_TRUE(b.nonce_queries().empty());
  uint64_t lowest = UINT64_MAX, highest = 0;
  for (const auto& tx : a.received())
    lowest = std::min(lowest, tx->nonce());
  for (const auto& tx : b.received())
    highest = std::max(highest, tx->nonce());
  EXPECT_EQ(lowest, 3u);
  EXPECT_EQ(highest, 3u + 99u);
  // A terminal gets a bar that ends with a newline.
  const std::string p = progress.str();
  EXPECT_NE(p.find("\r\033[K["), std::string::npos) << p;
  EXPECT_TRUE(p.ends_with("\n"));
}

TEST(Inject, RejectionsAndRateLimitedSending) {
  test::FakeNode node;
  node.reject = [](const Transaction& tx) { return tx.nonce() % 2 ? "nonce-odd" : nullptr; };
  InjectOptions o = options({endpoint(node)}, 40, 1);
  o.rate = 2000;  // exercises the pacing path; nothing here depends on its timing
  std::ostringstream progress;
  auto s = run_inject(o, progress, false);
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->accepted, 20u);
  EXPECT_EQ(s->rejected, 20u);
  EXPECT_EQ(s->failed, 0u);
  ASSERT_EQ(s->reject_reasons.size(), 1u);
  EXPECT_EQ(s->reject_reasons.begin()->first, "nonce-odd");
  EXPECT_EQ(s->reject_reasons.begin()->second, 20u);
}

TEST(Inject, RejectReasonIsTheRuleName) {
  EXPECT_EQ(inject_reject_reason("sender-limit: the sender already has 64"), "sender-limit");
  EXPECT_EQ(inject_reject_reason("fee-rate-too-low"), "fee-rate-too-low");
  EXPECT_EQ(inject_reject_reason(" : nothing"), "(no reason given)");
  EXPECT_EQ(inject_reject_reason(std::string(100, 'x')), std::string(64, 'x'));
}

TEST(Inject, NoNodeExitsThreeBeforeSigning) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acc(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const uint16_t port = acc.local_endpoint().port();
  acc.close();
  std::ostringstream out, err;
  int code = run_cli({"--rpc", "127.0.0.1:" + std::to_string(port), "--rpc-user", "u",
                      "--rpc-password", "p", "inject", "--count", "30", "--senders", "2"},
                     {out, err, false});
  EXPECT_EQ(code, kCliUnreachable);
  EXPECT_TRUE(out.str().empty()) << out.str();
  EXPECT_EQ(err.str().find("signing"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("127.0.0.1:" + std::to_string(port)), std::string::npos) << err.str();
}

// hearsay-cli inject against `node` with `extra` arguments.
struct InjectRun {
  int code = -1;
  json::value summary;
  std::string err;
};
InjectRun cli_inject(const test::FakeNode& node, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--rpc",          node.rpc(), "--rpc-user", "u",
                                   "--rpc-password", "p",        "inject"};
  args.insert(args.end(), extra.begin(), extra.end());
  std::ostringstream out, err;
  InjectRun r;
  r.code = run_cli(args, {out, err, false});
  r.err = err.str();
  if (!out.str().empty()) r.summary = json::parse(out.str());
  return r;
}

uint64_t field(const json::value& summary, const char* name) {
  return summary.at(name).to_number<uint64_t>();
}

TEST(Inject, ChoosesEnoughSendersForTheNodesPerSenderLimit) {
  test::FakeNode node;
  node.max_per_sender = 10;
  InjectRun r = cli_inject(node, {"--count", "500", "--sign-threads", "2"});
  ASSERT_EQ(r.code, kCliOk) << r.err;
  EXPECT_EQ(field(r.summary, "accepted"), 500u);
  EXPECT_EQ(field(r.summary, "rejected"), 0u);
  EXPECT_EQ(field(r.summary, "senders"), 50u);  // ceil(500 / 10)
  EXPECT_EQ(node.held(), 500u);
  EXPECT_EQ(r.err.find("warning"), std::string::npos) << r.err;

  // Few transactions: never fewer senders than the old default.
  test::FakeNode small;
  small.max_per_sender = 10;
  r = cli_inject(small, {"--count", "20", "--sign-threads", "2"});
  ASSERT_EQ(r.code, kCliOk) << r.err;
  EXPECT_EQ(field(r.summary, "senders"), uint64_t{kInjectDefaultSenders});
}

TEST(Inject, ANodeThatReportsNoLimitGetsTheDefaultOne) {
  test::FakeNode node;
  node.max_per_sender = kDefaultMaxPerSender;
  node.report_max_per_sender = false;
  const uint64_t count = 3 * kDefaultMaxPerSender * kInjectDefaultSenders;
  InjectRun r = cli_inject(node, {"--count", std::to_string(count), "--sign-threads", "2"});
  ASSERT_EQ(r.code, kCliOk) << r.err;
  EXPECT_EQ(field(r.summary, "accepted"), count);
  EXPECT_EQ(field(r.summary, "senders"), 3u * kInjectDefaultSenders);
}

TEST(Inject, TooFewSendersWarnsAndRejectionsExitOne) {
  test::FakeNode node;
  node.max_per_sender = 10;
  InjectRun r = cli_inject(node, {"--count", "50", "--senders", "2", "--sign-threads", "2"});
  EXPECT_EQ(r.code, kCliFailure);
  // The warning comes before signing and names the numbers and the fix.
  const size_t warning = r.err.find("inject: warning: 2 senders put up to 25 transactions");
  ASSERT_NE(warning, std::string::npos) << r.err;
  EXPECT_LT(warning, r.err.find("signing"));
  EXPECT_NE(r.err.find("at most 10 per sender"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("use --senders 5 or more"), std::string::npos) << r.err;
  // Rejections are counted by rule and end the run with exit 1 and one line saying so.
  EXPECT_EQ(field(r.summary, "accepted"), 20u);
  EXPECT_EQ(field(r.summary, "rejected"), 30u);
  EXPECT_EQ(r.summary.at("reject_reasons"), (json::object{{"sender-limit", 30}}));
  EXPECT_NE(r.err.find("error: inject: 30 of 50 transactions were rejected (sender-limit: 30)"),
            std::string::npos)
      << r.err;
}

TEST(Inject, AlreadyHeldIsCountedApartAndIsNoFailure) {
  test::FakeNode node;
  test::TempDir dir;
  InjectRun first = cli_inject(node, {"--count", "40", "--sign-threads", "2"});
  ASSERT_EQ(first.code, kCliOk) << first.err;
  EXPECT_EQ(field(first.summary, "accepted"), 40u);
  EXPECT_EQ(field(first.summary, "already_held"), 0u);
  // The same seed again: the same transactions, which the node already holds.
  const std::string out = dir.file("again.jsonl");
  InjectRun again = cli_inject(node, {"--count", "40", "--sign-threads", "2", "--out", out});
  ASSERT_EQ(again.code, kCliOk) << again.err;
  EXPECT_EQ(field(again.summary, "accepted"), 0u);
  EXPECT_EQ(field(again.summary, "already_held"), 40u);
  EXPECT_EQ(field(again.summary, "rejected"), 0u);
  EXPECT_EQ(node.held(), 40u);
  std::ifstream in(out);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  json::value v = json::parse(line);
  EXPECT_EQ(v.at("outcome").as_string(), "already-held");
  EXPECT_FALSE(v.at("accepted").as_bool());
}

TEST(Inject, AsksTheNodesForTheirNetwork) {
  test::FakeNode a, b;
  a.magic = b.magic = 0x58457eea;
  std::vector<std::string> two = {"--rpc", a.rpc(), "--rpc", b.rpc(), "--count", "20"};
  InjectRun r = cli_inject(a, two);
  ASSERT_EQ(r.code, kCliOk) << r.err;
  ASSERT_FALSE(a.received().empty());
  for (const TxRef& tx : a.received())
    EXPECT_EQ(tx->network(), 0x58457eeau);
  // An explicit --network wins.
  test::FakeNode c;
  c.magic = 0x58457eea;
  r = cli_inject(c, {"--count", "5", "--network", "devnet"});
  ASSERT_EQ(r.code, kCliOk) << r.err;
  EXPECT_EQ(c.received().at(0)->network(), kDevnetMagic);
  // Nodes on different networks: refused before sending, naming both.
  b.magic = 0x01020304;
  r = cli_inject(a, {"--rpc", a.rpc(), "--rpc", b.rpc(), "--count", "20", "--seed", "9"});
  EXPECT_EQ(r.code, kCliFailure);
  EXPECT_NE(
      r.err.find("different networks (0x58457eea at " + a.rpc() + ", 0x01020304 at " + b.rpc()),
      std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("signing"), std::string::npos) << r.err;
}

TEST(Inject, UnwritableOutFileFailsBeforeSending) {
  test::FakeNode node;
  test::TempDir dir;
  InjectOptions o = options({endpoint(node)}, 10, 1);
  o.out_file = dir.file("no/such/dir/out.jsonl");
  std::ostringstream progress;
  auto s = run_inject(o, progress, false);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find(o.out_file), std::string::npos) << s.error();
  EXPECT_TRUE(node.received().empty());
}

}  // namespace
}  // namespace hearsay
