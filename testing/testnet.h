// In-process testnets for the integration tests: real Nodes (real TLS on 127.0.0.1, real
// LevelDB mempools and chains in a temporary directory), wired by --connect (condition waits:
// testing/wait.h).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "chainstub/params.h"
#include "node/node.h"
#include "testing/check.h"
#include "testing/test_util.h"
#include "testing/wait.h"

namespace hearsay::test {

// Ready (handshake done) peers of a node.
inline size_t ready_peers(Node& n) {
  size_t k = 0;
  for (const PeerStats& p : n.peer_stats())
    if (p.protocol && p.protocol->handshake_done && !p.protocol->disconnecting) ++k;
  return k;
}

// The id under which node `n` knows its ready peer of identity `id`; nullopt when it has none.
inline std::optional<PeerId> peer_id_of(Node& n, const PublicKey& id) {
  for (const PeerStats& p : n.peer_stats())
    if (p.identity == id && p.protocol && p.protocol->handshake_done && !p.protocol->disconnecting)
      return p.id;
  return std::nullopt;
}

// The misbehaviour score node `n` holds against its peer of identity `id` (0 when not connected).
inline int misbehaviour_of(Node& n, const PublicKey& id) {
  for (const PeerStats& p : n.peer_stats())
    if (p.identity == id && p.protocol) return p.protocol->misbehaviour;
  return 0;
}

// A transaction valid on the devnet the test nodes run.
inline TxRef devnet_tx(uint8_t sender, uint64_t nonce, size_t payload = 100) {
  return make_tx(sender, nonce, 1000, payload, 0, kDevnetMagic);
}

// Makes a node the devnet's block producer 0 (a TestNet::start tweak).
inline void make_producer(NodeConfig& c) {
  c.block_relay.producer_key = devnet_producer_key(0);
}

// The node's best block id.
inline BlockId tip_of(Node& n) {
  return n.chain_info().tip;
}

class TestNet {
 public:
  explicit TestNet(size_t n) : m_nodes(n), m_dirs(n) {
    for (size_t i = 0; i < n; ++i)
      m_dirs[i] = m_root.file("node" + std::to_string(i));
  }
  ~TestNet() {
    for (auto& n : m_nodes)
      if (n) n->stop();
  }

  NodeConfig config(size_t i) const {
    NodeConfig c;
    c.datadir = m_dirs[i];
    c.host.listen = "127.0.0.1:0";
    c.host.datadir = m_dirs[i];
    c.host.verify_threads = 1;
    // Only the --connect links of the test's topology: no outbound slots filled by gossip.
    c.host.peer_manager.max_outbound = 0;
    c.host.peer_manager.user_agent = "/hearsay-test:" + std::to_string(i) + "/";
    c.relay.seen_max_entries = 100'000;  // 1 MB instead of the daemon's 21 MB
    c.relay.rng_seed = 1000 + i;
    return c;
  }

  // Starts node i (again, if it was stopped: same data directory), dialling `dial` (started
  // nodes, pinned to their identities).
  Node& start(size_t i, const std::vector<size_t>& dial,
              std::function<void(NodeConfig&)> tweak = {}) {
    NodeConfig c = config(i);
    for (size_t j : dial) {
      HEARSAY_EXPECT(m_nodes[j] != nullptr, "node " + std::to_string(j) + " must run before node " +
                                                std::to_string(i) + " dials it");
      c.host.connect.push_back(DialTarget{*m_nodes[j]->listen_address(), m_nodes[j]->identity()});
    }
    if (tweak) tweak(c);
    auto n = Node::start(std::move(c));
    HEARSAY_EXPECT(n.ok(), n.ok() ? std::string() : n.error());
    m_nodes[i] = std::move(*n);
    return *m_nodes[i];
  }
  void stop(size_t i) {
    m_nodes[i]->stop();
    m_nodes[i].reset();
  }
  // Node i dials node j now and keeps it connected from then on, as RPC addpeer has it (a
  // --connect peer added at run time: the nodes may fill their mempools before they meet).
  void dial(size_t i, size_t j) {
    const NetAddress to = *m_nodes[j]->listen_address();
    const PublicKey id = m_nodes[j]->identity();
    const bool added = m_nodes[i]->host().with_peer_manager(
        [&](PeerManager& pm) { return pm.add_connect(to, id); });
    HEARSAY_EXPECT(added, "node " + std::to_string(i) + " already dials node " + std::to_string(j));
  }

