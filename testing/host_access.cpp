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

}  // namespace hearsay::test
