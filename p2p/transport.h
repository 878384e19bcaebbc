// Transport: the framing layer, bytes in → messages out and messages in → bytes out, with no
// I/O of its own (the shape of Bitcoin Core's Transport in src/net.h). net/ feeds it what the
// socket read and writes what it hands back; tests and fuzz targets drive it directly.
//
// Frame: magic u32 | command 12 bytes NUL-padded ASCII | length u32 | checksum 4 bytes
// (the first four bytes of SHA-256d(payload)), then `length` payload bytes.
//
// Receive rules (the adversary is the peer): the header is checked — magic, command, and the
// length against that command's own limit — before a single payload byte is buffered, so a
// peer can make us hold at most max_payload(command) bytes, never more than
// kMaxMessagePayload. The payload's allocation grows with what arrives, and reserved_after()
// says how far the next bytes will grow it, so net/ can find the memory before it is taken
// (net/frame_budget.h). The checksum is verified when the payload is complete. The first error
// is final: the connection must be closed, and error() says why.
//
// Send side: a queue of whole, pre-serialised frames shared between peers (one serialisation
// of a message however many peers get it), bounded by the caller via queued_bytes().
#pragma once

#include <deque>
#include <memory>
#include <span>
#include <vector>

#include "p2p/messages.h"

namespace hearsay {

using SharedBytes = std::shared_ptr<const std::vector<uint8_t>>;

// Serialises m into one complete frame, ready to be queued on any number of peers.
SharedBytes encode_frame(uint32_t magic, const Message& m);

struct RawMessage {
  MsgType type;
  std::vector<uint8_t> payload;
  size_t wire_size;  // header + payload, for byte accounting
};

class FrameDecoder {
 public:
  explicit FrameDecoder(uint32_t magic) : m_magic(magic) {}

  // Consumes bytes from the front of `data` up to the end of the current message (so the
  // caller loops, taking each completed message). Returns false on a fatal error.
  bool received_bytes(std::span<const uint8_t>& data);
  bool message_complete() const { return m_complete; }
  // Takes the completed message and starts on the next one.
  RawMessage take_message();

  DecodeError error() const { return m_error; }
  // Bytes currently buffered for the message in progress (for memory accounting).
  size_t buffered_bytes() const { return m_header_len + m_payload.size(); }
  // Memory the message in progress holds as allocated: the header buffer once a frame has
  // begun, plus the payload's capacity, which runs ahead of what arrived (it grows
  // geometrically up to the declared length). What net/frame_budget.h charges.
  size_t reserved_bytes() const;
  // What reserved_bytes() will be once received_bytes(data) has returned: exact, so that a
  // caller can find the room before the memory is taken. A header that will be refused counts
  // as the header alone.
  size_t reserved_after(std::span<const uint8_t> data) const;
  // A frame has begun (a header byte arrived) and has not been taken.
  bool in_frame() const { return m_header_len != 0; }
  // The payload length the frame's header declares; 0 until the header is complete and valid.
  size_t declared_length() const { return m_in_payload ? m_length : 0; }

 private:
  struct Header {
    MsgType type;
    uint32_t length;
  };
  // Checks a complete header (magic, command, the length against the command's limit).
  DecodeError check_header(const uint8_t* header, Header& out) const;
  bool parse_header();

  uint32_t m_magic;
  uint8_t m_header[kFrameHeaderSize]{};
  size_t m_header_len = 0;
  MsgType m_type = MsgType::kVersion;
  uint32_t m_length = 0;
  uint8_t m_checksum[4] = {};
  std::vector<uint8_t> m_payload;
  bool m_in_payload = false;
  bool m_complete = false;
  DecodeError m_error = DecodeError::kNone;
};

// The send half: frames queued whole, written out in pieces.
class SendQueue {
 public:
  void push(SharedBytes frame);
  bool empty() const { return m_frames.empty(); }
  // The unsent rest of the front frame (empty when nothing is queued).
  std::span<const uint8_t> bytes_to_send() const;
  // Up to `max` buffers, starting with the unsent rest of the front frame (for gather writes).
  size_t buffers_to_send(std::span<std::span<const uint8_t>> out) const;
  void mark_bytes_sent(size_t n);
  // Bytes queued and not yet sent, across all frames.
  size_t queued_bytes() const { return m_queued; }

 private:
  std::deque<SharedBytes> m_frames;
  size_t m_front_offset = 0;
  size_t m_queued = 0;
};

}  // namespace hearsay
