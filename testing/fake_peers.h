// Bookkeeping of the fake connections through which a fuzz target or a test drives a
// PeerManager by hand: connection ids handed out in order, what the driver knows of each
// connection (its own Conn type), the identities the fake peers present, and a choice among
// the live connections made from input bytes.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <utility>
#include <vector>

#include "crypto/ed25519.h"
#include "p2p/peer_manager.h"
#include "testing/tx_factory.h"

namespace hearsay::test {

// The identities of fake peers 0..kFakeIdentities-1 (test_key(0x10 + i)), derived once.
// Identity 0 is, by convention, the node under test's own.
inline constexpr size_t kFakeIdentities = 6;
inline const std::vector<KeyPair>& fake_identities() {
  static const std::vector<KeyPair> keys = [] {
    std::vector<KeyPair> k;
    for (uint8_t i = 0; i < kFakeIdentities; ++i)
      k.push_back(test_key(static_cast<uint8_t>(0x10 + i)));
    return k;
  }();
  return keys;
}

template <class Conn>
struct FakePeers {
  PeerId next_id = 1;
  std::map<PeerId, Conn> conns;

  // A connection chosen by the next byte of `in` (anything with a byte() member); 0, reading
  // nothing, when there is none.
  template <class Input>
  PeerId pick(Input& in) const {
    if (conns.empty()) return 0;
    auto it = conns.begin();
    std::advance(it, in.byte() % conns.size());
    return it->first;
  }
};

// Steps shared by the fuzz targets' drivers. Each reads its bytes from `in` (anything with
// byte() and bytes(n) members) in a fixed order, whatever the state, so that an input keeps
// its meaning.

// How far the clock moves in one step: up to ~64 s in whole seconds when `coarse`, else up to
// 2.55 s in 10 ms steps.
inline Duration clock_step(bool coarse, uint8_t b) {
  if (coarse) return std::chrono::seconds(b / 4);
  return std::chrono::milliseconds(b * 10);
}

// Arbitrary message bytes through the real decoder, from a dishonest peer only: reads the
// connection, a type and a payload, then feeds what decodes to `d` (which has pick(), conns
// with honest(), and feed()).
template <class Driver, class Input>
void feed_arbitrary_message(Driver& d, Input& in) {
  const PeerId id = d.pick(in);
  auto it = d.conns.find(id);
  const auto t = static_cast<MsgType>(in.byte() % kMsgTypeCount);
  std::vector<uint8_t> payload = in.bytes(in.byte());
  if (it == d.conns.end() || it->second.honest()) return;
  auto m = decode_payload(t, std::move(payload));
  if (m.ok()) d.feed(id, std::move(m).value());
}

// Signature verdicts as a pool of workers delivers them: 1..n of the `held` (non-empty)
// VerifyActions, chosen by input bytes, out of order and regrouped into one batch; each
// action's transactions reversed, or all of them lost (a worker died), as the first byte says.
// Returns the batch to deliver (empty when lost).
template <class Input>
std::vector<TxRef> take_verdict_batch(std::vector<VerifyAction>& held, Input& in) {
  const uint8_t b = in.byte();
  std::vector<TxRef> merged;
  const size_t n = 1 + b % held.size();
  for (size_t i = 0; i < n && !held.empty(); ++i) {
    const size_t at = in.byte() % held.size();
    VerifyAction v = std::move(held[at]);
    held.erase(held.begin() + static_cast<std::ptrdiff_t>(at));
    if ((b & 0xe0) == 0xe0) continue;  // lost
    if (b & 0x10) std::reverse(v.txs.begin(), v.txs.end());
    merged.insert(merged.end(), v.txs.begin(), v.txs.end());
  }
  return merged;
}

}  // namespace hearsay::test
