// Framing: encode_frame layout, the streaming FrameDecoder under every way of splitting its
// input, each kind of bad header or payload with its own error, the guarantee that an
// oversize length is refused before any payload byte is buffered, and the SendQueue.
#include "p2p/transport.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "testing/samples.h"
#include "testing/test_util.h"

namespace hearsay {
namespace {

constexpr uint32_t kMagic = 0x68727364;

using test::payload_of;
using test::sample_messages;

std::vector<uint8_t> frame_of(const Message& m, uint32_t magic = kMagic) {
  return *encode_frame(magic, m);
}

// Hand-built header for arbitrary (possibly bad) values.
std::vector<uint8_t> header(uint32_t magic, std::string_view command, uint32_t length,
                            std::array<uint8_t, 4> checksum = {}) {
  std::vector<uint8_t> h;
  std::array<uint8_t, kCommandSize> cmd{};
  std::memcpy(cmd.data(), command.data(), std::min(command.size(), kCommandSize));
  Writer(h).u32(magic).bytes(cmd).u32(length).bytes(checksum);
  return h;
}

struct Fed {
  std::vector<RawMessage> messages;
  bool ok = true;
  DecodeError error = DecodeError::kNone;
  size_t max_buffered = 0;
};

// Feeds `data` to `d` in the given chunk sizes (cycled), collecting every complete message.
Fed feed(FrameDecoder& d, std::span<const uint8_t> data, const std::vector<size_t>& chunks) {
  Fed out;
  size_t i = 0, pos = 0;
  while (pos < data.size() && out.ok) {
    size_t n = std::min(chunks[i++ % chunks.size()], data.size() - pos);
    std::span<const uint8_t> piece = data.subspan(pos, n);
    pos += n;
    while (out.ok) {
      out.ok = d.received_bytes(piece);
      out.max_buffered = std::max(out.max_buffered, d.buffered_bytes());
      if (d.message_complete()) out.messages.push_back(d.take_message());
      if (piece.empty()) break;
    }
  }
  out.error = d.error();
  return out;
}

Fed feed_all(std::span<const uint8_t> data, std::vector<size_t> chunks = {1 << 30}) {
  FrameDecoder d(kMagic);
  return feed(d, data, chunks);
}

TEST(Frame, HeaderLayout) {
  auto f = frame_of(PingMsg{0x0123456789abcdefULL});
  ASSERT_EQ(f.size(), kFrameHeaderSize + 8);
  EXPECT_EQ(std::vector<uint8_t>(f.begin(), f.begin() + 4),
            (std::vector<uint8_t>{0x64, 0x73, 0x72, 0x68}));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(f.data() + 4), 12),
            std::string("ping\0\0\0\0\0\0\0\0", 12));
  EXPECT_EQ(f[16], 8);
  EXPECT_EQ(f[17] | f[18] | f[19], 0);
  Hash256 sum = sha256d(std::span<const uint8_t>(f).subspan(kFrameHeaderSize));
  EXPECT_TRUE(std::equal(f.begin() + 20, f.begin() + 24, sum.begin()));
  // Empty payload: checksum of nothing, 5df6e0e2 as in Bitcoin.
  auto v = frame_of(VerackMsg{});
  ASSERT_EQ(v.size(), kFrameHeaderSize);
  EXPECT_EQ(std::vector<uint8_t>(v.begin() + 20, v.end()),
            (std::vector<uint8_t>{0x5d, 0xf6, 0xe0, 0xe2}));
}

TEST(Frame, EveryMessageDecodesWhole) {
  for (const Message& m : sample_messages()) {
    auto f = frame_of(m);
    Fed r = feed_all(f);
    ASSERT_TRUE(r.ok) << command_name(type_of(m)) << ": " << to_string(r.error);
    ASSERT_EQ(r.messages.size(), 1u);
    EXPECT_EQ(r.messages[0].type, type_of(m));
    EXPECT_EQ(r.messages[0].payload, payload_of(m));
    EXPECT_EQ(r.messages[0].wire_size, f.size());
    auto dec = decode_payload(r.messages[0].type, std::move(r.messages[0].payload));
    ASSERT_TRUE(dec);
    EXPECT_EQ(*encode_frame(kMagic, *dec), f);
  }
}

