// BlockRelayTestAccess: what tests and fuzz targets may do to a BlockRelay that a node never
// does. It is a friend of BlockRelay and lives only in the testing library, so the shipped
// programs contain none of it.
#pragma once

#include "chainstub/block_relay.h"

namespace hearsay::test {

class BlockRelayTestAccess {
 public:
  // Sends `block` unvalidated and unstored to every ready peer — as a cmpctblock (no prefill)
  // to those that asked for high-bandwidth mode, as `block` to the others — and serves it to
  // their getdata / getblocktxn afterwards (the last few such blocks): a lying node.
  static void relay_unchecked(BlockRelay& relay, const BlockRef& block, Time now);
};

}  // namespace hearsay::test
