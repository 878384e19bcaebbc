// Inbound eviction: when every inbound slot is taken, a newcomer may displace one inbound peer,
// so that idle peers with free identities cannot hold the slots hostage (Bitcoin Core's
// AttemptToEvictConnection / SelectNodeToEvict, adapted). Sans-IO: the PeerManager gathers the
// candidates, this file decides, net/ carries it out.
//
// Never candidates: outbound peers (we chose them), allow-listed identities (--allow-peers,
// --trusted-peers) and peers already disconnecting. From the inbound rest, each step protects
// some peers; whoever is left may be evicted:
//  1. kEvictProtectNetGroups peers from distinct network groups: the groups with the highest
//     keyed hash (a secret per node, so an attacker cannot aim at the protected groups), the
//     longest-connected peer of each. An attacker must then hold addresses in many groups.
//  2. kEvictProtectPing peers with the lowest minimum ping: a low ping is hard to fake from far
//     away, and close peers carry relay fastest. A peer that never answered a ping has none.
//  3. kEvictProtectTx peers that most recently sent a transaction new to our mempool.
//  4. kEvictProtectBlock peers that most recently delivered a new block that joined our chain.
//  5. Half of the rest: the longest connected (an attacker must wait to gain it).
// Then the network group with the most remaining peers (ties: the group whose newest peer is
// newest) loses its newest peer. If no one is left, nobody is evicted and the newcomer is
// refused.
//
// Left out from Bitcoin Core: its 8 block-relay-only protections (hearsay has no such
// connections), and its protection of onion/I2P/CJDNS/localhost peers (hearsay speaks none of
// those networks; a loopback testnet must exercise eviction like any other).
//
// Network groups: /16 for IPv4 (and IPv4-mapped IPv6), /32 for IPv6. With ports_as_groups (a
// test switch) a loopback peer's port stands in for its group, so one machine can stand for
// many networks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crypto/hash.h"
#include "p2p/messages.h"
#include "p2p/types.h"

namespace hearsay {

inline constexpr size_t kEvictProtectNetGroups = 4;  // as Bitcoin's
inline constexpr size_t kEvictProtectPing = 8;       // as Bitcoin's
inline constexpr size_t kEvictProtectTx = 4;         // as Bitcoin's
inline constexpr size_t kEvictProtectBlock = 4;      // as Bitcoin's

struct EvictionCandidate {
  PeerId id = 0;
  Time connected_at{};
  std::optional<Duration> min_rtt;  // none: it has not answered a ping
  Time last_tx{};                   // last transaction new to us (zero: never)
  Time last_block{};                // last new block that joined our chain (zero: never)
  uint64_t net_group = 0;           // keyed hash of the network group
};

// The bytes that name an address's network group (see the header comment).
std::vector<uint8_t> network_group(const NetAddress& address, bool ports_as_groups);
// Keyed so that peers cannot choose which groups are protected.
uint64_t keyed_network_group(const SipKey& key, const NetAddress& address, bool ports_as_groups);

// The peer to evict from `candidates` (already stripped of those that are never candidates), or
// nullopt when every one is protected.
std::optional<PeerId> select_peer_to_evict(std::vector<EvictionCandidate> candidates);

}  // namespace hearsay
