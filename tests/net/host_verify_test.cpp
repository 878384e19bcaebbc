// Host and signature verification end to end: VerifyActions go to the worker pool (or inline),
// the verdicts come back through PeerManager::on_verified to the relay handler that Host built
// with make_relay; run() reaches that handler on the io thread; allow-listed peers are trusted.
#include <gtest/gtest.h>

#include <map>

#include "testing/net_util.h"

namespace hearsay::test {
namespace {

// A relay handler that asks to verify every transaction it is sent and records the verdicts.
// Its state is touched on the io thread only (tests read it through Host::run).
class RecordingRelay : public RelayHandler {
 public:
  explicit RecordingRelay(PeerManager& pm) : m_pm(pm) { m_pm.set_relay(this); }
  ~RecordingRelay() override { m_pm.set_relay(nullptr); }

  void on_peer_ready(PeerId, Time) override {}
  void on_message(PeerId, Message&& msg, Time) override {
    if (auto* t = std::get_if<TxMsg>(&msg)) m_pm.verify({t->tx});
  }
  void on_peer_gone(PeerId, Time) override {}
  void on_tick(Time) override {}
  void on_verified(std::span<const TxRef> txs, std::span<const uint8_t> valid, Time) override {
    ++calls;
    for (size_t i = 0; i < txs.size(); ++i)
      verdicts[txs[i]->id()] = valid[i];
  }

  PeerManager& pm() { return m_pm; }
  std::map<TxId, uint8_t> verdicts;
  size_t calls = 0;

