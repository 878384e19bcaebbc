// Writes the seed corpora of the wire fuzz targets from valid encodings:
//   make_seeds <corpus root>   (e.g. build/debug/bin/make_seeds fuzz/corpus)
// creates <root>/frame/, <root>/message/ and <root>/items/ (a few dozen files each: every
// message type, edge sizes) in the input formats fuzz/frame.cpp, fuzz/message.cpp and
// fuzz/items.cpp read. Deterministic: the same program writes the same files.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "crypto/ed25519.h"
#include "fuzz/fuzz_util.h"
#include "p2p/sketch.h"
#include "p2p/transport.h"

using namespace hearsay;
namespace fs = std::filesystem;

namespace {

constexpr uint32_t kNet = fuzz::kFuzzMagic;

KeyPair key(uint8_t i) {
  Seed s;
  s.fill(i);
  return KeyPair::from_seed(s);
}

TxRef tx(uint8_t k, uint64_t nonce, size_t payload_size, uint64_t fee = 1000, uint64_t expiry = 0) {
  TxFields f;
  f.network = kNet;
  f.nonce = nonce;
  f.fee = fee;
  f.expiry = expiry;
  f.payload.resize(payload_size);
  for (size_t i = 0; i < payload_size; ++i)
    f.payload[i] = static_cast<uint8_t>(i * 13 + nonce);
  return Transaction::create(f, key(k));
}

Hash256 hash(uint8_t b) {
  Hash256 h;
  for (size_t i = 0; i < h.size(); ++i)
    h[i] = static_cast<uint8_t>(b * 31 + i);
  return h;
}

BlockHeader header(uint64_t height, const std::vector<TxRef>& txs = {}) {
  BlockHeader h;
  h.network = kNet;
  h.prev = hash(static_cast<uint8_t>(height));
  h.height = height;
  h.time = 1'700'000'000 + height;
  h.merkle_root = merkle_root(txs);
  h.sign(key(9));
  return h;
}

BlockRef block(uint64_t height, std::vector<TxRef> txs) {
  auto b = std::make_shared<Block>();
  b->header = header(height, txs);
  b->txs = std::move(txs);
  return b;
}

PeerRecord record(uint8_t i, bool ipv6 = false) {
  PeerRecord p;
  if (ipv6)
    p.address.ip = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, i};
  else
    p.address.ip = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, i};
  p.address.port = static_cast<uint16_t>(8300 + i);
  p.time = 1'700'000'000 + i;
  p.sign(key(i));
  return p;
}

