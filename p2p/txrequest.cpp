#include "p2p/txrequest.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <set>
#include <unordered_map>

#include "crypto/result.h"
#include "p2p/seen_set.h"  // SipIdHasher

namespace hearsay {

namespace {

using State = AnnouncementState;

bool is_candidate(State s) {
  return s == State::kCandidateDelayed || s == State::kCandidateReady || s == State::kCandidateBest;
}
bool has_timer(State s) {
  return s == State::kCandidateDelayed || s == State::kRequested;
}

// Peers choose txids, so the txid table hashes them with the secret seed.
struct SaltedIdHash {
  SipIdHasher hash;
  size_t operator()(const Hash256& id) const { return hash(id); }
};

struct Ann {
  PeerId peer = 0;
  uint64_t seq = 0;       // global announcement order
  uint64_t priority = 0;  // rule 4: preferred bit, then salted hash
  Time time{};            // reqtime while CANDIDATE_DELAYED, expiry while REQUESTED
  State state = State::kCandidateDelayed;
  bool preferred = false;
};

// Announcements of one txid: at most one per peer, so a short vector (A <= peers).
struct TxEntry {
  std::vector<Ann> anns;
  Ann* find(PeerId peer) {
    for (Ann& a : anns)
      if (a.peer == peer) return &a;
    return nullptr;
  }
};

struct PeerInfo {
  size_t in_flight = 0;
  size_t candidates = 0;
  std::map<uint64_t, Hash256> all;   // seq -> txid, every announcement of the peer
  std::map<uint64_t, Hash256> best;  // seq -> txid, its CANDIDATE_BEST ones (announcement order)
  bool operator==(const PeerInfo&) const = default;
};

// A pending time event: a DELAYED announcement becoming READY, or a REQUESTED one expiring.
struct Timer {
  Time time{};
  uint64_t seq = 0;
  Hash256 txid{};
  PeerId peer = 0;
  bool operator<(const Timer& o) const { return time != o.time ? time < o.time : seq < o.seq; }
};

bool better(const Ann& a, const Ann& b) {
  return a.priority != b.priority ? a.priority > b.priority : a.peer > b.peer;
}

}  // namespace

class TxRequestTracker::Impl {
 public:
  Impl(const SipKey& seed, Options options)
      : m_seed(seed), m_options(options), m_txs(0, SaltedIdHash{SipIdHasher(seed)}) {
    HEARSAY_CHECK(options.max_announcements >= 1 && options.max_in_flight >= 1);
  }

  uint64_t priority(const Hash256& txid, PeerId peer, bool preferred) const {
    std::array<uint8_t, 40> buf;
    std::memcpy(buf.data(), txid.data(), 32);
    for (int i = 0; i < 8; ++i)
      buf[32 + i] = static_cast<uint8_t>(peer >> (8 * i));
    const uint64_t h = siphash24(m_seed, Bytes(buf)) >> 1;
    return preferred ? (h | (uint64_t{1} << 63)) : h;
  }

  InvResult received_inv(PeerId peer, const Hash256& txid, bool preferred, Time reqtime) {
    auto it = m_txs.find(txid);
    if (it != m_txs.end() && it->second.find(peer)) return InvResult::kDuplicate;
    auto pit = m_peers.find(peer);
    if (pit != m_peers.end() && pit->second.all.size() >= m_options.max_announcements)
      return InvResult::kPeerFull;
    if (it == m_txs.end()) it = m_txs.emplace(txid, TxEntry{}).first;
    PeerInfo& p = m_peers[peer];
    Ann a;
    a.peer = peer;
    a.seq = m_next_seq++;
    a.priority = priority(txid, peer, preferred);
    a.time = reqtime;
    a.preferred = preferred;
    a.state = reqtime > m_now ? State::kCandidateDelayed : State::kCandidateReady;
    p.all.emplace(a.seq, txid);
    ++m_size;
    enter(txid, a);
    it->second.anns.push_back(a);
    reselect(it);
    return InvResult::kAdded;
  }

  bool requested_tx(PeerId peer, const Hash256& txid, Time expiry) {
    auto it = m_txs.find(txid);
    if (it == m_txs.end()) return false;
    Ann* a = it->second.find(peer);
    if (!a || !is_candidate(a->state)) return false;
    if (m_peers.at(peer).in_flight >= m_options.max_in_flight) return false;
    for (Ann& other : it->second.anns)
      if (other.state == State::kRequested) set_state(txid, other, State::kCompleted);
    set_state(txid, *a, State::kRequested, expiry);
    reselect(it);
    return true;
  }

