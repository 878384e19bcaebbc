#include "testing/block_relay_access.h"

#include "chainstub/compact.h"
#include "p2p/transport.h"

namespace hearsay::test {

void BlockRelayTestAccess::relay_unchecked(BlockRelay& relay, const BlockRef& block, Time now) {
  (void)now;
  relay.m_extra_served.push_back(block);
  while (relay.m_extra_served.size() > BlockRelay::kMaxExtraServed)
    relay.m_extra_served.pop_front();
  const BlockId id = block->header.id();
  SharedBytes cmpct, full;
  for (auto& [peer, ps] : relay.m_peers) {
    if (!relay.m_pm.is_ready(peer)) continue;
    if (ps.wants_hb) {
      if (!cmpct) cmpct = encode_frame(relay.m_pm.magic(), make_compact(*block, relay.m_rng(), {}));
      relay.m_pm.send_frame(peer, cmpct, MsgType::kCmpctBlock);
      ++relay.m_stats.cmpct_sent;
    } else {
      if (!full) full = encode_frame(relay.m_pm.magic(), BlockMsg{block});
      relay.m_pm.send_frame(peer, full, MsgType::kBlock);
      ++relay.m_stats.blocks_sent;
    }
    relay.see(ps, id, block->header.height);
  }
}

}  // namespace hearsay::test
