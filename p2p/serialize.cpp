#include "p2p/serialize.h"

namespace hearsay {

const char* to_string(DecodeError e) {
  switch (e) {
    case DecodeError::kNone:
      return "no error";
    case DecodeError::kTruncated:
      return "truncated input";
    case DecodeError::kNonCanonical:
      return "non-canonical integer encoding";
    case DecodeError::kTooLarge:
      return "count or length over its limit";
    case DecodeError::kTrailingBytes:
      return "trailing bytes after the structure";
    case DecodeError::kBadValue:
      return "field holds a forbidden value";
    case DecodeError::kBadMagic:
      return "wrong network magic";
    case DecodeError::kBadCommand:
      return "malformed command name";
    case DecodeError::kUnknownCommand:
      return "unknown command";
    case DecodeError::kOversizePayload:
      return "payload length over the command's limit";
    case DecodeError::kBadChecksum:
      return "payload checksum mismatch";
  }
  return "unknown decode error";
}

bool Reader::set_error(DecodeError e) {
  if (m_error == DecodeError::kNone) m_error = e;
  return false;
}

bool Reader::need(size_t n) {
  if (!ok()) return false;
  if (m_data.size() - m_pos < n) return set_error(DecodeError::kTruncated);
  return true;
}

bool Reader::u8(uint8_t& v) {
  if (!need(1)) return false;
  v = m_data[m_pos++];
  return true;
}

bool Reader::u16(uint16_t& v) {
  if (!need(2)) return false;
  v = static_cast<uint16_t>(m_data[m_pos] | m_data[m_pos + 1] << 8);
  m_pos += 2;
  return true;
}

bool Reader::u32(uint32_t& v) {
  if (!need(4)) return false;
  v = 0;
  for (int i = 3; i >= 0; --i)
    v = v << 8 | m_data[m_pos + i];
  m_pos += 4;
  return true;
}

bool Reader::u64(uint64_t& v) {
  if (!need(8)) return false;
  v = 0;
  for (int i = 7; i >= 0; --i)
    v = v << 8 | m_data[m_pos + i];
  m_pos += 8;
  return true;
}

bool Reader::i64(int64_t& v) {
  uint64_t u;
  if (!u64(u)) return false;
  v = static_cast<int64_t>(u);
  return true;
}

bool Reader::compact_size(uint64_t& v, uint64_t max) {
  uint8_t tag;
  if (!u8(tag)) return false;
  if (tag < 0xfd) {
    v = tag;
  } else if (tag == 0xfd) {
    uint16_t x;
    if (!u16(x)) return false;
    if (x < 0xfd) return set_error(DecodeError::kNonCanonical);
    v = x;
  } else if (tag == 0xfe) {
    uint32_t x;
    if (!u32(x)) return false;
    if (x <= 0xffff) return set_error(DecodeError::kNonCanonical);
    v = x;
  } else {
    if (!u64(v)) return false;
    if (v <= 0xffffffff) return set_error(DecodeError::kNonCanonical);
  }
  if (v > max) return set_error(DecodeError::kTooLarge);
  return true;
}

bool Reader::bytes(size_t n, std::span<const uint8_t>& out) {
  if (!need(n)) return false;
  out = m_data.subspan(m_pos, n);
  m_pos += n;
  return true;
}

bool Reader::var_bytes(std::span<const uint8_t>& out, uint64_t max) {
  uint64_t n;
  if (!compact_size(n, max)) return false;
  return bytes(static_cast<size_t>(n), out);
}

bool Reader::expect_end() {
  if (!ok()) return false;
  if (m_pos != m_data.size()) return set_error(DecodeError::kTrailingBytes);
  return true;
}

Writer& Writer::u8(uint8_t v) {
  m_out.push_back(v);
  return *this;
}

Writer& Writer::u16(uint16_t v) {
  m_out.push_back(static_cast<uint8_t>(v));
  m_out.push_back(static_cast<uint8_t>(v >> 8));
  return *this;
}

Writer& Writer::u32(uint32_t v) {
  for (int i = 0; i < 4; ++i)
    m_out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  return *this;
}

Writer& Writer::u64(uint64_t v) {
  for (int i = 0; i < 8; ++i)
    m_out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  return *this;
}

Writer& Writer::compact_size(uint64_t v) {
  if (v < 0xfd) {
    u8(static_cast<uint8_t>(v));
  } else if (v <= 0xffff) {
    u8(0xfd).u16(static_cast<uint16_t>(v));
  } else if (v <= 0xffffffff) {
    u8(0xfe).u32(static_cast<uint32_t>(v));
  } else {
    u8(0xff).u64(v);
  }
  return *this;
}

Writer& Writer::bytes(std::span<const uint8_t> b) {
  m_out.insert(m_out.end(), b.begin(), b.end());
  return *this;
}

}  // namespace hearsay
