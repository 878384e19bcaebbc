// Fuzz target: TxRequestTracker against a naive model.
//
// The model is a flat list of announcements (peer, txid, preferred, reqtime, expiry, state,
// sequence number); every answer is recomputed by brute force from the rules in
// p2p/txrequest.h: expiry, "all COMPLETED means forgotten", the choice of the best announcer
// (preferred first, then the tracker's salted priority), announcement order and both caps.
// After each operation the target compares every return value, every count and the state of
// every (peer, txid) pair, and runs sanity_check(). 8 peers, 16 txids, caps drawn small.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "p2p/txrequest.h"

using namespace hearsay;

namespace {

// Operations per input. Each step compares every announcement with the brute-force model and
// rebuilds the tracker's indexes (sanity_check), O(announcements) to O(announcements²); 120
// steps reach the caps (at most 16 × 8) many times over.
constexpr size_t kMaxSteps = 120;
constexpr PeerId kPeers = 8;
constexpr unsigned kTxids = 16;

Hash256 txid_of(unsigned i) {
  Hash256 h{};
  h[31] = static_cast<uint8_t>(i);
  h[3] = 0x77;
  return h;
}

enum class MState { kCandidate, kRequested, kCompleted };

struct MAnn {
  PeerId peer;
  unsigned tx;
  bool preferred;
  Time reqtime;
  Time expiry{};
  MState state;
  uint64_t seq;
  uint64_t priority;  // the tracker's rule-4 rank, computed once
};

class Model {
 public:
  Model(const TxRequestTracker& real, TxRequestOptions o) : m_real(real), m_o(o) {}

  size_t count(PeerId p, std::optional<MState> s = std::nullopt) const {
    return std::count_if(m_anns.begin(), m_anns.end(),
                         [&](const MAnn& a) { return a.peer == p && (!s || a.state == *s); });
  }
  MAnn* find(PeerId p, unsigned tx) {
    for (MAnn& a : m_anns)
      if (a.peer == p && a.tx == tx) return &a;
    return nullptr;
  }

  TxRequestTracker::InvResult received_inv(PeerId p, unsigned tx, bool pref, Time reqtime) {
    if (find(p, tx)) return TxRequestTracker::InvResult::kDuplicate;
    if (count(p) >= m_o.max_announcements) return TxRequestTracker::InvResult::kPeerFull;
    const uint64_t prio = m_real.priority_of(txid_of(tx), p, pref);
    m_anns.push_back(MAnn{p, tx, pref, reqtime, {}, MState::kCandidate, m_seq++, prio});
    return TxRequestTracker::InvResult::kAdded;
  }
  bool requested_tx(PeerId p, unsigned tx, Time expiry) {
    MAnn* a = find(p, tx);
    if (!a || a->state != MState::kCandidate) return false;
    if (count(p, MState::kRequested) >= m_o.max_in_flight) return false;
    for (MAnn& o : m_anns)
      if (o.tx == tx && o.state == MState::kRequested) o.state = MState::kCompleted;
    a->state = MState::kRequested;
    a->expiry = expiry;
    return true;
  }
  void received_response(PeerId p, unsigned tx) {
    if (MAnn* a = find(p, tx)) a->state = MState::kCompleted;
    cleanup();
  }
  void forget(unsigned tx) {
    std::erase_if(m_anns, [&](const MAnn& a) { return a.tx == tx; });
  }
  void disconnected(PeerId p) {
    std::erase_if(m_anns, [&](const MAnn& a) { return a.peer == p; });
    cleanup();
  }
  std::vector<Hash256> get_requestable(PeerId p, Time now,
                                       std::vector<std::pair<PeerId, Hash256>>& expired) {
    m_now = std::max(m_now, now);
    std::vector<const MAnn*> exp;
    for (MAnn& a : m_anns)
      if (a.state == MState::kRequested && a.expiry <= m_now) exp.push_back(&a);
    std::sort(exp.begin(), exp.end(), [](const MAnn* a, const MAnn* b) {
      return a->expiry != b->expiry ? a->expiry < b->expiry : a->seq < b->seq;
    });
    for (const MAnn* a : exp)
      expired.emplace_back(a->peer, txid_of(a->tx));
    for (const MAnn* a : exp)
      const_cast<MAnn*>(a)->state = MState::kCompleted;
    cleanup();
    std::vector<const MAnn*> mine;
    for (const MAnn& a : m_anns)
      if (a.peer == p && is_best(a)) mine.push_back(&a);
    std::sort(mine.begin(), mine.end(),
              [](const MAnn* a, const MAnn* b) { return a->seq < b->seq; });
    const size_t room = m_o.max_in_flight - count(p, MState::kRequested);
    std::vector<Hash256> out;
    for (const MAnn* a : mine)
      if (out.size() < room) out.push_back(txid_of(a->tx));
    return out;
  }

