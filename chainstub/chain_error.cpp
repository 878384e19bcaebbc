#include "chainstub/chain_error.h"

namespace hearsay {

const char* to_string(BlockError e) {
  switch (e) {
    case BlockError::kOk:
      return "ok";
    case BlockError::kBadNetwork:
      return "bad-network";
    case BlockError::kBadProducer:
      return "bad-producer";
    case BlockError::kBadSignature:
      return "bad-signature";
    case BlockError::kUnknownParent:
      return "unknown-parent";
    case BlockError::kInvalidParent:
      return "invalid-parent";
    case BlockError::kBadHeight:
      return "bad-height";
    case BlockError::kTimeTooOld:
      return "time-too-old";
    case BlockError::kTimeTooNew:
      return "time-too-new";
    case BlockError::kTooLarge:
      return "too-large";
    case BlockError::kBadMerkleRoot:
      return "bad-merkle-root";
    case BlockError::kDuplicateTx:
      return "duplicate-tx";
    case BlockError::kTxBadNetwork:
      return "tx-bad-network";
    case BlockError::kTxTooLarge:
      return "tx-too-large";
    case BlockError::kTxBadSignature:
      return "tx-bad-signature";
    case BlockError::kTxBadNonce:
      return "tx-bad-nonce";
    case BlockError::kTxExpired:
      return "tx-expired";
    case BlockError::kStoreFailed:
      return "store-failed";
  }
  return "unknown";
}

bool is_punishable(BlockError e) {
  return e != BlockError::kOk && e != BlockError::kUnknownParent && e != BlockError::kTimeTooNew &&
         e != BlockError::kStoreFailed;
}

}  // namespace hearsay
