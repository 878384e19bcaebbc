// TxRequestTracker: which peers announced which unseen transaction ids, and whom to ask, when.
// Sans-IO: it is handed peer ids and times and answers decisions; it never reads a clock.
// (The design follows Bitcoin Core's txrequest; the code and the data layout are our own.)
//
// An announcement is one (peer, txid) pair: `preferred` (the caller sets it for outbound peers),
// `reqtime` (the earliest time it may be requested), and a state:
//   CANDIDATE_DELAYED  reqtime is still in the future;
//   CANDIDATE_READY    may be requested, but another announcer of the txid is the better choice;
//   CANDIDATE_BEST     the announcer to ask next for this txid;
//   REQUESTED          a getdata went to this peer; `expiry` is when we give up on it;
//   COMPLETED          the peer answered (tx or notfound), or the request timed out: kept only
//                      so that this peer is never asked for this txid again.
//
// Rules
//  1. At most one REQUESTED announcement per txid: one getdata in flight per id.
//  2. A peer is never asked twice for the same txid, unless the txid was forgotten in between
//     (forget_txid, or disconnected_peer) and announced again.
//  3. Nothing is requested before its reqtime. The caller delays non-preferred announcers by
//     kNonPreferredDelay (reqtime = now + delay), so outbound peers get the first chance.
//  4. Among the READY announcements of a txid with none REQUESTED, the BEST is a preferred one
//     if any exists, and among equals the one with the highest salted hash of (txid, peer):
//     a uniformly random choice that a peer cannot predict or bias without the seed.
//  5. When a request times out (expiry <= now) or is answered, the txid falls back to the
//     next BEST announcer. A txid whose announcements are all COMPLETED is forgotten.
//  6. Caps, enforced here: a peer holds at most max_announcements (5,000) announcements in any
//     state (received_inv refuses more), and at most max_in_flight (100) REQUESTED ones
//     (get_requestable returns no more than the room left; requested_tx refuses beyond it).
//  7. The tracker's clock is the largest `now` given to get_requestable; an earlier `now`
//     counts as that one (the system clock may step back; our time never does).
//
// Adversary. Peers choose what they announce and may never answer. Rule 2 stops a peer from
// re-announcing to stay first in line (Bitcoin's 2024 "already asked for" disclosure); rule 4
// makes the choice among equals unpredictable; rule 6 bounds memory per peer. As in Bitcoin
// Core: with P preferred announcers of which Ph >= 1 are honest, an attacker delays a txid by
// k request timeouts with mean about P/(Ph+1). A peer at its in-flight cap keeps its BEST
// txids until one of its requests resolves (at most the request timeout, kRequestTimeout);
// the caller may give announcements from such a peer a later reqtime (Bitcoin adds 2 s), so
// that other announcers win the choice.
//
// Complexity. Memory is linear in the announcements held (at most peers * max_announcements,
// about 200 bytes each). Every operation on a txid costs O(A + log N), A being the announcers
// of that txid (at most the number of peers) and N the announcements held; get_requestable
// costs O(log N) per expired request and per txid returned; disconnected_peer O(A log N) per
// announcement of that peer.
//
// Not thread-safe. sanity_check() rebuilds every derived index and aborts on any mismatch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "crypto/hash.h"
#include "p2p/types.h"

namespace hearsay {

// Announcements tracked per peer, in every state (Bitcoin Core's MAX_PEER_TX_ANNOUNCEMENTS):
// bounds the memory one peer can make us spend, while covering a full inv batch many times.
inline constexpr size_t kMaxPeerAnnouncements = 5'000;
// getdata requests in flight per peer (Bitcoin Core's MAX_PEER_TX_REQUEST_IN_FLIGHT).
inline constexpr size_t kMaxPeerInFlight = 100;
static_assert(kMaxPeerInFlight <= kMaxPeerAnnouncements);
// How long a request may go unanswered before the next announcer is asked (Bitcoin Core's
// GETDATA_TX_INTERVAL). The caller passes now + kRequestTimeout to requested_tx.
inline constexpr Duration kRequestTimeout = std::chrono::seconds(60);
// Extra reqtime for announcements from non-preferred (inbound) peers (NONPREF_PEER_TX_DELAY).
inline constexpr Duration kNonPreferredDelay = std::chrono::seconds(2);
// Extra reqtime a caller may add for announcements from a peer at its in-flight cap
// (OVERLOADED_PEER_TX_DELAY).
inline constexpr Duration kOverloadedPeerDelay = std::chrono::seconds(2);

enum class AnnouncementState : uint8_t {
  kCandidateDelayed,
  kCandidateReady,
  kCandidateBest,
  kRequested,
  kCompleted,
};

struct TxRequestOptions {
  size_t max_announcements = kMaxPeerAnnouncements;  // per peer, >= 1
  size_t max_in_flight = kMaxPeerInFlight;           // per peer, >= 1
};

class TxRequestTracker {
 public:
  using Options = TxRequestOptions;
  enum class InvResult : uint8_t {
    kAdded,
    kDuplicate,  // this peer already announced this txid (in any state): nothing changes
    kPeerFull,   // the peer holds max_announcements already: ignored
  };

