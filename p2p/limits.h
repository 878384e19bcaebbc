// Every size limit of the wire format, with its unit and reason. Related limits are tied
// together with static_assert so that changing one cannot silently break another.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hearsay {

// --- items ---------------------------------------------------------------------------------
// Opaque transaction payload, bytes. Large enough for any test payload; small enough that a
// tx always fits one tx message with room to spare.
inline constexpr size_t kMaxTxPayload = 64 * 1024;
// Transaction fixed part: network 4 + sender 32 + nonce 8 + fee 8 + expiry 8, then the
// payload (CompactSize length + bytes), then the 64-byte signature.
inline constexpr size_t kTxFixedPrefix = 4 + 32 + 8 + 8 + 8;
inline constexpr size_t kTxSignatureSize = 64;
inline constexpr size_t kMinTxSize = kTxFixedPrefix + 1 + kTxSignatureSize;
inline constexpr size_t kMaxTxSize = kTxFixedPrefix + 5 + kMaxTxPayload + kTxSignatureSize;
// Expiry values below this are block heights, at or above it unix times (Bitcoin's nLockTime
// convention). Zero means "never expires".
inline constexpr uint64_t kExpiryTimeThreshold = 500'000'000;

// Block header: network 4 + prev 32 + height 8 + time 8 + merkle 32 + producer 32 + sig 64.
inline constexpr size_t kBlockHeaderSize = 4 + 32 + 8 + 8 + 32 + 32 + 64;
// Largest block, bytes (as Bitcoin's MAX_PROTOCOL_MESSAGE_LENGTH).
inline constexpr size_t kMaxBlockSize = 4 * 1000 * 1000;
// Most transactions a block can hold given the smallest possible transaction.
inline constexpr size_t kMaxBlockTxs = (kMaxBlockSize - kBlockHeaderSize) / kMinTxSize;

// --- messages ------------------------------------------------------------------------------
inline constexpr size_t kFrameHeaderSize = 24;  // magic 4 + command 12 + length 4 + checksum 4
inline constexpr size_t kCommandSize = 12;
inline constexpr size_t kMaxUserAgent = 256;      // as Bitcoin's MAX_SUBVERSION_LENGTH
inline constexpr size_t kMaxInvEntries = 50'000;  // as Bitcoin's MAX_INV_SZ
inline constexpr size_t kInvEntrySize = 4 + 32;
inline constexpr size_t kMaxLocatorHashes = 101;     // as Bitcoin's MAX_LOCATOR_SZ
inline constexpr size_t kMaxHeadersResults = 2'000;  // as Bitcoin's MAX_HEADERS_RESULTS
inline constexpr size_t kMaxAddrRecords = 1'000;     // as Bitcoin's MAX_ADDR_TO_SEND
inline constexpr size_t kPeerRecordSize = 32 + 16 + 2 + 8 + 64;
inline constexpr size_t kShortIdSize = 6;  // BIP152 short transaction ids
// Short-id entries per txinv / gettx / txnotfound (as inv's).
inline constexpr size_t kMaxShortIdEntries = kMaxInvEntries;
inline constexpr uint8_t kShortIdsVersion = 1;  // sendshortids version this node speaks
// Tree relay: origins per prune / graft (a node sends one per event, for the origins of that
// event), and the 4-byte origin tag a treetx carries after its transaction.
inline constexpr size_t kMaxTreeOriginEntries = 1'000;
inline constexpr size_t kTreeOriginSize = 4;
// Set reconciliation (reqrecon / recondiff): a sketch's capacity (differences it decodes; 4 bytes
// each), the elements a recondiff asks for (at most what one sketch decodes), and how finely a
// set may be partitioned (2^16 parts: a part of a 65,536-transaction set holds about one).
inline constexpr size_t kMaxReconCapacity = 256;
inline constexpr size_t kReconElementSize = 4;
inline constexpr uint8_t kMaxReconBits = 16;

inline constexpr size_t kMaxVersionPayload = 4 + 4 + 8 + 8 + 16 + 2 + 8 + 3 + kMaxUserAgent;
inline constexpr size_t kMaxInvPayload = 5 + kMaxInvEntries * kInvEntrySize;
inline constexpr size_t kMaxTxMessage = 100 * 1024;
inline constexpr size_t kMaxGetHeadersPayload = 5 + kMaxLocatorHashes * 32 + 32;
inline constexpr size_t kMaxHeadersPayload = 5 + kMaxHeadersResults * kBlockHeaderSize;
inline constexpr size_t kMaxBlockMessage = kMaxBlockSize;
inline constexpr size_t kMaxGetBlockTxnPayload = 32 + 5 + kMaxBlockTxs * 3;
inline constexpr size_t kMaxAddrPayload = 5 + kMaxAddrRecords * kPeerRecordSize;
inline constexpr size_t kSendShortIdsPayload = 1 + 8 + 8;
inline constexpr size_t kMaxShortIdListPayload = 5 + kMaxShortIdEntries * kShortIdSize;
inline constexpr size_t kMaxTreeTxMessage = kMaxTxMessage + kTreeOriginSize;
inline constexpr size_t kMaxTreeOriginListPayload = 3 + kMaxTreeOriginEntries * kTreeOriginSize;
// round 4 + bits 1 + index 4 + set size 4, then CompactSize and the elements or the sketch.
inline constexpr size_t kReconHeaderSize = 4 + 1 + 4 + 4;
inline constexpr size_t kMaxReqReconPayload =
    kReconHeaderSize + 3 + kMaxReconCapacity * kReconElementSize;
inline constexpr size_t kMaxReconDiffPayload =
    kReconHeaderSize + 1 + 3 + kMaxReconCapacity * kReconElementSize;
// No message of any kind is larger than this; the frame decoder never buffers more.
inline constexpr size_t kMaxMessagePayload = kMaxBlockSize;

static_assert(kMaxTxSize <= kMaxTxMessage, "a maximal transaction must fit one tx message");
static_assert(kMaxInvPayload <= kMaxMessagePayload);
static_assert(kMaxHeadersPayload <= kMaxMessagePayload);
static_assert(kMaxBlockTxs < 0xffff, "getblocktxn indexes are at most 3-byte CompactSizes");
static_assert(kMaxTxSize + kBlockHeaderSize + 5 <= kMaxBlockSize, "a block can hold any tx");

}  // namespace hearsay
