// Fuzz target: every message payload decoder.
//
// Input: byte 0 picks the MsgType (mod kMsgTypeCount); the rest is the payload. Oracle: a
// payload that decodes re-encodes to exactly the same bytes (canonical encoding), and its
// frame can be built (the payload is within the command's limit). Nothing may crash, abort
// or leak on any input.
#include <cstdint>
#include <vector>

#include "crypto/ed25519.h"
#include "fuzz/fuzz_util.h"
#include "p2p/messages.h"
#include "p2p/transport.h"

using namespace hearsay;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  crypto_init();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  MsgType type = static_cast<MsgType>(data[0] % kMsgTypeCount);
  std::vector<uint8_t> payload(data + 1, data + size);
  auto msg = decode_payload(type, std::vector<uint8_t>(payload));
  if (!msg) {
    FUZZ_ASSERT(msg.error() != DecodeError::kNone);
    FUZZ_ASSERT(payload.size() <= max_payload(type) ||
                msg.error() == DecodeError::kOversizePayload);
    return 0;
  }
  FUZZ_ASSERT(payload.size() <= max_payload(type));
  FUZZ_ASSERT(type_of(*msg) == type);
  std::vector<uint8_t> again;
  encode_payload(*msg, again);
  FUZZ_ASSERT(fuzz::same_bytes(again, payload));
  SharedBytes frame = encode_frame(fuzz::kFuzzMagic, *msg);
  FUZZ_ASSERT(frame->size() == kFrameHeaderSize + payload.size());
  return 0;
}
