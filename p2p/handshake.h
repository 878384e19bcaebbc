// Handshake: the version/verack state machine of one connection — no I/O, no clock.
//
// Rules (docs/protocol.md). On connect each side sends `version` at once (TLS has
// already authenticated the peer's identity). The first message from the peer must be a
// `version` naming our network magic and our protocol version; we answer it with `verack`.
// The handshake is complete when the peer's `verack` arrives after its `version`. Until then
// nothing else is accepted: any other message, a second `version`, a `verack` before the
// `version` — each ends the connection with a reason. After completion `version` and `verack`
// are protocol violations too; every other message passes through to the caller.
// The whole exchange must finish before a deadline (PeerManager: handshake_timeout after the
// connection was authenticated).
//
// Adversary: the peer chooses every message and its timing. It can hold at most this object
// (a VersionMsg with a ≤ kMaxUserAgent user agent) until the deadline; every step is O(1).
#pragma once

#include <optional>
#include <string>

#include "p2p/messages.h"
#include "p2p/types.h"

namespace hearsay {

enum class HandshakeState : uint8_t {
  kAwaitVersion,  // nothing received yet
  kAwaitVerack,   // their version accepted (our verack due), waiting for their verack
  kDone,          // complete: other messages flow
};

// What the caller does after feeding a message to the handshake.
enum class HandshakeStep : uint8_t {
  kSendVerack,  // their version was accepted: answer with verack
  kComplete,    // their verack arrived: the peer is ready
  kPassOn,      // handshake done and the message is not part of it: handle it
  kReject,      // protocol violation: disconnect with reason()
};

struct HandshakeParams {
  uint32_t network_magic = 0;
  uint32_t protocol_version = 0;
};

class Handshake {
 public:
  Handshake(HandshakeParams params, Time deadline) : m_params(params), m_deadline(deadline) {}

  // Feeds the next message from the peer. On kReject, reason() says why (and the state is
  // unchanged: the caller disconnects).
  HandshakeStep on_message(const Message& m);

  // True when the handshake is incomplete and `now` is at or past the deadline.
  bool timed_out(Time now) const { return m_state != HandshakeState::kDone && now >= m_deadline; }

  HandshakeState state() const { return m_state; }
  bool done() const { return m_state == HandshakeState::kDone; }
  // The peer's version, once accepted.
  const std::optional<VersionMsg>& their_version() const { return m_version; }
  const std::string& reason() const { return m_reason; }

  void sanity_check() const;

 private:
  HandshakeStep reject(std::string why);

  HandshakeParams m_params;
  Time m_deadline;
  HandshakeState m_state = HandshakeState::kAwaitVersion;
  std::optional<VersionMsg> m_version;
  std::string m_reason;
};

// Why a version message is unacceptable under `params`, or nullopt when it is acceptable.
std::optional<std::string> check_version(const VersionMsg& v, const HandshakeParams& params);

}  // namespace hearsay
