#include "testing/host_access.h"

#include <utility>

namespace hearsay::test {

bool HostTestAccess::send(Host& host, PeerId peer, SharedBytes frame, MsgType type) {
  return host.run_on_io([&] {
    auto it = host.m_slots.find(peer);
    if (it == host.m_slots.end()) return false;
    it->second.conn->send(std::move(frame), type);
    return true;
  });
}

void HostTestAccess::pause_verification(Host& host, bool paused) {
  host.run_on_io([&] {
    if (host.m_verify) host.m_verify->pause(paused);
  });
}

}  // namespace hearsay::test
