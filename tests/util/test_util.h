// Helpers shared by the tests: temporary directories, deterministic keys and transactions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crypto/ed25519.h"
#include "p2p/transaction.h"

namespace hearsay::test {

// A fresh directory under the system temp dir, removed (recursively) when destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return m_path; }
  std::string str() const { return m_path.string(); }
  std::string file(const std::string& name) const { return (m_path / name).string(); }

 private:
  std::filesystem::path m_path;
};

// Deterministic key number i (seed = i repeated).
KeyPair test_key(uint8_t i);

inline constexpr uint32_t kTestNetwork = 0x74736574;  // "test"

// A signed transaction from key `key_index` with the given nonce, fee and payload size.
TxRef make_tx(uint8_t key_index, uint64_t nonce, uint64_t fee = 1000, size_t payload_size = 100,
              uint64_t expiry = 0, uint32_t network = kTestNetwork);

// The same transaction with one bit of its signature flipped: well-formed, never verifies.
TxRef forged(const TxRef& tx);

std::vector<uint8_t> bytes_of(const std::string& hex);

// A distinct, recognisable 32-byte id for number n: n little-endian in the first 8 bytes and
// `tag` in the last, so ids of different tests never collide by accident.
Hash256 numbered_id(uint64_t n, uint8_t tag);

// Runs `promtool check metrics` on `text`; returns (exit status, output). nullopt when
// promtool is not installed (install-deps installs it; the callers fail then).
std::optional<std::pair<int, std::string>> promtool_check(const std::string& text);

// A SipHash key with every byte equal to b (deterministic salts and seeds).
SipKey filled_key(uint8_t b);

}  // namespace hearsay::test
