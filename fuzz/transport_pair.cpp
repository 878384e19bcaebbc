// Fuzz target: two endpoints of the p2p Transport (SendQueue on the sending side, FrameDecoder on
// the receiving side) exchange messages in both directions, the bytes cut into random fragments
// and gathered into random buffer counts, the way net/'s write loop and read loop move them.
//
// Oracle: honest endpoints never see a decode error; every frame arrives whole, in order, and
// re-encodes to exactly the bytes that were queued; byte counts in SendQueue always equal the
// bytes still owed; nothing arrives that was not sent.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <span>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "p2p/transport.h"

using namespace hearsay;

namespace {

constexpr uint32_t kMagic = 0x74736574;
constexpr size_t kMaxSteps = 2000;
constexpr size_t kMaxGather = 16;

Hash256 some_hash(hearsay::fuzz::FuzzInput& in) {
  Hash256 h{};
  for (size_t i = 0; i < h.size(); i += 8) {
    uint64_t v = in.u64();
    std::memcpy(h.data() + i, &v, 8);
  }
  return h;
}

std::vector<InvEntry> some_entries(hearsay::fuzz::FuzzInput& in) {
  std::vector<InvEntry> e(in.range(0, 300));
  for (auto& x : e) {
    x.type = (in.byte() & 1) ? InvType::kTx : InvType::kBlock;
    x.hash = some_hash(in);
  }
  return e;
}

Message some_message(hearsay::fuzz::FuzzInput& in) {
  switch (in.byte() % 10) {
    case 0: {
      VersionMsg v;
      v.protocol_version = static_cast<uint32_t>(in.u64());
      v.network_magic = kMagic;
      v.services = in.u64();
      v.time = static_cast<int64_t>(in.u64() >> 1);
      v.addr_from.port = static_cast<uint16_t>(in.u64());
      v.best_height = in.u64();
      v.user_agent.assign(in.range(0, kMaxUserAgent), 'a' + in.byte() % 26);
      return v;
    }
    case 1:
      return VerackMsg{};
    case 2:
      return PingMsg{in.u64()};
    case 3:
      return PongMsg{in.u64()};
    case 4:
      return InvMsg{some_entries(in)};
    case 5:
      return GetDataMsg{some_entries(in)};
    case 6:
      return NotFoundMsg{some_entries(in)};
    case 7:
      return GetAddrMsg{};
    case 8:
      return FeeFilterMsg{in.u64()};
    default:
      return SendCmpctMsg{(in.byte() & 1) != 0, 1};
  }
}

// One direction: frames queued at the sender, bytes in flight, frames decoded at the receiver.
struct Direction {
  SendQueue queue;
  FrameDecoder decoder{kMagic};
  std::deque<SharedBytes> expected;  // frames queued and not yet received, in order
  size_t owed = 0;                   // bytes queued and not yet handed to the decoder

  void check() const { FUZZ_ASSERT(queue.queued_bytes() == owed); }

  void queue_message(const Message& m) {
    SharedBytes frame = encode_frame(kMagic, m);
    queue.push(frame);
    expected.push_back(frame);
    owed += frame->size();
  }

  void deliver(std::span<const uint8_t> chunk) {
    while (!chunk.empty()) {
      FUZZ_ASSERT(decoder.received_bytes(chunk));
      if (!decoder.message_complete()) continue;
      RawMessage raw = decoder.take_message();
      FUZZ_ASSERT(!expected.empty());
      SharedBytes want = expected.front();
      expected.pop_front();
      FUZZ_ASSERT(raw.wire_size == want->size());
      FUZZ_ASSERT(raw.payload.size() + kFrameHeaderSize == want->size());
      FUZZ_ASSERT(
          std::equal(raw.payload.begin(), raw.payload.end(), want->begin() + kFrameHeaderSize));
      auto decoded = decode_payload(raw.type, std::move(raw.payload));
      FUZZ_ASSERT(decoded.ok());
      FUZZ_ASSERT(*encode_frame(kMagic, *decoded) == *want);
    }
  }

  // Moves up to `budget` bytes from the queue to the decoder, gathered from up to
  // `gather` buffers and cut at `cut` bytes per delivered chunk: a partial async_write.
  void transfer(size_t budget, size_t gather, size_t cut) {
    std::span<const uint8_t> bufs[kMaxGather];
    size_t n = queue.buffers_to_send(std::span(bufs, gather));
    size_t sent = 0;
    for (size_t i = 0; i < n && sent < budget; ++i) {
      std::span<const uint8_t> b = bufs[i].first(std::min(bufs[i].size(), budget - sent));
      sent += b.size();
      while (!b.empty()) {
        size_t k = std::min(b.size(), cut);
        deliver(b.first(k));
        b = b.subspan(k);
      }
    }
    queue.mark_bytes_sent(sent);
    owed -= sent;
    check();
  }

  void drain() {
    while (!queue.empty())
      transfer(SIZE_MAX, kMaxGather, SIZE_MAX);
    FUZZ_ASSERT(expected.empty());
    FUZZ_ASSERT(!decoder.message_complete());
    FUZZ_ASSERT(decoder.buffered_bytes() == 0);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hearsay::fuzz::FuzzInput in(data, size);
  Direction dir[2];  // dir[0]: A → B, dir[1]: B → A
  for (size_t step = 0; step < kMaxSteps && !in.empty(); ++step) {
    uint8_t op = in.byte();
    Direction& d = dir[op & 1];
    switch ((op >> 1) % 4) {
      case 0:
      case 1:
        d.queue_message(some_message(in));
        break;
      case 2:
        // A small write: a few bytes, fragmented byte by byte or in small pieces.
        d.transfer(in.range(0, 64), 1 + in.byte() % kMaxGather, 1 + in.byte() % 8);
        break;
      default:
        // A large gather write, delivered in reads of random size.
        d.transfer(in.range(0, 65535) * 4, 1 + in.byte() % kMaxGather, 1 + in.range(0, 16384));
        break;
    }
    d.check();
  }
  dir[0].drain();
  dir[1].drain();
  return 0;
}
