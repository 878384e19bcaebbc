#include "p2p/transport.h"

#include <algorithm>
#include <cstring>

namespace hearsay {

namespace {
constexpr size_t kInitialPayloadReserve = 256 * 1024;
// Payload bytes reserved up front when a message's size is not known before encoding.
constexpr size_t kFrameReserveGuess = 256;

// The payload capacity reserved when a header is accepted: grow with what actually arrives, so
// a peer that announces 4 MB and sends nothing holds at most kInitialPayloadReserve bytes of ours.
size_t initial_reserve(size_t length) {
  return std::min(length, kInitialPayloadReserve);
}

// The payload capacity once `n` more bytes join `size` in `capacity`: geometric growth but
// never past the declared length, so the allocation stays within the command's limit
// (std::vector's own growth could overshoot it by up to 2x).
size_t grown_capacity(size_t capacity, size_t size, size_t n, size_t length) {
  if (size + n <= capacity) return capacity;
  return std::min(length, std::max(2 * capacity, size + n));
}

}  // namespace

SharedBytes encode_frame(uint32_t magic, const Message& m) {
  auto frame = std::make_shared<std::vector<uint8_t>>();
  // A tx frame (the common case) is sized exactly; others grow from a small start.
  const auto* tx = std::get_if<TxMsg>(&m);
  frame->reserve(kFrameHeaderSize + (tx ? tx->tx->size() : kFrameReserveGuess));
  frame->resize(kFrameHeaderSize);
  encode_payload(m, *frame);
  std::span<const uint8_t> payload(frame->data() + kFrameHeaderSize,
                                   frame->size() - kFrameHeaderSize);
  HEARSAY_CHECK(payload.size() <= max_payload(type_of(m)));
  Hash256 sum = sha256d(payload);
  // The header is written in place over the 24 bytes reserved at the front.
  uint8_t* h = frame->data();
  for (int i = 0; i < 4; ++i)
    h[i] = static_cast<uint8_t>(magic >> (8 * i));
  const char* name = command_name(type_of(m));
  std::memset(h + 4, 0, kCommandSize);
  std::copy_n(name, std::strlen(name), h + 4);  // NUL-padded by the memset
  const auto len = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i)
    h[16 + i] = static_cast<uint8_t>(len >> (8 * i));
  std::memcpy(h + 20, sum.data(), 4);
  return frame;
}

DecodeError FrameDecoder::check_header(const uint8_t* header, Header& out) const {
  Reader r(std::span<const uint8_t>(header, kFrameHeaderSize));
  uint32_t magic;
  r.u32(magic);
  if (magic != m_magic) return DecodeError::kBadMagic;
  std::span<const uint8_t> cmd;
  r.bytes(kCommandSize, cmd);
  auto type = parse_command(cmd.first<kCommandSize>());
  if (!type) return type.error();
  out.type = *type;
  r.u32(out.length);
  if (out.length > max_payload(out.type)) return DecodeError::kOversizePayload;
  return DecodeError::kNone;
}

bool FrameDecoder::parse_header() {
  Header h;
  m_error = check_header(m_header, h);
  if (m_error != DecodeError::kNone) return false;
  m_type = h.type;
  m_length = h.length;
  std::memcpy(m_checksum, m_header + kFrameHeaderSize - 4, 4);
  m_payload.clear();
  m_payload.reserve(initial_reserve(m_length));
  m_in_payload = true;
  return true;
}

size_t FrameDecoder::reserved_bytes() const {
  return (in_frame() ? kFrameHeaderSize : 0) + m_payload.capacity();
}

size_t FrameDecoder::reserved_after(std::span<const uint8_t> data) const {
  if (m_error != DecodeError::kNone || m_complete || data.empty()) return reserved_bytes();
  size_t length = m_length, size = m_payload.size(), capacity = m_payload.capacity();
  if (!m_in_payload) {
    const size_t missing = kFrameHeaderSize - m_header_len;
    if (data.size() < missing) return kFrameHeaderSize;
    uint8_t header[kFrameHeaderSize];
    std::memcpy(header, m_header, m_header_len);
    std::memcpy(header + m_header_len, data.data(), missing);
    Header h;
    if (check_header(header, h) != DecodeError::kNone) return kFrameHeaderSize;
    length = h.length;
    size = 0;
    capacity = initial_reserve(length);
    data = data.subspan(missing);
  }
  const size_t n = std::min(data.size(), length - size);
  return kFrameHeaderSize + grown_capacity(capacity, size, n, length);
}

bool FrameDecoder::received_bytes(std::span<const uint8_t>& data) {
  if (m_error != DecodeError::kNone) return false;
  HEARSAY_CHECK(!m_complete);  // the caller must take_message() first
  if (!m_in_payload) {
    size_t n = std::min(data.size(), kFrameHeaderSize - m_header_len);
    if (n == 0) return true;  // nothing to add (and memcpy must not see a null span)
    std::memcpy(m_header + m_header_len, data.data(), n);
    m_header_len += n;
    data = data.subspan(n);
    if (m_header_len < kFrameHeaderSize) return true;
    if (!parse_header()) return false;
  }
  size_t n = std::min<size_t>(data.size(), m_length - m_payload.size());
  m_payload.reserve(grown_capacity(m_payload.capacity(), m_payload.size(), n, m_length));
  m_payload.insert(m_payload.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
  data = data.subspan(n);
  if (m_payload.size() < m_length) return true;
  Hash256 sum = sha256d(m_payload);
  if (std::memcmp(sum.data(), m_checksum, 4) != 0) {
    m_error = DecodeError::kBadChecksum;
    return false;
  }
  m_complete = true;
  return true;
}

RawMessage FrameDecoder::take_message() {
  HEARSAY_CHECK(m_complete);
  RawMessage msg{m_type, std::move(m_payload), kFrameHeaderSize + m_length};
  m_payload = {};
  m_header_len = 0;
  m_in_payload = false;
  m_complete = false;
  return msg;
}

void SendQueue::push(SharedBytes frame) {
  if (frame->empty()) return;
  m_queued += frame->size();
  m_frames.push_back(std::move(frame));
}

std::span<const uint8_t> SendQueue::bytes_to_send() const {
  if (m_frames.empty()) return {};
  return std::span<const uint8_t>(*m_frames.front()).subspan(m_front_offset);
}

size_t SendQueue::buffers_to_send(std::span<std::span<const uint8_t>> out) const {
  size_t n = 0;
  for (const SharedBytes& f : m_frames) {
    if (n == out.size()) break;
    out[n] = std::span<const uint8_t>(*f).subspan(n == 0 ? m_front_offset : 0);
    ++n;
  }
  return n;
}

void SendQueue::mark_bytes_sent(size_t n) {
  HEARSAY_CHECK(n <= m_queued);
  m_queued -= n;
  while (n > 0) {
    HEARSAY_CHECK(!m_frames.empty());
    size_t left = m_frames.front()->size() - m_front_offset;
    if (n < left) {
      m_front_offset += n;
      return;
    }
    n -= left;
    m_frames.pop_front();
    m_front_offset = 0;
  }
}

}  // namespace hearsay
