// NetworkParams: what defines a hearsay network — its name and magic, its genesis block, the
// producer keys allowed to sign blocks, its target block interval and its limits.
//
// Network file (JSON, written by `hearsay-cli network new`, read by `hearsayd --network PATH`):
//   {
//     "name": "mynet",               1..32 chars of [A-Za-z0-9_-]
//     "magic": "0x1a2b3c4d",         u32, hex string or number; not the devnet's
//     "genesis_time": 1763769600,    unix seconds: the genesis block's time, <= kMaxGenesisTime
//     "genesis_id": "64 hex",        optional on read: checked against the derived id
//     "producers": ["64 hex", ...],  1..kMaxProducers distinct Ed25519 public keys
//     "block_interval_s": 10,        target interval, 1..86,400 (a producer's default)
//     "min_relay_fee_rate": 100,     per 1,000 bytes, <= 10^12 (the mempool's floor)
//     "max_block_size": 1000000,     bytes, kMinMaxBlockSize..kMaxBlockSize
//     "max_tx_size": 65665           bytes, kMinTxSize..min(kMaxTxSize, max_block_size)
//   }
// Unknown keys are refused (a typo must not silently change a network). Every error names the
// path, the key and the allowed range.
//
// Genesis: a fixed, unsigned header — network = magic, prev = 0, height 0, time = genesis_time,
// merkle root 0, producer 0, signature 0 — so its id follows from the file's fields. Every
// other block must be signed by one of `producers`.
//
// devnet: embedded (devnet_params()), magic kDevnetMagic. Its producer keys are derived from
// public seeds (devnet_producer_key(i) = KeyPair::from_seed(SHA-256("hearsay devnet producer
// " + decimal i))), like Bitcoin's regtest: anyone can produce devnet blocks; a real testnet
// uses `network new`, whose keys are random.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/ed25519.h"
#include "crypto/result.h"
#include "mempool/policy.h"
#include "p2p/block.h"
#include "p2p/limits.h"
#include "p2p/types.h"

namespace hearsay {

// The devnet's network magic, "hrsd" in ASCII: the one definition, embedded so a node runs with
// no network file.
inline constexpr uint32_t kDevnetMagic = 0x68727364;
inline constexpr size_t kDevnetProducers = 4;
inline constexpr uint64_t kDevnetGenesisTime = 1'763'769'600;  // 2025-11-22 00:00:00 UTC
inline constexpr size_t kMaxProducers = 1'000;
inline constexpr size_t kMinMaxBlockSize = 10'000;  // room for a header and a few transactions
inline constexpr uint64_t kMaxBlockIntervalSeconds = 86'400;
inline constexpr size_t kMaxNetworkFileSize = 1 << 20;  // bytes read from a network file
// Latest genesis time, unix seconds (2100-01-01): keeps every block time far from the
// overflow of Time (microseconds in an int64).
inline constexpr uint64_t kMaxGenesisTime = 4'102'444'800;
// Highest min_relay_fee_rate, per 1,000 bytes: a typo must not make every transaction unrelayable
// silently, and fee × size arithmetic stays far from overflow.
inline constexpr uint64_t kMaxMinRelayFeeRate = 1'000'000'000'000;
// Block sizes and intervals of a new network unless told otherwise.
inline constexpr size_t kDefaultMaxBlockSize = 1'000'000;
inline constexpr uint64_t kDefaultBlockIntervalSeconds = 10;

struct NetworkParams {
  std::string name;
  uint32_t magic = 0;
  uint64_t genesis_time = 0;
  std::vector<PublicKey> producers;
  uint64_t block_interval_s = kDefaultBlockIntervalSeconds;
  // A network without its own floor relays at the mempool's default floor.
  uint64_t min_relay_fee_rate = kDefaultMinFeeRate;
  size_t max_block_size = kDefaultMaxBlockSize;
  size_t max_tx_size = kMaxTxSize;  // the wire's limit (p2p/limits.h)

  BlockHeader genesis() const;  // see Genesis above
  BlockId genesis_id() const;
  bool is_producer(const PublicKey& key) const;
  // The rules above (name, ranges, distinct producers, magic ≠ devnet unless name is devnet).
  Status validate() const;
};

const NetworkParams& devnet_params();
KeyPair devnet_producer_key(size_t i);  // i < kDevnetProducers

// Reads and validates a network file; errors name the path and the cause (missing,
// unreadable, too large, not JSON, a key out of range, genesis_id mismatch).
Result<NetworkParams, std::string> load_network_file(const std::string& path);
// The text of a network file, parsed and validated (load_network_file's parser; the errors
// name the cause, not the file). Text over kMaxNetworkFileSize bytes is refused.
Result<NetworkParams, std::string> parse_network_json(std::string_view text);
// The JSON text of a network file (genesis_id included), keys in the order above.
std::string network_to_json(const NetworkParams& params);
// Writes the file atomically (temporary file, fsync, rename). Errors name the path.
Status save_network_file(const std::string& path, const NetworkParams& params);

// `hearsay-cli network new`: a fresh network with `producers` random producer keys, written to
// DIR/network.json and DIR/producer-<i>.key (i = 0..N-1, crypto/keyfile.h format, mode 0600).
// `name` and `magic` default to "testnet-<8 hex>" and a random magic (never the devnet's).
struct NewNetworkOptions {
  size_t producers = 1;
  std::string out_dir;
  std::string name;  // empty: generated
  std::optional<uint32_t> magic;
  uint64_t block_interval_s = kDefaultBlockIntervalSeconds;
  size_t max_block_size = kDefaultMaxBlockSize;
  uint64_t genesis_time = 0;  // 0: now, rounded down to the minute
};
// Refuses to overwrite an existing network.json. Returns the params written.
Result<NetworkParams, std::string> create_network(const NewNetworkOptions& opts, uint64_t now_s);

}  // namespace hearsay