  // `seed` salts the random choice among equal announcers (rule 4); the node draws it at start.
  explicit TxRequestTracker(const SipKey& seed, Options options = {});
  ~TxRequestTracker();
  TxRequestTracker(TxRequestTracker&&) noexcept;
  TxRequestTracker& operator=(TxRequestTracker&&) noexcept;

  // `peer` announced `txid`; it may be requested from reqtime on.
  InvResult received_inv(PeerId peer, const Hash256& txid, bool preferred, Time reqtime);
  // A getdata for `txid` went to `peer`, which must answer before `expiry`. Only a CANDIDATE
  // announcement becomes REQUESTED (returns false otherwise, or when the peer is at its
  // in-flight cap). Another REQUESTED announcement of the txid (the caller ignored
  // get_requestable's advice) becomes COMPLETED.
  bool requested_tx(PeerId peer, const Hash256& txid, Time expiry);
  // `peer` sent the transaction or a notfound for it: its announcement becomes COMPLETED and
  // the txid falls back to the next announcer. Call forget_txid too once the tx is accepted
  // or rejected.
  void received_response(PeerId peer, const Hash256& txid);
  // The txid is no longer needed (accepted, rejected, or seen): drops all its announcements.
  void forget_txid(const Hash256& txid);
  // Drops every announcement of `peer`; its requests fall back to other announcers.
  void disconnected_peer(PeerId peer);

  // Advances the clock to `now` (rule 7), expires the REQUESTED announcements (of every peer)
  // with expiry <= now, appending them to *expired if given, in expiry order; then returns the
  // txids that `peer` is the BEST announcer of, in the order it announced them, at most the
  // room left under its in-flight cap. The caller sends one getdata for them and calls
  // requested_tx for each.
  // `max_count` lowers the room further (the caller's own, adaptive window: TxRelay).
  std::vector<Hash256> get_requestable(PeerId peer, Time now,
                                       std::vector<std::pair<PeerId, Hash256>>* expired = nullptr,
                                       size_t max_count = SIZE_MAX);
  // Brings every CANDIDATE_DELAYED announcement of `peer` whose reqtime is later than `reqtime`
  // forward to it (READY at once if it is not after the tracker's clock): the caller delayed
  // them for a reason that no longer holds (TxRelay: the peer looked overloaded until its
  // measured rate showed otherwise). Returns how many moved. O(announcements of the peer).
  size_t expedite(PeerId peer, Time reqtime);

  size_t count_in_flight(PeerId peer) const;   // REQUESTED announcements of the peer
  size_t count_candidates(PeerId peer) const;  // CANDIDATE_* announcements of the peer
  size_t count(PeerId peer) const;             // announcements of the peer, any state
  size_t size() const;                         // announcements held, all peers
  size_t txid_count() const;                   // distinct txids held
  Time now() const;                            // the tracker's clock (rule 7)
  // The state of (peer, txid), or nullopt if there is no such announcement.
  std::optional<AnnouncementState> state(PeerId peer, const Hash256& txid) const;

  // Rebuilds every derived index and checks every invariant; aborts on a broken one.
  void sanity_check() const;
  // Inspection (tests): the rank used by rule 4 (higher wins; preferred beats any non-preferred).
  uint64_t priority_of(const Hash256& txid, PeerId peer, bool preferred) const;

 private:
  class Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace hearsay
