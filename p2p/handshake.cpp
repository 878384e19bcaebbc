#include "p2p/handshake.h"

#include "crypto/result.h"

namespace hearsay {

std::optional<std::string> check_version(const VersionMsg& v, const HandshakeParams& params) {
  if (v.network_magic != params.network_magic)
    return "version for another network (magic " + std::to_string(v.network_magic) + ", ours " +
           std::to_string(params.network_magic) + ")";
  if (v.protocol_version != params.protocol_version)
    return "unsupported protocol version " + std::to_string(v.protocol_version) + " (ours " +
           std::to_string(params.protocol_version) + ")";
  return std::nullopt;
}

HandshakeStep Handshake::reject(std::string why) {
  m_reason = std::move(why);
  return HandshakeStep::kReject;
}

HandshakeStep Handshake::on_message(const Message& m) {
  const MsgType t = type_of(m);
  switch (m_state) {
    case HandshakeState::kAwaitVersion: {
      if (t != MsgType::kVersion)
        return reject(std::string("'") + command_name(t) + "' before version");
      const auto& v = std::get<VersionMsg>(m);
      if (auto why = check_version(v, m_params)) return reject(std::move(*why));
      m_version = v;
      m_state = HandshakeState::kAwaitVerack;
      return HandshakeStep::kSendVerack;
    }
    case HandshakeState::kAwaitVerack:
      if (t != MsgType::kVerack)
        return reject(std::string("'") + command_name(t) + "' before verack");
      m_state = HandshakeState::kDone;
      return HandshakeStep::kComplete;
    case HandshakeState::kDone:
      if (t == MsgType::kVersion) return reject("duplicate version");
      if (t == MsgType::kVerack) return reject("duplicate verack");
      return HandshakeStep::kPassOn;
  }
  return reject("bad handshake state");  // unreachable
}

void Handshake::sanity_check() const {
  HEARSAY_CHECK((m_state == HandshakeState::kAwaitVersion) == !m_version.has_value());
  if (m_version) HEARSAY_CHECK(!check_version(*m_version, m_params).has_value());
}

}  // namespace hearsay