 private:
  PeerManager& m_pm;
};

// A loopback config whose relay is a RecordingRelay; `*out` receives the pointer.
HostConfig recording_config(RecordingRelay** out) {
  HostConfig c = loopback_config();
  c.make_relay = [out](PeerManager& pm) {
    auto r = std::make_unique<RecordingRelay>(pm);
    *out = r.get();
    return r;
  };
  return c;
}

size_t verdict_count(Host& h, RecordingRelay* r) {
  return h.run([&] { return r->verdicts.size(); });
}

TEST(HostVerify, VerdictsReachTheRelayThroughThePool) {
  RecordingRelay* relay = nullptr;
  HostConfig cfg = recording_config(&relay);
  cfg.verify_threads = 2;
  cfg.verify_inline_max = 0;  // always the pool
  Host h(test_key(1), cfg);
  ASSERT_TRUE(h.start().ok());
  ASSERT_NE(relay, nullptr);

  std::map<TxId, uint8_t> expected;
  std::vector<TxRef> first, second;
  for (uint64_t i = 0; i < 300; ++i) {
    TxRef tx = make_tx(2, i, 1000, 30);
    if (i % 5 == 0) tx = forged(tx);
    expected[tx->id()] = i % 5 == 0 ? 0 : 1;
    (i % 2 ? first : second).push_back(tx);
  }
  // Two VerifyActions in one event: coalesced into one batch for the pool.
  h.run([&] {
    relay->pm().verify(first);
    relay->pm().verify(second);
  });
  ASSERT_TRUE(wait_until([&] { return verdict_count(h, relay) == expected.size(); }));
  EXPECT_EQ(h.run([&] { return relay->verdicts; }), expected);
  ASSERT_TRUE(wait_until([&] { return h.net_stats().verify_queue_depth == 0; }));
  NetStats s = h.net_stats();
  EXPECT_EQ(s.verify_threads, 2u);
  EXPECT_EQ(s.verify_batches, 1u);
  EXPECT_EQ(s.verified, expected.size());
  EXPECT_EQ(s.verify_invalid, 60u);
  EXPECT_EQ(s.verified_inline, 0u);
  EXPECT_GE(h.run([&] { return relay->calls; }), 2u);  // chunked over the workers
  h.stop();
}

TEST(HostVerify, ALoneTransactionIsVerifiedInlineWhenThePoolIsIdle) {
  RecordingRelay* relay = nullptr;
  HostConfig cfg = recording_config(&relay);
  cfg.verify_threads = 1;
  cfg.verify_inline_max = 2;
  Host h(test_key(1), cfg);
  ASSERT_TRUE(h.start().ok());
  TxRef good = make_tx(2, 1);
  TxRef bad = forged(make_tx(2, 2));
  h.run([&] { relay->pm().verify({good, bad}); });
  ASSERT_TRUE(wait_until([&] { return verdict_count(h, relay) == 2; }));
  EXPECT_EQ(h.run([&] { return relay->verdicts.at(good->id()); }), 1);
  EXPECT_EQ(h.run([&] { return relay->verdicts.at(bad->id()); }), 0);
  NetStats s = h.net_stats();
  EXPECT_EQ(s.verified_inline, 2u);
  EXPECT_EQ(s.verify_batches, 0u);
  EXPECT_EQ(s.verified, 2u);
  EXPECT_EQ(s.verify_invalid, 1u);
  h.stop();
}

TEST(HostVerify, TransactionsFromAPeerAreVerified) {
  RecordingRelay* relay_a = nullptr;
  RecordingRelay* relay_b = nullptr;
  Host a(test_key(1), recording_config(&relay_a));
  ASSERT_TRUE(a.start().ok());
  HostConfig b_cfg = recording_config(&relay_b);
  b_cfg.connect.push_back({*a.listen_address(), std::nullopt});
  b_cfg.verify_inline_max = 0;
  Host b(test_key(2), b_cfg);
  ASSERT_TRUE(b.start().ok());
  ASSERT_TRUE(wait_until([&] { return ready_peers(a) == 1 && ready_peers(b) == 1; }));

  std::vector<TxRef> txs;
  for (uint64_t i = 0; i < 20; ++i)
    txs.push_back(i == 7 ? forged(make_tx(3, i)) : make_tx(3, i));
  a.run([&] {
    PeerId to_b = relay_a->pm().ready_peers().at(0);
    for (const TxRef& tx : txs)
      relay_a->pm().send(to_b, TxMsg{tx});
  });
  ASSERT_TRUE(wait_until([&] { return verdict_count(b, relay_b) == txs.size(); }));
  for (size_t i = 0; i < txs.size(); ++i)
    EXPECT_EQ(b.run([&] { return relay_b->verdicts.at(txs[i]->id()); }), i == 7 ? 0 : 1) << i;
  EXPECT_EQ(b.net_stats().verified, txs.size());
  EXPECT_EQ(a.net_stats().verified, 0u);
  b.stop();
  a.stop();
}

TEST(HostVerify, StopWithVerificationPendingIsClean) {
  RecordingRelay* relay = nullptr;
  HostConfig cfg = recording_config(&relay);
  cfg.verify_threads = 1;
  cfg.verify_inline_max = 0;
  Host h(test_key(1), cfg);
  ASSERT_TRUE(h.start().ok());
  std::vector<TxRef> txs;
  for (uint64_t i = 0; i < 2'000; ++i)
    txs.push_back(make_tx(4, i, 1000, 10));
  h.run([&] { relay->pm().verify(txs); });
  h.stop();  // drops what is queued; verdicts in flight are dropped on the io thread
  // Stopped: run() runs here.
  const std::map<TxId, uint8_t> got = h.run([&] { return relay->verdicts; });
  NetStats s = h.net_stats();
  EXPECT_EQ(s.verify_queue_depth, 0u);
  // No verdict is lost or counted twice: each one verified reached the relay before the stop
  // or was dropped, and counted, on the io thread (the workers are joined before the io
  // thread stops, so none is left unrun in its queue).
  EXPECT_EQ(got.size() + s.verdicts_dropped, s.verified);
  EXPECT_LE(s.verified, txs.size());
  EXPECT_EQ(s.verified_inline, 0u);
  for (const auto& [id, verdict] : got)
    EXPECT_EQ(verdict, 1);
}

TEST(HostVerify, AllowListedPeersAreTrusted) {
  auto allow = std::make_shared<AllowList>(AllowList{test_key(2).public_key()});
  HostConfig a_cfg = loopback_config();
  a_cfg.allow_list = allow;
  Host a(test_key(1), a_cfg);
  ASSERT_TRUE(a.start().ok());
  HostConfig b_cfg = loopback_config();
  b_cfg.connect.push_back({*a.listen_address(), std::nullopt});
  Host b(test_key(2), b_cfg);  // no allow-list of its own
  ASSERT_TRUE(b.start().ok());
  ASSERT_TRUE(wait_until([&] { return ready_peers(a) == 1 && ready_peers(b) == 1; }));
  auto a_view = a.peer_stats();
  ASSERT_EQ(a_view.size(), 1u);
  ASSERT_TRUE(a_view[0].protocol);
  EXPECT_TRUE(a_view[0].protocol->trusted);
  auto b_view = b.peer_stats();
  ASSERT_EQ(b_view.size(), 1u);
  ASSERT_TRUE(b_view[0].protocol);
  EXPECT_FALSE(b_view[0].protocol->trusted);
  b.stop();
  a.stop();
}

}  // namespace
}  // namespace hearsay::test
