// The message of a -26 (sendrawtransaction refused by a rule): the rule's name first (scripts
// match on it), then the numbers that explain it, e.g.
//   "fee-rate-too-low: 3 per 1,000 bytes, the minimum is 1000"
//   "wrong-network: the transaction is for network 0x1a2b3c4d, this node is on devnet (0x...)"
// The relay answers only the name (a static string on its hot path); the numbers are read
// here, after the refusal, from the transaction and the node's configuration and state, so
// they describe the node as it is when the answer is written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "p2p/transaction.h"

namespace hearsay {

// What explain_rejection() reads besides the transaction.
struct RejectContext {
  std::string network_name;
  uint32_t network_magic = 0;
  uint64_t min_fee_rate = 0;  // per 1,000 bytes
  size_t max_tx_size = 0;
  size_t max_per_sender = 0;
  uint32_t replace_step_percent = 0;
  uint64_t tip_height = 0;
  uint64_t now_seconds = 0;                // unix time
  uint64_t next_nonce = 0;                 // the sender's next confirmed nonce
  size_t sender_held = 0;                  // transactions the sender holds
  std::optional<uint64_t> held_fee_rate;   // of the held one with the same nonce
  bool mempool_full = false;               // this transaction would not fit without evicting
  uint64_t lowest_fee_rate = 0;            // of the entry evicted next
  size_t memory_usage = 0, max_bytes = 0;  // the mempool's estimate and bound
};

// "REASON: details" for the rules that have numbers to show; `reason` alone for the others.
std::string explain_rejection(std::string_view reason, const Transaction& tx,
                              const RejectContext& c);

// The lowest fee rate that replaces a held one paying `held` (more by `step_percent`).
uint64_t replacement_fee_rate(uint64_t held, uint32_t step_percent);

}  // namespace hearsay