std::vector<std::pair<std::string, Message>> sample_messages() {
  std::vector<std::pair<std::string, Message>> v;
  VersionMsg ver;
  ver.protocol_version = 1;
  ver.network_magic = kNet;
  ver.services = 1;
  ver.time = 1'700'000'000;
  ver.addr_from = record(1).address;
  ver.best_height = 100;
  ver.user_agent = "/hearsay:0.1.0/";
  v.emplace_back("version", ver);
  ver.user_agent = "";
  ver.addr_from = {};
  v.emplace_back("version-empty-agent", ver);
  ver.user_agent.assign(kMaxUserAgent, '~');
  v.emplace_back("version-max-agent", ver);
  v.emplace_back("verack", VerackMsg{});
  v.emplace_back("ping", PingMsg{0x0123456789abcdefULL});
  v.emplace_back("pong", PongMsg{0xfedcba9876543210ULL});
  v.emplace_back("inv", InvMsg{{{InvType::kTx, hash(1)},
                                {InvType::kBlock, hash(2)},
                                {InvType::kCmpctBlock, hash(3)}}});
  v.emplace_back("inv-empty", InvMsg{});
  InvMsg many;
  for (int i = 0; i < 0xfd; ++i)
    many.entries.push_back({InvType::kTx, hash(static_cast<uint8_t>(i))});
  v.emplace_back("inv-253-entries", many);
  v.emplace_back("getdata", GetDataMsg{{{InvType::kTx, hash(4)}, {InvType::kTx, hash(5)}}});
  v.emplace_back("notfound", NotFoundMsg{{{InvType::kBlock, hash(6)}}});
  v.emplace_back("tx", TxMsg{tx(1, 1, 40)});
  v.emplace_back("tx-empty-payload", TxMsg{tx(2, 2, 0)});
  v.emplace_back("tx-payload-252", TxMsg{tx(3, 3, 0xfc, 5000, 499'999'999)});
  v.emplace_back("tx-payload-253", TxMsg{tx(4, 4, 0xfd, UINT64_MAX, 1'800'000'000)});
  v.emplace_back("getheaders", GetHeadersMsg{{hash(7), hash(8), hash(9)}, hash(10)});
  v.emplace_back("getheaders-empty", GetHeadersMsg{{}, Hash256{}});
  v.emplace_back("headers", HeadersMsg{{header(1), header(2)}});
  v.emplace_back("headers-empty", HeadersMsg{});
  auto b = block(3, {tx(1, 10, 5), tx(2, 11, 300), tx(3, 12, 0)});
  v.emplace_back("block", BlockMsg{b});
  v.emplace_back("block-empty", BlockMsg{block(4, {})});
  v.emplace_back("sendcmpct", SendCmpctMsg{true, 1});
  v.emplace_back("sendcmpct-low", SendCmpctMsg{false, 2});
  CmpctBlockMsg c;
  c.header = b->header;
  c.nonce = 0x1122334455667788ULL;
  SipKey k = short_id_key(c.header, c.nonce);
  c.short_ids = {short_id(k, b->txs[1]->id()), 0xffffffffffffULL};
  c.prefilled = {{0, b->txs[0]}, {3, b->txs[2]}};
  v.emplace_back("cmpctblock", c);
  c.prefilled.clear();
  c.short_ids.clear();
  for (const TxRef& t : b->txs)
    c.short_ids.push_back(short_id(k, t->id()));
  v.emplace_back("cmpctblock-no-prefilled", c);
  v.emplace_back("getblocktxn", GetBlockTxnMsg{b->header.id(), {0, 1, 5, 300, 301}});
  v.emplace_back("getblocktxn-last-index",
                 GetBlockTxnMsg{b->header.id(), {static_cast<uint32_t>(kMaxBlockTxs - 1)}});
  v.emplace_back("blocktxn", BlockTxnMsg{b->header.id(), {b->txs[1], b->txs[2]}});
  v.emplace_back("addr", AddrMsg{{record(1), record(2, true)}});
  v.emplace_back("addr-empty", AddrMsg{});
  v.emplace_back("getaddr", GetAddrMsg{});
  v.emplace_back("feefilter", FeeFilterMsg{1000});
  v.emplace_back("sendheaders", SendHeadersMsg{});
  // Short transaction ids. Appended, so the seeds above keep their fragmentation byte.
  v.emplace_back("sendshortids",
                 SendShortIdsMsg{kShortIdsVersion, 0xfedcba9876543210ULL, 0x8877665544332211ULL});
  v.emplace_back("sendshortids-version-2", SendShortIdsMsg{2, 1, 2});
  SipKey link = short_id_link_key(0xfedcba9876543210ULL, 0x0123456789abcdefULL);
  SipKey bucket = short_id_bucket_key(0x8877665544332211ULL);
  TxInvMsg txinv;
  for (const TxRef& t : b->txs)
    txinv.ids.push_back(tx_short_id(bucket, link, t->id()));
  txinv.ids.push_back(0xffffffffffffULL);
  v.emplace_back("txinv", txinv);
  v.emplace_back("txinv-empty", TxInvMsg{});
  TxInvMsg txinv_many;
  for (uint64_t i = 0; i < 0xfd; ++i)
    txinv_many.ids.push_back(tx_short_id(bucket, link, hash(static_cast<uint8_t>(i))));
  v.emplace_back("txinv-253-entries", txinv_many);
  v.emplace_back("gettx", GetTxMsg{{txinv.ids[0], txinv.ids[2]}});
  v.emplace_back("txnotfound", TxNotFoundMsg{{txinv.ids[1]}});
  // Tree relay: a transaction with its origin trailer, and origin lists. Appended, as above.
  v.emplace_back("treetx", TreeTxMsg{b->txs[1], 0xa1b2c3d4});
  v.emplace_back("treetx-empty-payload", TreeTxMsg{tx(2, 2, 0), 0xffffffff});
  v.emplace_back("treetx-payload-253", TreeTxMsg{tx(4, 4, 0xfd), 0});
  v.emplace_back("prune", PruneMsg{{0xa1b2c3d4, 1, 0xffffffff}});
  v.emplace_back("prune-empty", PruneMsg{});
  PruneMsg prune_many;
  for (uint32_t i = 0; i < 0xfd; ++i)
    prune_many.origins.push_back(i * 0x01010101u);
  v.emplace_back("prune-253-origins", prune_many);
  v.emplace_back("graft", GraftMsg{{0xa1b2c3d4}});
  v.emplace_back("graft-empty", GraftMsg{});
  // Set reconciliation: a real sketch of the block's transactions on the link above, the
  // answer that decodes it against an empty set, and the edges. Appended, as above.
  std::vector<uint32_t> elements;
  for (const TxRef& t : b->txs)
    elements.push_back(short_id_link_part(link, t->id()));
  p2p::Sketch sketch(8);
  for (uint32_t e : elements)
    sketch.add(e);
  v.emplace_back("reqrecon", ReqReconMsg{1, 0, 0, 3, sketch.serialize()});
  v.emplace_back("reqrecon-finest-part", ReqReconMsg{2, kMaxReconBits, 0xffff, 0, {0, 0, 0, 0}});
  v.emplace_back(
      "reqrecon-capacity-256",
      ReqReconMsg{3, 1, 1, 500, std::vector<uint8_t>(kMaxReconCapacity * kReconElementSize, 0xa5)});
  std::sort(elements.begin(), elements.end());
  v.emplace_back("recondiff", ReconDiffMsg{1, 0, 0, ReconResult::kDecoded, 0, elements});
  v.emplace_back("recondiff-failed", ReconDiffMsg{2, 1, 1, ReconResult::kFailed, 7, {}});
  v.emplace_back("recondiff-refused", ReconDiffMsg{3, 0, 0, ReconResult::kRefused, 40, {}});
  ReconDiffMsg asks_many{4, kMaxReconBits, 0x8000, ReconResult::kDecoded, 1, {}};
  for (uint32_t i = 0; i < kMaxReconCapacity; ++i)
    asks_many.ask.push_back(0x80000000u | i);
  v.emplace_back("recondiff-256-asks", asks_many);
  return v;
}

bool write(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "make_seeds: cannot write %s\n", p.c_str());
    return false;
  }
  return true;
}

std::vector<uint8_t> with_prefix(uint8_t first, std::span<const uint8_t> rest) {
  std::vector<uint8_t> v{first};
  v.insert(v.end(), rest.begin(), rest.end());
  return v;
}

std::vector<uint8_t> raw_header(std::string_view command, uint32_t length,
                                std::span<const uint8_t> payload) {
  std::vector<uint8_t> h;
  uint8_t cmd[kCommandSize] = {};
  std::copy(command.begin(), command.end(), cmd);
  Hash256 sum = sha256d(payload);
  Writer(h).u32(kNet).bytes(cmd).u32(length).bytes(std::span(sum).first(4));
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds <corpus root, e.g. fuzz/corpus>\n");
    return 2;
  }
  crypto_init();
  fs::path root = argv[1];
  for (const char* sub : {"frame", "message", "items"})
    fs::create_directories(root / sub);
  auto msgs = sample_messages();
  bool ok = true;
  size_t files = 0;
  auto put = [&](const char* dir, const std::string& name, const std::vector<uint8_t>& b) {
    ok = write(root / dir / name, b) && ok;
    ++files;
  };

  // message/: type byte, then the payload.
  std::vector<uint8_t> all_frames;
  for (size_t i = 0; i < msgs.size(); ++i) {
    const auto& [name, m] = msgs[i];
    std::vector<uint8_t> payload;
    encode_payload(m, payload);
    put("message", name, with_prefix(static_cast<uint8_t>(type_of(m)), payload));
    // frame/: one frame per message, under varied fragmentation (byte 0).
    SharedBytes f = encode_frame(kNet, m);
    // Byte 0: chunking seed i % 5 == 0 ? whole : i, checksum fix-up on every other one.
    uint8_t mode = static_cast<uint8_t>((i % 5 == 0 ? 0 : i) | (i % 2 == 0 ? 0x80 : 0));
    put("frame", name, with_prefix(mode, *f));
    all_frames.insert(all_frames.end(), f->begin(), f->end());
  }
  put("frame", "all-messages-whole", with_prefix(0, all_frames));
  put("frame", "all-messages-1-to-4-byte-chunks", with_prefix(1, all_frames));
  put("frame", "all-messages-large-chunks", with_prefix(100, all_frames));
  put("frame", "all-messages-fixup-3-byte-chunks", with_prefix(0x80 | 3, all_frames));
  // A few frames that fail, so each error path is in the corpus from the start.
  std::vector<uint8_t> ping_payload;
  encode_payload(PingMsg{1}, ping_payload);
  auto bad_sum = *encode_frame(kNet, PingMsg{1});
  bad_sum[20] ^= 1;
  put("frame", "error-bad-checksum", with_prefix(3, bad_sum));
  auto bad_magic = *encode_frame(kNet ^ 0xff, PingMsg{1});
  put("frame", "error-bad-magic", with_prefix(0, bad_magic));
  put("frame", "error-unknown-command", with_prefix(0, raw_header("mempool", 0, {})));
  put("frame", "error-bad-command", with_prefix(0, raw_header("pi ng", 8, ping_payload)));
  put("frame", "error-oversize-ping", with_prefix(0, raw_header("ping", 9, ping_payload)));
  put("frame", "error-oversize-block", with_prefix(7, raw_header("block", 4'000'001, {})));

  // items/: kind byte, then one encoding.
  auto item = [&](fuzz::ItemKind kind, const std::string& name, std::span<const uint8_t> b) {
    put("items", name, with_prefix(static_cast<uint8_t>(kind), b));
  };
  for (size_t n : {size_t{0}, size_t{1}, size_t{0xfc}, size_t{0xfd}, size_t{1000}})
    item(fuzz::ItemKind::kTransaction, "tx-payload-" + std::to_string(n),
         tx(static_cast<uint8_t>(1 + n % 7), n, n)->encoding());
  item(fuzz::ItemKind::kTransaction, "tx-expiry-time", tx(5, 5, 8, 10, 1'700'000'000)->encoding());
  item(fuzz::ItemKind::kTransaction, "tx-expiry-height", tx(6, 6, 8, 10, 499'999'999)->encoding());
  item(fuzz::ItemKind::kTransaction, "tx-max-nonce-and-fee",
       tx(7, UINT64_MAX, 16, UINT64_MAX)->encoding());
  {
    TxFields f;
    f.network = 0xffffffff;
    f.payload = {0xde, 0xad, 0xbe, 0xef};
    item(fuzz::ItemKind::kTransaction, "tx-other-network",
         Transaction::create(f, key(8))->encoding());
  }
  {
    BlockHeader h = header(7);
    h.height = UINT64_MAX;
    h.time = UINT64_MAX;
    h.network = 0xffffffff;
    h.sign(key(10));
    std::vector<uint8_t> enc;
    h.encode(enc);
    item(fuzz::ItemKind::kBlockHeader, "header-max-fields", enc);
  }
  for (uint64_t h : {0, 1, 1'000'000}) {
    std::vector<uint8_t> enc;
    header(h).encode(enc);
    item(fuzz::ItemKind::kBlockHeader, "header-" + std::to_string(h), enc);
  }
  for (size_t n : {0, 1, 3, 6}) {
    std::vector<TxRef> txs;
    for (size_t i = 0; i < n; ++i)
      txs.push_back(tx(static_cast<uint8_t>(1 + i), i, 10 * i));
    std::vector<uint8_t> enc;
    block(n, txs)->encode(enc);
    item(fuzz::ItemKind::kBlock, "block-" + std::to_string(n) + "-txs", enc);
  }
  {
    std::vector<uint8_t> enc;
    block(8, {tx(1, 1, 0xfd), tx(2, 2, 0), tx(3, 3, 1)})->encode(enc);
    item(fuzz::ItemKind::kBlock, "block-with-253-byte-payload", enc);
  }
  {
    PeerRecord p = record(3);
    p.address.port = 0;
    p.time = 0;
    p.sign(key(3));
    std::vector<uint8_t> enc;
    encode_payload(AddrMsg{{p}}, enc);
    item(fuzz::ItemKind::kPeerRecord, "peer-record-port-0",
         std::span<const uint8_t>(enc).subspan(1));
  }
  for (uint8_t i : {1, 2}) {
    std::vector<uint8_t> enc;
    encode_payload(AddrMsg{{record(i, i == 2)}}, enc);
    item(fuzz::ItemKind::kPeerRecord, std::string("peer-record-") + (i == 2 ? "ipv6" : "ipv4"),
         std::span<const uint8_t>(enc).subspan(1));  // without the addr count byte
  }

  std::printf("make_seeds: wrote %zu files under %s\n", files, root.c_str());
  return ok ? 0 : 1;
}
