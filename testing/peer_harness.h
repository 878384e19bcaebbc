// Helpers for driving a PeerManager by hand (tests, fuzz targets, benchmarks): a fake clock,
// decoding of SendActions back into messages, and scripted fake peers.
#pragma once

#include <vector>

#include "p2p/peer_manager.h"
#include "testing/check.h"
#include "testing/test_util.h"

namespace hearsay::test {

inline constexpr uint32_t kPmMagic = kTestNetwork;
// A fixed, realistic start time (2023-11-14): record times are unix seconds.
inline const Time kT0 = Time(std::chrono::seconds(1'700'000'000));

inline NetAddress loopback(uint16_t port, uint8_t last = 1) {
  NetAddress a;
  a.ip = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, last};
  a.port = port;
  return a;
}

// The one message a SendAction's frame holds (network `magic`, nothing before or after it).
inline Message decode_frame(const SharedBytes& frame, uint32_t magic = kPmMagic) {
  HEARSAY_EXPECT(frame != nullptr, "a frame");
  FrameDecoder dec(magic);
  std::span<const uint8_t> data(*frame);
  HEARSAY_EXPECT(dec.received_bytes(data), "a well-formed frame");
  HEARSAY_EXPECT(dec.message_complete(), "a whole message");
  HEARSAY_EXPECT(data.empty(), "one message per frame");
  RawMessage raw = dec.take_message();
  auto m = decode_payload(raw.type, std::move(raw.payload));
  HEARSAY_EXPECT(m.ok(), "a decodable payload");
  return std::move(m).value();
}

struct Sent {
  PeerId peer;
  Message msg;
};

// What a batch of actions holds, by kind.
struct Actions {
  std::vector<Sent> sent;
  std::vector<DisconnectAction> disconnects;
  std::vector<BanAction> bans;
  std::vector<DialAction> dials;
  std::vector<VerifyAction> verifies;
  std::vector<ReadHoldAction> holds;

  explicit Actions(std::vector<Action> all) {
    for (Action& a : all) {
      if (auto* s = std::get_if<SendAction>(&a)) {
        Message m = decode_frame(s->frame);
        HEARSAY_EXPECT(type_of(m) == s->type, "the type the action names");
        sent.push_back({s->peer, std::move(m)});
      } else if (auto* d = std::get_if<DisconnectAction>(&a)) {
        disconnects.push_back(*d);
      } else if (auto* b = std::get_if<BanAction>(&a)) {
        bans.push_back(*b);
      } else if (auto* v = std::get_if<VerifyAction>(&a)) {
        verifies.push_back(std::move(*v));
      } else if (auto* h = std::get_if<ReadHoldAction>(&a)) {
        holds.push_back(*h);
      } else {
        dials.push_back(std::get<DialAction>(a));
      }
    }
  }
  // Messages of type T sent to `peer`.
  template <class T>
  std::vector<T> to(PeerId peer) const {
    std::vector<T> out;
    for (const Sent& s : sent)
      if (s.peer == peer && std::holds_alternative<T>(s.msg)) out.push_back(std::get<T>(s.msg));
    return out;
  }
  bool disconnected(PeerId peer) const {
    for (const auto& d : disconnects)
      if (d.peer == peer) return true;
    return false;
  }
  std::string reason(PeerId peer) const {
    for (const auto& d : disconnects)
      if (d.peer == peer) return d.reason;
    return "";
  }
};

inline PeerManagerConfig test_config(uint16_t port = 0) {
  PeerManagerConfig c;
  c.network_magic = kPmMagic;
  c.user_agent = "/test/";
  if (port) c.listen_address = loopback(port);
  return c;
}

inline VersionMsg good_version(uint16_t port = 0) {
  VersionMsg v;
  v.protocol_version = kProtocolVersion;
  v.network_magic = kPmMagic;
  v.time = 1'700'000'000;
  if (port) v.addr_from = loopback(port);
  v.user_agent = "/fake/";
  return v;
}

inline PeerConnected conn(PeerId id, const KeyPair& key, bool inbound, NetAddress remote = {}) {
  if (remote.port == 0) remote = loopback(static_cast<uint16_t>(40000 + id));
  return PeerConnected{id, key.public_key(), inbound, remote};
}

// Connects a fake peer and completes its handshake; returns the actions of the handshake.
inline Actions handshake(PeerManager& pm, PeerId id, const KeyPair& key, bool inbound, Time now,
                         NetAddress remote = {}) {
  pm.on_connected(conn(id, key, inbound, remote), now);
  pm.on_message(id, good_version(), now);
  pm.on_message(id, VerackMsg{}, now);
  pm.sanity_check();
  return Actions(pm.take_actions());
}

inline PeerRecord signed_record(const KeyPair& key, uint16_t port, Time now) {
  PeerRecord r;
  r.address = loopback(port);
  r.time = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(now).count());
  r.sign(key);
  return r;
}

}  // namespace hearsay::test
