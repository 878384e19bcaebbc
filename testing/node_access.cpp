#include "testing/node_access.h"

#include <chrono>

#include "testing/block_relay_access.h"

namespace hearsay::test {

PoolResult NodeTestAccess::submit_unverified(Node& node, const TxRef& tx) {
  return node.m_host->run([&] {
    const Time now =
        std::chrono::duration_cast<Time>(std::chrono::system_clock::now().time_since_epoch());
    return node.m_relay->submit(tx, true, now);
  });
}

void NodeTestAccess::relay_block_unchecked(Node& node, const BlockRef& block) {
  node.m_host->run([&] {
    const Time now =
        std::chrono::duration_cast<Time>(std::chrono::system_clock::now().time_since_epoch());
    BlockRelayTestAccess::relay_unchecked(*node.m_block_relay, block, now);
  });
}

}  // namespace hearsay::test
