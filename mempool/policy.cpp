#include "mempool/policy.h"

namespace hearsay {

const char* to_string(AdmitCode c) {
  switch (c) {
    case AdmitCode::kAccepted:
      return "accepted";
    case AdmitCode::kMalformed:
      return "malformed";
    case AdmitCode::kDuplicate:
      return "duplicate";
    case AdmitCode::kWrongNetwork:
      return "wrong-network";
    case AdmitCode::kTooLarge:
      return "too-large";
    case AdmitCode::kExpired:
      return "expired";
    case AdmitCode::kFeeRateTooLow:
      return "fee-rate-too-low";
    case AdmitCode::kNonceTooLow:
      return "nonce-too-low";
    case AdmitCode::kConflict:
      return "conflict";
    case AdmitCode::kSenderLimit:
      return "sender-limit";
    case AdmitCode::kBadSignature:
      return "bad-signature";
    case AdmitCode::kMempoolFull:
      return "mempool-full";
    case AdmitCode::kStoreFailed:
      return "store-failed";
  }
  return "unknown";
}

const char* to_string(RemovalReason r) {
  switch (r) {
    case RemovalReason::kConfirmed:
      return "confirmed";
    case RemovalReason::kNonceUsed:
      return "nonce-used";
    case RemovalReason::kReplaced:
      return "replaced";
    case RemovalReason::kEvicted:
      return "evicted";
    case RemovalReason::kExpired:
      return "expired";
    case RemovalReason::kAged:
      return "aged";
    case RemovalReason::kReloadDropped:
      return "reload-dropped";
  }
  return "unknown";
}

bool tx_expired(const Transaction& tx, Time now, uint64_t tip_height) {
  uint64_t expiry = tx.expiry();
  if (expiry == 0) return false;
  if (expiry < kExpiryTimeThreshold) return expiry <= tip_height;
  int64_t us = now.count();
  uint64_t now_seconds = us < 0 ? 0 : static_cast<uint64_t>(us) / 1'000'000;
  return now_seconds > expiry;
}

}  // namespace hearsay
