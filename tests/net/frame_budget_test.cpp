// FrameBudget: within the cap everything is granted; beyond it stalled frames give way first,
// then the largest, and a grower that would come first is refused with nobody cut; under random
// charges the total never passes the cap. And the FrameDecoder's prediction the budget relies
// on: reserved_after(data) is exactly what reserved_bytes() is once data is in.
#include "net/frame_budget.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>

#include "crypto/hash.h"
#include "p2p/transport.h"

namespace hearsay::test {
namespace {

using SteadyTime = FrameBudget::SteadyTime;
const SteadyTime kT0 = SteadyTime(std::chrono::hours(1));

// Stands for a Connection: a cut releases its charge, as Connection::cut_partial_frame does on
// the grower's thread; `deferred`, it releases later, as a Connection on another thread does.
struct FakeHolder : FrameBudget::Holder {
  FakeHolder(FrameBudget& b, PeerId i) : budget(b), id(i) {}
  void cut_partial_frame(std::string why, bool was_stalled) override {
    ++cuts;
    stalled = was_stalled;
    reason = std::move(why);
    if (!deferred) budget.release(id);
  }
  bool charge(size_t bytes, SteadyTime now) { return budget.charge(id, *this, bytes, now); }

  FrameBudget& budget;
  PeerId id;
  bool deferred = false;
  int cuts = 0;
  bool stalled = false;
  std::string reason;
};

TEST(FrameBudget, WithinTheCapEverythingIsGranted) {
  FrameBudget b(100);
  FakeHolder x(b, 1), y(b, 2);
  EXPECT_TRUE(x.charge(40, kT0));
  EXPECT_TRUE(y.charge(60, kT0));
  EXPECT_EQ(b.used(), 100u);
  b.settle(1, 10);
  EXPECT_EQ(b.used(), 70u);
  EXPECT_EQ(b.peak(), 100u);
  b.release(2);
  b.release(2);
  EXPECT_EQ(b.used(), 10u);
  EXPECT_EQ(b.holders(), 1u);
  b.settle(1, 0);
  EXPECT_EQ(b.holders(), 0u);
  EXPECT_EQ(x.cuts + y.cuts, 0);
  b.sanity_check();
}

// A holder on another thread hears of its cut later: its charge is taken back at once, and until
// it releases, what it asks is refused and what it settles ignored.
TEST(FrameBudget, ACutHolderOnAnotherThreadIsChargedNothingUntilItReleases) {
  FrameBudget b(100);
  FakeHolder x(b, 1), y(b, 2);
  x.deferred = true;
  EXPECT_TRUE(x.charge(60, kT0));
  EXPECT_TRUE(y.charge(70, kT0 + std::chrono::seconds(10)));  // x is stalled: it gives way
  EXPECT_EQ(x.cuts, 1);
  EXPECT_TRUE(x.stalled);
  EXPECT_EQ(b.used(), 70u);
  EXPECT_EQ(b.charged(1), 0u);
  EXPECT_FALSE(x.charge(10, kT0 + std::chrono::seconds(10)));  // its cut is on its way
  b.settle(1, 30);                                             // bytes that were in flight
  EXPECT_EQ(b.used(), 70u);
  b.sanity_check();
  b.release(1);                                               // the cut arrives
  EXPECT_TRUE(x.charge(10, kT0 + std::chrono::seconds(10)));  // a new frame, a new charge
  EXPECT_EQ(b.used(), 80u);
  b.sanity_check();
}

TEST(FrameBudget, StalledFramesGiveWayFirstEvenWhenSmaller) {
  FrameBudget b(100, std::chrono::seconds(2));
  FakeHolder small_stalled(b, 1), large_live(b, 2), grower(b, 3);
  ASSERT_TRUE(small_stalled.charge(30, kT0));
  const SteadyTime later = kT0 + std::chrono::seconds(3);
  ASSERT_TRUE(large_live.charge(50, later));
  EXPECT_EQ(b.victims(3, 40, later), std::vector<PeerId>{1});
  EXPECT_TRUE(grower.charge(40, later));
  EXPECT_EQ(small_stalled.cuts, 1);
  EXPECT_TRUE(small_stalled.stalled);
  EXPECT_NE(small_stalled.reason.find("stalled"), std::string::npos) << small_stalled.reason;
  EXPECT_EQ(large_live.cuts, 0);
  EXPECT_EQ(b.used(), 90u);
  b.sanity_check();
}

TEST(FrameBudget, AmongProgressingFramesTheLargestGivesWay) {
  FrameBudget b(100);
  FakeHolder a(b, 1), big(b, 2), grower(b, 3);
  ASSERT_TRUE(a.charge(30, kT0));
  ASSERT_TRUE(big.charge(50, kT0));
  EXPECT_TRUE(grower.charge(40, kT0));
  EXPECT_EQ(big.cuts, 1);
  EXPECT_FALSE(big.stalled);
  EXPECT_EQ(a.cuts, 0);
  EXPECT_EQ(b.used(), 70u);
  EXPECT_EQ(b.charged(3), 40u);
  b.sanity_check();
}

TEST(FrameBudget, AGrowerThatWouldGoFirstIsRefusedAndNobodyIsCut) {
  FrameBudget b(100);
  FakeHolder a(b, 1), c(b, 2), grower(b, 3);
  ASSERT_TRUE(a.charge(50, kT0));
  ASSERT_TRUE(c.charge(40, kT0));
  ASSERT_TRUE(grower.charge(10, kT0));
  // Growing to 60 passes the cap, and no frame larger than 60 (or stalled) can make room.
  EXPECT_EQ(b.victims(3, 60, kT0), std::nullopt);
  EXPECT_FALSE(grower.charge(60, kT0));
  EXPECT_EQ(a.cuts + c.cuts + grower.cuts, 0);
  EXPECT_EQ(b.charged(3), 10u);
  EXPECT_EQ(b.used(), 100u);
  // Among equals the grower goes first too: the frames already held stay.
  FrameBudget e(100);
  FakeHolder p(e, 1), q(e, 2);
  ASSERT_TRUE(p.charge(60, kT0));
  EXPECT_FALSE(q.charge(60, kT0));
  EXPECT_EQ(p.cuts, 0);
  b.sanity_check();
  e.sanity_check();
}

// Random holders grow, settle and release at random times: the total never passes the cap, a
// grant is exact, a refusal changes nothing, and every cut released its charge.
TEST(FrameBudget, RandomChargesNeverPassTheCap) {
  constexpr size_t kCap = 10'000;
  FrameBudget b(kCap, std::chrono::milliseconds(50));
  std::mt19937_64 rng(7);
  std::vector<std::unique_ptr<FakeHolder>> holders;
  for (PeerId i = 1; i <= 12; ++i)
    holders.push_back(std::make_unique<FakeHolder>(b, i));
  SteadyTime now = kT0;
  size_t refused = 0, cuts = 0;
  for (int step = 0; step < 20'000; ++step) {
    now += std::chrono::milliseconds(rng() % 20);
    FakeHolder& h = *holders[rng() % holders.size()];
    const size_t held = b.charged(h.id);
    switch (rng() % 4) {
      case 0:
      case 1: {
        const size_t want = held + 1 + rng() % 3000;
        const int before = h.cuts;
        if (h.charge(want, now)) {
          EXPECT_EQ(b.charged(h.id), want);
        } else {
          ++refused;
          EXPECT_EQ(b.charged(h.id), held);
          EXPECT_EQ(h.cuts, before);
        }
        break;
      }
      case 2:
        if (held) b.settle(h.id, rng() % (held + 1));
        break;
      case 3:
        b.release(h.id);
        break;
    }
    b.sanity_check();
    ASSERT_LE(b.used(), kCap);
  }
  for (const auto& h : holders)
    cuts += size_t(h->cuts);
  EXPECT_LE(b.peak(), kCap);
  EXPECT_GT(b.peak(), kCap * 3 / 4);  // the cap was really under pressure
  EXPECT_GT(refused, 0u);
  EXPECT_GT(cuts, 0u);
}

// A frame as the wire carries it: header (magic, command, length, checksum), then the payload.
std::vector<uint8_t> raw_frame(uint32_t magic, const char* command,
                               const std::vector<uint8_t>& payload, uint32_t length) {
  std::vector<uint8_t> out;
  Writer w(out);
  w.u32(magic);
  uint8_t cmd[kCommandSize] = {};
  std::copy_n(command, std::strlen(command), cmd);
  Hash256 sum = sha256d(payload);
  w.bytes(cmd).u32(length).bytes(std::span<const uint8_t>(sum.data(), 4));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

TEST(FrameDecoderReserve, ReservedAfterPredictsTheAllocationExactly) {
  constexpr uint32_t kMagic = 0x0a0b0c0d;
  std::mt19937_64 rng(3);
  std::vector<uint8_t> stream;
  auto add = [&](const char* command, size_t size) {
    std::vector<uint8_t> payload(size);
    for (auto& byte : payload)
      byte = static_cast<uint8_t>(rng());
    auto f = raw_frame(kMagic, command, payload, static_cast<uint32_t>(size));
    stream.insert(stream.end(), f.begin(), f.end());
  };
  add("block", 3'900'000);
  add("ping", 8);
  add("tx", 70'000);
  add("verack", 0);
  add("block", 600'000);
  // Then a header over the command's limit: refused, holding the header alone.
  auto bad = raw_frame(kMagic, "ping", {}, 5'000'000);
  stream.insert(stream.end(), bad.begin(), bad.end());

  FrameDecoder d(kMagic);
  std::span<const uint8_t> rest(stream);
  size_t frames = 0, checks = 0;
  bool failed = false;
  while (!rest.empty() && !failed) {
    std::span<const uint8_t> chunk = rest.first(std::min<size_t>(rest.size(), 1 + rng() % 40'000));
    rest = rest.subspan(chunk.size());
    while (!chunk.empty()) {
      const size_t want = d.reserved_after(chunk);
      failed = !d.received_bytes(chunk);
      ASSERT_EQ(d.reserved_bytes(), want) << "after " << frames << " frames";
      ++checks;
      if (failed) break;
      if (d.message_complete()) {
        d.take_message();
        ++frames;
        EXPECT_EQ(d.reserved_bytes(), 0u);
      }
    }
  }
  EXPECT_EQ(frames, 5u);
  EXPECT_TRUE(failed);
  EXPECT_EQ(d.error(), DecodeError::kOversizePayload);
  EXPECT_EQ(d.reserved_bytes(), kFrameHeaderSize);
  EXPECT_GT(checks, 100u);
}

}  // namespace
}  // namespace hearsay::test
