// TxRelayTestAccess: what tests may do to a TxRelay that a node never does. It is a friend of
// TxRelay and lives only in the testing library, so the shipped programs contain none of it.
#pragma once

#include <utility>
#include <vector>

#include "p2p/tx_relay.h"

namespace hearsay::test {

class TxRelayTestAccess {
 public:
  // From now on the announcements queued for the peers of these identities (the flooding path:
  // inv / txinv from the queue) are lost, as a cap would lose them, and counted in
  // announce_dropped; reconciliation's own announcements still go. What repairs the loss is
  // what a test of it watches.
  static void lose_announcements_to(TxRelay& relay, std::vector<PublicKey> peers) {
    relay.m_lose_announcements_to = std::move(peers);
  }
};

}  // namespace hearsay::test
