// TLS 1.3 with mutual Ed25519 authentication between Hosts, and every client that
// must be refused: unlisted identity, wrong pinned key, plain TCP, TLS 1.2, no certificate,
// RSA and ECDSA certificates. Everything on 127.0.0.1 with ephemeral ports.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "crypto/hex.h"
#include "testing/net_util.h"

namespace hearsay::test {
namespace {

std::unique_ptr<Host> start_host(uint8_t key, HostConfig cfg = loopback_config()) {
  auto h = std::make_unique<Host>(test_key(key), std::move(cfg));
  Status s = h->start();
  EXPECT_TRUE(s.ok()) << s.message();
  return h;
}

HostConfig dialling(const Host& target, std::optional<PublicKey> pin = std::nullopt) {
  HostConfig c = loopback_config();
  c.listen.reset();
  c.connect.push_back(DialTarget{*target.listen_address(), pin});
  return c;
}

TEST(Tls, TwoNodesHandshakeAndPing) {
  auto a = start_host(1);
  auto b = start_host(2, dialling(*a, test_key(1).public_key()));
  ASSERT_TRUE(wait_until([&] {
    for (Host* h : {a.get(), b.get()}) {
      auto peers = h->peer_stats();
      if (peers.size() != 1 || !peers[0].protocol || !peers[0].protocol->last_rtt) return false;
    }
    return true;
  }));
  auto pa = a->peer_stats().at(0);
  auto pb = b->peer_stats().at(0);
  EXPECT_EQ(pa.identity, test_key(2).public_key());
  EXPECT_TRUE(pa.inbound);
  EXPECT_EQ(pb.identity, test_key(1).public_key());
  EXPECT_FALSE(pb.inbound);
  // Each side answered the other's ping: both directions carried a ping and a pong.
  for (const auto& p : {pa, pb}) {
    EXPECT_GE(p.traffic.msgs_out[size_t(MsgType::kPing)], 1u);
    EXPECT_GE(p.traffic.msgs_in[size_t(MsgType::kPong)], 1u);
    EXPECT_GE(p.traffic.bytes_in[size_t(MsgType::kVersion)], kFrameHeaderSize);
  }
  b->stop();
  a->stop();
}

TEST(Tls, AllowListRefusesUnlistedIdentity) {
  HostConfig cfg = loopback_config();
  cfg.allow_list = std::make_shared<AllowList>(AllowList{test_key(2).public_key()});
  auto a = start_host(1, cfg);
  auto stranger = start_host(3, dialling(*a));
  ASSERT_TRUE(wait_until([&] { return contains(a->net_stats().recent_refusals, "allow-list"); }));
  EXPECT_EQ(ready_peers(*a), 0u);
  auto friend_host = start_host(2, dialling(*a));
  ASSERT_TRUE(wait_until([&] { return ready_peers(*friend_host) == 1; }));
  for (const auto& p : a->peer_stats())
    if (p.protocol) {
      EXPECT_EQ(p.identity, test_key(2).public_key());
    }
  stranger->stop();
  friend_host->stop();
  a->stop();
}

TEST(Tls, DialPinnedToWrongKeyFails) {
  auto a = start_host(1);
  auto b = start_host(2, dialling(*a, test_key(9).public_key()));
  ASSERT_TRUE(wait_until([&] { return b->net_stats().dial_failures >= 1; }));
  EXPECT_TRUE(contains(b->net_stats().recent_refusals,
                       "the dial expected " + to_hex(test_key(9).public_key())));
  EXPECT_EQ(ready_peers(*b), 0u);
  EXPECT_EQ(ready_peers(*a), 0u);
  b->stop();
  a->stop();
}

struct BadClientCase {
  const char* name;
  TestClient::Options options;
  const char* refusal;  // expected in the server's log of refusals
};

class TlsRefuses : public ::testing::TestWithParam<BadClientCase> {};

TEST_P(TlsRefuses, BadClient) {
  auto a = start_host(1);
  TestClient c(GetParam().options);
  ASSERT_FALSE(c.connect(*a->listen_address()));
  // TLS 1.3 ends the client's handshake before the server has checked the client's
  // certificate, so a refused client may see its handshake succeed and the connection close.
  if (!c.handshake()) {
    EXPECT_TRUE(c.wait_closed(std::chrono::seconds(5)));
  }
  ASSERT_TRUE(wait_until([&] { return a->net_stats().tls_refused >= 1; }));
  EXPECT_TRUE(contains(a->net_stats().recent_refusals, GetParam().refusal))
      << a->net_stats().recent_refusals.back();
  std::printf("refusal logged: %s\n", a->net_stats().recent_refusals.back().c_str());
  EXPECT_EQ(a->connection_count(), 0u);
  a->stop();
}

INSTANTIATE_TEST_SUITE_P(
    Clients, TlsRefuses,
    ::testing::Values(
        BadClientCase{"NoCertificate", {ClientCert::kNone, 0, TLS1_3_VERSION}, "certificate"},
        BadClientCase{"Rsa", {ClientCert::kRsa, 0, TLS1_3_VERSION}, "certificate key is RSA"},
        BadClientCase{"Ecdsa", {ClientCert::kEcdsa, 0, TLS1_3_VERSION}, "certificate key is ECDSA"},
        BadClientCase{"Tls12", {ClientCert::kEd25519, 200, TLS1_2_VERSION}, "protocol"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Tls, PlainTcpClientRefused) {
  auto a = start_host(1);
  TestClient c({});
  ASSERT_FALSE(c.connect(*a->listen_address()));
  std::vector<uint8_t> junk = bytes_of("474554202f20485454502f312e310d0a0d0a");  // "GET / HTTP/1.1"
  ASSERT_FALSE(c.write_plain(junk));
  EXPECT_TRUE(c.wait_closed(std::chrono::seconds(5), /*plain=*/true));
  ASSERT_TRUE(wait_until([&] { return a->net_stats().tls_refused >= 1; }));
  EXPECT_TRUE(contains(a->net_stats().recent_refusals, "TLS handshake refused"));
  // The node keeps serving: a proper peer still gets in.
  auto b = start_host(2, dialling(*a));
  EXPECT_TRUE(wait_until([&] { return ready_peers(*a) == 1; }));
  b->stop();
  a->stop();
}

}  // namespace
}  // namespace hearsay::test

namespace hearsay::test {
namespace {

TEST(Tls, KeyLogFileReceivesSecretsOnlyWhenConfigured) {
  TempDir dir;
  HostConfig a_cfg = loopback_config();
  a_cfg.keylog_path = dir.file("keys.log");
  Host a(test_key(1), a_cfg);
  ASSERT_TRUE(a.start().ok());
  HostConfig b_cfg = loopback_config();
  b_cfg.listen.reset();
  b_cfg.connect.push_back({*a.listen_address(), std::nullopt});
  Host b(test_key(2), b_cfg);  // no key log
  ASSERT_TRUE(b.start().ok());
  ASSERT_TRUE(wait_until([&] { return ready_peers(a) == 1; }));
  b.stop();
  a.stop();
  std::ifstream in(dir.file("keys.log"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("CLIENT_HANDSHAKE_TRAFFIC_SECRET"), std::string::npos);
  EXPECT_NE(text.find("SERVER_TRAFFIC_SECRET_0"), std::string::npos);
  EXPECT_NE(text.find("CLIENT_TRAFFIC_SECRET_0"), std::string::npos);
  namespace fs = std::filesystem;
  EXPECT_EQ(fs::status(dir.file("keys.log")).permissions() &
                (fs::perms::group_all | fs::perms::others_all),
            fs::perms::none);  // created for the owner only
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
}

TEST(Tls, KeyLogFileThatCannotBeOpenedFailsTheStartNamingIt) {
  TempDir dir;
  HostConfig cfg = loopback_config();
  cfg.keylog_path = dir.file("no-such-dir/keys.log");
  Host a(test_key(1), cfg);
  Status s = a.start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(cfg.keylog_path), std::string::npos) << s.message();
  EXPECT_FALSE(std::filesystem::exists(dir.file("no-such-dir")));
}

}  // namespace
}  // namespace hearsay::test
