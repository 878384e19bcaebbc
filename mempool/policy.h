// Mempool policy vocabulary: the admission answers, the removal reasons, the default limits
// (each with its unit and reason) and the expiry rule shared with chainstub.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "p2p/limits.h"
#include "p2p/transaction.h"
#include "p2p/types.h"

namespace hearsay {

// --- defaults (each is an option of MempoolOptions and a command-line flag of hearsayd) ------
// --mempool-max-mb: bound on the mempool's memory estimate (as Bitcoin's -maxmempool).
inline constexpr size_t kDefaultMempoolMaxBytes = 300 * 1000 * 1000;
// --mempool-expiry: a transaction held this long is dropped (as Bitcoin's -mempoolexpiry).
inline constexpr Duration kDefaultMempoolExpiry = std::chrono::hours(336);
// Minimum relay fee rate, fee units per 1,000 bytes (Bitcoin's -minrelaytxfee is 100 sat/kvB).
inline constexpr uint64_t kDefaultMinFeeRate = 100;
// A replacement (same sender and nonce) must pay this many percent more per byte (geth's
// PriceBump; Bitcoin's incremental relay fee plays the same role).
inline constexpr uint32_t kDefaultReplaceStepPercent = 10;
// Transactions held per sender (geth's AccountQueue): bounds one key's share of the mempool to
// 64 × kMaxTxSize ≈ 4.2 MB and the per-sender scans to 64 entries.
inline constexpr size_t kDefaultMaxPerSender = 64;
static_assert(kDefaultMaxPerSender * kMaxTxSize < kDefaultMempoolMaxBytes / 10,
              "one sender can never hold more than a tenth of a default mempool");

// --- answers --------------------------------------------------------------------------------
// The one answer of an admission: accepted, or the typed reason it was refused.
enum class AdmitCode : uint8_t {
  kAccepted = 0,
  kMalformed,      // null, or an encoding outside [kMinTxSize, kMaxTxSize]
  kDuplicate,      // this very transaction (same id) is already held
  kWrongNetwork,   // network() differs from the mempool's network
  kTooLarge,       // size() over MempoolOptions::max_tx_size
  kExpired,        // its expiry height or time has passed
  kFeeRateTooLow,  // fee_rate() under MempoolOptions::min_fee_rate
  kNonceTooLow,    // nonce under the sender's next confirmed nonce
  kConflict,       // same sender and nonce held, and the fee rate is not higher by the step
  kSenderLimit,    // the sender already holds max_per_sender transactions
  kBadSignature,   // the Ed25519 signature does not verify
  kMempoolFull,    // full, and this transaction would itself be the lowest-paying
  kStoreFailed,    // the store refused the write: nothing changed
};
inline constexpr size_t kAdmitCodeCount = static_cast<size_t>(AdmitCode::kStoreFailed) + 1;
const char* to_string(AdmitCode c);

// Why a held transaction left the mempool.
enum class RemovalReason : uint8_t {
  kConfirmed = 0,  // a block holds it
  kNonceUsed,      // a block confirmed this sender's nonce (another tx) or a later one
  kReplaced,       // a same-sender, same-nonce transaction paying enough more replaced it
  kEvicted,        // the mempool was full and it paid the least
  kExpired,        // its own expiry height or time passed
  kAged,           // held longer than MempoolOptions::expiry (--mempool-expiry)
  kReloadDropped,  // on reload, it no longer passed admission (policy changed, full, ...)
};
inline constexpr size_t kRemovalReasonCount =
    static_cast<size_t>(RemovalReason::kReloadDropped) + 1;
const char* to_string(RemovalReason r);

struct Removed {
  TxRef tx;
  RemovalReason reason;
};

// Expiry rule (chainstub's block validation must use the same one). `tip_height` is the height
// of the best block; the next block has height tip_height + 1.
//   expiry == 0                      never expires
//   expiry <  kExpiryTimeThreshold   last block height that may include it: expired once
//                                    expiry <= tip_height
//   otherwise                        last unix time (seconds) at which it is valid: expired
//                                    once now > expiry seconds
bool tx_expired(const Transaction& tx, Time now, uint64_t tip_height);

}  // namespace hearsay
