#include "p2p/messages.h"

#include <algorithm>
#include <cstring>

namespace hearsay {

namespace {

constexpr std::string_view kPeerRecordTag = "hearsay/peer-record";

struct CommandInfo {
  const char* name;
  size_t max_payload;
};
constexpr CommandInfo kCommands[kMsgTypeCount] = {
    {"version", kMaxVersionPayload},
    {"verack", 0},
    {"ping", 8},
    {"pong", 8},
    {"inv", kMaxInvPayload},
    {"getdata", kMaxInvPayload},
    {"notfound", kMaxInvPayload},
    {"tx", kMaxTxMessage},
    {"getheaders", kMaxGetHeadersPayload},
    {"headers", kMaxHeadersPayload},
    {"block", kMaxBlockMessage},
    {"sendcmpct", 9},
    {"cmpctblock", kMaxBlockMessage},
    {"getblocktxn", kMaxGetBlockTxnPayload},
    {"blocktxn", kMaxBlockMessage},
    {"addr", kMaxAddrPayload},
    {"getaddr", 0},
    {"feefilter", 8},
    {"sendheaders", 0},
    {"sendshortids", kSendShortIdsPayload},
    {"txinv", kMaxShortIdListPayload},
    {"gettx", kMaxShortIdListPayload},
    {"txnotfound", kMaxShortIdListPayload},
    {"treetx", kMaxTreeTxMessage},
    {"prune", kMaxTreeOriginListPayload},
    {"graft", kMaxTreeOriginListPayload},
    {"reqrecon", kMaxReqReconPayload},
    {"recondiff", kMaxReconDiffPayload},
};

// --- pieces shared by several messages -----------------------------------------------------

void put_address(Writer& w, const NetAddress& a) {
  w.bytes(a.ip).u16(a.port);
}
void get_address(Reader& r, NetAddress& a) {
  r.array(a.ip);
  r.u16(a.port);
}

void put_record_unsigned(std::vector<uint8_t>& out, const PeerRecord& p) {
  Writer w(out);
  w.bytes(p.identity);
  put_address(w, p.address);
  w.u64(p.time);
}

void put_inv(Writer& w, const std::vector<InvEntry>& v) {
  w.compact_size(v.size());
  for (const InvEntry& e : v)
    w.u32(static_cast<uint32_t>(e.type)).bytes(e.hash);
}
bool get_inv(Reader& r, std::vector<InvEntry>& v) {
  uint64_t n;
  if (!r.compact_size(n, kMaxInvEntries)) return false;
  // Allocate only what the bytes actually present can fill.
  if (n * kInvEntrySize > r.remaining()) return r.set_error(DecodeError::kTruncated);
  v.resize(n);
  for (InvEntry& e : v) {
    uint32_t t;
    if (!r.u32(t) || !r.array(e.hash)) return false;
    if (t != 1 && t != 2 && t != 4) return r.set_error(DecodeError::kBadValue);
    e.type = static_cast<InvType>(t);
  }
  return true;
}

void put_short_id(Writer& w, uint64_t id) {
  w.u32(static_cast<uint32_t>(id)).u16(static_cast<uint16_t>(id >> 32));
}
bool get_short_id(Reader& r, uint64_t& id) {
  uint32_t lo;
  uint16_t hi;
  if (!r.u32(lo) || !r.u16(hi)) return false;
  id = uint64_t{hi} << 32 | lo;
  return true;
}

// A list of short ids (txinv, gettx, txnotfound, cmpctblock): CompactSize count, 6-byte ids.
void put_short_ids(Writer& w, const std::vector<uint64_t>& ids) {
  w.compact_size(ids.size());
  for (uint64_t id : ids)
    put_short_id(w, id);
}
bool get_short_ids(Reader& r, std::vector<uint64_t>& ids, uint64_t max) {
  uint64_t n;
  if (!r.compact_size(n, max)) return false;
  if (n * kShortIdSize > r.remaining()) return r.set_error(DecodeError::kTruncated);
  ids.resize(n);
  for (uint64_t& id : ids)
    get_short_id(r, id);
  return true;
}

// A list of tree origins (prune, graft): CompactSize count, 4-byte tags.
void put_origins(Writer& w, const std::vector<uint32_t>& origins) {
  w.compact_size(origins.size());
  for (uint32_t o : origins)
    w.u32(o);
}

// Strictly increasing indexes < kMaxBlockTxs, as BIP152's differential encoding:
// each entry is index − (previous index + 1).
void put_index(Writer& w, uint32_t index, int64_t& prev) {
  w.compact_size(static_cast<uint64_t>(index - (prev + 1)));
  prev = index;
}
bool get_index(Reader& r, uint32_t& index, int64_t& prev) {
  uint64_t diff;
  if (!r.compact_size(diff, kMaxBlockTxs)) return false;
  uint64_t v = static_cast<uint64_t>(prev + 1) + diff;
  if (v >= kMaxBlockTxs) return r.set_error(DecodeError::kTooLarge);
  index = static_cast<uint32_t>(v);
  prev = static_cast<int64_t>(v);
  return true;
}

bool printable_ascii(std::span<const uint8_t> s) {
  for (uint8_t c : s)
    if (c < 0x20 || c > 0x7e) return false;
  return true;
}

// --- per-message codecs --------------------------------------------------------------------

struct Encoder {
  std::vector<uint8_t>& out;
  Writer w{out};

