// PeerManager, address gossip and outbound slots: addr/getaddr handling, record forwarding,
// --connect peers, filling outbound slots from the address book, dial bookkeeping.
#include <algorithm>

#include "p2p/peer_manager.h"

namespace hearsay {

namespace {

uint64_t to_seconds(Duration d) {
  const int64_t s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  return s < 0 ? 0 : static_cast<uint64_t>(s);
}

// An address a record may advertise: a port, and an IP that is not unspecified.
bool usable(const NetAddress& a) {
  if (a.port == 0) return false;
  static constexpr std::array<uint8_t, 16> kZero{};
  static constexpr std::array<uint8_t, 16> kV4Zero{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return a.ip != kZero && a.ip != kV4Zero;
}

}  // namespace

uint64_t PeerManager::fingerprint(const PeerRecord& r) const {
  // One record version: identity and time (a re-signed record is news again).
  std::array<uint8_t, 40> buf;
  std::copy(r.identity.begin(), r.identity.end(), buf.begin());
  for (size_t i = 0; i < 8; ++i)
    buf[32 + i] = static_cast<uint8_t>(r.time >> (8 * i));
  return siphash24(m_known_key, Bytes(buf));
}

std::optional<PeerRecord> PeerManager::own_record(Time now) {
  if (!usable(m_cfg.listen_address)) return std::nullopt;
  const uint64_t now_s = to_seconds(now);
  if (!m_own_record || m_own_record->address != m_cfg.listen_address ||
      m_own_record->time + to_seconds(kOwnRecordRefresh) <= now_s) {
    PeerRecord r;
    r.address = m_cfg.listen_address;
    r.time = now_s;
    r.sign(m_identity);
    m_own_record = r;
  }
  return m_own_record;
}

// --- addr / getaddr ------------------------------------------------------------------------

void PeerManager::handle_addr(Peer& p, AddrMsg&& m, Time now) {
  p.addr_tokens.refill(now);
  const uint64_t now_s = to_seconds(now);
  const bool forwardable = m.records.size() <= kMaxForwardBatch;
  std::vector<PeerRecord> fresh;
  for (const PeerRecord& rec : m.records) {
    p.known_records.insert(fingerprint(rec));
    // Cheap checks first; none of these is misbehaviour (clocks differ, books differ).
    if (rec.identity == m_identity.public_key()) continue;
    if (rec.time > now_s + to_seconds(kMaxRecordFutureSkew)) continue;
    if (rec.time + to_seconds(kMaxRecordAge) < now_s) continue;
    if (!usable(rec.address) || is_banned(rec.identity, now)) continue;
    if (m_addrman.knows(rec)) continue;
    // Signature checks are budgeted per peer; over budget the record is dropped uncounted.
    if (!p.addr_tokens.take()) continue;
    if (!rec.verify_signature()) {
      p.misbehaviour = std::min(p.misbehaviour + kScoreForgedRecord, kMisbehaviourThreshold);
      ban(p.conn.id, "peer record with a forged signature", now);
      return;  // nothing from this message is stored or forwarded
    }
    const AddrMan::AddResult res = m_addrman.add(rec);
    if (forwardable && res != AddrMan::AddResult::kKnown &&
        rec.time + to_seconds(kFreshRecordAge) >= now_s)
      fresh.push_back(rec);
  }
  forward_records(p, fresh);
}

void PeerManager::handle_getaddr(Peer& p, Time now) {
  if (p.getaddr_answered) return;  // once per connection: no scraping by repetition
  p.getaddr_answered = true;
  size_t n = std::max(kMinGetAddrAnswer, m_addrman.size() * kGetAddrPercent / 100);
  n = std::min(n, kMaxAddrRecords - 1);
  std::vector<PeerRecord> records;
  if (auto own = own_record(now)) records.push_back(*own);
  for (PeerRecord& r : m_addrman.sample(n))
    if (r.identity != p.conn.identity && !p.known_records.contains(fingerprint(r)))
      records.push_back(r);
  send_records(p, std::move(records));
}

void PeerManager::send_records(Peer& p, std::vector<PeerRecord> records) {
  if (records.empty()) return;
  if (records.size() > kMaxAddrRecords) records.resize(kMaxAddrRecords);
  for (const PeerRecord& r : records)
    p.known_records.insert(fingerprint(r));
  send(p.conn.id, AddrMsg{std::move(records)});
}

void PeerManager::advertise_self(Time now) {
  const std::optional<PeerRecord> rec = own_record(now);
  if (!rec) return;
  const uint64_t fp = fingerprint(*rec);
  SharedBytes frame;  // one serialisation for every peer
  for (auto& [id, q] : m_peers) {
    if (q.disconnecting || !q.handshake.done() || q.known_records.contains(fp)) continue;
    if (!frame) frame = encode_frame(m_cfg.network_magic, AddrMsg{{*rec}});
    q.known_records.insert(fp);
    push(SendAction{id, frame, MsgType::kAddr});
  }
}

void PeerManager::forward_records(const Peer& source, const std::vector<PeerRecord>& records) {
  if (records.empty()) return;
  std::vector<Peer*> candidates;
  for (auto& [id, q] : m_peers)
    if (id != source.conn.id && !q.disconnecting && q.handshake.done()) candidates.push_back(&q);
  std::map<PeerId, std::vector<PeerRecord>> out;
  for (const PeerRecord& rec : records) {
    const uint64_t fp = fingerprint(rec);
    std::vector<Peer*> eligible;
    for (Peer* q : candidates)
      if (q->conn.identity != rec.identity && !q->known_records.contains(fp)) eligible.push_back(q);
    const size_t k = std::min(kAddrForwardFanout, eligible.size());
    for (size_t i = 0; i < k; ++i) {
      std::uniform_int_distribution<size_t> pick(i, eligible.size() - 1);
      std::swap(eligible[i], eligible[pick(m_rng)]);
      out[eligible[i]->conn.id].push_back(rec);
      eligible[i]->known_records.insert(fp);
    }
  }
  for (auto& [id, recs] : out)
    send(id, AddrMsg{std::move(recs)});
}

// --- outbound slots ------------------------------------------------------------------------

std::set<PublicKey> PeerManager::busy_identities() const {
  std::set<PublicKey> busy;
  busy.insert(m_identity.public_key());
  for (const auto& [id, p] : m_peers)
    if (!p.disconnecting) busy.insert(p.conn.identity);
  for (const PendingDial& d : m_pending)
    if (d.identity) busy.insert(*d.identity);
  return busy;
}

void PeerManager::dial(const NetAddress& addr, std::optional<PublicKey> identity, Origin origin,
                       size_t connect_index, Time now) {
  m_pending.push_back(PendingDial{addr, identity, origin, connect_index, now});
  push(DialAction{addr, identity});
}

void PeerManager::fill_outbound(Time now) {
  std::set<PublicKey> busy = busy_identities();
  for (size_t i = 0; i < m_connect.size(); ++i) {
    ConnectSlot& s = m_connect[i];
    if (s.is_self || s.pending || s.peer || now < s.next_dial) continue;
    const std::optional<PublicKey>& id = s.pinned ? s.pinned : s.learned;
    if (id && busy.count(*id)) continue;  // connected to it in some direction already
    s.pending = true;
    if (id) busy.insert(*id);
    dial(s.address, s.pinned, Origin::kConnect, i, now);
  }
  // Banned identities are removed from the book when banned, and not stored while banned.
  while (outbound_count() + m_pending.size() < m_cfg.max_outbound) {
    std::optional<PeerRecord> rec = m_addrman.select(now, busy);
    if (!rec) break;
    busy.insert(rec->identity);
    m_addrman.mark_attempt(rec->identity, now);
    dial(rec->address, rec->identity, Origin::kAddrMan, 0, now);
  }
}

void PeerManager::match_dial(Peer& p, Time now) {
  (void)now;
  for (size_t i = 0; i < m_pending.size(); ++i) {
    const PendingDial& d = m_pending[i];
    if (d.address != p.conn.remote) continue;
    if (d.identity && *d.identity != p.conn.identity) continue;
    p.origin = d.origin;
    p.connect_index = d.connect_index;
    if (d.origin == Origin::kConnect) {
      ConnectSlot& s = m_connect[d.connect_index];
      s.pending = false;
      s.peer = p.conn.id;
      s.learned = p.conn.identity;
    }
    m_pending.erase(m_pending.begin() + static_cast<ptrdiff_t>(i));
    return;
  }
  p.origin = Origin::kOther;  // dialled by net/ on its own (e.g. an RPC "addnode")
}

void PeerManager::pending_failed(size_t index, Time now) {
  const PendingDial d = m_pending[index];
  m_pending.erase(m_pending.begin() + static_cast<ptrdiff_t>(index));
  if (d.origin == Origin::kConnect) {
    ConnectSlot& s = m_connect[d.connect_index];
    s.pending = false;
    s.failures++;
    s.next_dial =
        now + backoff_delay(s.failures, m_cfg.dial_backoff_min, m_cfg.dial_backoff_max, m_rng);
  } else if (d.origin == Origin::kAddrMan && d.identity) {
    m_addrman.mark_failed(*d.identity, now, m_cfg.dial_backoff_min, m_cfg.dial_backoff_max);
  }
}

void PeerManager::on_dial_failed(const NetAddress& addr, Time now) {
  for (size_t i = 0; i < m_pending.size(); ++i) {
    if (m_pending[i].address == addr) {
      pending_failed(i, now);
      return;
    }
  }
}

void PeerManager::redial_now(Time now) {
  for (ConnectSlot& s : m_connect) {
    if (s.peer || s.pending) continue;
    s.failures = 0;
    s.next_dial = now;
  }
  fill_outbound(now);
}

void PeerManager::connect_slot_closed(size_t index, bool handshake_done, Time now) {
  ConnectSlot& s = m_connect[index];
  s.peer.reset();
  // A connection that worked restarts the back-off; one that failed its handshake grows it.
  s.failures = handshake_done ? 1 : s.failures + 1;
  s.next_dial =
      now + backoff_delay(s.failures, m_cfg.dial_backoff_min, m_cfg.dial_backoff_max, m_rng);
}

}  // namespace hearsay
