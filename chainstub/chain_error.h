// BlockError: why a block or header was refused, one value per rule (chainstub/chain.h lists the
// rules in the order they are checked).
#pragma once

#include <cstddef>
#include <cstdint>

namespace hearsay {

enum class BlockError : uint8_t {
  kOk = 0,
  // header
  kBadNetwork,     // header.network != params.magic
  kBadProducer,    // producer not authorised by the network
  kBadSignature,   // header signature invalid
  kUnknownParent,  // prev not in the index (a block is kept as an orphan)
  kInvalidParent,  // prev (or an ancestor) failed
  kBadHeight,      // height != prev.height + 1
  kTimeTooOld,     // time < prev.time
  kTimeTooNew,     // time > now + kMaxFutureBlockTime (not remembered as failed)
  // body, context-free
  kTooLarge,        // encoding > params.max_block_size
  kBadMerkleRoot,   // merkle_root != merkle_root(txs)
  kDuplicateTx,     // a transaction id twice
  kTxBadNetwork,    // a transaction of another network
  kTxTooLarge,      // a transaction over params.max_tx_size
  kTxBadSignature,  // a transaction's signature invalid (a forgery)
  // body, against the state at the parent (found when connecting)
  kTxBadNonce,   // nonce != the sender's next nonce
  kTxExpired,    // expired at the block's height/time
  kStoreFailed,  // the store refused the write (nothing changed)
};
inline constexpr size_t kBlockErrorCount = static_cast<size_t>(BlockError::kStoreFailed) + 1;
// Stable kebab-case name ("bad-producer", ...), used in logs, RPC errors, metrics and traces.
const char* to_string(BlockError e);
// True when only a misbehaving peer could have sent it: every rule except kUnknownParent,
// kTimeTooNew and kStoreFailed. (An honest node never relays a block it has not validated.)
bool is_punishable(BlockError e);

}  // namespace hearsay
