// Fuzz target: a PeerManager with the transaction relay (TxRelay over a real Mempool on a
// MemoryStore) fed arbitrary event sequences.
//
// Up to kMaxLive fake connections, each honest or not (decided by its identity). The input is a
// sequence of operations: connect (inbound or outbound, trusted, with or without the push
// service bit, handshake completed or left half-way), inbound eviction (a newcomer knocking at
// full slots), inv / getdata / notfound / tx messages
// built from a fixed set of signed transactions (valid, forged, refused by policy, nonce
// replacements) and arbitrary ids, honest answers to our getdata, arbitrary messages decoded
// from input bytes (ping, version, verack, addr, ...), disconnects, local submissions, the
// delivery of signature verdicts (late, reordered, regrouped or lost) and the clock moving on.
// The node may run tree relay (kServiceTree): peers that set the bit too push treetx bodies
// and send prune / graft with arbitrary origins.
//
// The relay runs with small per-peer bounds (kKnownPerPeerFuzz, kTrackerFuzz): a flood of a few
// hundred ids reaches the tracker's caps and the known sets' rotation, and the sanity checks
// after every step cost O(those bounds), not O(the node's 16,384-entry known sets).
//
// Oracles, after every step: sanity_check() of the PeerManager, the relay and the mempool; the
// relay's memory stays under its caps (tracker per peer and in total, transactions under
// verification, the seen-set); every SendAction goes to a live connection and decodes; a `tx`
// we send is held by the mempool, an inv carries at most kMaxInvPerMessage entries; one request
// in flight per id (a getdata for an id whose earlier request to another live peer has neither
// been answered nor timed out is a bug); an honest peer (answers only what we asked, within
// the request memory, only valid transactions, small getdata) is never scored nor banned; a
// dishonest peer's unrequested tx without the push bit is scored; every ban names a peer that
// sent a transaction whose signature is invalid. Tree relay: treetx, prune and graft go only to
// tree peers (a treetx we send is held by the mempool, a prune or graft names at most
// kMaxTreeOriginEntries origins); tree messages off a tree link are scored; an honest tree peer
// is scored only for withholding (it pushes nothing unless the input says so), in whole
// kScoreWithheldBody steps.
// Eviction: the victim is a live, untrusted inbound peer, and a recent novel transaction or a
// low ping protects it unless kEvictProtectTx / kEvictProtectPing candidates rank above it.
//
// Set reconciliation (kServiceRecon, from the input, with a small reconcile_interval and
// sometimes a low fanout): peers that set the bit too reconcile once the link's short ids are
// on. A peer sends reqrecon (a real sketch of a few elements, or raw bytes, of capacity at most
// kMaxFuzzCapacity) and recondiff (an answer to a part we asked it, or anything). Oracles: we ask
// (reqrecon) only peers we dialled and answer (recondiff) only peers that dialled us, over a
// reconciling link; every reqrecon a reconciling peer sends us is answered once, about its part,
// asking for at most its capacity's worth of elements, each in the part; our sketches are 4 ×
// a capacity within kMaxReconCapacity, our rounds go forward, the parts of a round never
// overlap, and a failed part is split into two or more parts inside it, none of smaller capacity;
// recon_link() agrees with what the link negotiated, and at most flood_peers reconciling peers
// (outbound first) are flooded; reconciliation messages off a reconciling link, or about a part
// we are not asking, are scored.
#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "p2p/sketch.h"
#include "testing/fake_peers.h"
#include "testing/node_fixture.h"
#include "testing/peer_harness.h"

using namespace hearsay;