TEST(Frame, OneByteChunks) {
  for (const Message& m : sample_messages()) {
    auto f = frame_of(m);
    Fed r = feed_all(f, {1});
    ASSERT_TRUE(r.ok) << command_name(type_of(m));
    ASSERT_EQ(r.messages.size(), 1u);
    EXPECT_EQ(r.messages[0].payload, payload_of(m));
    EXPECT_LE(r.max_buffered, f.size());
  }
}

TEST(Frame, EverySplitPointOfAFrame) {
  auto f = frame_of(std::get<InvMsg>(sample_messages()[4]));
  for (size_t cut = 0; cut <= f.size(); ++cut) {
    FrameDecoder d(kMagic);
    std::span<const uint8_t> a = std::span<const uint8_t>(f).first(cut);
    std::span<const uint8_t> b = std::span<const uint8_t>(f).subspan(cut);
    ASSERT_TRUE(d.received_bytes(a));
    EXPECT_TRUE(a.empty());
    EXPECT_EQ(d.message_complete(), cut == f.size());
    if (!d.message_complete()) {
      ASSERT_TRUE(d.received_bytes(b));
      EXPECT_TRUE(b.empty());
    }
    ASSERT_TRUE(d.message_complete()) << cut;
    EXPECT_EQ(d.take_message().type, MsgType::kInv);
  }
}

TEST(Frame, AllMessagesInOneBufferAndRandomChunks) {
  std::vector<uint8_t> stream;
  auto msgs = sample_messages();
  for (int round = 0; round < 2; ++round)
    for (const Message& m : msgs) {
      auto f = frame_of(m);
      stream.insert(stream.end(), f.begin(), f.end());
    }
  std::mt19937_64 rng(12345);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<size_t> chunks;
    for (int i = 0; i < 64; ++i)
      chunks.push_back(1 + rng() % (trial < 25 ? 40 : 3000));
    Fed r = feed_all(stream, chunks);
    ASSERT_TRUE(r.ok) << trial << ": " << to_string(r.error);
    ASSERT_EQ(r.messages.size(), 2 * msgs.size());
    for (size_t i = 0; i < r.messages.size(); ++i) {
      const Message& m = msgs[i % msgs.size()];
      EXPECT_EQ(r.messages[i].type, type_of(m));
      EXPECT_EQ(r.messages[i].payload, payload_of(m));
    }
  }
  // Whole stream at once: the decoder stops at each message boundary.
  Fed r = feed_all(stream);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.messages.size(), 2 * msgs.size());
}

TEST(Frame, EmptyInputIsHarmless) {
  FrameDecoder d(kMagic);
  std::span<const uint8_t> none;
  EXPECT_TRUE(d.received_bytes(none));
  EXPECT_FALSE(d.message_complete());
  EXPECT_EQ(d.buffered_bytes(), 0u);
}

TEST(Frame, BadMagic) {
  auto f = frame_of(PingMsg{1}, kMagic ^ 1);
  for (size_t chunk : {size_t{1}, f.size()}) {
    Fed r = feed_all(f, {chunk});
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, DecodeError::kBadMagic);
    EXPECT_TRUE(r.messages.empty());
    EXPECT_LE(r.max_buffered, kFrameHeaderSize);
  }
}

TEST(Frame, GarbageCommand) {
  for (std::string_view cmd : {std::string_view(""), std::string_view("pi ng"),
                               std::string_view("ping\0x", 6), std::string_view("\x01\x02")}) {
    auto h = header(kMagic, cmd, 0);
    Fed r = feed_all(h);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, DecodeError::kBadCommand) << cmd;
  }
}

TEST(Frame, WellFormedUnknownCommand) {
  auto h = header(kMagic, "mempool", 0);
  Fed r = feed_all(h);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, DecodeError::kUnknownCommand);
}

