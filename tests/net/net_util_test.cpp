// Unit tests of net/'s small pieces: the TLS certificate (crypto/cert.h), allow-list files,
// address parsing, and the address book file.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "crypto/cert.h"
#include "crypto/hex.h"
#include "net/addr_store.h"
#include "net/address.h"
#include "net/tls.h"
#include "testing/net_util.h"

namespace hearsay::test {
namespace {

TEST(Cert, CarriesTheIdentityKey) {
  KeyPair k = test_key(1);
  auto id = make_tls_identity(k);
  ASSERT_TRUE(id.ok()) << id.error();
  auto der = certificate_pem_to_der(id->certificate_pem);
  ASSERT_TRUE(der.ok());
  auto key = identity_from_certificate(*der);
  ASSERT_TRUE(key.ok()) << key.error();
  EXPECT_EQ(*key, k.public_key());
}

TEST(Cert, RefusesOtherKeyTypesAndBadSignatures) {
  for (ClientCert kind : {ClientCert::kRsa, ClientCert::kEcdsa}) {
    auto der = certificate_pem_to_der(foreign_certificate(kind).first);
    ASSERT_TRUE(der.ok());
    auto key = identity_from_certificate(*der);
    ASSERT_FALSE(key.ok());
    EXPECT_NE(key.error().find("not Ed25519"), std::string::npos) << key.error();
  }
  auto der = certificate_pem_to_der(make_tls_identity(test_key(1))->certificate_pem);
  ASSERT_TRUE(der.ok());
  std::vector<uint8_t> forged = *der;
  forged[forged.size() - 5] ^= 1;  // inside the signature
  auto key = identity_from_certificate(forged);
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.error().find("not signed by its own"), std::string::npos) << key.error();
  std::vector<uint8_t> truncated(der->begin(), der->begin() + 40);
  EXPECT_FALSE(identity_from_certificate(truncated).ok());
}

TEST(AllowList, ParsesKeysCommentsAndReportsBadLines) {
  TempDir dir;
  std::string path = dir.file("allow");
  std::ofstream(path) << "# testnet\n"
                      << to_hex(test_key(1).public_key()) << "\n\n  "
                      << to_hex(test_key(2).public_key()) << "  \r\n";
  auto list = load_allow_list(path);
  ASSERT_TRUE(list.ok()) << list.error();
  EXPECT_EQ(*list, (AllowList{test_key(1).public_key(), test_key(2).public_key()}));

  std::ofstream(path) << to_hex(test_key(1).public_key()) << "\nnot-a-key\n";
  auto bad = load_allow_list(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("line 2"), std::string::npos) << bad.error();
  EXPECT_NE(bad.error().find(path), std::string::npos) << bad.error();

  auto missing = load_allow_list(dir.file("nope"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find(dir.file("nope")), std::string::npos);
}

TEST(Address, ParsesEndpointsAndDialTargets) {
  auto ep = parse_endpoint("127.0.0.1:8333");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->port(), 8333);
  EXPECT_EQ(to_string(to_net_address(*ep)), "127.0.0.1:8333");
  EXPECT_TRUE(is_loopback(to_net_address(*ep)));
  auto v6 = parse_endpoint("[::1]:9");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(to_string(to_net_address(*v6)), "[::1]:9");
  EXPECT_TRUE(parse_endpoint("localhost:0").ok());
  for (const char* bad :
       {"127.0.0.1", "127.0.0.1:", "127.0.0.1:70000", "host:1", ":1", "1.2.3.4:x"})
    EXPECT_FALSE(parse_endpoint(bad).ok()) << bad;

  std::string key = to_hex(test_key(3).public_key());
  auto t = parse_dial_target(key + "@10.0.0.1:8333");
  ASSERT_TRUE(t.ok()) << t.error();
  EXPECT_EQ(t->identity, test_key(3).public_key());
  EXPECT_EQ(to_string(t->address), "10.0.0.1:8333");
  EXPECT_FALSE(parse_dial_target("abc@10.0.0.1:8333").ok());
  EXPECT_FALSE(parse_dial_target("10.0.0.1:0").ok());
  auto plain = parse_dial_target("10.0.0.1:1");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->identity);
}

Time unix_now() {
  return std::chrono::duration_cast<Time>(std::chrono::system_clock::now().time_since_epoch());
}

