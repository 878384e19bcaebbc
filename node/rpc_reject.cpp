#include "node/rpc_reject.h"

#include "node/rpc_params.h"
#include "p2p/limits.h"

namespace hearsay {

namespace {

std::string n(uint64_t v) {
  return std::to_string(v);
}

std::string fee_rate_too_low(const Transaction& tx, const RejectContext& c) {
  std::string s = n(tx.fee_rate()) + " per 1,000 bytes, the minimum is " + n(c.min_fee_rate);
  if (c.mempool_full && c.lowest_fee_rate >= c.min_fee_rate)
    s += "; the mempool is full, so it also takes more than the lowest held (" +
         n(c.lowest_fee_rate) + ")";
  return s;
}

std::string expired(const Transaction& tx, const RejectContext& c) {
  if (tx.expiry() < kExpiryTimeThreshold)
    return "the transaction's last valid height is " + n(tx.expiry()) + ", the tip is at " +
           n(c.tip_height);
  return "the transaction expired at unix time " + n(tx.expiry()) + ", now is " + n(c.now_seconds);
}

std::string conflict(const Transaction& tx, const RejectContext& c) {
  std::string s = "the sender already holds nonce " + n(tx.nonce());
  if (!c.held_fee_rate) return s + "; a replacement must pay more per byte";
  return s + " paying " + n(*c.held_fee_rate) + " per 1,000 bytes; this one pays " +
         n(tx.fee_rate()) + ", a replacement must pay at least " +
         n(replacement_fee_rate(*c.held_fee_rate, c.replace_step_percent));
}

std::string details(std::string_view reason, const Transaction& tx, const RejectContext& c) {
  if (reason == "fee-rate-too-low") return fee_rate_too_low(tx, c);
  if (reason == "wrong-network")
    return "the transaction is for network " + rpc::magic_hex(tx.network()) + ", this node is on " +
           c.network_name + " (" + rpc::magic_hex(c.network_magic) + ")";
  if (reason == "too-large")
    return "the transaction is " + n(tx.size()) + " bytes, the limit is " + n(c.max_tx_size);
  if (reason == "expired") return expired(tx, c);
  if (reason == "nonce-too-low")
    return "nonce " + n(tx.nonce()) + ", the sender's next nonce is " + n(c.next_nonce);
  if (reason == "conflict") return conflict(tx, c);
  if (reason == "sender-limit")
    return "the sender holds " + n(c.sender_held) + " transactions, the limit is " +
           n(c.max_per_sender);
  if (reason == "mempool-full")
    return "the mempool is full (" + n(c.memory_usage) + " of " + n(c.max_bytes) +
           " bytes) and this transaction's fee rate, " + n(tx.fee_rate()) +
           " per 1,000 bytes, is not above the lowest held (" + n(c.lowest_fee_rate) + ")";
  return "";
}

}  // namespace

uint64_t replacement_fee_rate(uint64_t held, uint32_t step_percent) {
  using U = unsigned __int128;
  const U stepped = (U(held) * (100 + U(step_percent)) + 99) / 100;  // rounded up
  const U least = stepped > U(held) ? stepped : U(held) + 1;
  return least > U(UINT64_MAX) ? UINT64_MAX : static_cast<uint64_t>(least);
}

std::string explain_rejection(std::string_view reason, const Transaction& tx,
                              const RejectContext& c) {
  std::string d = details(reason, tx, c);
  return d.empty() ? std::string(reason) : std::string(reason) + ": " + d;
}

}  // namespace hearsay
