#include "p2p/eviction.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace hearsay {

namespace {

bool is_ipv4_mapped(const NetAddress& a) {
  for (size_t i = 0; i < 10; ++i)
    if (a.ip[i] != 0) return false;
  return a.ip[10] == 0xff && a.ip[11] == 0xff;
}

bool is_loopback_address(const NetAddress& a) {
  if (is_ipv4_mapped(a)) return a.ip[12] == 127;
  for (size_t i = 0; i < 15; ++i)
    if (a.ip[i] != 0) return false;
  return a.ip[15] == 1;
}

// Moves the first `k` candidates under `better` (only those `eligible`) out of the running.
template <class Eligible, class Better>
void protect(std::vector<EvictionCandidate>& c, size_t k, Eligible eligible, Better better) {
  auto end = std::stable_partition(c.begin(), c.end(), eligible);
  const size_t n = std::min<size_t>(k, static_cast<size_t>(end - c.begin()));
  std::partial_sort(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(n), end, better);
  c.erase(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(n));
}

bool older(const EvictionCandidate& a, const EvictionCandidate& b) {
  return std::tie(a.connected_at, a.id) < std::tie(b.connected_at, b.id);
}

void protect_net_groups(std::vector<EvictionCandidate>& c) {
  // Highest keyed group first; within a group the longest connected first.
  std::sort(c.begin(), c.end(), [](const EvictionCandidate& a, const EvictionCandidate& b) {
    if (a.net_group != b.net_group) return a.net_group > b.net_group;
    return older(a, b);
  });
  std::vector<EvictionCandidate> rest;
  size_t protected_groups = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    const bool first_of_group = i == 0 || c[i].net_group != c[i - 1].net_group;
    if (first_of_group && protected_groups < kEvictProtectNetGroups) {
      ++protected_groups;
      continue;
    }
    rest.push_back(c[i]);
  }
  c = std::move(rest);
}

}  // namespace

std::vector<uint8_t> network_group(const NetAddress& a, bool ports_as_groups) {
  std::vector<uint8_t> g;
  if (ports_as_groups && is_loopback_address(a)) {
    g = {0xff, static_cast<uint8_t>(a.port >> 8), static_cast<uint8_t>(a.port)};
  } else if (is_ipv4_mapped(a)) {
    g = {4, a.ip[12], a.ip[13]};  // /16
  } else {
    g = {6, a.ip[0], a.ip[1], a.ip[2], a.ip[3]};  // /32
  }
  return g;
}

uint64_t keyed_network_group(const SipKey& key, const NetAddress& address, bool ports_as_groups) {
  const std::vector<uint8_t> g = network_group(address, ports_as_groups);
  return siphash24(key, Bytes(g));
}

std::optional<PeerId> select_peer_to_evict(std::vector<EvictionCandidate> c) {
  protect_net_groups(c);
  protect(
      c, kEvictProtectPing, [](const EvictionCandidate& e) { return e.min_rtt.has_value(); },
      [](const EvictionCandidate& a, const EvictionCandidate& b) {
        return std::tie(*a.min_rtt, a.id) < std::tie(*b.min_rtt, b.id);
      });
  protect(
      c, kEvictProtectTx, [](const EvictionCandidate& e) { return e.last_tx != Time{}; },
      [](const EvictionCandidate& a, const EvictionCandidate& b) {
        return std::tie(a.last_tx, a.id) > std::tie(b.last_tx, b.id);
      });
  protect(
      c, kEvictProtectBlock, [](const EvictionCandidate& e) { return e.last_block != Time{}; },
      [](const EvictionCandidate& a, const EvictionCandidate& b) {
        return std::tie(a.last_block, a.id) > std::tie(b.last_block, b.id);
      });
  protect(
      c, c.size() / 2, [](const EvictionCandidate&) { return true; }, older);
  if (c.empty()) return std::nullopt;

  // The group with the most peers left (ties: the one whose newest peer is newest) loses its
  // newest peer.
  struct Group {
    size_t count = 0;
    const EvictionCandidate* newest = nullptr;
  };
  std::map<uint64_t, Group> groups;
  for (const EvictionCandidate& e : c) {
    Group& g = groups[e.net_group];
    ++g.count;
    if (!g.newest || older(*g.newest, e)) g.newest = &e;
  }
  const Group* pick = nullptr;
  for (const auto& [key, g] : groups)
    if (!pick || g.count > pick->count ||
        (g.count == pick->count && older(*pick->newest, *g.newest)))
      pick = &g;
  return pick->newest->id;
}

}  // namespace hearsay