  Node& operator[](size_t i) { return *m_nodes[i]; }
  bool running(size_t i) const { return m_nodes[i] != nullptr; }
  size_t size() const { return m_nodes.size(); }

 private:
  TempDir m_root;
  std::vector<std::unique_ptr<Node>> m_nodes;
  std::vector<std::string> m_dirs;
};

// Node i dials i-1 (a line), node n-1 also dials 0 (the ring), and node i ≥ 4 dials i-4 (the
// chords): 8 nodes have 3 links each, 10 nodes 3 or 4; the diameter of 10 nodes is 3.
inline std::vector<size_t> ring_with_chords(size_t i, size_t n) {
  std::set<size_t> d;
  if (i >= 1) d.insert(i - 1);
  if (i == n - 1 && n > 2) d.insert(0);
  if (i >= 4) d.insert(i - 4);
  return {d.begin(), d.end()};
}

inline size_t expected_links(size_t i, size_t n) {
  size_t k = ring_with_chords(i, n).size();
  for (size_t j = 0; j < n; ++j)
    for (size_t t : ring_with_chords(j, n))
      if (t == i) ++k;
  return k;
}

// Starts every node of `net` on the ring with chords (tweak(i, config) first, if given) and
// waits until every link is ready (reports the first node that does not get there, and stops).
inline void start_ring(TestNet& net, std::function<void(size_t, NodeConfig&)> tweak = {}) {
  for (size_t i = 0; i < net.size(); ++i)
    net.start(i, ring_with_chords(i, net.size()), [&](NodeConfig& c) {
      if (tweak) tweak(i, c);
    });
  for (size_t i = 0; i < net.size(); ++i) {
    if (!wait_until([&] { return ready_peers(net[i]) == expected_links(i, net.size()); })) {
      report_fatal_failure(__FILE__, __LINE__,
                           "node " + std::to_string(i) + " has " +
                               std::to_string(ready_peers(net[i])) + " ready peers, expected " +
                               std::to_string(expected_links(i, net.size())));
      return;
    }
  }
}

// Submits `count` devnet transactions (sender k % senders, nonce k / senders), each to a node
// drawn by a generator seeded with `seed`, and returns how many each node was given. A refused
// submission is a fatal failure naming it (callers wrap the call in ASSERT_NO_FATAL_FAILURE).
inline std::vector<size_t> submit_spread(TestNet& net, size_t count, size_t senders,
                                         uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<size_t> given(net.size(), 0);
  for (size_t k = 0; k < count; ++k) {
    const size_t at = rng() % net.size();
    auto r = net[at].submit(devnet_tx(static_cast<uint8_t>(k % senders), k / senders));
    if (!r.ok()) {
      report_fatal_failure(__FILE__, __LINE__,
                           "tx " + std::to_string(k) + " refused by node " + std::to_string(at));
      return given;
    }
    ++given[at];
  }
  return given;
}

// Waits until every node's mempool holds `count` transactions; a fatal failure names the first
// node that does not, and what it holds.
inline void wait_all_hold(TestNet& net, size_t count,
                          std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  for (size_t i = 0; i < net.size(); ++i)
    if (!wait_until([&] { return net[i].mempool_size() == count; }, timeout)) {
      report_fatal_failure(__FILE__, __LINE__,
                           "node " + std::to_string(i) + " holds " +
                               std::to_string(net[i].mempool_size()) + " of " +
                               std::to_string(count));
      return;
    }
}

}  // namespace hearsay::test