TEST(Frame, OversizeLengthIsRefusedBeforeAnyPayloadByte) {
  for (size_t i = 0; i < kMsgTypeCount; ++i) {
    MsgType t = static_cast<MsgType>(i);
    // The exact limit is accepted (the decoder waits for the payload)...
    if (max_payload(t) > 0) {
      FrameDecoder ok(kMagic);
      auto h = header(kMagic, command_name(t), static_cast<uint32_t>(max_payload(t)));
      std::span<const uint8_t> s(h);
      EXPECT_TRUE(ok.received_bytes(s)) << command_name(t);
      EXPECT_FALSE(ok.message_complete());
    }
    // ...one byte more is refused on the header alone.
    FrameDecoder d(kMagic);
    auto bad = header(kMagic, command_name(t), static_cast<uint32_t>(max_payload(t) + 1));
    bad.resize(bad.size() + 100, 0xee);  // payload bytes that must never be buffered
    Fed r = feed(d, bad, {1});
    EXPECT_FALSE(r.ok) << command_name(t);
    EXPECT_EQ(r.error, DecodeError::kOversizePayload) << command_name(t);
    EXPECT_LE(r.max_buffered, kFrameHeaderSize);
    EXPECT_LE(d.buffered_bytes(), kFrameHeaderSize);
  }
  // The largest length a header can express.
  auto h = header(kMagic, "block", 0xffffffff);
  Fed r = feed_all(h);
  EXPECT_EQ(r.error, DecodeError::kOversizePayload);
  EXPECT_LE(r.max_buffered, kFrameHeaderSize);
}

TEST(Frame, LargePayloadAllocatesNoMoreThanItsLength) {
  // A full-size block frame fed in odd chunks: the buffer never outgrows the announced length.
  size_t len = kMaxBlockMessage;
  std::vector<uint8_t> payload(len, 0x42);
  Hash256 sum = sha256d(payload);
  auto f = header(kMagic, "block", static_cast<uint32_t>(len), {sum[0], sum[1], sum[2], sum[3]});
  f.insert(f.end(), payload.begin(), payload.end());
  FrameDecoder d(kMagic);
  Fed r = feed(d, f, {65'537, 1, 300'000});
  ASSERT_TRUE(r.ok) << to_string(r.error);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].payload.size(), len);
  EXPECT_LE(r.messages[0].payload.capacity(), len);
  EXPECT_LE(r.max_buffered, kFrameHeaderSize + len);
}

TEST(Frame, BadChecksum) {
  auto f = frame_of(std::get<TxMsg>(sample_messages()[7]));
  for (size_t at : {size_t{20}, size_t{23}, kFrameHeaderSize, f.size() - 1}) {
    auto bad = f;
    bad[at] ^= 0x01;
    for (size_t chunk : {size_t{1}, size_t{7}, bad.size()}) {
      Fed r = feed_all(bad, {chunk});
      EXPECT_FALSE(r.ok);
      EXPECT_EQ(r.error, DecodeError::kBadChecksum) << at;
      EXPECT_TRUE(r.messages.empty());
    }
  }
}

TEST(Frame, TruncatedFrameIsJustIncomplete) {
  auto f = frame_of(PingMsg{7});
  for (size_t len = 0; len < f.size(); ++len) {
    Fed r = feed_all(std::span<const uint8_t>(f).first(len));
    EXPECT_TRUE(r.ok);
    EXPECT_TRUE(r.messages.empty());
  }
}

TEST(Frame, ErrorIsSticky) {
  FrameDecoder d(kMagic);
  auto bad = frame_of(PingMsg{1}, 0xdeadbeef);
  std::span<const uint8_t> s(bad);
  EXPECT_FALSE(d.received_bytes(s));
  EXPECT_EQ(d.error(), DecodeError::kBadMagic);
  auto good = frame_of(PingMsg{1});
  std::span<const uint8_t> g(good);
  EXPECT_FALSE(d.received_bytes(g));
  EXPECT_FALSE(d.message_complete());
  EXPECT_EQ(d.error(), DecodeError::kBadMagic);
}