  void operator()(const VersionMsg& m) {
    w.u32(m.protocol_version).u32(m.network_magic).u64(m.services).i64(m.time);
    put_address(w, m.addr_from);
    w.u64(m.best_height).var_bytes(as_bytes(m.user_agent));
  }
  void operator()(const VerackMsg&) {}
  void operator()(const PingMsg& m) { w.u64(m.nonce); }
  void operator()(const PongMsg& m) { w.u64(m.nonce); }
  void operator()(const InvMsg& m) { put_inv(w, m.entries); }
  void operator()(const GetDataMsg& m) { put_inv(w, m.entries); }
  void operator()(const NotFoundMsg& m) { put_inv(w, m.entries); }
  void operator()(const TxMsg& m) { w.bytes(m.tx->encoding()); }
  void operator()(const GetHeadersMsg& m) {
    w.compact_size(m.locator.size());
    for (const BlockId& id : m.locator)
      w.bytes(id);
    w.bytes(m.stop);
  }
  void operator()(const HeadersMsg& m) {
    w.compact_size(m.headers.size());
    for (const BlockHeader& h : m.headers)
      h.encode(out);
  }
  void operator()(const BlockMsg& m) { m.block->encode(out); }
  void operator()(const SendCmpctMsg& m) { w.u8(m.high_bandwidth ? 1 : 0).u64(m.version); }
  void operator()(const CmpctBlockMsg& m) {
    m.header.encode(out);
    w.u64(m.nonce);
    put_short_ids(w, m.short_ids);
    w.compact_size(m.prefilled.size());
    int64_t prev = -1;
    for (const PrefilledTx& p : m.prefilled) {
      put_index(w, p.index, prev);
      w.bytes(p.tx->encoding());
    }
  }
  void operator()(const GetBlockTxnMsg& m) {
    w.bytes(m.block_id).compact_size(m.indexes.size());
    int64_t prev = -1;
    for (uint32_t i : m.indexes)
      put_index(w, i, prev);
  }
  void operator()(const BlockTxnMsg& m) {
    w.bytes(m.block_id).compact_size(m.txs.size());
    for (const TxRef& tx : m.txs)
      w.bytes(tx->encoding());
  }
  void operator()(const AddrMsg& m) {
    w.compact_size(m.records.size());
    for (const PeerRecord& p : m.records) {
      put_record_unsigned(out, p);
      w.bytes(p.signature);
    }
  }
  void operator()(const GetAddrMsg&) {}
  void operator()(const FeeFilterMsg& m) { w.u64(m.fee_rate); }
  void operator()(const SendHeadersMsg&) {}
  void operator()(const SendShortIdsMsg& m) { w.u8(m.version).u64(m.nonce).u64(m.bucket_salt); }
  void operator()(const TxInvMsg& m) { put_short_ids(w, m.ids); }
  void operator()(const GetTxMsg& m) { put_short_ids(w, m.ids); }
  void operator()(const TxNotFoundMsg& m) { put_short_ids(w, m.ids); }
  void operator()(const TreeTxMsg& m) { w.bytes(m.tx->encoding()).u32(m.origin); }
  void operator()(const PruneMsg& m) { put_origins(w, m.origins); }
  void operator()(const GraftMsg& m) { put_origins(w, m.origins); }
  void operator()(const ReqReconMsg& m) {
    w.u32(m.round).u8(m.bits).u32(m.index).u32(m.set_size);
    w.compact_size(m.sketch.size() / kReconElementSize).bytes(m.sketch);
  }
  void operator()(const ReconDiffMsg& m) {
    w.u32(m.round).u8(m.bits).u32(m.index).u8(static_cast<uint8_t>(m.result)).u32(m.set_size);
    w.compact_size(m.ask.size());
    for (uint32_t e : m.ask)
      w.u32(e);
  }
};

template <class T>
Result<Message, DecodeError> finish(Reader& r, T&& value) {
  if (!r.expect_end()) return fail(r.error());
  return Message(std::forward<T>(value));
}

// --- per-message decoders, one per family; each ends with finish() (no trailing bytes) -----

Result<Message, DecodeError> decode_version(Reader& r) {
  VersionMsg m;
  std::span<const uint8_t> ua;
  r.u32(m.protocol_version);
  r.u32(m.network_magic);
  r.u64(m.services);
  r.i64(m.time);
  get_address(r, m.addr_from);
  r.u64(m.best_height);
  if (!r.var_bytes(ua, kMaxUserAgent)) return fail(r.error());
  if (!printable_ascii(ua)) return fail(DecodeError::kBadValue);
  m.user_agent.assign(ua.begin(), ua.end());
  return finish(r, std::move(m));
}

// The messages that carry one 8-byte integer: ping, pong, feefilter.
template <class T>
Result<Message, DecodeError> decode_u64(Reader& r, uint64_t T::*field) {
  T m;
  r.u64(m.*field);
  return finish(r, m);
}

// inv, getdata and notfound: one list of InvEntry.
template <class T>
Result<Message, DecodeError> decode_inv_list(Reader& r) {
  T m;
  get_inv(r, m.entries);
  return finish(r, std::move(m));
}

// txinv, gettx and txnotfound: one list of short ids.
template <class T>
Result<Message, DecodeError> decode_short_id_list(Reader& r) {
  T m;
  if (!get_short_ids(r, m.ids, kMaxShortIdEntries)) return fail(r.error());
  return finish(r, std::move(m));
}

Result<Message, DecodeError> decode_sendshortids(Reader& r) {
  SendShortIdsMsg m;
  if (!r.u8(m.version) || !r.u64(m.nonce) || !r.u64(m.bucket_salt)) return fail(r.error());
  return finish(r, m);
}

// prune and graft: one list of origins.
template <class T>
Result<Message, DecodeError> decode_origin_list(Reader& r) {
  T m;
  uint64_t n;
  if (!r.compact_size(n, kMaxTreeOriginEntries)) return fail(r.error());
  if (n * kTreeOriginSize > r.remaining()) return fail(DecodeError::kTruncated);
  m.origins.resize(n);
  for (uint32_t& o : m.origins)
    r.u32(o);
  return finish(r, std::move(m));
}

// The part of a set a reqrecon / recondiff is about: bits ≤ kMaxReconBits, index < 2^bits.
bool get_recon_part(Reader& r, uint32_t& round, uint8_t& bits, uint32_t& index) {
  if (!r.u32(round) || !r.u8(bits) || !r.u32(index)) return false;
  if (bits > kMaxReconBits || uint64_t{index} >> bits != 0)
    return r.set_error(DecodeError::kBadValue);
  return true;
}

Result<Message, DecodeError> decode_reqrecon(Reader& r) {
  ReqReconMsg m;
  uint64_t capacity;
  std::span<const uint8_t> sketch;
  if (!get_recon_part(r, m.round, m.bits, m.index) || !r.u32(m.set_size) ||
      !r.compact_size(capacity, kMaxReconCapacity))
    return fail(r.error());
  if (capacity == 0) return fail(DecodeError::kBadValue);
  if (!r.bytes(capacity * kReconElementSize, sketch)) return fail(r.error());
  m.sketch.assign(sketch.begin(), sketch.end());
  return finish(r, std::move(m));
}

Result<Message, DecodeError> decode_recondiff(Reader& r) {
  ReconDiffMsg m;
  uint8_t result;
  uint64_t n;
  if (!get_recon_part(r, m.round, m.bits, m.index) || !r.u8(result)) return fail(r.error());
  if (result > kMaxReconResult) return fail(DecodeError::kBadValue);
  if (!r.u32(m.set_size) || !r.compact_size(n, kMaxReconCapacity)) return fail(r.error());
  m.result = static_cast<ReconResult>(result);
  if (n != 0 && m.result != ReconResult::kDecoded) return fail(DecodeError::kBadValue);
  if (n * kReconElementSize > r.remaining()) return fail(DecodeError::kTruncated);
  m.ask.resize(n);
  for (uint32_t& e : m.ask)
    r.u32(e);
  return finish(r, std::move(m));
}

// treetx: a transaction, then its 4-byte origin. The transaction keeps the payload's buffer.
Result<Message, DecodeError> decode_treetx(std::vector<uint8_t>&& payload) {
  if (payload.size() < kTreeOriginSize) return fail(DecodeError::kTruncated);
  const size_t at = payload.size() - kTreeOriginSize;
  const uint32_t origin = uint32_t{payload[at]} | uint32_t{payload[at + 1]} << 8 |
                          uint32_t{payload[at + 2]} << 16 | uint32_t{payload[at + 3]} << 24;
  payload.resize(at);
  auto tx = Transaction::decode(std::move(payload));
  if (!tx) return fail(tx.error());
  return Message(TreeTxMsg{std::move(tx.value()), origin});
}

Result<Message, DecodeError> decode_getheaders(Reader& r) {
  GetHeadersMsg m;
  uint64_t n;
  if (!r.compact_size(n, kMaxLocatorHashes)) return fail(r.error());
  if (n * 32 > r.remaining()) return fail(DecodeError::kTruncated);
  m.locator.resize(n);
  for (BlockId& id : m.locator)
    r.array(id);
  r.array(m.stop);
  return finish(r, std::move(m));
}

Result<Message, DecodeError> decode_headers(Reader& r) {
  HeadersMsg m;
  uint64_t n;
  if (!r.compact_size(n, kMaxHeadersResults)) return fail(r.error());
  for (uint64_t i = 0; i < n; ++i) {
    auto h = BlockHeader::decode_from(r);
    if (!h) return fail(h.error());
    m.headers.push_back(*h);
  }
  return finish(r, std::move(m));
}

Result<Message, DecodeError> decode_block(Reader& r) {
  auto b = Block::decode_from(r);
  if (!b) return fail(b.error());
  return finish(r, BlockMsg{std::make_shared<const Block>(std::move(b.value()))});
}

Result<Message, DecodeError> decode_sendcmpct(Reader& r) {
  SendCmpctMsg m;
  uint8_t hb;
  if (!r.u8(hb) || !r.u64(m.version)) return fail(r.error());
  if (hb > 1) return fail(DecodeError::kBadValue);
  m.high_bandwidth = hb == 1;
  return finish(r, m);
}

Result<Message, DecodeError> decode_cmpct(Reader& r) {
  CmpctBlockMsg m;
  auto header = BlockHeader::decode_from(r);
  if (!header) return fail(header.error());
  m.header = *header;
  uint64_t n;
  if (!r.u64(m.nonce) || !get_short_ids(r, m.short_ids, kMaxBlockTxs)) return fail(r.error());
  if (!r.compact_size(n, kMaxBlockTxs - m.short_ids.size())) return fail(r.error());
  int64_t prev = -1;
  for (uint64_t i = 0; i < n; ++i) {
    PrefilledTx p;
    if (!get_index(r, p.index, prev)) return fail(r.error());
    auto tx = Transaction::decode_from(r);
    if (!tx) return fail(tx.error());
    p.tx = std::move(tx.value());
    m.prefilled.push_back(std::move(p));
  }
  if (!m.prefilled.empty() && m.prefilled.back().index >= m.short_ids.size() + m.prefilled.size())
    return fail(DecodeError::kBadValue);  // an index past the block's last transaction
  return finish(r, std::move(m));
}

Result<Message, DecodeError> decode_getblocktxn(Reader& r) {
  GetBlockTxnMsg m;
  uint64_t n;
  if (!r.array(m.block_id) || !r.compact_size(n, kMaxBlockTxs)) return fail(r.error());
  if (n > r.remaining()) return fail(DecodeError::kTruncated);  // ≥ 1 byte per index
  m.indexes.resize(n);
  int64_t prev = -1;
  for (uint32_t& i : m.indexes)
    if (!get_index(r, i, prev)) return fail(r.error());
  return finish(r, std::move(m));
}

Result<Message, DecodeError> decode_blocktxn(Reader& r) {
  BlockTxnMsg m;
  uint64_t n;
  if (!r.array(m.block_id) || !r.compact_size(n, kMaxBlockTxs)) return fail(r.error());
  for (uint64_t i = 0; i < n; ++i) {
    auto tx = Transaction::decode_from(r);
    if (!tx) return fail(tx.error());
    m.txs.push_back(std::move(tx.value()));
  }
  return finish(r, std::move(m));
}

Result<Message, DecodeError> decode_addr(Reader& r) {
  AddrMsg m;
  uint64_t n;
  if (!r.compact_size(n, kMaxAddrRecords)) return fail(r.error());
  if (n * kPeerRecordSize > r.remaining()) return fail(DecodeError::kTruncated);
  m.records.resize(n);
  for (PeerRecord& p : m.records) {
    r.array(p.identity);
    get_address(r, p.address);
    r.u64(p.time);
    r.array(p.signature);
  }
  return finish(r, std::move(m));
}

Result<Message, DecodeError> decode(MsgType t, Reader& r, std::vector<uint8_t>&& payload) {
  switch (t) {
    case MsgType::kVersion:
      return decode_version(r);
    case MsgType::kVerack:
      return finish(r, VerackMsg{});
    case MsgType::kGetAddr:
      return finish(r, GetAddrMsg{});
    case MsgType::kSendHeaders:
      return finish(r, SendHeadersMsg{});
    case MsgType::kPing:
      return decode_u64(r, &PingMsg::nonce);
    case MsgType::kPong:
      return decode_u64(r, &PongMsg::nonce);
    case MsgType::kFeeFilter:
      return decode_u64(r, &FeeFilterMsg::fee_rate);
    case MsgType::kInv:
      return decode_inv_list<InvMsg>(r);
    case MsgType::kGetData:
      return decode_inv_list<GetDataMsg>(r);
    case MsgType::kNotFound:
      return decode_inv_list<NotFoundMsg>(r);
    case MsgType::kTx: {
      // The payload is exactly one transaction: hand its buffer over without copying.
      auto tx = Transaction::decode(std::move(payload));
      if (!tx) return fail(tx.error());
      return Message(TxMsg{std::move(tx.value())});
    }
    case MsgType::kGetHeaders:
      return decode_getheaders(r);
    case MsgType::kHeaders:
      return decode_headers(r);
    case MsgType::kBlock:
      return decode_block(r);
    case MsgType::kSendCmpct:
      return decode_sendcmpct(r);
    case MsgType::kCmpctBlock:
      return decode_cmpct(r);
    case MsgType::kGetBlockTxn:
      return decode_getblocktxn(r);
    case MsgType::kBlockTxn:
      return decode_blocktxn(r);
    case MsgType::kAddr:
      return decode_addr(r);
    case MsgType::kSendShortIds:
      return decode_sendshortids(r);
    case MsgType::kTxInv:
      return decode_short_id_list<TxInvMsg>(r);
    case MsgType::kGetTx:
      return decode_short_id_list<GetTxMsg>(r);
    case MsgType::kTxNotFound:
      return decode_short_id_list<TxNotFoundMsg>(r);
    case MsgType::kTreeTx:
      return decode_treetx(std::move(payload));
    case MsgType::kPrune:
      return decode_origin_list<PruneMsg>(r);
    case MsgType::kGraft:
      return decode_origin_list<GraftMsg>(r);
    case MsgType::kReqRecon:
      return decode_reqrecon(r);
    case MsgType::kReconDiff:
      return decode_recondiff(r);
  }
  return fail(DecodeError::kUnknownCommand);
}

}  // namespace

const char* command_name(MsgType t) {
  return kCommands[static_cast<size_t>(t)].name;
}

size_t max_payload(MsgType t) {
  return kCommands[static_cast<size_t>(t)].max_payload;
}

Result<MsgType, DecodeError> parse_command(std::span<const uint8_t, kCommandSize> raw) {
  size_t len = 0;
  while (len < kCommandSize && raw[len] != 0)
    ++len;
  if (len == 0) return fail(DecodeError::kBadCommand);
  for (size_t i = 0; i < len; ++i)
    if (raw[i] < 0x21 || raw[i] > 0x7e) return fail(DecodeError::kBadCommand);
  for (size_t i = len; i < kCommandSize; ++i)
    if (raw[i] != 0) return fail(DecodeError::kBadCommand);  // NUL padding only
  std::string_view name(reinterpret_cast<const char*>(raw.data()), len);
  for (size_t i = 0; i < kMsgTypeCount; ++i)
    if (name == kCommands[i].name) return static_cast<MsgType>(i);
  return fail(DecodeError::kUnknownCommand);
}

void encode_payload(const Message& m, std::vector<uint8_t>& out) {
  std::visit(Encoder{out}, m);
}

Result<Message, DecodeError> decode_payload(MsgType t, std::vector<uint8_t>&& payload) {
  if (static_cast<size_t>(t) >= kMsgTypeCount) return fail(DecodeError::kUnknownCommand);
  if (payload.size() > max_payload(t)) return fail(DecodeError::kOversizePayload);
  Reader r(payload);
  return decode(t, r, std::move(payload));
}

Hash256 PeerRecord::sighash() const {
  std::vector<uint8_t> buf;
  put_record_unsigned(buf, *this);
  return TaggedHasher(kPeerRecordTag).update(buf).finish();
}

void PeerRecord::sign(const KeyPair& key) {
  identity = key.public_key();
  signature = key.sign(sighash());
}

bool PeerRecord::verify_signature() const {
  return verify(identity, sighash(), signature);
}

namespace {
SipKey key_of(const Hash256& h) {
  SipKey key;
  std::memcpy(key.data(), h.data(), key.size());
  return key;
}
}  // namespace

SipKey short_id_key(const BlockHeader& header, uint64_t nonce) {
  std::vector<uint8_t> buf;
  header.encode(buf);
  Writer(buf).u64(nonce);
  return key_of(sha256(buf));
}

SipKey short_id_link_key(uint64_t nonce_a, uint64_t nonce_b) {
  std::vector<uint8_t> buf;
  Writer(buf).u64(std::min(nonce_a, nonce_b)).u64(std::max(nonce_a, nonce_b));
  return key_of(TaggedHasher("hearsay/short-id-link").update(buf).finish());
}

SipKey short_id_bucket_key(uint64_t bucket_salt) {
  std::vector<uint8_t> buf;
  Writer(buf).u64(bucket_salt);
  return key_of(TaggedHasher("hearsay/short-id-bucket").update(buf).finish());
}

uint64_t short_id(const SipKey& key, const TxId& id) {
  return siphash24(key, id) & 0xffff'ffff'ffffULL;
}

}  // namespace hearsay
