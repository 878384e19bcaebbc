#include "p2p/transport.h"

#include <algorithm>
#include <cstring>

namespace hearsay {

namespace {
constexpr size_t kInitialPayloadReserve = 256 * 1024;
// Payload bytes reserved up front when a message's size is not known before encoding.
constexpr size_t kFrameReserveGuess = 256;
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

bool FrameDecoder::parse_header() {
  Reader r(m_header);
  uint32_t magic;
  r.u32(magic);
  if (magic != m_magic) {
    m_error = DecodeError::kBadMagic;
    return false;
  }
  std::span<const uint8_t> cmd;
  r.bytes(kCommandSize, cmd);
  auto type = parse_command(cmd.first<kCommandSize>());
  if (!type) {
    m_error = type.error();
    return false;
  }
  m_type = *type;
  r.u32(m_length);
  std::span<const uint8_t> sum;
  r.bytes(4, sum);
  std::memcpy(m_checksum, sum.data(), 4);
  if (m_length > max_payload(m_type)) {
    m_error = DecodeError::kOversizePayload;
    return false;
  }
  m_payload.clear();
  // Grow with what actually arrives: a peer that announces 4 MB and sends nothing holds
  // at most kInitialPayloadReserve bytes of ours.
  m_payload.reserve(std::min<size_t>(m_length, kInitialPayloadReserve));
  m_in_payload = true;
  return true;
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
  if (m_payload.size() + n > m_payload.capacity()) {
    // Grow geometrically but never past the announced length, so the allocation stays within
    // the command's limit (std::vector's own growth could overshoot it by up to 2x).
    m_payload.reserve(
        std::min<size_t>(m_length, std::max(2 * m_payload.capacity(), m_payload.size() + n)));
  }
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
