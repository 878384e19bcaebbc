// Every message of the hearsay protocol and its payload codec (normative text:
// docs/protocol.md). Decoders bound every count and length by the named limits in
// p2p/limits.h before allocating, refuse non-canonical integers and trailing bytes, and
// return a DecodeError naming the cause; they never throw and never abort on peer input.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "p2p/block.h"

namespace hearsay {

// IPv6 address (IPv4 as ::ffff:a.b.c.d) and port, as 16 + 2 bytes on the wire.
struct NetAddress {
  std::array<uint8_t, 16> ip{};
  uint16_t port = 0;
  bool operator==(const NetAddress&) const = default;
};

// A node's signed statement "identity X listens at address A", gossiped by `addr`.
// Signed by the identity key over TaggedHash("hearsay/peer-record", every byte before sig).
struct PeerRecord {
  PublicKey identity{};
  NetAddress address;
  uint64_t time = 0;  // unix seconds when signed
  Signature signature{};

  Hash256 sighash() const;
  void sign(const KeyPair& key);  // sets identity and signature
  bool verify_signature() const;
  bool operator==(const PeerRecord&) const = default;
};

struct VersionMsg {
  uint32_t protocol_version = 0;
  uint32_t network_magic = 0;
  uint64_t services = 0;
  int64_t time = 0;      // sender's unix time, seconds
  NetAddress addr_from;  // where the sender listens (port 0: not listening)
  uint64_t best_height = 0;
  std::string user_agent;  // ≤ kMaxUserAgent printable ASCII bytes
  bool operator==(const VersionMsg&) const = default;
};
struct VerackMsg {
  bool operator==(const VerackMsg&) const = default;
};
struct PingMsg {
  uint64_t nonce = 0;
  bool operator==(const PingMsg&) const = default;
};
struct PongMsg {
  uint64_t nonce = 0;
  bool operator==(const PongMsg&) const = default;
};
struct InvMsg {
  std::vector<InvEntry> entries;
  bool operator==(const InvMsg&) const = default;
};
struct GetDataMsg {
  std::vector<InvEntry> entries;
  bool operator==(const GetDataMsg&) const = default;
};
struct NotFoundMsg {
  std::vector<InvEntry> entries;
  bool operator==(const NotFoundMsg&) const = default;
};
struct TxMsg {
  TxRef tx;
};
struct GetHeadersMsg {
  std::vector<BlockId> locator;  // newest first, ≤ kMaxLocatorHashes
  BlockId stop{};                // zero: as many as allowed
  bool operator==(const GetHeadersMsg&) const = default;
};
struct HeadersMsg {
  std::vector<BlockHeader> headers;  // ≤ kMaxHeadersResults
  bool operator==(const HeadersMsg&) const = default;
};
struct BlockMsg {
  BlockRef block;
};
struct SendCmpctMsg {
  bool high_bandwidth = false;
  uint64_t version = 1;
  bool operator==(const SendCmpctMsg&) const = default;
};
// A transaction sent whole inside a compact block. `index` is its absolute position in the
// block; the wire carries differences (BIP152).
struct PrefilledTx {
  uint32_t index = 0;
  TxRef tx;
};
struct CmpctBlockMsg {
  BlockHeader header;
  uint64_t nonce = 0;                  // keys the short ids together with the header
  std::vector<uint64_t> short_ids;     // 48-bit values, 6 bytes each on the wire
  std::vector<PrefilledTx> prefilled;  // strictly increasing indexes
};
struct GetBlockTxnMsg {
  BlockId block_id{};
  std::vector<uint32_t> indexes;  // absolute, strictly increasing; differences on the wire
  bool operator==(const GetBlockTxnMsg&) const = default;
};
struct BlockTxnMsg {
  BlockId block_id{};
  std::vector<TxRef> txs;
};
struct AddrMsg {
  std::vector<PeerRecord> records;  // ≤ kMaxAddrRecords
  bool operator==(const AddrMsg&) const = default;
};
struct GetAddrMsg {
  bool operator==(const GetAddrMsg&) const = default;
};
struct FeeFilterMsg {
  uint64_t fee_rate = 0;  // per 1,000 bytes
  bool operator==(const FeeFilterMsg&) const = default;
};
// BIP130: the sender prefers new blocks announced with `headers` rather than `inv`. Empty.
struct SendHeadersMsg {
  bool operator==(const SendHeadersMsg&) const = default;
};

// Short transaction ids (sent only between peers that both set kServiceShortIds, after each
// side's `sendshortids`). `nonce` is fresh per connection; with the peer's it keys the link's
// half of every short id. `bucket_salt` is the sender's own, the same on all its connections:
// it keys the bucket half of the ids its peers send it (see tx_short_id).
struct SendShortIdsMsg {
  uint8_t version = kShortIdsVersion;
  uint64_t nonce = 0;
  uint64_t bucket_salt = 0;
  bool operator==(const SendShortIdsMsg&) const = default;
};
// Announcements, requests and misses of transactions by 48-bit short id (6 bytes each on the
// wire, no per-entry type: every entry is a transaction).
struct TxInvMsg {
  std::vector<uint64_t> ids;
  bool operator==(const TxInvMsg&) const = default;
};
struct GetTxMsg {
  std::vector<uint64_t> ids;
  bool operator==(const GetTxMsg&) const = default;
};
struct TxNotFoundMsg {
  std::vector<uint64_t> ids;
  bool operator==(const TxNotFoundMsg&) const = default;
};

// Tree relay (sent only between peers that both set kServiceTree; p2p/tx_relay.h). A treetx is a
// transaction pushed down the origin's tree, or sent in answer to a request, with the tag of the
// node where it entered the network (its tree). A prune asks the peer to stop pushing the
// transactions of these origins (announce them instead); a graft asks it to push them again.
struct TreeTxMsg {
  TxRef tx;
  uint32_t origin = 0;
};
struct PruneMsg {
  std::vector<uint32_t> origins;
  bool operator==(const PruneMsg&) const = default;
};
struct GraftMsg {
  std::vector<uint32_t> origins;
  bool operator==(const GraftMsg&) const = default;
};

// Set reconciliation (sent only between peers that both set kServiceRecon, on a link whose short
// ids are on; p2p/tx_relay.h, docs/protocol.md "Set reconciliation"). The side that dialled asks:
// reqrecon carries its sketch of one part of its set (the elements whose top `bits` bits equal
// `index`; bits 0: the whole set), its size, and the round it belongs to. recondiff answers it.
struct ReqReconMsg {
  uint32_t round = 0;
  uint8_t bits = 0;    // ≤ kMaxReconBits
  uint32_t index = 0;  // < 2^bits
  uint32_t set_size = 0;
  std::vector<uint8_t> sketch;  // 4 × capacity bytes, 1 ≤ capacity ≤ kMaxReconCapacity
  bool operator==(const ReqReconMsg&) const = default;
};
enum class ReconResult : uint8_t {
  kDecoded = 0,  // `ask`: the asker's elements we lack; we announce those it lacks
  kFailed = 1,   // more differences than the sketch holds: ask again in smaller parts
  kRefused = 2,  // over our work budget for the peer: ask again next round
};
inline constexpr uint8_t kMaxReconResult = 2;
struct ReconDiffMsg {
  uint32_t round = 0;
  uint8_t bits = 0;
  uint32_t index = 0;
  ReconResult result = ReconResult::kDecoded;
  uint32_t set_size = 0;      // the answerer's elements in the part
  std::vector<uint32_t> ask;  // ≤ kMaxReconCapacity; empty unless kDecoded
  bool operator==(const ReconDiffMsg&) const = default;
};

// The variant order is MsgType's order.
using Message =
    std::variant<VersionMsg, VerackMsg, PingMsg, PongMsg, InvMsg, GetDataMsg, NotFoundMsg, TxMsg,
                 GetHeadersMsg, HeadersMsg, BlockMsg, SendCmpctMsg, CmpctBlockMsg, GetBlockTxnMsg,
                 BlockTxnMsg, AddrMsg, GetAddrMsg, FeeFilterMsg, SendHeadersMsg, SendShortIdsMsg,
                 TxInvMsg, GetTxMsg, TxNotFoundMsg, TreeTxMsg, PruneMsg, GraftMsg, ReqReconMsg,
                 ReconDiffMsg>;

enum class MsgType : uint8_t {
  kVersion,
  kVerack,
  kPing,
  kPong,
  kInv,
  kGetData,
  kNotFound,
  kTx,
  kGetHeaders,
  kHeaders,
  kBlock,
  kSendCmpct,
  kCmpctBlock,
  kGetBlockTxn,
  kBlockTxn,
  kAddr,
  kGetAddr,
  kFeeFilter,
  kSendHeaders,
  kSendShortIds,
  kTxInv,
  kGetTx,
  kTxNotFound,
  kTreeTx,
  kPrune,
  kGraft,
  kReqRecon,
  kReconDiff,
};
inline constexpr size_t kMsgTypeCount = std::variant_size_v<Message>;

inline MsgType type_of(const Message& m) {
  return static_cast<MsgType>(m.index());
}
const char* command_name(MsgType t);
// Command from its 12-byte NUL-padded wire form. kBadCommand for a malformed name,
// kUnknownCommand for a well-formed one this protocol does not define.
Result<MsgType, DecodeError> parse_command(std::span<const uint8_t, kCommandSize> raw);
// The largest payload a message of this type may have, bytes.
size_t max_payload(MsgType t);

void encode_payload(const Message& m, std::vector<uint8_t>& out);
// Decodes a payload, taking its buffer: a `tx` payload becomes the Transaction's own buffer.
Result<Message, DecodeError> decode_payload(MsgType t, std::vector<uint8_t>&& payload);

// BIP152-style 48-bit short id of a transaction id under a per-block SipHash key.
SipKey short_id_key(const BlockHeader& header, uint64_t nonce);
uint64_t short_id(const SipKey& key, const TxId& id);

// Short transaction ids of tx relay (docs/protocol.md, "Short transaction ids"). A link's key
// comes from both sides' sendshortids nonces (order-independent); a node's bucket key from its
// bucket_salt. The id a node is sent is 16 bits under its bucket key (bits 32..47: the same on
// every link, so the node can tell two peers announced one transaction) and 32 bits under the
// link key (bits 0..31: an outsider cannot aim two ids at one value on a link it is not on).
SipKey short_id_link_key(uint64_t nonce_a, uint64_t nonce_b);
SipKey short_id_bucket_key(uint64_t bucket_salt);
inline uint16_t short_id_bucket(const SipKey& bucket_key, const TxId& id) {
  return static_cast<uint16_t>(siphash24(bucket_key, id));
}
inline uint32_t short_id_link_part(const SipKey& link_key, const TxId& id) {
  return static_cast<uint32_t>(siphash24(link_key, id));
}
// The set-reconciliation element of a transaction on a link: its link part, 0 counted as 1 (a
// sketch cannot hold 0).
inline uint32_t recon_element(uint32_t link_part) {
  return link_part == 0 ? 1 : link_part;
}
inline uint64_t tx_short_id(const SipKey& bucket_key, const SipKey& link_key, const TxId& id) {
  return uint64_t{short_id_bucket(bucket_key, id)} << 32 | short_id_link_part(link_key, id);
}

}  // namespace hearsay
