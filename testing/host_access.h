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
  // Pauses or resumes the signature workers (VerifyPool::pause): verification falls behind.
  static void pause_verification(Host& host, bool paused);
};

}  // namespace hearsay::test