TEST(Frame, ErrorAfterGoodMessagesKeepsThem) {
  auto a = frame_of(PingMsg{1});
  auto b = frame_of(PongMsg{2});
  auto h = header(kMagic, "nonsense", 0);
  std::vector<uint8_t> stream = a;
  stream.insert(stream.end(), b.begin(), b.end());
  stream.insert(stream.end(), h.begin(), h.end());
  Fed r = feed_all(stream, {5});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, DecodeError::kUnknownCommand);
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[1].type, MsgType::kPong);
}

TEST(Frame, ValidFrameWithInvalidPayloadIsAPayloadError) {
  // The frame layer only checks framing; the payload decoder then names the cause.
  std::vector<uint8_t> payload{2, 0, 0, 0, 0, 0, 0, 0, 0};  // sendcmpct flag 2
  Hash256 sum = sha256d(payload);
  auto f = header(kMagic, "sendcmpct", 9, {sum[0], sum[1], sum[2], sum[3]});
  f.insert(f.end(), payload.begin(), payload.end());
  Fed r = feed_all(f);
  ASSERT_TRUE(r.ok);
  ASSERT_EQ(r.messages.size(), 1u);
  auto dec = decode_payload(r.messages[0].type, std::move(r.messages[0].payload));
  ASSERT_FALSE(dec);
  EXPECT_EQ(dec.error(), DecodeError::kBadValue);
}

TEST(SendQueue, PartialSends) {
  SendQueue q;
  EXPECT_TRUE(q.empty());
  EXPECT_TRUE(q.bytes_to_send().empty());
  auto a = encode_frame(kMagic, PingMsg{1});
  auto b = encode_frame(kMagic, PongMsg{2});
  q.push(a);
  q.push(b);
  EXPECT_EQ(q.queued_bytes(), a->size() + b->size());
  std::vector<uint8_t> sent;
  size_t step = 5;
  while (!q.empty()) {
    auto s = q.bytes_to_send();
    ASSERT_FALSE(s.empty());
    size_t n = std::min(step, s.size());
    sent.insert(sent.end(), s.begin(), s.begin() + n);
    size_t before = q.queued_bytes();
    q.mark_bytes_sent(n);
    EXPECT_EQ(q.queued_bytes(), before - n);
  }
  std::vector<uint8_t> want = *a;
  want.insert(want.end(), b->begin(), b->end());
  EXPECT_EQ(sent, want);
  EXPECT_EQ(q.queued_bytes(), 0u);
}

TEST(SendQueue, GatherBuffersAndSendsAcrossFrames) {
  SendQueue q;
  std::vector<SharedBytes> frames;
  for (uint64_t i = 0; i < 4; ++i) {
    frames.push_back(encode_frame(kMagic, PingMsg{i}));
    q.push(frames.back());
  }
  q.push(std::make_shared<const std::vector<uint8_t>>());  // empty frames are ignored
  std::array<std::span<const uint8_t>, 3> bufs;
  EXPECT_EQ(q.buffers_to_send(bufs), 3u);
  EXPECT_EQ(bufs[0].data(), frames[0]->data());  // shared, not copied
  q.mark_bytes_sent(frames[0]->size() + 10);     // one whole frame and part of the next
  EXPECT_EQ(q.buffers_to_send(bufs), 3u);
  EXPECT_EQ(bufs[0].size(), frames[1]->size() - 10);
  EXPECT_EQ(bufs[0].data(), frames[1]->data() + 10);
  EXPECT_EQ(bufs[1].data(), frames[2]->data());
  EXPECT_EQ(bufs[2].data(), frames[3]->data());
  EXPECT_EQ(q.queued_bytes(), 3 * frames[0]->size() - 10);
  q.mark_bytes_sent(q.queued_bytes());
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.buffers_to_send(bufs), 0u);
}

TEST(SendQueue, OneFrameSharedByManyQueues) {
  auto f = encode_frame(kMagic, std::get<TxMsg>(sample_messages()[7]));
  SendQueue q1, q2;
  q1.push(f);
  q2.push(f);
  EXPECT_EQ(q1.bytes_to_send().data(), q2.bytes_to_send().data());
  q1.mark_bytes_sent(f->size());
  EXPECT_TRUE(q1.empty());
  EXPECT_EQ(q2.bytes_to_send().size(), f->size());
}

}  // namespace
}  // namespace hearsay
