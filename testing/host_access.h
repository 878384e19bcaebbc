// HostTestAccess: what the network tests do that a real node never does, through Host's private
// members (Host befriends this class; hearsayd never links it).
#pragma once

#include "net/host.h"

namespace hearsay::test {

class HostTestAccess {
 public:
  // Queues a raw frame on a connection, bypassing the PeerManager (tests of the write path).
  // False when `peer` has no connection.
  static bool send(Host& host, PeerId peer, SharedBytes frame, MsgType type);
};

}  // namespace hearsay::test
