// Fuzz target: the PeerManager's version handshake (and what follows it) fed arbitrary event
// sequences.
//
// One PeerManager (listening, one --connect peer, max_outbound 3) and up to kMaxLive fake
// connections. The input is a sequence of operations: connect a fake peer (one of four
// identities, ours included, inbound or outbound), feed a message decoded by decode_payload
// from input bytes, feed a well-formed version (possibly mutated) or verack, answer the last
// ping (right or wrong nonce), send addr records (signed, forged, stale, future), report an
// undecodable message, close a connection, fail or complete a pending dial, move the clock
// and tick.
//
// Oracle: sanity_check() after every step, plus a model of the handshake per connection —
// a peer is ready only if it sent an acceptable version then a verack as its first two
// messages; a connection whose first messages break that order is asked to close at once;
// every DisconnectAction has a reason; no SendAction names an unknown connection.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "p2p/peer_manager.h"
#include "testing/fake_peers.h"
#include "testing/peer_harness.h"

using namespace hearsay;

namespace {

constexpr size_t kMaxSteps = 400;
constexpr size_t kMaxLive = 8;
constexpr uint32_t kMagic = fuzz::kFuzzMagic;
const Time kStart = Time(std::chrono::seconds(1'700'000'000));

using test::loopback;

const std::vector<KeyPair>& keys() {
  static const std::vector<KeyPair> k = [] {
    crypto_init();
    std::vector<KeyPair> v;
    for (uint8_t i = 1; i <= 5; ++i)
      v.push_back(test::test_key(i));
    return v;
  }();
  return k;
}

// What the fuzzer knows of one connection, and the model of its handshake.
struct Conn {
  int stage = 0;  // 0: expecting version, 1: expecting verack, 2: handshake done
  bool close_requested = false;
  Time connected_at{};
  std::optional<uint64_t> ping_nonce;
};

struct Harness : test::FakePeers<Conn> {
  PeerManager pm;
  Time now = kStart;
  std::vector<DialAction> dials;  // pending, as net/ would hold them

  Harness() : pm(config(), keys()[0]) {}

  static PeerManagerConfig config() {
    PeerManagerConfig c;
    c.network_magic = kMagic;
    c.listen_address = loopback(8333);
    c.max_outbound = 3;
    c.connect = {{loopback(9000, 9), std::nullopt}};
    c.rng_seed = 7;
    return c;
  }

  static Message decode(const SharedBytes& frame) { return test::decode_frame(frame, kMagic); }

  void drain() {
    for (Action& a : pm.take_actions()) {
      if (auto* s = std::get_if<SendAction>(&a)) {
        FUZZ_ASSERT(conns.count(s->peer));
        FUZZ_ASSERT(!conns[s->peer].close_requested);
        Message m = decode(s->frame);
        FUZZ_ASSERT(type_of(m) == s->type);
        if (auto* ping = std::get_if<PingMsg>(&m)) conns[s->peer].ping_nonce = ping->nonce;
      } else if (auto* d = std::get_if<DisconnectAction>(&a)) {
        FUZZ_ASSERT(conns.count(d->peer));
        FUZZ_ASSERT(!d->reason.empty());
        conns[d->peer].close_requested = true;
      } else if (auto* dial = std::get_if<DialAction>(&a)) {
        if (dials.size() < 16) dials.push_back(*dial);
      }
    }
    for (auto& [id, c] : conns) {
      // Ready exactly when the model says the handshake completed and no close was asked.
      FUZZ_ASSERT(pm.is_ready(id) == (c.stage == 2 && !c.close_requested));
    }
    pm.sanity_check();
  }

  void connect(const KeyPair& key, bool inbound, NetAddress remote) {
    if (conns.size() >= kMaxLive) return;
    const PeerId id = next_id++;
    conns[id].connected_at = now;
    pm.on_connected(PeerConnected{id, key.public_key(), inbound, remote}, now);
  }

  // Feeds a message and advances the model. A message that breaks the handshake order must
  // end the connection.
  void feed(PeerId id, Message&& m) {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    Conn& c = it->second;
    const bool was_open = !c.close_requested;
    const MsgType t = type_of(m);
    bool violation = false;
    if (c.stage == 0) {
      const auto* v = std::get_if<VersionMsg>(&m);
      if (v && v->network_magic == kMagic && v->protocol_version == kProtocolVersion) {
        if (was_open) c.stage = 1;
      } else {
        violation = true;
      }
    } else if (c.stage == 1) {
      if (t == MsgType::kVerack) {
        if (was_open) c.stage = 2;
      } else {
        violation = true;
      }
    } else if (t == MsgType::kVersion || t == MsgType::kVerack) {
      violation = true;
    }
    if (t == MsgType::kPong) c.ping_nonce.reset();
    pm.on_message(id, std::move(m), now);
    drain();
    if (was_open && violation) FUZZ_ASSERT(c.close_requested);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hearsay::fuzz::FuzzInput in(data, size);
  Harness h;
  const auto& k = keys();
  for (size_t step = 0; step < kMaxSteps && !in.empty(); ++step) {
    const uint8_t op = in.byte();
    switch (op % 12) {
      case 0: {  // connect: key 0 is ourselves
        const uint8_t b = in.byte();
        h.connect(k[b % 4], (b & 0x10) != 0, loopback(static_cast<uint16_t>(40000 + b)));
        break;
      }
      case 1: {  // arbitrary message bytes through the real decoder
        const PeerId id = h.pick(in);
        const auto t = static_cast<MsgType>(in.byte() % kMsgTypeCount);
        std::vector<uint8_t> payload = in.bytes(in.byte());
        auto m = decode_payload(t, std::move(payload));
        if (m.ok()) h.feed(id, std::move(m).value());
        break;
      }
      case 2: {  // a version, sometimes mutated
        const PeerId id = h.pick(in);
        const uint8_t b = in.byte();
        VersionMsg v;
        v.protocol_version = kProtocolVersion + ((b & 1) ? 1 : 0);
        v.network_magic = kMagic ^ ((b & 2) ? 1u : 0u);
        v.time = 1'700'000'000;
        v.best_height = b;
        v.user_agent = "/fuzz/";
        h.feed(id, v);
        break;
      }
      case 3:
        h.feed(h.pick(in), VerackMsg{});
        break;
      case 4: {  // answer the outstanding ping, right or wrong
        const PeerId id = h.pick(in);
        auto it = h.conns.find(id);
        const uint8_t b = in.byte();
        if (it == h.conns.end()) break;
        const uint64_t nonce = it->second.ping_nonce.value_or(0) + ((b & 1) ? 1 : 0);
        h.feed(id, PongMsg{nonce});
        break;
      }
      case 5: {  // addr with records signed by known keys, possibly forged/stale/future
        const PeerId id = h.pick(in);
        const uint8_t count = in.byte() % 4;
        AddrMsg m;
        for (uint8_t i = 0; i < count; ++i) {
          const uint8_t b = in.byte();
          PeerRecord r;
          r.address = loopback(static_cast<uint16_t>(9000 + (b & 7)), static_cast<uint8_t>(b & 7));
          const int64_t skew = static_cast<int64_t>(in.byte()) - 128;  // minutes
          r.time = static_cast<uint64_t>(
              std::chrono::duration_cast<std::chrono::seconds>(h.now).count() + skew * 60);
          r.sign(k[(b >> 3) % k.size()]);
          if (b & 0x80) r.address.port ^= 1;  // forged
          m.records.push_back(r);
        }
        h.feed(id, std::move(m));
        break;
      }
      case 6: {  // the connection closed
        const PeerId id = h.pick(in);
        if (!h.conns.count(id)) break;
        h.pm.on_disconnected(id, h.now);
        h.conns.erase(id);
        h.drain();
        break;
      }
      case 7: {  // a pending dial fails
        if (h.dials.empty()) break;
        const size_t i = in.byte() % h.dials.size();
        const NetAddress a = h.dials[i].address;
        h.dials.erase(h.dials.begin() + static_cast<ptrdiff_t>(i));
        h.pm.on_dial_failed(a, h.now);
        h.drain();
        break;
      }
      case 8: {  // a pending dial connects (to the pinned identity, or a key of our choice)
        if (h.dials.empty()) break;
        const size_t i = in.byte() % h.dials.size();
        const DialAction d = h.dials[i];
        h.dials.erase(h.dials.begin() + static_cast<ptrdiff_t>(i));
        const KeyPair& key = k[1 + in.byte() % 4];
        if (h.conns.size() >= kMaxLive) {
          h.pm.on_dial_failed(d.address, h.now);
        } else {
          const PeerId id = h.next_id++;
          h.conns[id].connected_at = h.now;
          PublicKey identity = d.identity.value_or(key.public_key());
          h.pm.on_connected(PeerConnected{id, identity, false, d.address}, h.now);
        }
        h.drain();
        break;
      }
      case 9: {  // net/ could not decode something from the peer
        const PeerId id = h.pick(in);
        const auto err = static_cast<DecodeError>(1 + in.byte() % 10);
        auto it = h.conns.find(id);
        if (it == h.conns.end()) break;
        const bool was_open = !it->second.close_requested;
        h.pm.on_bad_message(id, err, h.now);
        h.drain();
        if (was_open) FUZZ_ASSERT(it->second.close_requested);
        break;
      }
      default: {  // time passes: up to ~64 s, in small or large steps
        h.now += test::clock_step((op & 0x80) != 0, in.byte());
        h.pm.on_tick(h.now);
        h.drain();
        // The handshake deadline (10 s by default) is enforced at the first tick past it.
        for (const auto& [id, c] : h.conns)
          if (c.stage < 2 && h.now >= c.connected_at + std::chrono::seconds(10))
            FUZZ_ASSERT(c.close_requested);
        break;
      }
    }
    h.drain();
  }
  // Every connection can be closed, leaving nothing behind.
  for (auto& [id, c] : h.conns)
    h.pm.on_disconnected(id, h.now);
  h.conns.clear();
  h.pm.take_actions();
  h.pm.sanity_check();
  FUZZ_ASSERT(h.pm.peer_count() == 0);
  return 0;
}
