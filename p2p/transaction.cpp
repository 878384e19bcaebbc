#include "p2p/transaction.h"

#include <cstring>

namespace hearsay {

namespace {
constexpr std::string_view kTxSigTag = "hearsay/tx";
constexpr size_t kPayloadLenOffset = kTxFixedPrefix;

// Walks one encoding in r and returns (payload offset, payload size) relative to its start.
bool parse_layout(Reader& r, size_t& payload_offset, size_t& payload_size) {
  size_t start = r.position();
  std::span<const uint8_t> skip;
  if (!r.bytes(kTxFixedPrefix, skip)) return false;
  std::span<const uint8_t> payload;
  if (!r.var_bytes(payload, kMaxTxPayload)) return false;
  payload_size = payload.size();
  payload_offset = r.position() - start - payload.size();
  return r.bytes(kTxSignatureSize, skip);
}
}  // namespace

Transaction::Transaction(std::vector<uint8_t>&& raw, size_t payload_offset, size_t payload_size)
    : m_raw(std::move(raw)),
      m_id(sha256d(m_raw)),
      m_payload_offset(static_cast<uint32_t>(payload_offset)),
      m_payload_size(static_cast<uint32_t>(payload_size)) {}

TxRef Transaction::create(const TxFields& f, const KeyPair& key) {
  HEARSAY_CHECK(f.payload.size() <= kMaxTxPayload);
  std::vector<uint8_t> raw;
  raw.reserve(kTxFixedPrefix + compact_size_len(f.payload.size()) + f.payload.size() +
              kTxSignatureSize);
  Writer w(raw);
  w.u32(f.network).bytes(key.public_key()).u64(f.nonce).u64(f.fee).u64(f.expiry);
  w.var_bytes(f.payload);
  Hash256 digest = TaggedHasher(kTxSigTag).update(raw).finish();
  w.bytes(key.sign(digest));
  size_t payload_offset = kPayloadLenOffset + compact_size_len(f.payload.size());
  return std::make_shared<const Transaction>(std::move(raw), payload_offset, f.payload.size());
}

Result<TxRef, DecodeError> Transaction::decode(std::vector<uint8_t>&& encoding) {
  Reader r(encoding);
  size_t off = 0, size = 0;
  if (!parse_layout(r, off, size) || !r.expect_end()) return fail(r.error());
  return std::make_shared<const Transaction>(std::move(encoding), off, size);
}

Result<TxRef, DecodeError> Transaction::decode_from(Reader& r) {
  Reader start = r;  // a view and two integers: cheap to copy
  size_t off = 0, size = 0;
  // Walk the layout first, so the copy below is bounded by the limits it checked.
  if (!parse_layout(r, off, size)) return fail(r.error());
  std::span<const uint8_t> bytes;
  HEARSAY_CHECK(start.bytes(r.position() - start.position(), bytes));
  return std::make_shared<const Transaction>(std::vector<uint8_t>(bytes.begin(), bytes.end()), off,
                                             size);
}

PublicKey Transaction::sender() const {
  PublicKey k;
  std::memcpy(k.data(), m_raw.data() + 4, k.size());
  return k;
}

Signature Transaction::signature() const {
  Signature s;
  std::memcpy(s.data(), m_raw.data() + m_raw.size() - s.size(), s.size());
  return s;
}

uint32_t Transaction::load_u32(size_t off) const {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i)
    v = v << 8 | m_raw[off + i];
  return v;
}

uint64_t Transaction::load_u64(size_t off) const {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = v << 8 | m_raw[off + i];
  return v;
}

uint64_t Transaction::fee_rate() const {
  // fee * 1000 / size in 128 bits, saturating: a fee near 2^64 must not wrap to a tiny rate.
  unsigned __int128 rate = static_cast<unsigned __int128>(fee()) * 1000 / size();
  return rate > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(rate);
}

Hash256 Transaction::sighash() const {
  return TaggedHasher(kTxSigTag)
      .update(std::span<const uint8_t>(m_raw).first(m_raw.size() - kTxSignatureSize))
      .finish();
}

bool Transaction::verify_signature() const {
  return verify(sender(), sighash(), signature());
}

uint64_t min_fee_for(size_t tx_size, uint64_t rate) {
  // fee × 1000 / size >= rate  ⇔  fee >= ceil(rate × size / 1000).
  unsigned __int128 need = static_cast<unsigned __int128>(rate) * tx_size;
  unsigned __int128 fee = (need + 999) / 1000;
  return fee > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(fee);
}

Result<size_t, std::string> payload_size_for(size_t tx_size) {
  if (tx_size < kMinTxSize || tx_size > kMaxTxSize)
    return fail("--size: " + std::to_string(tx_size) + " is outside " + std::to_string(kMinTxSize) +
                ".." + std::to_string(kMaxTxSize) + " bytes");
  constexpr size_t kOverhead = kTxFixedPrefix + kTxSignatureSize;
  for (size_t size = tx_size; size <= kMaxTxSize; ++size) {
    for (size_t len_bytes : {size_t{1}, size_t{3}, size_t{5}}) {
      if (size < kOverhead + len_bytes) continue;
      size_t payload = size - kOverhead - len_bytes;
      if (payload <= kMaxTxPayload && compact_size_len(payload) == len_bytes) return payload;
    }
  }
  return fail("--size: no transaction is " + std::to_string(tx_size) + " bytes");  // unreachable
}

}  // namespace hearsay