  void received_response(PeerId peer, const Hash256& txid) {
    auto it = m_txs.find(txid);
    if (it == m_txs.end()) return;
    Ann* a = it->second.find(peer);
    if (!a || a->state == State::kCompleted) return;
    set_state(txid, *a, State::kCompleted);
    reselect(it);
  }

  void forget_txid(const Hash256& txid) {
    auto it = m_txs.find(txid);
    if (it == m_txs.end()) return;
    erase_entry(it);
  }

  void disconnected_peer(PeerId peer) {
    auto pit = m_peers.find(peer);
    if (pit == m_peers.end()) return;
    // Copy: removing the last announcement erases the PeerInfo.
    std::vector<Hash256> txids;
    txids.reserve(pit->second.all.size());
    for (const auto& [seq, txid] : pit->second.all)
      txids.push_back(txid);
    for (const Hash256& txid : txids) {
      auto it = m_txs.find(txid);
      HEARSAY_CHECK(it != m_txs.end());
      auto& anns = it->second.anns;
      auto a = std::find_if(anns.begin(), anns.end(), [&](const Ann& x) { return x.peer == peer; });
      HEARSAY_CHECK(a != anns.end());
      remove(txid, *a);
      anns.erase(a);
      reselect(it);
    }
    HEARSAY_CHECK(m_peers.find(peer) == m_peers.end());
  }

  std::vector<Hash256> get_requestable(PeerId peer, Time now,
                                       std::vector<std::pair<PeerId, Hash256>>* expired,
                                       size_t max_count) {
    advance(now, expired);
    std::vector<Hash256> out;
    auto pit = m_peers.find(peer);
    if (pit == m_peers.end()) return out;
    const size_t room = std::min(max_count, m_options.max_in_flight - pit->second.in_flight);
    for (const auto& [seq, txid] : pit->second.best) {
      if (out.size() >= room) break;
      out.push_back(txid);
    }
    return out;
  }

  size_t expedite(PeerId peer, Time reqtime) {
    auto pit = m_peers.find(peer);
    if (pit == m_peers.end()) return 0;
    size_t moved = 0;
    for (const auto& [seq, txid] : pit->second.all) {
      auto it = m_txs.find(txid);
      Ann* a = it->second.find(peer);
      if (a->state != State::kCandidateDelayed || a->time <= reqtime) continue;
      ++moved;
      if (reqtime > m_now) {
        set_state(txid, *a, State::kCandidateDelayed, reqtime);  // READY when advance() gets there
      } else {
        set_state(txid, *a, State::kCandidateReady, m_now);
        reselect(it);  // a candidate is live: the entry stays
      }
    }
    return moved;
  }

  size_t count_in_flight(PeerId peer) const {
    auto it = m_peers.find(peer);
    return it == m_peers.end() ? 0 : it->second.in_flight;
  }
  size_t count_candidates(PeerId peer) const {
    auto it = m_peers.find(peer);
    return it == m_peers.end() ? 0 : it->second.candidates;
  }
  size_t count(PeerId peer) const {
    auto it = m_peers.find(peer);
    return it == m_peers.end() ? 0 : it->second.all.size();
  }
  size_t size() const { return m_size; }
  size_t txid_count() const { return m_txs.size(); }
  Time now() const { return m_now; }

  std::optional<State> state(PeerId peer, const Hash256& txid) const {
    auto it = m_txs.find(txid);
    if (it == m_txs.end()) return std::nullopt;
    for (const Ann& a : it->second.anns)
      if (a.peer == peer) return a.state;
    return std::nullopt;
  }

  void sanity_check() const;

 private:
  using TxMap = std::unordered_map<Hash256, TxEntry, SaltedIdHash>;