namespace {

constexpr size_t kMaxSteps = 64;
constexpr size_t kMaxLive = 6;
constexpr uint32_t kMagic = fuzz::kFuzzMagic;
constexpr uint32_t kNetwork = 0x6e657477;
const Time kStart = Time(std::chrono::seconds(1'700'000'000));
// Identities 1 and 2 are honest peers, 3..5 are not (0 is the node itself).
constexpr size_t kHonestKeys = 2;
constexpr size_t kSeenMax = 64;
// The transaction set starts with this many validly signed ones (then the forgeries).
constexpr size_t kValidTxs = 40;
// Per-peer bounds of the relay (TxRelayConfig): small, so floods reach them.
constexpr size_t kKnownPerPeerFuzz = 16;
constexpr TxRequestOptions kTrackerFuzz{.max_announcements = 64, .max_in_flight = 16};
// The largest flood of arbitrary ids in one inv: well past the tracker's cap.
constexpr size_t kMaxFloodInv = 4 * kTrackerFuzz.max_announcements;
// The largest sketch a fuzzed peer sends us (decoding costs capacity²: keeps each input fast).
constexpr size_t kMaxFuzzCapacity = 16;
// Intervals between reconciliation rounds, chosen by the input (0: on connect only).
constexpr std::array<Duration, 8> kReconIntervals = {Duration(0),
                                                     std::chrono::milliseconds(10),
                                                     std::chrono::milliseconds(100),
                                                     std::chrono::milliseconds(500),
                                                     std::chrono::seconds(1),
                                                     std::chrono::seconds(2),
                                                     std::chrono::seconds(5),
                                                     std::chrono::seconds(30)};

// Transactions built once: 4 senders × nonces 0..3 at two fee levels (the second replaces the
// first), some below the minimum fee, some forged, some for another network.
struct TxSet {
  const std::vector<KeyPair>& peers = test::fake_identities();
  std::vector<PublicKey> senders;  // of the transactions (keys 0x60..0x63)
  std::vector<TxRef> txs;
  std::vector<bool> valid;  // signature
  std::map<TxId, size_t> index;
  std::map<const Transaction*, bool> verdict;  // valid[], by object, for signature checks
};

const TxSet& tx_set() {
  static const TxSet set = [] {
    crypto_init();
    TxSet s;
    auto add = [&](TxRef tx, bool valid) {
      s.index[tx->id()] = s.txs.size();
      s.txs.push_back(std::move(tx));
      s.valid.push_back(valid);
    };
    for (uint8_t sender = 0; sender < 4; ++sender) {
      const KeyPair k = test::test_key(static_cast<uint8_t>(0x60 + sender));
      s.senders.push_back(k.public_key());
      for (uint64_t nonce = 0; nonce < 4; ++nonce) {
        for (uint64_t fee : {2'000u, 9'000u})
          add(test::filled_tx(k, kNetwork, nonce, fee, 40 + sender * 8 + nonce, sender), true);
      }
      add(test::filled_tx(k, kNetwork, /*nonce=*/5, /*fee=*/0, 0, 0), true);  // below the minimum
      add(test::filled_tx(k, kNetwork + 1, 0, 5'000, 0, 0), true);            // another network
    }
    const size_t honest = s.txs.size();
    FUZZ_ASSERT(honest == kValidTxs);
    for (size_t i = 0; i < honest; i += 3) {
      std::vector<uint8_t> bytes(s.txs[i]->encoding().begin(), s.txs[i]->encoding().end());
      bytes[bytes.size() - 1 - i % 64] ^= static_cast<uint8_t>(1 + i);
      auto t = Transaction::decode(std::move(bytes));
      FUZZ_ASSERT(t.ok());
      add(*t, false);
    }
    for (size_t i = 0; i < s.txs.size(); ++i) {
      FUZZ_ASSERT(s.txs[i]->verify_signature() == s.valid[i]);
      s.verdict.emplace(s.txs[i].get(), s.valid[i]);
    }
    return s;
  }();
  return set;
}

// A signature check: the set's verdict, computed once; a decoded transaction is verified.
bool signature_ok(const TxRef& tx) {
  const auto& known = tx_set().verdict;
  auto it = known.find(tx.get());
  return it != known.end() ? it->second : tx->verify_signature();
}

// A part of a reconciliation set (the elements whose top `bits` bits are `index`): the elements
// [lo, hi), and the capacity of the sketch we asked about it with.
struct AskedPart {
  uint8_t bits = 0;
  uint32_t index = 0;
  uint64_t lo = 0, hi = 0;
  size_t capacity = 0;
};

AskedPart part_of(uint8_t bits, uint32_t index, size_t capacity = 0) {
  const uint64_t width = uint64_t{1} << (32 - bits);
  return AskedPart{bits, index, index * width, (index + 1) * width, capacity};
}

bool in_part(uint32_t element, const AskedPart& p) {
  return element >= p.lo && element < p.hi;
}

struct Conn {
  size_t key = 0;
  bool inbound = false;
  bool push = false;        // its version set kServicePushTx
  bool short_ids = false;   // its version set kServiceShortIds
  bool tree = false;        // its version set kServiceTree and so did we: a tree link
  bool offered = false;     // we sent it sendshortids (nonce, bucket salt below)
  bool negotiated = false;  // and it answered with version 1: short-id mode
  bool answered = false;    // its (first) sendshortids came
  Time offered_at{};
  // Its version set kServiceRecon and so did we; false once the short-id negotiation timed out
  // (the link never reconciles then).
  bool recon = false;
  uint64_t our_nonce = 0, our_salt = 0, nonce = 0;
  std::set<uint64_t> announced;              // short ids we sent it
  std::map<uint64_t, Time> short_requested;  // our gettx entries to it, when
  bool ready = false;
  bool closing = false;            // a DisconnectAction named it
  std::map<TxId, Time> requested;  // our getdata to it, not yet answered
  // Reconciliation, where we ask (we dialled it): our round and its parts not yet answered, by
  // the first element each covers; the part answered in this event.
  uint32_t our_round = 0;
  std::map<uint64_t, AskedPart> asked;
  std::optional<AskedPart> answering;
  size_t split_into = 0;  // the finer parts asked in this event (SIZE_MAX: the part again)
  // Where it asks (it dialled us): its last round, and its reqrecon of this event (answered
  // once).
  uint32_t their_round = 0;
  std::optional<ReqReconMsg> to_answer;
  bool honest() const { return key >= 1 && key <= kHonestKeys; }
  bool reconciles() const { return recon && negotiated; }
  // Its reconciliation element of `id`: the link part of the short id, never 0.
  uint32_t element_of(const TxId& id) const {
    const uint32_t e = short_id_link_part(short_id_link_key(our_nonce, nonce), id);
    return e == 0 ? 1 : e;
  }
  // The short id of `id` as this peer sends it to us (our bucket salt, the link's nonces).
  uint64_t short_of(const TxId& id) const {
    return tx_short_id(short_id_bucket_key(our_salt), short_id_link_key(our_nonce, nonce), id);
  }
};

struct Harness : test::TxRelayNode, test::FakePeers<Conn> {
  std::vector<VerifyAction> held;
  // One request in flight per id: id → (peer, expiry) of the outstanding request.
  std::map<TxId, std::pair<PeerId, Time>> in_flight;
  std::set<PublicKey> forgers;  // identities that sent a tx with an invalid signature
  Duration request_timeout = kRequestTimeout;

  bool tree = false;   // we set kServiceTree
  bool recon = false;  // we set kServiceRecon
  size_t flood_peers = 0;

  Harness(const TxRelayConfig& cfg, const MempoolOptions& mo, bool tree_relay, bool reconcile)
      : TxRelayNode(pm_config(tree_relay, reconcile), tx_set().peers[0], mo, cfg, kStart),
        tree(tree_relay),
        recon(reconcile),
        flood_peers(cfg.flood_peers) {
    request_timeout = cfg.request_timeout;
  }

  static PeerManagerConfig pm_config(bool tree_relay, bool reconcile) {
    PeerManagerConfig c;
    c.network_magic = kMagic;
    c.rng_seed = 3;
    c.max_outbound = 0;
    c.addrman_capacity = 64;  // no dials here; a small book keeps sanity_check() cheap
    c.services =
        kServiceShortIds | (tree_relay ? kServiceTree : 0) | (reconcile ? kServiceRecon : 0);
    return c;
  }

  static Message decode(const SharedBytes& frame) { return test::decode_frame(frame, kMagic); }

  void on_getdata(PeerId peer, Conn& c, const GetDataMsg& gd) {
    for (const InvEntry& e : gd.entries) {
      FUZZ_ASSERT(e.type == InvType::kTx);
      auto it = in_flight.find(e.hash);
      if (it != in_flight.end() && it->second.first != peer) {
        auto other = conns.find(it->second.first);
        // Another live peer still has this id in flight: a second request is a bug.
        FUZZ_ASSERT(other == conns.end() || now >= it->second.second);
      }
      in_flight[e.hash] = {peer, now + request_timeout};
      c.requested[e.hash] = now;
    }
  }

  // Carries out what the PeerManager asked, batch by batch. The oracles judge a batch as the
  // event that produced it left the node: every check runs before anything of the batch is
  // carried out, and verdicts due at once are delivered only after the whole batch (a verdict
  // delivered in the middle would change the pool under the later actions' checks: a pushed
  // transaction may be replaced later, legitimately).
  void drain() {
    for (std::vector<Action> acts; !(acts = pm.take_actions()).empty();) {
      for (const Action& a : acts) {
        const auto* s = std::get_if<SendAction>(&a);
        if (s && s->type == MsgType::kTx)
          FUZZ_ASSERT(mempool->contains(std::get<TxMsg>(decode(s->frame)).tx->id()));
        if (s && s->type == MsgType::kTreeTx)
          FUZZ_ASSERT(mempool->contains(std::get<TreeTxMsg>(decode(s->frame)).tx->id()));
      }
      std::vector<std::vector<TxRef>> due;
      for (Action& a : acts)
        carry_out(a, due);
      for (const auto& txs : due)
        verdicts(txs);
    }
  }

  void carry_out(Action& a, std::vector<std::vector<TxRef>>& due) {
    {
      if (auto* s = std::get_if<SendAction>(&a)) {
        auto it = conns.find(s->peer);
        FUZZ_ASSERT(it != conns.end() && !it->second.closing);
        Message m = decode(s->frame);
        FUZZ_ASSERT(type_of(m) == s->type);
        if (const auto* gd = std::get_if<GetDataMsg>(&m)) on_getdata(s->peer, it->second, *gd);
        if (const auto* inv = std::get_if<InvMsg>(&m))
          FUZZ_ASSERT(inv->entries.size() <= kMaxInvPerMessage);
        Conn& c = it->second;
        if (const auto* ssi = std::get_if<SendShortIdsMsg>(&m)) {
          FUZZ_ASSERT(c.short_ids && !c.offered);  // once, and only to a peer that set the bit
          c.offered = true;
          c.our_nonce = ssi->nonce;
          c.our_salt = ssi->bucket_salt;
          c.offered_at = now;
        }
        if (const auto* rq = std::get_if<ReqReconMsg>(&m)) on_reqrecon_sent(c, *rq);
        if (const auto* rd = std::get_if<ReconDiffMsg>(&m)) on_recondiff_sent(c, *rd);
        if (const auto* ti = std::get_if<TxInvMsg>(&m)) {
          FUZZ_ASSERT(c.negotiated && ti->ids.size() <= kMaxInvPerMessage);
          c.announced.insert(ti->ids.begin(), ti->ids.end());
        }
        if (const auto* gt = std::get_if<GetTxMsg>(&m)) {
          FUZZ_ASSERT(c.negotiated);
          for (uint64_t e : gt->ids)
            c.short_requested[e] = now;
        }
        if (std::holds_alternative<TxNotFoundMsg>(m)) FUZZ_ASSERT(c.negotiated);
        if (std::holds_alternative<TreeTxMsg>(m)) FUZZ_ASSERT(c.tree);
        if (const auto* pr = std::get_if<PruneMsg>(&m))
          FUZZ_ASSERT(c.tree && pr->origins.size() <= kMaxTreeOriginEntries);
        if (const auto* gr = std::get_if<GraftMsg>(&m))
          FUZZ_ASSERT(c.tree && gr->origins.size() <= kMaxTreeOriginEntries);
      } else if (auto* d = std::get_if<DisconnectAction>(&a)) {
        auto it = conns.find(d->peer);
        FUZZ_ASSERT(it != conns.end());
        it->second.closing = true;
      } else if (auto* b = std::get_if<BanAction>(&a)) {
        FUZZ_ASSERT(forgers.count(b->identity));
        for (const auto& [id, c] : conns)
          if (tx_set().peers[c.key].public_key() == b->identity) FUZZ_ASSERT(!c.honest());
      } else if (auto* v = std::get_if<VerifyAction>(&a)) {
        FUZZ_ASSERT(!v->txs.empty());
        if (held.size() < 64) {
          held.push_back(std::move(*v));
        } else {
          due.push_back(std::move(v->txs));
        }
      } else {
        FUZZ_ASSERT(false);  // no dials: max_outbound 0, no --connect
      }
    }
  }

  // We ask only a peer we dialled, over a reconciling link; the parts of a round never overlap.
  // A failed part is either split into finer parts inside it, none of smaller capacity, or asked
  // again once as empty (we announced ours: it announces its).
  void on_reqrecon_sent(Conn& c, const ReqReconMsg& rq) {
    FUZZ_ASSERT(c.reconciles() && !c.inbound);
    const size_t capacity = rq.sketch.size() / kReconElementSize;
    FUZZ_ASSERT(rq.sketch.size() == capacity * kReconElementSize);
    FUZZ_ASSERT(capacity >= 1 && capacity <= kMaxReconCapacity);
    if (rq.round != c.our_round) {
      FUZZ_ASSERT(rq.round > c.our_round && !c.answering);  // a new round, never from an answer
      c.our_round = rq.round;
      c.asked.clear();
    }
    const AskedPart part = part_of(rq.bits, rq.index, capacity);
    auto next = c.asked.lower_bound(part.lo);
    FUZZ_ASSERT(next == c.asked.end() || next->first >= part.hi);
    FUZZ_ASSERT(next == c.asked.begin() || std::prev(next)->second.hi <= part.lo);
    if (c.answering) {
      FUZZ_ASSERT(c.answering->lo <= part.lo && part.hi <= c.answering->hi);
      if (part.bits == c.answering->bits) {
        FUZZ_ASSERT(rq.set_size == 0 && c.split_into == 0);
        c.split_into = SIZE_MAX;
      } else {
        FUZZ_ASSERT(capacity >= c.answering->capacity && c.split_into != SIZE_MAX);
        ++c.split_into;
      }
    }
    c.asked.emplace_hint(next, part.lo, part);
  }

  // We answer only a peer that dialled us, over a reconciling link, once per reqrecon, about its
  // part, asking for at most what its sketch can tell us.
  static void on_recondiff_sent(Conn& c, const ReconDiffMsg& rd) {
    FUZZ_ASSERT(c.reconciles() && c.inbound && c.to_answer);
    const ReqReconMsg& rq = *c.to_answer;
    FUZZ_ASSERT(rd.round == rq.round && rd.bits == rq.bits && rd.index == rq.index);
    FUZZ_ASSERT(rd.ask.size() <= rq.sketch.size() / kReconElementSize);
    const AskedPart part = part_of(rq.bits, rq.index);
    for (uint32_t e : rd.ask)
      FUZZ_ASSERT(e != 0 && in_part(e, part));
    c.to_answer.reset();
  }

  // recon_link() agrees with what the link negotiated; at most flood_peers reconciling peers are
  // flooded, outbound ones first.
  void check_recon() const {
    size_t flooded = 0;
    bool inbound_flooded = false, outbound_starved = false;
    for (const auto& [id, c] : conns) {
      const auto link = relay->recon_link(id);
      if (!link) continue;
      FUZZ_ASSERT(link->reconciles == c.reconciles());
      FUZZ_ASSERT(!link->reconciles || link->asker == !c.inbound);
      FUZZ_ASSERT(!link->in_round || (link->reconciles && link->asker));
      FUZZ_ASSERT(link->flood || (flood_peers > 0 && c.recon));
      if (!link->reconciles) continue;
      flooded += link->flood;
      inbound_flooded |= c.inbound && link->flood;
      outbound_starved |= !c.inbound && !link->flood;
    }
    FUZZ_ASSERT(flood_peers == 0 || flooded <= flood_peers);
    FUZZ_ASSERT(!(inbound_flooded && outbound_starved));
  }

  // The clock moved: a short-id offer unanswered for kShortIdNegotiationTimeout is given up, and
  // the link never reconciles.
  void short_ids_expired() {
    for (auto& [id, c] : conns)
      if (c.offered && !c.answered && now >= c.offered_at + kShortIdNegotiationTimeout)
        c.recon = false;
  }

  void check() {
    TxRelayNode::check();
    check_recon();
    const TxRelayStats& s = relay->stats();
    size_t live = 0;
    for (const auto& [id, c] : conns) {
      live += c.ready;
      FUZZ_ASSERT(relay->tracker().count(id) <= kTrackerFuzz.max_announcements);
      FUZZ_ASSERT(relay->tracker().count_in_flight(id) <= kTrackerFuzz.max_in_flight);
      if (c.honest()) {
        auto info = pm.peer_info(id);
        FUZZ_ASSERT(info && info->misbehaviour % kScoreWithheldBody == 0);
        FUZZ_ASSERT(info->misbehaviour == 0 || c.tree);
      }
    }
    FUZZ_ASSERT(s.tracked_announcements <= live * kTrackerFuzz.max_announcements);
    FUZZ_ASSERT(s.verifying <= kMaxVerifying);
    FUZZ_ASSERT(s.seen_size <= kSeenMax * 4 / 3 + 1);
  }

  void verdicts(const std::vector<TxRef>& txs) {
    std::vector<uint8_t> valid;
    for (const TxRef& tx : txs)
      valid.push_back(signature_ok(tx) ? 1 : 0);
    pm.on_verified(txs, valid, now);
    drain();  // each delivery is an event of its own: judge its actions before the next
  }

  void feed(PeerId id, Message&& m) {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    Conn& c = it->second;
    const bool live = c.ready && !c.closing;
    const int before = live ? pm.peer_info(id)->misbehaviour : 0;
    bool expect_score = false;
    const TxRef* body = nullptr;
    if (const auto* t = std::get_if<TxMsg>(&m)) body = &t->tx;
    const auto* tt = std::get_if<TreeTxMsg>(&m);
    if (tt && c.tree) body = &tt->tx;  // off a tree link it is refused before anything else
    if (tt && !c.tree) expect_score = true;
    if ((std::holds_alternative<PruneMsg>(m) || std::holds_alternative<GraftMsg>(m)) && !c.tree)
      expect_score = true;
    if (live) expect_score |= before_recon(id, c, m);
    if (const auto* ssi = std::get_if<SendShortIdsMsg>(&m); ssi && live && c.offered) {
      // The first answers our offer (a second is scored); version 1 puts the link on short ids.
      if (!c.answered) {
        c.answered = true;
        c.nonce = ssi->nonce;
        c.negotiated = ssi->version == kShortIdsVersion;
      }
    }
    if (body) {
      const TxId& tid = (*body)->id();
      bool asked = c.requested.erase(tid) != 0;
      if (c.negotiated) asked |= c.short_requested.erase(c.short_of(tid)) != 0;
      if (!signature_ok(*body)) forgers.insert(tx_set().peers[c.key].public_key());
      expect_score = !asked && !c.push && !tt;
      // Accepted for processing: the id is answered (and seen, so forgotten by the tracker).
      if (live && !expect_score) in_flight.erase(tid);
    } else if (const auto* nf = std::get_if<NotFoundMsg>(&m)) {
      for (const InvEntry& e : nf->entries) {
        // Only tx entries answer a request (block entries are ignored without a block relay).
        if (e.type != InvType::kTx || c.requested.erase(e.hash) == 0) continue;
        auto f = in_flight.find(e.hash);
        if (f != in_flight.end() && f->second.first == id) in_flight.erase(f);
      }
    }
    pm.on_message(id, std::move(m), now);
    if (live && expect_score && pm.is_ready(id)) {
      FUZZ_ASSERT(pm.peer_info(id)->misbehaviour > before || before == kMisbehaviourThreshold);
    }
    if (pm.is_ready(id)) c.ready = true;
    drain();
    // A reqrecon over a reconciling link is answered in its event; a failed part is split in two
    // or more, if at all.
    if (live && pm.is_ready(id)) FUZZ_ASSERT(!c.to_answer);
    FUZZ_ASSERT(c.split_into != 1);
    c.to_answer.reset();
    c.answering.reset();
    c.split_into = 0;
  }

  // Reconciliation messages about to reach a live peer: what we must answer, the part it
  // answers. True if the message is scored (off a reconciling link, or about a part we are not
  // asking in the round under way).
  bool before_recon(PeerId id, Conn& c, const Message& m) {
    if (const auto* rq = std::get_if<ReqReconMsg>(&m)) {
      if (!c.reconciles() || !c.inbound) return true;
      c.to_answer = *rq;
    }
    const auto* rd = std::get_if<ReconDiffMsg>(&m);
    if (!rd) return false;
    if (!c.reconciles() || c.inbound) return true;
    const auto link = relay->recon_link(id);
    if (!link || !link->in_round || rd->round != c.our_round) return false;  // a round gone by
    auto part = c.asked.find(part_of(rd->bits, rd->index).lo);
    if (part == c.asked.end() || part->second.bits != rd->bits) return true;
    c.answering = part->second;
    c.asked.erase(part);
    return false;
  }

  // A newcomer knocks at full inbound slots. The victim is a live, untrusted inbound peer that
  // none of the protections covered: a recent novel transaction or a low ping protects it unless
  // that many others rank above it; a lone candidate is protected by its network group.
  void evict() {
    std::vector<PeerInfo> candidates;
    for (const PeerInfo& p : pm.peers())
      if (p.inbound && !p.trusted && !p.disconnecting) candidates.push_back(p);
    const std::optional<PeerId> victim = pm.evict_inbound();
    if (!victim) return;
    FUZZ_ASSERT(candidates.size() >= 2);
    auto v = std::find_if(candidates.begin(), candidates.end(),
                          [&](const PeerInfo& p) { return p.id == *victim; });
    FUZZ_ASSERT(v != candidates.end());
    if (v->last_novel_tx != Time{}) {
      const auto newer =
          std::count_if(candidates.begin(), candidates.end(), [&](const PeerInfo& p) {
            return std::tie(p.last_novel_tx, p.id) > std::tie(v->last_novel_tx, v->id);
          });
      FUZZ_ASSERT(static_cast<size_t>(newer) >= kEvictProtectTx);
    }
    if (v->min_rtt) {
      const auto lower =
          std::count_if(candidates.begin(), candidates.end(), [&](const PeerInfo& p) {
            return p.min_rtt && std::tie(*p.min_rtt, p.id) < std::tie(*v->min_rtt, v->id);
          });
      FUZZ_ASSERT(static_cast<size_t>(lower) >= kEvictProtectPing);
    }
    drain();
    FUZZ_ASSERT(conns.at(*victim).closing);
  }

  void disconnect(PeerId id) {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    pm.on_disconnected(id, now);
    conns.erase(it);
    for (auto f = in_flight.begin(); f != in_flight.end();)
      f = f->second.first == id ? in_flight.erase(f) : std::next(f);
    drain();
  }
};

const TxRef& pick_tx(fuzz::FuzzInput& in, bool valid_only) {
  const TxSet& s = tx_set();
  const size_t i = in.byte() % s.txs.size();
  if (!valid_only || s.valid[i]) return s.txs[i];
  return s.txs[i % kValidTxs];
}

// An id: a transaction of the set, or an arbitrary one.
TxId pick_id(fuzz::FuzzInput& in, bool valid_only) {
  const uint8_t b = in.byte();
  if (b & 0x80) {
    TxId id{};
    id[0] = static_cast<uint8_t>(b & 0x3f);
    id[31] = 0xee;
    return id;
  }
  return pick_tx(in, valid_only)->id();
}

std::vector<InvEntry> entries(fuzz::FuzzInput& in, bool honest, size_t max_bulk) {
  std::vector<InvEntry> out;
  const uint8_t b = in.byte();
  const size_t n = b % 6;
  for (size_t i = 0; i < n; ++i) {
    const bool block = !honest && (in.byte() & 7) == 0;
    out.push_back(InvEntry{block ? InvType::kBlock : InvType::kTx, pick_id(in, honest)});
  }
  if ((b & 0xc0) == 0xc0 && max_bulk > 0) {  // a flood of arbitrary ids
    const size_t bulk = in.range(0, max_bulk);
    const uint64_t base = in.u64();
    for (size_t i = 0; i < bulk; ++i) {
      TxId id{};
      const uint64_t v = base + i;
      for (int j = 0; j < 8; ++j)
        id[j] = static_cast<uint8_t>(v >> (8 * j));
      id[31] = 0xbb;
      out.push_back(InvEntry{InvType::kTx, id});
    }
  }
  return out;
}

uint32_t u32(fuzz::FuzzInput& in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v = v << 8 | in.byte();
  return v;
}

// A reconciliation element: of a set transaction on the peer's link, or arbitrary.
uint32_t pick_element(fuzz::FuzzInput& in, const Conn& c) {
  const uint8_t b = in.byte();
  if (b >= 0xe0) return u32(in);
  return c.element_of(tx_set().txs[b % tx_set().txs.size()]->id());
}

// A part of a set: the whole set mostly, else any part the decoder admits.
void pick_part(fuzz::FuzzInput& in, uint8_t& bits, uint32_t& index) {
  const uint8_t b = in.byte();
  bits = b < 0xa0 ? 0 : static_cast<uint8_t>(b % (kMaxReconBits + 1));
  index = bits == 0 ? 0 : u32(in) & ((uint32_t{1} << bits) - 1);
}

// A peer's reqrecon: its next round (or the same again, or any), a part, and a sketch of
// capacity 1..kMaxFuzzCapacity, of a few elements or raw bytes; its set size, true or not.
ReqReconMsg reqrecon(fuzz::FuzzInput& in, Conn& c) {
  const uint8_t b = in.byte();
  ReqReconMsg m;
  m.round = (b & 3) == 3 ? u32(in) : c.their_round + (b & 1);
  c.their_round = m.round;
  pick_part(in, m.bits, m.index);
  const size_t capacity = 1 + in.byte() % kMaxFuzzCapacity;
  size_t elements = 0;
  if (b & 0x10) {
    m.sketch = in.bytes(capacity * kReconElementSize);
    m.sketch.resize(capacity * kReconElementSize);
  } else {
    p2p::Sketch sketch(capacity);
    const AskedPart part = part_of(m.bits, m.index);
    for (size_t n = in.byte() % 8; n > 0; --n) {
      const uint32_t e = pick_element(in, c);
      if ((b & 0x20) == 0 && !in_part(e, part)) continue;  // mostly: only its part's
      sketch.add(e);
      ++elements;
    }
    m.sketch = sketch.serialize();
  }
  m.set_size = (b & 0xc0) == 0xc0 ? u32(in) : static_cast<uint32_t>(elements + (b >> 6));
  return m;
}

// A peer's recondiff: about a part we asked it (or, from a dishonest peer, any round and part),
// with any result and set size, asking for a few elements (ours or not).
ReconDiffMsg recondiff(fuzz::FuzzInput& in, const Conn& c) {
  const uint8_t b = in.byte();
  ReconDiffMsg m;
  if (!c.asked.empty() && (c.honest() || (b & 1))) {
    auto it = c.asked.begin();
    std::advance(it, in.byte() % c.asked.size());
    m.round = c.our_round;
    m.bits = it->second.bits;
    m.index = it->second.index;
  } else {
    m.round = (b & 2) ? c.our_round : u32(in);
    pick_part(in, m.bits, m.index);
  }
  m.result = static_cast<ReconResult>((b >> 2) % (kMaxReconResult + 1));
  // An honest peer's part is small here; another may claim any size.
  const uint8_t size_kind = c.honest() ? 0 : (b >> 5) & 3;
  m.set_size = size_kind == 3 ? u32(in) : size_kind == 2 ? in.u16() : in.byte() % 32u;
  if (m.result == ReconResult::kDecoded)
    for (size_t n = in.byte() % 8; n > 0; --n)
      m.ask.push_back(pick_element(in, c));
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  const TxSet& set = tx_set();
  TxRelayConfig cfg;
  const uint8_t c0 = in.byte();
  cfg.inv_interval = (c0 & 1) ? std::chrono::milliseconds(100 + 400 * (c0 >> 4)) : Duration(0);
  cfg.push_peers = (c0 >> 1) & 3;
  cfg.seen_expiry = std::chrono::minutes(1 + (c0 >> 3) % 4);
  cfg.seen_max_entries = kSeenMax;
  cfg.request_timeout = std::chrono::seconds(5 + in.byte() % 60);
  cfg.rng_seed = in.byte();
  cfg.known_per_peer = kKnownPerPeerFuzz;
  cfg.tracker = kTrackerFuzz;
  MempoolOptions mo;
  mo.network = kNetwork;
  mo.max_bytes = 4'000 + 400 * static_cast<size_t>(in.byte());
  const uint8_t c1 = in.byte();
  mo.max_per_sender = 1 + c1 % 4;
  // Reconciliation, from the same byte: whether we reconcile, how often, the low fanout.
  const bool recon = (c1 & 0x80) != 0;
  cfg.reconcile_interval = kReconIntervals[(c1 >> 2) & 7];
  cfg.flood_peers = (c1 >> 5) & 3;
  mo.min_fee_rate = 100;
  cfg.graft_timeout = std::chrono::milliseconds(1 + in.byte() * 4);
  Harness h(cfg, mo, (c0 & 0x40) != 0, recon);

  for (size_t step = 0; step < kMaxSteps && !in.empty(); ++step) {
    const uint8_t op = in.byte();
    switch (op % 18) {
      case 0: {  // connect
        if (h.conns.size() >= kMaxLive) break;
        const uint8_t b = in.byte();
        Conn c;
        c.key = 1 + b % 5;
        c.inbound = (b & 0x08) != 0;
        c.push = (b & 0x20) != 0;
        c.short_ids = (b & 0x80) != 0;
        const PeerId id = h.next_id++;
        h.conns[id] = c;
        PeerConnected pc{id, set.peers[c.key].public_key(), c.inbound,
                         test::loopback(static_cast<uint16_t>(40000 + id))};
        pc.trusted = (b & 0x10) != 0;
        h.pm.on_connected(pc, h.now);
        h.drain();
        if (b & 0x40 && !c.honest()) break;  // handshake left half-way
        VersionMsg v;
        v.protocol_version = kProtocolVersion;
        v.network_magic = kMagic;
        const uint8_t sb = in.byte();
        const bool tree = (sb & 1) != 0;
        const bool sets_recon = (sb & 2) != 0;
        if (sets_recon && (sb & 4) == 0)
          c.short_ids = true;  // mostly: it reconciles only with them
        Conn& made = h.conns[id];
        made.tree = tree && h.tree;
        made.short_ids = c.short_ids;
        made.recon = sets_recon && h.recon && c.short_ids;
        v.services = (c.push ? kServicePushTx : 0) | (c.short_ids ? kServiceShortIds : 0) |
                     (tree ? kServiceTree : 0) | (sets_recon ? kServiceRecon : 0);
        v.time = 1'700'000'000;
        v.user_agent = "/fuzz/";
        h.feed(id, v);
        h.feed(id, VerackMsg{});
        Conn& live = h.conns[id];
        if (live.offered && (live.honest() || (in.byte() & 1))) {
          // An honest peer answers in kind; another may speak a version we do not.
          SendShortIdsMsg ssi{kShortIdsVersion, in.u64(), in.u64()};
          if (!live.honest() && (in.byte() & 3) == 0) ssi.version = 2;
          h.feed(id, ssi);
        }
        break;
      }
      case 12: {  // txinv: an honest peer's short ids of set transactions, or anything
        const PeerId id = h.pick(in);
        auto it = h.conns.find(id);
        if (it == h.conns.end()) break;
        const Conn& c = it->second;
        if (c.honest() && !c.negotiated) break;
        TxInvMsg m;
        for (const InvEntry& e : entries(in, c.honest(), c.honest() ? 0 : kMaxFloodInv))
          m.ids.push_back(c.honest() || (in.byte() & 1) ? c.short_of(e.hash)
                                                        : in.u64() & kShortIdMask);
        h.feed(id, std::move(m));
        break;
      }
      case 13: {  // gettx: for what we announced to it, or anything; txnotfound likewise
        const PeerId id = h.pick(in);
        auto it = h.conns.find(id);
        if (it == h.conns.end()) break;
        const Conn& c = it->second;
        if (c.honest() && !c.negotiated) break;
        std::vector<uint64_t> ids;
        for (uint64_t e : c.announced)
          if ((in.byte() & 1) && ids.size() < kMaxGetDataTx - 5) ids.push_back(e);
        if (!c.honest())
          for (size_t n = in.byte() % 4; n > 0; --n)
            ids.push_back(in.u64() & kShortIdMask);
        if (in.byte() & 1) {
          h.feed(id, GetTxMsg{std::move(ids)});
        } else if (!c.honest()) {
          h.feed(id, TxNotFoundMsg{std::move(ids)});
        }
        break;
      }
      case 14: {  // treetx: a tree peer pushes (an honest one only valid transactions)
        const PeerId id = h.pick(in);
        auto it = h.conns.find(id);
        if (it == h.conns.end()) break;
        if (it->second.honest() && !it->second.tree) break;
        h.feed(id,
               TreeTxMsg{pick_tx(in, it->second.honest()), static_cast<uint32_t>(in.byte() % 8)});
        break;
      }
      case 15: {  // prune or graft of a few origins (or, from a dishonest peer, a thousand)
        const PeerId id = h.pick(in);
        auto it = h.conns.find(id);
        if (it == h.conns.end()) break;
        if (it->second.honest() && !it->second.tree) break;
        std::vector<uint32_t> origins;
        const size_t n =
            !it->second.honest() && (in.byte() & 7) == 0 ? kMaxTreeOriginEntries : in.byte() % 4;
        const auto base = static_cast<uint32_t>(in.u64());
        for (size_t i = 0; i < n; ++i)
          origins.push_back(n > 8 ? base + static_cast<uint32_t>(i) : in.byte() % 8u);
        if (in.byte() & 1)
          h.feed(id, PruneMsg{std::move(origins)});
        else
          h.feed(id, GraftMsg{std::move(origins)});
        break;
      }
      case 16: {  // reqrecon (an honest peer asks only over a reconciling link it dialled)
        const PeerId id = h.pick(in);
        auto it = h.conns.find(id);
        if (it == h.conns.end()) break;
        if (it->second.honest() && !(it->second.reconciles() && it->second.inbound)) break;
        h.feed(id, reqrecon(in, it->second));
        break;
      }
      case 17: {  // recondiff (an honest peer answers only a part we asked it, once)
        const PeerId id = h.pick(in);
        auto it = h.conns.find(id);
        if (it == h.conns.end()) break;
        if (it->second.honest() && it->second.asked.empty()) break;
        h.feed(id, recondiff(in, it->second));
        break;
      }
      case 1: {  // inv
        const PeerId id = h.pick(in);
        if (!h.conns.count(id)) break;
        const bool honest = h.conns[id].honest();
        InvMsg m;
        m.entries = entries(in, honest, honest ? 0 : kMaxFloodInv);
        h.feed(id, std::move(m));
        break;
      }
      case 2: {  // getdata (an honest peer asks for at most kMaxGetDataTx)
        const PeerId id = h.pick(in);
        if (!h.conns.count(id)) break;
        const bool honest = h.conns[id].honest();
        GetDataMsg m;
        m.entries = entries(in, honest, honest ? kMaxGetDataTx - 5 : 1'500);
        h.feed(id, std::move(m));
        break;
      }
      case 3: {  // notfound: for something we asked, or anything
        const PeerId id = h.pick(in);
        auto it = h.conns.find(id);
        if (it == h.conns.end()) break;
        NotFoundMsg m;
        for (const auto& [tid, t] : it->second.requested)
          if (in.byte() & 1) m.entries.push_back(InvEntry{InvType::kTx, tid});
        if (!it->second.honest())
          for (const InvEntry& e : entries(in, false, 0))
            m.entries.push_back(e);
        h.feed(id, std::move(m));
        break;
      }
      case 4: {  // tx: a dishonest peer sends anything; an honest one pushes if it may
        const PeerId id = h.pick(in);
        auto it = h.conns.find(id);
        if (it == h.conns.end()) break;
        if (it->second.honest() && !it->second.push) break;
        h.feed(id, TxMsg{pick_tx(in, it->second.honest())});
        break;
      }
      case 5: {  // honest answers to our getdata: the tx when it has it (a valid one), else
                 // notfound; only requests younger than the request memory
        const PeerId id = h.pick(in);
        auto it = h.conns.find(id);
        if (it == h.conns.end()) break;
        NotFoundMsg missing;
        std::vector<TxRef> bodies;
        for (const auto& [tid, t] : it->second.requested) {
          if (h.now - t >= kRequestedMemory) continue;
          auto s = set.index.find(tid);
          if (s != set.index.end() && set.valid[s->second] && (in.byte() & 3)) {
            bodies.push_back(set.txs[s->second]);
          } else {
            missing.entries.push_back(InvEntry{InvType::kTx, tid});
          }
        }
        TxNotFoundMsg short_missing;
        if (it->second.negotiated)
          for (const auto& [e, at] : it->second.short_requested) {
            if (h.now - at >= kRequestedMemory) continue;
            const TxRef* found = nullptr;
            for (size_t i = 0; i < kValidTxs && !found; ++i)
              if (set.valid[i] && it->second.short_of(set.txs[i]->id()) == e) found = &set.txs[i];
            const bool dup =
                found && std::find(bodies.begin(), bodies.end(), *found) != bodies.end();
            if (dup) continue;  // asked for by full id and by short id: one body answers both
            if (found && (in.byte() & 3))
              bodies.push_back(*found);
            else
              short_missing.ids.push_back(e);
          }
        for (const TxRef& tx : bodies)
          h.feed(id, TxMsg{tx});
        if (!missing.entries.empty()) h.feed(id, std::move(missing));
        if (!short_missing.ids.empty()) {
          for (uint64_t e : short_missing.ids)
            h.conns[id].short_requested.erase(e);
          h.feed(id, std::move(short_missing));
        }
        break;
      }
      case 6:  // arbitrary message bytes through the real decoder (dishonest peers only)
        test::feed_arbitrary_message(h, in);
        break;
      case 7:
        if (op & 0x80)
          h.evict();
        else
          h.disconnect(h.pick(in));
        break;
      case 8: {  // verdicts: some held batches, in any order, regrouped; some lost
        if (h.held.empty()) break;
        const std::vector<TxRef> merged = test::take_verdict_batch(h.held, in);
        if (!merged.empty()) h.verdicts(merged);
        h.drain();
        break;
      }
      case 9: {  // a local submission (claimed verified only when it is valid)
        const TxRef& tx = pick_tx(in, false);
        const bool verified = (in.byte() & 1) && signature_ok(tx);
        for (auto f = h.in_flight.begin(); f != h.in_flight.end();)
          f = f->first == tx->id() ? h.in_flight.erase(f) : std::next(f);
        h.relay->submit(tx, verified, h.now);
        h.drain();
        break;
      }
      case 10: {  // the chain moves: a sender's next nonce
        const uint8_t b = in.byte();
        h.chain.set_next_nonce(set.senders[b % 4], b >> 6);
        break;
      }
      default: {  // time passes: up to ~64 s, in small or large steps
        h.now += test::clock_step((op & 0x80) != 0, in.byte());
        h.pm.on_tick(h.now);
        h.short_ids_expired();
        h.drain();
        break;
      }
    }
    h.drain();
    h.check();
  }
  // Late verdicts, then every connection closes, leaving nothing behind.
  for (const VerifyAction& v : h.held)
    h.verdicts(v.txs);
  h.held.clear();
  h.drain();
  while (!h.conns.empty())
    h.disconnect(h.conns.begin()->first);
  h.pm.take_actions();
  h.check();
  FUZZ_ASSERT(h.pm.peer_count() == 0);
  FUZZ_ASSERT(h.relay->stats().tracked_announcements == 0);
  return 0;
}
