// NodeTestAccess: what the integration tests' lying node does that a real node never does,
// through Node's private members (Node befriends this class; hearsayd never links it).
#pragma once

#include "node/node.h"

namespace hearsay::test {

class NodeTestAccess {
 public:
  // Node::submit without its signature check: the caller vouches for the signature, and the
  // relay admits and announces the transaction as a verified local one.
  static PoolResult submit_unverified(Node& node, const TxRef& tx);
  // Sends `block` unvalidated and unstored to every ready peer (cmpctblock to high-bandwidth
  // peers, block to the others) and serves it to their getdata / getblocktxn, on the node's
  // network thread (BlockRelayTestAccess::relay_unchecked).
  static void relay_block_unchecked(Node& node, const BlockRef& block);
};

}  // namespace hearsay::test