  // Bookkeeping for `a` entering its current state / leaving it.
  void enter(const Hash256& txid, const Ann& a) {
    PeerInfo& p = m_peers.at(a.peer);
    if (is_candidate(a.state)) ++p.candidates;
    if (a.state == State::kRequested) ++p.in_flight;
    if (a.state == State::kCandidateBest) p.best.emplace(a.seq, txid);
    if (has_timer(a.state)) m_timers.insert(Timer{a.time, a.seq, txid, a.peer});
  }
  void leave(const Hash256& txid, const Ann& a) {
    PeerInfo& p = m_peers.at(a.peer);
    if (is_candidate(a.state)) --p.candidates;
    if (a.state == State::kRequested) --p.in_flight;
    if (a.state == State::kCandidateBest) p.best.erase(a.seq);
    if (has_timer(a.state)) m_timers.erase(Timer{a.time, a.seq, txid, a.peer});
  }
  void set_state(const Hash256& txid, Ann& a, State s, Time time) {
    leave(txid, a);
    a.state = s;
    a.time = time;
    enter(txid, a);
  }
  void set_state(const Hash256& txid, Ann& a, State s) { set_state(txid, a, s, a.time); }

  // Drops `a` from the per-peer and time indexes (the caller erases it from its entry).
  void remove(const Hash256& txid, const Ann& a) {
    leave(txid, a);
    auto pit = m_peers.find(a.peer);
    pit->second.all.erase(a.seq);
    --m_size;
    if (pit->second.all.empty()) m_peers.erase(pit);
  }

  void erase_entry(TxMap::iterator it) {
    for (const Ann& a : it->second.anns)
      remove(it->first, a);
    m_txs.erase(it);
  }

  // Restores rules 4 and 5 for one txid after any change to its announcements.
  void reselect(TxMap::iterator it) {
    const Hash256& txid = it->first;
    auto& anns = it->second.anns;
    bool live = false, requested = false;
    Ann* best = nullptr;
    for (Ann& a : anns) {
      if (a.state != State::kCompleted) live = true;
      if (a.state == State::kRequested) requested = true;
      if ((a.state == State::kCandidateReady || a.state == State::kCandidateBest) &&
          (!best || better(a, *best)))
        best = &a;
    }
    if (!live) {  // only COMPLETED ones left (or none): forget the txid
      erase_entry(it);
      return;
    }
    if (requested) best = nullptr;
    for (Ann& a : anns) {
      if (a.state == State::kCandidateBest && &a != best)
        set_state(txid, a, State::kCandidateReady);
    }
    if (best && best->state != State::kCandidateBest) set_state(txid, *best, State::kCandidateBest);
  }

  void advance(Time now, std::vector<std::pair<PeerId, Hash256>>* expired) {
    m_now = std::max(now, m_now);
    while (!m_timers.empty() && m_timers.begin()->time <= m_now) {
      const Timer t = *m_timers.begin();
      auto it = m_txs.find(t.txid);
      HEARSAY_CHECK(it != m_txs.end());
      Ann* a = it->second.find(t.peer);
      HEARSAY_CHECK(a && a->seq == t.seq);
      if (a->state == State::kCandidateDelayed) {
        set_state(t.txid, *a, State::kCandidateReady);
      } else {
        HEARSAY_CHECK(a->state == State::kRequested);
        set_state(t.txid, *a, State::kCompleted);
        if (expired) expired->emplace_back(t.peer, t.txid);
      }
      reselect(it);
    }
  }

