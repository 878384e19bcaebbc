#include "testing/tx_factory.h"

#include <utility>

#include "crypto/result.h"

namespace hearsay::test {

KeyPair test_key(uint8_t i) {
  crypto_init();
  Seed seed;
  seed.fill(i);
  return KeyPair::from_seed(seed);
}

KeyPair family_key(uint16_t index, uint8_t family) {
  crypto_init();
  Seed seed{};
  seed[0] = static_cast<uint8_t>(index);
  seed[1] = static_cast<uint8_t>(index >> 8);
  seed[2] = family;
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

TxRef filled_tx(const KeyPair& sender, uint32_t network, uint64_t nonce, uint64_t fee,
                size_t payload_size, uint8_t fill, uint64_t expiry) {
  TxFields f;
  f.network = network;
  f.nonce = nonce;
  f.fee = fee;
  f.expiry = expiry;
  f.payload.assign(payload_size, fill);
  return Transaction::create(f, sender);
}

TxRef forged(const TxRef& tx) {
  std::vector<uint8_t> raw(tx->encoding().begin(), tx->encoding().end());
  raw[raw.size() - 64] ^= 0x01;
  auto f = Transaction::decode(std::move(raw));
  HEARSAY_CHECK(f.ok());
  return *f;
}

std::vector<TxRef> block_txs(size_t n, uint8_t first_sender, size_t per_sender) {
  std::vector<TxRef> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(make_tx(static_cast<uint8_t>(first_sender + i / per_sender), i % per_sender,
                          1000 + i, 100));
  return out;
}

Block unsigned_block(std::vector<TxRef> txs, uint32_t network, uint64_t height, uint64_t time) {
  Block b;
  b.header.network = network;
  b.header.height = height;
  b.header.time = time;
  b.txs = std::move(txs);
  b.header.merkle_root = merkle_root(b.txs);
  return b;
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

}  // namespace hearsay::test