TEST(AddrStore, SavesAtomicallyAndReloads) {
  TempDir dir;
  AddrMan book;
  PeerRecord r;
  r.address = to_net_address(*parse_endpoint("10.1.2.3:8333"));
  r.time = uint64_t(std::chrono::duration_cast<std::chrono::seconds>(unix_now()).count());
  r.sign(test_key(5));
  book.add(r);
  ASSERT_TRUE(save_addr_book_to(dir.str(), book).ok());
  EXPECT_FALSE(std::filesystem::exists(dir.file("peers.dat.tmp")));
  AddrMan loaded;
  AddrBookLoad l = load_addr_book(dir.str(), loaded, unix_now());
  EXPECT_TRUE(l.found);
  EXPECT_TRUE(l.warning.empty()) << l.warning;
  EXPECT_EQ(loaded.size(), 1u);
  ASSERT_NE(loaded.find(test_key(5).public_key()), nullptr);
}

TEST(AddrStore, MissingBookIsEmptyAndCorruptBookIsMovedAside) {
  TempDir dir;
  AddrMan book;
  AddrBookLoad none = load_addr_book(dir.str(), book, unix_now());
  EXPECT_FALSE(none.found);
  EXPECT_TRUE(none.warning.empty());

  std::ofstream(dir.file("peers.dat")) << "this is not an address book";
  AddrBookLoad bad = load_addr_book(dir.str(), book, unix_now());
  EXPECT_EQ(book.size(), 0u);
  EXPECT_NE(bad.warning.find(dir.file("peers.dat")), std::string::npos) << bad.warning;
  EXPECT_NE(bad.warning.find("moved it to"), std::string::npos) << bad.warning;
  EXPECT_TRUE(std::filesystem::exists(dir.file("peers.dat.corrupt")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("peers.dat")));
}

TEST(AddrStore, HostStartsWithACorruptBookAndSavesAGoodOneAtStop) {
  TempDir dir;
  std::ofstream(dir.file("peers.dat")) << "garbage";
  HostConfig cfg = loopback_config();
  cfg.datadir = dir.str();
  Host h(test_key(1), cfg);
  ASSERT_TRUE(h.start().ok());
  h.stop();
  EXPECT_TRUE(std::filesystem::exists(dir.file("peers.dat.corrupt")));
  ASSERT_TRUE(std::filesystem::exists(dir.file("peers.dat")));
  AddrMan book;
  EXPECT_TRUE(load_addr_book(dir.str(), book, unix_now()).warning.empty());
}

TEST(Host, RefusesASecondListenerOnTheSamePort) {
  Host a(test_key(1), loopback_config());
  ASSERT_TRUE(a.start().ok());
  HostConfig cfg = loopback_config();
  cfg.listen = to_string(*a.listen_address());
  Host b(test_key(2), cfg);
  Status s = b.start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot listen on"), std::string::npos) << s.message();
  a.stop();
}

}  // namespace
}  // namespace hearsay::test

namespace hearsay::test {
namespace {

TEST(Host, InboundCapAndPerIpCap) {
  HostConfig cfg = loopback_config();
  cfg.max_inbound = 1;
  Host capped(test_key(1), cfg);
  ASSERT_TRUE(capped.start().ok());
  TestClient first({}), second({});
  ASSERT_FALSE(first.connect(*capped.listen_address()));
  ASSERT_FALSE(first.handshake());
  ASSERT_FALSE(second.connect(*capped.listen_address()));
  EXPECT_TRUE(second.wait_closed(std::chrono::seconds(5), /*plain=*/true));
  EXPECT_EQ(capped.net_stats().refused_inbound_cap, 1u);
  EXPECT_TRUE(contains(capped.net_stats().recent_refusals, "inbound connections at their cap"));
  capped.stop();

  // Loopback is exempt from the per-IP cap unless told otherwise.
  for (bool exempt : {true, false}) {
    HostConfig ip_cfg = loopback_config();
    ip_cfg.max_inbound_per_ip = 1;
    ip_cfg.loopback_exempt_per_ip = exempt;
    Host h(test_key(1), ip_cfg);
    ASSERT_TRUE(h.start().ok());
    TestClient a({}), b({});
    ASSERT_FALSE(a.connect(*h.listen_address()));
    ASSERT_FALSE(a.handshake());
    ASSERT_FALSE(b.connect(*h.listen_address()));
    if (exempt) {
      EXPECT_FALSE(b.handshake());
      EXPECT_TRUE(wait_until([&] { return h.connection_count() == 2; }));
      EXPECT_EQ(h.net_stats().refused_per_ip, 0u);
    } else {
      EXPECT_TRUE(b.wait_closed(std::chrono::seconds(5), /*plain=*/true));
      EXPECT_EQ(h.net_stats().refused_per_ip, 1u);
    }
    h.stop();
  }
}

}  // namespace
}  // namespace hearsay::test
