#include "tests/util/test_util.h"

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>

#include "crypto/hex.h"
#include "crypto/result.h"

namespace hearsay::test {

TempDir::TempDir() {
  static std::random_device rd;
  for (;;) {
    auto p = std::filesystem::temp_directory_path() /
             ("hearsay-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::error_code ec;
    if (std::filesystem::create_directory(p, ec)) {
      m_path = p;
      return;
    }
  }
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(m_path, ec);
}

KeyPair test_key(uint8_t i) {
  crypto_init();
  Seed seed;
  seed.fill(i);
  return KeyPair::from_seed(seed);
}

TxRef make_tx(uint8_t key_index, uint64_t nonce, uint64_t fee, size_t payload_size, uint64_t expiry,
              uint32_t network) {
  TxFields f;
  f.network = network;
  f.nonce = nonce;
  f.fee = fee;
  f.expiry = expiry;
  f.payload.resize(payload_size);
  for (size_t i = 0; i < payload_size; ++i)
    f.payload[i] = static_cast<uint8_t>(i * 7 + nonce);
  return Transaction::create(f, test_key(key_index));
}

std::vector<uint8_t> bytes_of(const std::string& hex) {
  auto v = from_hex(hex);
  HEARSAY_CHECK(v.has_value());
  return *v;
}

Hash256 numbered_id(uint64_t n, uint8_t tag) {
  Hash256 h{};
  for (int i = 0; i < 8; ++i)
    h[i] = static_cast<uint8_t>(n >> (8 * i));
  h[31] = tag;
  return h;
}

SipKey filled_key(uint8_t b) {
  SipKey k;
  k.fill(b);
  return k;
}

TxRef forged(const TxRef& tx) {
  std::vector<uint8_t> raw(tx->encoding().begin(), tx->encoding().end());
  raw[raw.size() - 64] ^= 0x01;
  auto f = Transaction::decode(std::move(raw));
  HEARSAY_CHECK(f.ok());
  return *f;
}

std::optional<std::pair<int, std::string>> promtool_check(const std::string& text) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) return std::nullopt;
  TempDir dir;
  const std::string in = dir.file("metrics.txt");
  const std::string out = dir.file("promtool.out");
  { std::ofstream(in, std::ios::binary) << text; }
  int status = std::system(("promtool check metrics < '" + in + "' > '" + out + "' 2>&1").c_str());
  std::ifstream f(out);
  std::string output((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, output);
}

}  // namespace hearsay::test
