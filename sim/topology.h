// Who links to whom in a simulated network: the testnet tool's topologies (random-regular, ring,
// full, an edge-list file; contrib/testnet/topology.py documents them) and Bitcoin-like
// outbound dialling. Every link is dialled by one side (the first of its pair) and accepted by
// the other, so outbound counts and roles (reconciliation asks on outbound links) are defined.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "crypto/result.h"

namespace hearsay::sim {

struct Topology {
  size_t nodes = 0;
  std::vector<std::pair<uint32_t, uint32_t>> edges;  // (dialler, listener), each pair once
  std::string kind;                                  // random-regular, ring, full, bitcoin, file

  // Neighbours of every node, ascending.
  std::vector<std::vector<uint32_t>> adjacency() const;
  bool connected() const;
  // Hops from `origin` to every node (-1: unreachable).
  std::vector<int> hops_from(uint32_t origin) const;
};

// Bitcoin Core's outbound full-relay peers and inbound slots (125 connections less 8).
inline constexpr size_t kBitcoinOutbound = 8;
inline constexpr size_t kBitcoinMaxInbound = 117;

// --topology SPEC for `nodes` nodes:
//   random-regular   every node `degree` neighbours, random (the testnet tool's pairing; near
//                    full as a complement), connected (n·degree even)
//   ring             node i links to i±1 .. i±degree/2
//   full             every pair
//   bitcoin          every node (in index order) dials kBitcoinOutbound random distinct others
//                    it is not linked to yet, each accepting at most kBitcoinMaxInbound
//                    (degree ignored); connected (resampled until it is)
//   file:PATH        "A B" per line, 0-based, commas allowed, '#' comments (the testnet tool's
//                    format); A dials B, as a testnet run's testnet.json records its links (the
//                    testnet tool orients file links itself); a pair repeated either way round
//                    is one link. `nodes` 0: the highest index + 1. It must be connected.
// Deterministic for a seed; errors name the spec and the fix. Fast at 10,000 nodes.
Result<Topology, std::string> build_topology(const std::string& spec, size_t nodes, size_t degree,
                                             uint64_t seed);

// Up to `count` distinct random nodes for `node` to dial among those `up` (a node with `up` 0 is
// down), skipping itself, `exclude` and nodes whose inbound count in `inbound` reached
// `max_inbound` (a rejoining node's dials under Bitcoin-like dialling).
std::vector<uint32_t> pick_outbound(uint32_t node, size_t count, const std::vector<uint8_t>& up,
                                    const std::vector<uint32_t>& inbound, size_t max_inbound,
                                    const std::vector<uint32_t>& exclude, uint64_t seed);

}  // namespace hearsay::sim
