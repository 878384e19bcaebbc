// Serialization primitives: little-endian integers, Bitcoin's CompactSize, length-prefixed
// bytes.
//
// Reader never reads past its input. The first failure is sticky: every later read fails too
// and error() tells why (the first cause), so a decoder can read a whole structure and check
// once at the end. Lengths are checked against the caller's named maximum *before* anything
// is allocated. CompactSize must be minimal (canonical); anything else is refused.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace hearsay {

enum class DecodeError : uint8_t {
  kNone = 0,
  kTruncated,        // input ended inside a field
  kNonCanonical,     // a CompactSize that is not in its shortest form
  kTooLarge,         // a count or length over the field's limit
  kTrailingBytes,    // bytes left over after a complete structure
  kBadValue,         // a field holds a value the format forbids
  kBadMagic,         // frame: network magic does not match
  kBadCommand,       // frame: command is not NUL-padded printable ASCII
  kUnknownCommand,   // frame: well-formed command that this protocol does not define
  kOversizePayload,  // frame: length over the command's own limit
  kBadChecksum,      // frame: payload does not match the header's checksum
};

const char* to_string(DecodeError e);

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data) : m_data(data) {}

  bool u8(uint8_t& v);
  bool u16(uint16_t& v);
  bool u32(uint32_t& v);
  bool u64(uint64_t& v);
  bool i64(int64_t& v);
  // CompactSize, minimal form only, value ≤ max (kTooLarge otherwise).
  bool compact_size(uint64_t& v, uint64_t max);
  // n raw bytes, as a view into the input (no copy).
  bool bytes(size_t n, std::span<const uint8_t>& out);
  template <size_t N>
  bool array(std::array<uint8_t, N>& out) {
    std::span<const uint8_t> s;
    if (!bytes(N, s)) return false;
    std::memcpy(out.data(), s.data(), N);
    return true;
  }
  // CompactSize length (≤ max) then that many bytes, as a view.
  bool var_bytes(std::span<const uint8_t>& out, uint64_t max);
  // Fails with kTrailingBytes unless every byte was consumed.
  bool expect_end();
  // Marks the reader failed with e (if it has not failed already). Returns false.
  bool set_error(DecodeError e);

  bool ok() const { return m_error == DecodeError::kNone; }
  DecodeError error() const { return m_error; }
  size_t position() const { return m_pos; }
  size_t remaining() const { return ok() ? m_data.size() - m_pos : 0; }

 private:
  bool need(size_t n);
  std::span<const uint8_t> m_data;
  size_t m_pos = 0;
  DecodeError m_error = DecodeError::kNone;
};

// Appends encodings to a byte vector.
class Writer {
 public:
  explicit Writer(std::vector<uint8_t>& out) : m_out(out) {}
  Writer& u8(uint8_t v);
  Writer& u16(uint16_t v);
  Writer& u32(uint32_t v);
  Writer& u64(uint64_t v);
  Writer& i64(int64_t v) { return u64(static_cast<uint64_t>(v)); }
  Writer& compact_size(uint64_t v);
  Writer& bytes(std::span<const uint8_t> b);
  Writer& var_bytes(std::span<const uint8_t> b) { return compact_size(b.size()).bytes(b); }

 private:
  std::vector<uint8_t>& m_out;
};

// Size of v's CompactSize encoding: 1, 3, 5 or 9 bytes.
constexpr size_t compact_size_len(uint64_t v) {
  return v < 0xfd ? 1 : v <= 0xffff ? 3 : v <= 0xffffffff ? 5 : 9;
}

}  // namespace hearsay