  SipKey m_seed;
  Options m_options;
  TxMap m_txs;
  std::unordered_map<PeerId, PeerInfo> m_peers;
  std::set<Timer> m_timers;
  uint64_t m_next_seq = 0;
  size_t m_size = 0;
  Time m_now{Time::min()};
};

void TxRequestTracker::Impl::sanity_check() const {
  std::unordered_map<PeerId, PeerInfo> peers;
  std::set<Timer> timers;
  size_t total = 0;
  for (const auto& [txid, entry] : m_txs) {
    HEARSAY_CHECK(!entry.anns.empty());
    size_t requested = 0, live = 0;
    const Ann* best = nullptr;
    const Ann* marked_best = nullptr;
    std::set<PeerId> seen_peers;
    for (const Ann& a : entry.anns) {
      HEARSAY_CHECK(seen_peers.insert(a.peer).second);  // one announcement per (peer, txid)
      HEARSAY_CHECK(a.priority == priority(txid, a.peer, a.preferred));
      HEARSAY_CHECK(a.seq < m_next_seq);
      if (a.state != State::kCompleted) ++live;
      if (a.state == State::kRequested) ++requested;
      if (a.state == State::kCandidateDelayed) HEARSAY_CHECK(a.time > m_now);
      if (a.state == State::kCandidateReady || a.state == State::kCandidateBest) {
        HEARSAY_CHECK(a.time <= m_now);
        if (!best || better(a, *best)) best = &a;
      }
      if (a.state == State::kCandidateBest) {
        HEARSAY_CHECK(marked_best == nullptr);
        marked_best = &a;
      }
      PeerInfo& p = peers[a.peer];
      p.all.emplace(a.seq, txid);
      if (is_candidate(a.state)) ++p.candidates;
      if (a.state == State::kRequested) ++p.in_flight;
      if (a.state == State::kCandidateBest) p.best.emplace(a.seq, txid);
      if (has_timer(a.state)) timers.insert(Timer{a.time, a.seq, txid, a.peer});
      ++total;
    }
    HEARSAY_CHECK(live > 0);        // rule 5: all-COMPLETED txids are forgotten
    HEARSAY_CHECK(requested <= 1);  // rule 1
    HEARSAY_CHECK(marked_best == (requested ? nullptr : best));  // rule 4
  }
  HEARSAY_CHECK(total == m_size);
  HEARSAY_CHECK(peers == m_peers);
  for (const auto& [peer, p] : m_peers) {
    HEARSAY_CHECK(p.all.size() <= m_options.max_announcements);
    HEARSAY_CHECK(p.in_flight <= m_options.max_in_flight);
  }
  HEARSAY_CHECK(timers.size() == m_timers.size());
  auto a = timers.begin();
  for (auto b = m_timers.begin(); b != m_timers.end(); ++a, ++b)
    HEARSAY_CHECK(a->time == b->time && a->seq == b->seq && a->txid == b->txid &&
                  a->peer == b->peer);
}

TxRequestTracker::TxRequestTracker(const SipKey& seed, Options options)
    : m_impl(std::make_unique<Impl>(seed, options)) {}
TxRequestTracker::~TxRequestTracker() = default;
TxRequestTracker::TxRequestTracker(TxRequestTracker&&) noexcept = default;
TxRequestTracker& TxRequestTracker::operator=(TxRequestTracker&&) noexcept = default;

TxRequestTracker::InvResult TxRequestTracker::received_inv(PeerId peer, const Hash256& txid,
                                                           bool preferred, Time reqtime) {
  return m_impl->received_inv(peer, txid, preferred, reqtime);
}
bool TxRequestTracker::requested_tx(PeerId peer, const Hash256& txid, Time expiry) {
  return m_impl->requested_tx(peer, txid, expiry);
}
void TxRequestTracker::received_response(PeerId peer, const Hash256& txid) {
  m_impl->received_response(peer, txid);
}
void TxRequestTracker::forget_txid(const Hash256& txid) {
  m_impl->forget_txid(txid);
}
void TxRequestTracker::disconnected_peer(PeerId peer) {
  m_impl->disconnected_peer(peer);
}
std::vector<Hash256> TxRequestTracker::get_requestable(
    PeerId peer, Time now, std::vector<std::pair<PeerId, Hash256>>* expired, size_t max_count) {
  return m_impl->get_requestable(peer, now, expired, max_count);
}
size_t TxRequestTracker::expedite(PeerId peer, Time reqtime) {
  return m_impl->expedite(peer, reqtime);
}
size_t TxRequestTracker::count_in_flight(PeerId peer) const {
  return m_impl->count_in_flight(peer);
}
size_t TxRequestTracker::count_candidates(PeerId peer) const {
  return m_impl->count_candidates(peer);
}
size_t TxRequestTracker::count(PeerId peer) const {
  return m_impl->count(peer);
}
size_t TxRequestTracker::size() const {
  return m_impl->size();
}
size_t TxRequestTracker::txid_count() const {
  return m_impl->txid_count();
}
Time TxRequestTracker::now() const {
  return m_impl->now();
}
std::optional<AnnouncementState> TxRequestTracker::state(PeerId peer, const Hash256& txid) const {
  return m_impl->state(peer, txid);
}
void TxRequestTracker::sanity_check() const {
  m_impl->sanity_check();
}
uint64_t TxRequestTracker::priority_of(const Hash256& txid, PeerId peer, bool preferred) const {
  return m_impl->priority(txid, peer, preferred);
}

}  // namespace hearsay
