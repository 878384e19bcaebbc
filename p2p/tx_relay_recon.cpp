// TxRelay's set reconciliation (p2p/tx_relay.h, "Set reconciliation"; docs/protocol.md).
#include <algorithm>
#include <cmath>

#include "p2p/sketch.h"
#include "p2p/tx_relay.h"

namespace hearsay {

namespace {

using p2p::Sketch;

// A transaction's element on a link: the link part of its short id (recon_element).
uint32_t element_of(const SipKey& link_key, const TxId& id) {
  return recon_element(short_id_link_part(link_key, id));
}

// The elements of a part: those whose top `bits` bits are `index`.
bool in_part(uint32_t element, uint8_t bits, uint32_t index) {
  return bits == 0 || element >> (32 - bits) == index;
}

template <class Set>
auto part_of(Set& set, uint8_t bits, uint32_t index) {
  const uint64_t width = uint64_t{1} << (32 - bits);
  const uint64_t lo = uint64_t{index} * width;
  auto element_below = [](const auto& e, uint64_t v) { return e.element < v; };
  auto begin = std::lower_bound(set.begin(), set.end(), lo, element_below);
  auto end = std::lower_bound(begin, set.end(), lo + width, element_below);
  return std::span(begin, end);
}

// The element `e` of a part (sorted by element), or null.
template <class Part>
auto find_element(Part part, uint32_t e) -> decltype(part.data()) {
  auto at = std::lower_bound(part.begin(), part.end(), e,
                             [](const auto& x, uint32_t v) { return x.element < v; });
  return at != part.end() && at->element == e ? &*at : nullptr;
}

// The capacity a part expecting `differences` gets: 1.25 × that, plus a margin, within bounds.
size_t capacity_for(double differences, size_t at_least) {
  const double c = std::ceil(1.25 * differences) + static_cast<double>(kReconMinCapacity);
  return std::clamp(std::max(static_cast<size_t>(c), at_least), kReconMinCapacity,
                    kMaxReconCapacity);
}

double absdiff(size_t a, size_t b) {
  return a > b ? static_cast<double>(a - b) : static_cast<double>(b - a);
}

}  // namespace

// --- both sides ---------------------------------------------------------------------------------

TxRelay::ReconSet TxRelay::recon_set(const PeerState& ps, Time now) const {
  const std::vector<TxRef> held = m_pool.newest(kMaxReconSet);
  ReconSet set;
  set.reserve(held.size());
  for (size_t rank = 0; rank < held.size(); ++rank) {
    const TxId& id = held[rank]->id();
    auto offered = ps.recon_offered.find(id);
    if (offered != ps.recon_offered.end() && now - offered->second < kReconOfferMemory) continue;
    set.push_back(ReconElem{element_of(ps.link_key, id), static_cast<uint32_t>(rank), id});
  }
  std::sort(set.begin(), set.end());
  // Two transactions with one element would cancel in every sketch while counting twice in the
  // set's size: both stay out of this link's reconciliation (2^-32 per pair; other links differ).
  size_t out = 0;
  for (size_t i = 0; i < set.size();) {
    size_t j = i + 1;
    while (j < set.size() && set[j].element == set[i].element)
      ++j;
    if (j == i + 1) set[out++] = set[i];
    i = j;
  }
  set.resize(out);
  return set;
}

void TxRelay::recon_ready(PeerId peer, PeerState& ps, Time now) {
  ++m_stats.recon_peers;
  if (ps.outbound) start_round(peer, ps, now);
}

// The link cannot reconcile after all (no short ids): anti-entropy the old way.
void TxRelay::recon_off(PeerId, PeerState& ps, Time) {
  ps.recon = false;
  ps.in_round = false;
  ps.set_held = false;
  ps.set.clear();
  ps.parts.clear();
  announce_newest(ps);
  choose_flood_peers();
}

void TxRelay::recon_tick(PeerId peer, PeerState& ps, Time now) {
  while (!ps.recon_offered_order.empty() &&
         now - ps.recon_offered_order.front().second >= kReconOfferMemory)
    forget_oldest_offer(ps);
  if (ps.short_ids != ShortIds::kOn) return;
  if (!ps.outbound) {
    // An answerer's copy of the asker's round outlives no honest round.
    if (ps.set_held && now - ps.set_built >= kReconTimeout) {
      ps.set_held = false;
      ps.set = ReconSet{};
    }
    return;
  }
  if (ps.in_round && now >= ps.round_deadline) {
    ++m_stats.recon_timeouts;
    ps.report.complete = false;
    end_round(ps, now);
  }
  if (!ps.in_round && m_cfg.reconcile_interval > Duration::zero() && now >= ps.next_round)
    start_round(peer, ps, now);
}

// Announces what a reconciliation found the peer lacks, oldest first (nonce chains in order),
// and remembers the offer (recon_set leaves it out while it stands).
void TxRelay::offer(PeerId peer, PeerState& ps, std::vector<ReconElem> elems, Time now) {
  std::sort(elems.begin(), elems.end(),
            [](const ReconElem& a, const ReconElem& b) { return a.rank > b.rank; });
  std::vector<TxId> ids;
  ids.reserve(elems.size());
  for (const ReconElem& e : elems) {
    if (!m_pool.contains(e.id)) continue;  // gone since the set was taken
    ids.push_back(e.id);
    ps.known.insert(e.id, now);  // a queued announcement of it need not follow
    ps.recon_offered[e.id] = now;
    ps.recon_offered_order.emplace_back(e.id, now);
  }
  while (ps.recon_offered_order.size() > kReconOfferedPerPeer)
    forget_oldest_offer(ps);
  if (ids.empty()) return;
  m_stats.recon_announced += ids.size();
  send_short_announcements(peer, ps, ids, now);
}

// The order entry may be stale (offered again since, or settled): then the offer stays.
void TxRelay::forget_oldest_offer(PeerState& ps) {
  auto [id, at] = ps.recon_offered_order.front();
  ps.recon_offered_order.pop_front();
  auto it = ps.recon_offered.find(id);
  if (it != ps.recon_offered.end() && it->second == at) ps.recon_offered.erase(it);
}

void TxRelay::settle_offer(PeerState& ps, const TxId& id) {
  if (!ps.recon_offered.empty()) ps.recon_offered.erase(id);
}

// Low fanout: which reconciling peers get announcements (outbound first, then by connection).
void TxRelay::choose_flood_peers() {
  size_t chosen = 0;
  for (bool outbound : {true, false})
    for (auto& [peer, ps] : m_peers) {
      if (!ps.recon) {
        ps.flood = true;
        continue;
      }
      if (ps.outbound != outbound) continue;
      ps.flood = m_cfg.flood_peers == 0 || chosen < m_cfg.flood_peers;
      if (ps.flood) ++chosen;
    }
}

std::optional<TxRelay::ReconLink> TxRelay::recon_link(PeerId peer) const {
  auto it = m_peers.find(peer);
  if (it == m_peers.end()) return std::nullopt;
  const PeerState& ps = it->second;
  return ReconLink{ps.recon && ps.short_ids == ShortIds::kOn, ps.recon && ps.outbound, ps.in_round,
                   ps.flood};
}

// --- the asker (the side that dialled) ----------------------------------------------------------

void TxRelay::start_round(PeerId peer, PeerState& ps, Time now) {
  ps.set = recon_set(ps, now);
  ps.in_round = true;
  ps.round_deadline = now + kReconTimeout;
  ps.parts.clear();
  ps.report = ReconReport{};
  ps.report.round = ++ps.round;
  ps.report.set_size = ps.set.size();
  ps.report.complete = true;
  ps.report.started = now;
  ++m_stats.recon_rounds;
  // BIP330's estimate: the set-size difference plus q times the smaller set.
  // The size difference is the last round's, both sizes taken at once: sets that grow together
  // between rounds do not differ by their growth.
  double expected = kReconInitialDifferences;
  if (ps.have_q) expected = ps.last_delta + ps.q * static_cast<double>(ps.set.size());
  split(peer, ps, 0, 0, 0, expected, kReconMinCapacity);
  ps.round_bits = ps.parts.begin()->first.first;  // one sketch always fits the round's bytes
}

// Asks about the parts of part (bits, index) `step` bits finer (more when `expected`
// differences need it), each with at least `at_least` capacity.
void TxRelay::split(PeerId peer, PeerState& ps, uint8_t bits, uint32_t index, uint8_t step,
                    double expected, size_t at_least) {
  while (bits + step < kMaxReconBits &&
         expected / static_cast<double>(uint64_t{1} << step) > kReconSplitCapacity)
    ++step;
  const uint64_t parts = uint64_t{1} << step;
  const size_t capacity = capacity_for(expected / static_cast<double>(parts), at_least);
  for (uint64_t j = 0; j < parts; ++j)
    ask_part(peer, ps, static_cast<uint8_t>(bits + step),
             static_cast<uint32_t>((uint64_t{index} << step) | j), capacity);
}

void TxRelay::ask_part(PeerId peer, PeerState& ps, uint8_t bits, uint32_t index, size_t capacity,
                       bool whole) {
  const size_t words = whole ? 1 : capacity;
  if (ps.report.sketch_bytes + words * kReconElementSize > kMaxReconRoundBytes) {
    ps.report.complete = false;  // the rest waits for the next round
    return;
  }
  const auto part = part_of(ps.set, bits, index);
  Sketch sketch(words);
  if (!whole)
    for (const ReconElem& e : part)
      sketch.add(e.element);
  const auto size = static_cast<uint32_t>(whole ? 0 : part.size());
  ReqReconMsg m{ps.round, bits, index, size, sketch.serialize()};
  m_stats.recon_sketch_bytes_sent += m.sketch.size();
  ps.report.sketch_bytes += m.sketch.size();
  ++ps.report.requests;
  ++m_stats.recon_requests_sent;
  ps.parts[{bits, index}] = ReconPart{sketch.capacity(), part.size(), whole};
  m_pm.send(peer, std::move(m));
}

void TxRelay::end_round(PeerState& ps, Time now) {
  ps.in_round = false;
  ps.parts.clear();
  const ReconReport& r = ps.report;
  if (r.complete) {
    ps.last_delta = absdiff(r.set_size, r.peer_set_size);
    const size_t smaller = std::min(r.set_size, r.peer_set_size);
    const double q = (static_cast<double>(r.differences) - ps.last_delta) /
                     static_cast<double>(std::max<size_t>(smaller, 1));
    ps.q = std::clamp(q, 0.0, 1.0);
    ps.have_q = true;
  }
  if (m_observer) m_observer->recon_round(ps.identity, r, now);
  ps.set = ReconSet{};
  if (m_cfg.reconcile_interval > Duration::zero()) {
    // ±25 %: rounds on a node's links do not fall into step.
    std::uniform_real_distribution<double> jitter(0.75, 1.25);
    ps.next_round =
        now + std::chrono::duration_cast<Duration>(m_cfg.reconcile_interval * jitter(m_rng));
  }
}

void TxRelay::handle_recondiff(PeerId peer, PeerState& ps, const ReconDiffMsg& m, Time now) {
  if (!ps.recon || !ps.outbound || ps.short_ids != ShortIds::kOn) {
    m_pm.misbehaving(peer, kScoreUnexpectedRecon, "recondiff where we did not ask");
    return;
  }
  if (!ps.in_round || m.round != ps.round) return;  // a round we gave up on
  auto it = ps.parts.find({m.bits, m.index});
  if (it == ps.parts.end()) {
    m_pm.misbehaving(peer, kScoreUnexpectedRecon, "recondiff for a part not asked about");
    return;
  }
  const ReconPart asked = it->second;
  ps.parts.erase(it);
  // A set is at most kMaxReconSet: a larger claim must not make us ask more.
  const size_t their_size = std::min<size_t>(m.set_size, kMaxReconSet);
  // Its parts' sizes (a part asked again whole was counted at its first answer).
  if (m.bits == ps.round_bits && !asked.whole)
    ps.report.peer_set_size = std::min(ps.report.peer_set_size + their_size, kMaxReconSet);
  const auto part = part_of(ps.set, m.bits, m.index);
  bool failed = m.result == ReconResult::kFailed;
  if (m.result == ReconResult::kDecoded && asked.whole) {
    // Our part went out whole; the answerer announces its part whole.
  } else if (m.result == ReconResult::kDecoded) {
    // It asks for elements of ours, in ascending order: each must be in the part, or the
    // decode was false.
    std::vector<ReconElem> wanted;
    for (size_t i = 0; i < m.ask.size(); ++i) {
      const uint32_t e = m.ask[i];
      const ReconElem* at = find_element(part, e);
      if ((i > 0 && e <= m.ask[i - 1]) || !at) {
        failed = true;
        break;
      }
      wanted.push_back(*at);
    }
    if (!failed) {
      const size_t shared = part.size() - wanted.size();
      const size_t theirs_only = their_size > shared ? their_size - shared : 0;
      const size_t differences = wanted.size() + theirs_only;
      ps.report.differences += differences;
      m_stats.recon_differences += differences;
      offer(peer, ps, std::move(wanted), now);
    }
  }
  if (failed) {
    if (their_size == 0) {
      // It has nothing in the part: all of ours is the difference.
      ps.report.differences += part.size();
      m_stats.recon_differences += part.size();
      offer(peer, ps, std::vector<ReconElem>(part.begin(), part.end()), now);
    } else if (asked.size + their_size <= kReconExchangeFactor * asked.capacity) {
      // Both sides of the part are small: announcing them whole costs less than splitting on.
      ++ps.report.exchanges;
      ++m_stats.recon_exchanges;
      offer(peer, ps, std::vector<ReconElem>(part.begin(), part.end()), now);
      ask_part(peer, ps, m.bits, m.index, 1, true);
    } else if (asked.whole || m.bits >= kMaxReconBits) {
      ps.report.complete = false;  // given up until the next round
    } else {
      ++m_stats.recon_bisections;
      ++ps.report.bisections;
      // It held more than `capacity` differences; the sizes may say how many more, and bound
      // them.
      const double expected = std::min(
          std::max(static_cast<double>(asked.capacity) + 1, absdiff(asked.size, their_size)),
          static_cast<double>(asked.size + their_size));
      split(peer, ps, m.bits, m.index, 1, expected, asked.capacity);
    }
  }
  if (m.result == ReconResult::kRefused) {
    ps.report.complete = false;
    ps.parts.clear();
  }
  if (ps.parts.empty()) end_round(ps, now);
}

// --- the answerer -------------------------------------------------------------------------------

void TxRelay::handle_reqrecon(PeerId peer, PeerState& ps, const ReqReconMsg& m, Time now) {
  if (!ps.recon || ps.outbound || ps.short_ids != ShortIds::kOn) {
    m_pm.misbehaving(peer, kScoreUnexpectedRecon, "reqrecon where it does not ask");
    return;
  }
  ++m_stats.recon_requests_received;
  m_stats.recon_sketch_bytes_received += m.sketch.size();
  std::optional<Sketch> theirs = Sketch::parse(m.sketch);
  if (!theirs) return;  // the decoder admits only 1..kMaxReconCapacity words
  // Its work budget, charged before the work: our set taken afresh for a new round of its
  // (kReconUnitsPerElement each: a SipHash and a share of the sort), the decode (about 64 ×
  // capacity²), then the sketch of the part (part × capacity; a part it says is empty costs as
  // a sketch of kReconSplitCapacity would: we announce it all).
  refill_recon_budget(ps, now);
  ReconDiffMsg answer{m.round, m.bits, m.index, ReconResult::kDecoded, 0, {}};
  auto charge = [&](double cost) {
    if (cost <= ps.tokens) {
      ps.tokens -= cost;
      return true;
    }
    ++m_stats.recon_refused;
    answer.result = ReconResult::kRefused;
    m_pm.send(peer, std::move(answer));
    return false;
  };
  const double c = static_cast<double>(theirs->capacity());
  const bool fresh = !ps.set_held || m.round != ps.round;
  const double taking =
      fresh ? kReconUnitsPerElement * static_cast<double>(std::min(m_pool.size(), kMaxReconSet))
            : 0;
  if (!charge(taking + (m.set_size == 0 ? 0 : 64 * c * c))) return;
  if (fresh) take_their_round(ps, m.round, now);
  const auto part = part_of(ps.set, m.bits, m.index);
  answer.set_size = static_cast<uint32_t>(part.size());
  if (!charge(static_cast<double>(part.size()) * (m.set_size == 0 ? kReconSplitCapacity : c)))
    return;
  if (m.set_size == 0) {
    m_stats.recon_differences += part.size();
    m_pm.send(peer, std::move(answer));
    offer(peer, ps, std::vector<ReconElem>(part.begin(), part.end()), now);
    return;
  }
  Sketch ours(theirs->capacity());
  for (const ReconElem& e : part)
    ours.add(e.element);
  ours.merge(*theirs);
  const std::optional<std::vector<uint32_t>> diff = ours.decode();
  std::vector<ReconElem> lacks;
  bool ok = diff.has_value();
  for (size_t i = 0; ok && i < diff->size(); ++i) {
    const uint32_t e = (*diff)[i];
    if (!in_part(e, m.bits, m.index)) {
      ok = false;  // not an element of this part: a false decode
      break;
    }
    if (const ReconElem* at = find_element(part, e))
      lacks.push_back(*at);
    else
      answer.ask.push_back(e);
  }
  // The elements both hold, counted from either side, must agree: a false decode (more
  // differences than the capacity) almost never passes this.
  ok = ok && m.set_size >= answer.ask.size() &&
       m.set_size - answer.ask.size() == part.size() - lacks.size();
  if (!ok) {
    ++m_stats.recon_failures;
    answer.result = ReconResult::kFailed;
    answer.ask.clear();
    m_pm.send(peer, std::move(answer));
    return;
  }
  m_stats.recon_differences += diff->size();
  // Its announcements of what we ask for are requested at once, whatever the link's direction.
  for (uint32_t e : answer.ask)
    if (ps.recon_asked.size() < kMaxReconAsked) ps.recon_asked.insert(e);
  m_pm.send(peer, std::move(answer));
  offer(peer, ps, std::move(lacks), now);
}

void TxRelay::refill_recon_budget(PeerState& ps, Time now) {
  const double seconds = std::chrono::duration<double>(now - ps.refilled).count();
  ps.tokens = std::min(kReconBudget, ps.tokens + kReconRefillPerSecond * seconds);
  ps.refilled = now;
}

// Our set for a round of the peer's: taken once, every part of the round is answered from it.
void TxRelay::take_their_round(PeerState& ps, uint32_t round, Time now) {
  ps.recon_asked.clear();  // a new round: what it was asked last round came or will not
  if (!ps.set_held) make_room_for_snapshot();
  ps.set_held = true;
  ps.set = recon_set(ps, now);
  ps.set_built = now;
  ps.round = round;
}

// At most kMaxReconSnapshots answerer sets are held: the oldest goes (a later part of its round
// is answered from a fresh one).
void TxRelay::make_room_for_snapshot() {
  PeerState* oldest = nullptr;
  size_t held = 0;
  for (auto& [peer, ps] : m_peers) {
    if (!ps.set_held) continue;
    ++held;
    if (!oldest || ps.set_built < oldest->set_built) oldest = &ps;
  }
  if (held < kMaxReconSnapshots) return;
  oldest->set_held = false;
  oldest->set = ReconSet{};
}

}  // namespace hearsay
