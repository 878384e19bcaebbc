// Fuzz target: the streaming frame decoder, fed arbitrarily fragmented input.
//
// Input: byte 0 = f·128 + s. s chooses the fragmentation (0: everything at once; s > 0:
// chunks of 1..4·s bytes from a small generator seeded by s). The rest is the byte stream
// from a peer, with the devnet magic. If f is set, the target first rewrites the checksum of
// every frame it can delimit in the stream to the correct one, so that mutated payloads get
// past the checksum and reach the payload decoders through the framing. Oracles:
//  - the decoder never buffers more than the header plus the limit of the command named in
//    the header it accepted (and never more than kMaxMessagePayload + header);
//  - every completed frame's payload is decoded, and a decoded message re-encodes with
//    encode_frame to exactly the bytes the frame arrived as;
//  - reserved_after(piece) predicts exactly what reserved_bytes() is once the piece went in;
//  - an error is sticky: after it the decoder accepts nothing.
#include <cstdint>
#include <vector>

#include "crypto/ed25519.h"
#include "fuzz/fuzz_util.h"
#include "p2p/transport.h"

using namespace hearsay;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  crypto_init();
  return 0;
}

namespace {

class Chunker {
 public:
  explicit Chunker(uint8_t s) : m_s(s), m_x(s) {}
  size_t next(size_t left) {
    if (m_s == 0) return left;
    m_x = m_x * 1103515245u + 12345u;
    return std::min<size_t>(left, 1 + (m_x >> 16) % (4u * m_s));
  }

 private:
  uint32_t m_s;
  uint32_t m_x;
};

// The limit the decoder must respect for the frame starting at `frame` (whose header it has
// accepted, since it is buffering payload).
size_t limit_for(std::span<const uint8_t> frame) {
  FUZZ_ASSERT(frame.size() >= kFrameHeaderSize);
  auto type = parse_command(frame.subspan(4).first<kCommandSize>());
  FUZZ_ASSERT(type.ok());
  return kFrameHeaderSize + max_payload(*type);
}

// Walks `stream` frame by frame (by the length fields) and writes each complete frame's
// correct checksum into its header.
void fix_checksums(std::vector<uint8_t>& stream) {
  size_t pos = 0;
  while (stream.size() - pos >= kFrameHeaderSize) {
    Reader r(std::span<const uint8_t>(stream).subspan(pos + 16, 4));
    uint32_t len = 0;
    r.u32(len);
    if (stream.size() - pos - kFrameHeaderSize < len) break;
    Hash256 sum = sha256d(std::span<const uint8_t>(stream).subspan(pos + kFrameHeaderSize, len));
    std::copy(sum.begin(), sum.begin() + 4, stream.begin() + pos + 20);
    pos += kFrameHeaderSize + len;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Chunker chunker(data[0] & 0x7f);
  std::vector<uint8_t> bytes(data + 1, data + size);
  if (data[0] & 0x80) fix_checksums(bytes);
  std::span<const uint8_t> stream(bytes);
  FrameDecoder d(fuzz::kFuzzMagic);
  size_t pos = 0;          // bytes of `stream` handed to the decoder and consumed
  size_t frame_start = 0;  // where the frame in progress began
  while (pos < stream.size()) {
    size_t n = chunker.next(stream.size() - pos);
    std::span<const uint8_t> piece = stream.subspan(pos, n);
    while (true) {
      size_t before = piece.size();
      const size_t predicted = d.reserved_after(piece);
      bool ok = d.received_bytes(piece);
      pos += before - piece.size();
      // The memory budget charges the prediction before the bytes go in (net/frame_budget.h).
      FUZZ_ASSERT(d.reserved_bytes() == predicted);
      if (!ok) {
        FUZZ_ASSERT(d.error() != DecodeError::kNone);
        if (d.error() == DecodeError::kBadChecksum) {
          // The whole payload arrived, within the command's limit.
          FUZZ_ASSERT(d.buffered_bytes() <= limit_for(stream.subspan(frame_start)));
        } else {
          // Refused on the header, before a single payload byte was buffered.
          FUZZ_ASSERT(d.buffered_bytes() <= kFrameHeaderSize);
        }
        std::span<const uint8_t> more = stream.subspan(pos);
        FUZZ_ASSERT(!d.received_bytes(more));
        FUZZ_ASSERT(!d.message_complete());
        return 0;
      }
      FUZZ_ASSERT(d.buffered_bytes() <= kFrameHeaderSize + kMaxMessagePayload);
      if (d.buffered_bytes() > kFrameHeaderSize)
        FUZZ_ASSERT(d.buffered_bytes() <= limit_for(stream.subspan(frame_start)));
      if (d.message_complete()) {
        RawMessage raw = d.take_message();
        std::span<const uint8_t> wire = stream.subspan(frame_start, pos - frame_start);
        FUZZ_ASSERT(raw.wire_size == wire.size());
        FUZZ_ASSERT(raw.payload.size() + kFrameHeaderSize == wire.size());
        FUZZ_ASSERT(raw.payload.size() <= max_payload(raw.type));
        frame_start = pos;
        auto msg = decode_payload(raw.type, std::move(raw.payload));
        if (msg) {
          SharedBytes again = encode_frame(fuzz::kFuzzMagic, *msg);
          FUZZ_ASSERT(fuzz::same_bytes(*again, wire));
        }
      }
      if (piece.empty()) break;
    }
  }
  return 0;
}