  bool ready(const MAnn& a) const { return a.state == MState::kCandidate && a.reqtime <= m_now; }
  uint64_t prio(const MAnn& a) const { return a.priority; }
  bool is_best(const MAnn& a) const {
    if (!ready(a)) return false;
    for (const MAnn& o : m_anns) {
      if (o.tx != a.tx || &o == &a) continue;
      if (o.state == MState::kRequested) return false;
      if (ready(o) && (prio(o) > prio(a) || (prio(o) == prio(a) && o.peer > a.peer))) return false;
    }
    return true;
  }
  AnnouncementState state(const MAnn* a) const {
    switch (a->state) {
      case MState::kRequested:
        return AnnouncementState::kRequested;
      case MState::kCompleted:
        return AnnouncementState::kCompleted;
      case MState::kCandidate:
        break;
    }
    if (!ready(*a)) return AnnouncementState::kCandidateDelayed;
    return is_best(*a) ? AnnouncementState::kCandidateBest : AnnouncementState::kCandidateReady;
  }
  size_t size() const { return m_anns.size(); }
  const std::vector<MAnn>& anns() const { return m_anns; }
  Time now() const { return m_now; }

 private:
  // Txids whose announcements are all COMPLETED are forgotten.
  void cleanup() {
    std::vector<bool> live(kTxids, false);
    for (const MAnn& a : m_anns)
      if (a.state != MState::kCompleted) live[a.tx] = true;
    std::erase_if(m_anns, [&](const MAnn& a) { return !live[a.tx]; });
  }

  const TxRequestTracker& m_real;
  TxRequestOptions m_o;
  std::vector<MAnn> m_anns;
  uint64_t m_seq = 0;
  Time m_now = Time::min();
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hearsay::fuzz::FuzzInput in(data, size);
  TxRequestOptions o;
  o.max_announcements = 1 + in.byte() % 16;
  o.max_in_flight = 1 + in.byte() % 8;
  SipKey seed{};
  seed[0] = in.byte();
  TxRequestTracker real(seed, o);
  Model model(real, o);
  Time clock = Time(std::chrono::hours(24));

  for (size_t step = 0; step < kMaxSteps && !in.empty(); ++step) {
    const uint8_t op = in.byte();
    const uint8_t arg = in.byte();
    const PeerId peer = 1 + arg % kPeers;
    const unsigned tx = (arg / kPeers) % kTxids;
    // Times relative to the clock, -4 .. +11 seconds.
    const Time when = clock + std::chrono::seconds(static_cast<int>(in.byte() % 16) - 4);
    switch (op % 8) {
      case 0:
        clock += std::chrono::milliseconds(in.byte() * 50);
        break;
      case 1:
      case 2: {
        const bool preferred = (op >> 3) & 1;
        FUZZ_ASSERT(real.received_inv(peer, txid_of(tx), preferred, when) ==
                    model.received_inv(peer, tx, preferred, when));
        break;
      }
      case 3:
        FUZZ_ASSERT(real.requested_tx(peer, txid_of(tx), when) ==
                    model.requested_tx(peer, tx, when));
        break;
      case 4:
        real.received_response(peer, txid_of(tx));
        model.received_response(peer, tx);
        break;
      case 5: {
        std::vector<std::pair<PeerId, Hash256>> e_real, e_model;
        const auto r_real = real.get_requestable(peer, clock, &e_real);
        const auto r_model = model.get_requestable(peer, clock, e_model);
        FUZZ_ASSERT(r_real == r_model);
        FUZZ_ASSERT(e_real == e_model);
        // The usual caller: request all of them (some ops skip this to leave BEST ones).
        if ((op >> 3) & 1) {
          for (const Hash256& id : r_real) {
            FUZZ_ASSERT(real.requested_tx(peer, id, clock + std::chrono::seconds(5)));
            FUZZ_ASSERT(model.requested_tx(peer, id[31], clock + std::chrono::seconds(5)));
          }
        }
        break;
      }
      case 6:
        if ((op >> 3) & 1) {
          real.forget_txid(txid_of(tx));
          model.forget(tx);
        } else {
          clock -= std::chrono::milliseconds(in.byte() * 20);  // the clock steps back
        }
        break;
      case 7:
        real.disconnected_peer(peer);
        model.disconnected(peer);
        break;
    }
    real.sanity_check();
    FUZZ_ASSERT(real.size() == model.size());
    FUZZ_ASSERT(real.now() == model.now());
    for (PeerId p = 1; p <= kPeers; ++p) {
      FUZZ_ASSERT(real.count(p) == model.count(p));
      FUZZ_ASSERT(real.count_in_flight(p) == model.count(p, MState::kRequested));
      FUZZ_ASSERT(real.count_candidates(p) == model.count(p, MState::kCandidate));
      FUZZ_ASSERT(real.count(p) <= o.max_announcements);
      FUZZ_ASSERT(real.count_in_flight(p) <= o.max_in_flight);
    }
    // Every model announcement has the same state in the tracker; with equal sizes and
    // per-peer counts, the tracker holds no other announcement.
    for (const MAnn& a : model.anns())
      FUZZ_ASSERT(real.state(a.peer, txid_of(a.tx)) == model.state(&a));
  }
  return 0;
}
