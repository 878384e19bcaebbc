// Host bans: set_ban / remove_ban / clear_bans / list_bans over real connections, loopback IP
// refusals, and bans (manual and the PeerManager's) surviving a restart on the same datadir.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "crypto/hex.h"
#include "testing/net_util.h"

namespace hearsay::test {
namespace {

Time unix_now() {
  return std::chrono::duration_cast<Time>(std::chrono::system_clock::now().time_since_epoch());
}

bool listed(const std::vector<BanEntry>& bans, const std::string& target) {
  for (const BanEntry& e : bans)
    if (ban_target_string(e.target) == target) return true;
  return false;
}

bool refused_as_banned(Host& h) {
  return contains(h.net_stats().recent_disconnects, "is banned");
}

TEST(HostBans, SetBanDisconnectsAndRefusesTheIdentityUntilRemoved) {
  Host a(test_key(1), loopback_config());
  ASSERT_TRUE(a.start().ok());
  HostConfig b_cfg = loopback_config();
  b_cfg.connect.push_back({*a.listen_address(), std::nullopt});
  Host b(test_key(2), b_cfg);
  ASSERT_TRUE(b.start().ok());
  ASSERT_TRUE(wait_until([&] { return ready_peers(a) == 1; }));

  const std::string b_hex = to_hex(test_key(2).public_key());
  Status s = a.set_ban(b_hex, 1h, "testing");
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(
      wait_until([&] { return contains(a.net_stats().recent_disconnects, "banned: testing"); }));
  // b keeps redialling (it is a --connect peer); a refuses it after TLS.
  EXPECT_TRUE(wait_until([&] { return refused_as_banned(a); }));
  EXPECT_EQ(ready_peers(a), 0u);
  auto bans = a.list_bans();
  ASSERT_EQ(bans.size(), 1u);
  EXPECT_EQ(ban_target_string(bans[0].target), b_hex);
  EXPECT_EQ(bans[0].reason, "testing");
  EXPECT_GT(bans[0].until, bans[0].created);
  EXPECT_EQ(a.net_stats().bans, 1u);

  EXPECT_TRUE(a.remove_ban(b_hex));
  EXPECT_FALSE(a.remove_ban(b_hex));
  EXPECT_FALSE(a.remove_ban("not a target"));
  EXPECT_TRUE(a.list_bans().empty());
  EXPECT_TRUE(wait_until([&] { return ready_peers(a) == 1; }));
  b.stop();
  a.stop();
}

// A --connect peer kept away (its dials failing, the back-off growing) comes back as soon as
// what refused it is lifted — a ban removed, network activity switched on — not after its
// back-off, here at least 30 s.
HostConfig slow_redial(const Host& target) {
  HostConfig c = loopback_config();
  c.connect.push_back({*target.listen_address(), std::nullopt});
  c.peer_manager.dial_backoff_min = 30s;
  c.peer_manager.dial_backoff_max = 60s;
  c.peer_manager.max_outbound = 0;  // only its --connect peer: no dial from the address book
  return c;
}

// Dials nobody, not even the addresses it learns: the link is b's alone to restore.
HostConfig no_dialling() {
  HostConfig c = loopback_config();
  c.peer_manager.max_outbound = 0;
  return c;
}

TEST(HostBans, LiftingABanRedialsTheConnectPeerAtOnce) {
  Host a(test_key(1), no_dialling());
  ASSERT_TRUE(a.start().ok());
  Host b(test_key(2), slow_redial(a));
  ASSERT_TRUE(b.start().ok());
  ASSERT_TRUE(wait_until([&] { return ready_peers(b) == 1; }));
  const std::string a_hex = to_hex(test_key(1).public_key());
  ASSERT_TRUE(b.set_ban(a_hex, 1h, "chaos").ok());
  ASSERT_TRUE(wait_until([&] { return ready_peers(b) == 0 && a.connection_count() == 0; }));
  ASSERT_TRUE(b.remove_ban(a_hex));
  EXPECT_TRUE(wait_until([&] { return ready_peers(b) == 1; }, 10s));
  b.stop();
  a.stop();
}

TEST(HostBans, NetworkActivityOffClosesAndRefusesEverythingUntilOn) {
  Host a(test_key(1), no_dialling());
  ASSERT_TRUE(a.start().ok());
  Host b(test_key(2), slow_redial(a));
  ASSERT_TRUE(b.start().ok());
  ASSERT_TRUE(wait_until([&] { return ready_peers(b) == 1; }));
  EXPECT_TRUE(b.net_stats().network_active);

  EXPECT_FALSE(b.set_network_active(false));
  EXPECT_FALSE(b.set_network_active(false));  // idempotent
  EXPECT_FALSE(b.net_stats().network_active);
  ASSERT_TRUE(wait_until([&] { return b.connection_count() == 0 && a.connection_count() == 0; }));
  // Inbound is refused too.
  HostConfig c_cfg = loopback_config();
  c_cfg.connect.push_back({*b.listen_address(), std::nullopt});
  Host c(test_key(3), c_cfg);
  ASSERT_TRUE(c.start().ok());
  EXPECT_TRUE(wait_until(
      [&] { return contains(b.net_stats().recent_refusals, "network activity is off"); }));
  EXPECT_EQ(ready_peers(b), 0u);

  EXPECT_TRUE(b.set_network_active(true));
  // Its --connect peer at once (not after the 30 s back-off); c's redial gets in as well.
  EXPECT_TRUE(wait_until([&] { return ready_peers(b) == 2; }, 10s));
  c.stop();
  b.stop();
  a.stop();
}

TEST(HostBans, IpBansAndTheirRefusals) {
  Host a(test_key(1), loopback_config());
  ASSERT_TRUE(a.start().ok());
  for (std::string loop : {"127.0.0.1", "::1", "localhost", "127.8.9.10"}) {
    Status s = a.set_ban(loop, 1h, "x");
    ASSERT_FALSE(s.ok()) << loop;
    EXPECT_NE(s.message().find("loopback"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("identity"), std::string::npos) << s.message();
  }
  Status bad = a.set_ban("example.org", 1h, "x");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("example.org"), std::string::npos) << bad.message();
  EXPECT_FALSE(a.set_ban("192.0.2.7", 0s, "x").ok());
  EXPECT_FALSE(a.set_ban("192.0.2.7", kMaxBanDuration + 1s, "x").ok());

  ASSERT_TRUE(a.set_ban("192.0.2.7", 1h, "").ok());
  ASSERT_TRUE(a.set_ban("2001:db8::7", 2h, "spam").ok());
  ASSERT_TRUE(a.set_ban(to_hex(test_key(9).public_key()), 3h, "forger").ok());
  auto bans = a.list_bans();
  ASSERT_EQ(bans.size(), 3u);
  EXPECT_TRUE(std::holds_alternative<PublicKey>(bans[0].target));  // identities first
  EXPECT_TRUE(listed(bans, "192.0.2.7"));
  EXPECT_TRUE(listed(bans, "2001:db8::7"));
  for (const BanEntry& e : bans)
    if (ban_target_string(e.target) == "192.0.2.7") {
      EXPECT_EQ(e.reason, "manually banned");
    }

  EXPECT_TRUE(a.remove_ban("[2001:db8::7]"));
  EXPECT_EQ(a.list_bans().size(), 2u);
  a.clear_bans();
  EXPECT_TRUE(a.list_bans().empty());
  a.stop();
}

TEST(HostBans, BansSurviveARestart) {
  TempDir dir;
  const std::string b_hex = to_hex(test_key(2).public_key());
  const std::string c_hex = to_hex(test_key(5).public_key());
  {
    HostConfig cfg = loopback_config();
    cfg.datadir = dir.str();
    Host a(test_key(1), cfg);
    ASSERT_TRUE(a.start().ok());
    ASSERT_TRUE(a.set_ban(c_hex, 1h, "manual").ok());
    ASSERT_TRUE(a.set_ban("198.51.100.9", 1h, "manual").ok());
    // A ban decided by the PeerManager (a forger): BanAction → Host's list → disk.
    HostConfig b_cfg = loopback_config();
    b_cfg.connect.push_back({*a.listen_address(), std::nullopt});
    Host b(test_key(2), b_cfg);
    ASSERT_TRUE(b.start().ok());
    ASSERT_TRUE(wait_until([&] { return ready_peers(a) == 1; }));
    a.with_peer_manager([&](PeerManager& pm) {
      PeerId peer = pm.ready_peers().at(0);
      pm.ban(peer, "forged a transaction", unix_now());
    });
    EXPECT_TRUE(wait_until([&] { return ready_peers(a) == 0; }));
    EXPECT_TRUE(std::filesystem::exists(dir.file("banlist.dat")));
    b.stop();
    a.stop();
  }
  {
    HostConfig cfg = loopback_config();
    cfg.datadir = dir.str();
    Host a(test_key(1), cfg);
    ASSERT_TRUE(a.start().ok());
    auto bans = a.list_bans();
    EXPECT_EQ(bans.size(), 3u);  // b's loopback address was not banned
    EXPECT_TRUE(listed(bans, c_hex));
    EXPECT_TRUE(listed(bans, b_hex));
    EXPECT_TRUE(listed(bans, "198.51.100.9"));
    for (const BanEntry& e : bans)
      if (ban_target_string(e.target) == b_hex) {
        EXPECT_EQ(e.reason, "forged a transaction");
      }

    // The restarted host (whose PeerManager knows nothing of it) still refuses b.
    HostConfig b_cfg = loopback_config();
    b_cfg.connect.push_back({*a.listen_address(), std::nullopt});
    Host b(test_key(2), b_cfg);
    ASSERT_TRUE(b.start().ok());
    EXPECT_TRUE(wait_until([&] { return refused_as_banned(a); }));
    EXPECT_EQ(ready_peers(a), 0u);
    b.stop();
    a.clear_bans();
    a.stop();
  }
  {
    HostConfig cfg = loopback_config();
    cfg.datadir = dir.str();
    Host a(test_key(1), cfg);
    ASSERT_TRUE(a.start().ok());
    EXPECT_TRUE(a.list_bans().empty());  // clear_bans was saved too
    a.stop();
  }
}

TEST(HostBans, ACorruptBanListDoesNotStopTheNode) {
  TempDir dir;
  { std::ofstream(dir.file("banlist.dat"), std::ios::binary) << "garbage"; }
  HostConfig cfg = loopback_config();
  cfg.datadir = dir.str();
  Host a(test_key(1), cfg);
  ASSERT_TRUE(a.start().ok());
  EXPECT_TRUE(a.list_bans().empty());
  bool moved = false;
  for (const auto& f : std::filesystem::directory_iterator(dir.path()))
    moved |= f.path().filename().string().rfind("banlist.dat.corrupt-", 0) == 0;
  EXPECT_TRUE(moved);
  a.stop();
}

}  // namespace
}  // namespace hearsay::test
