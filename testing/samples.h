// One non-trivial instance of every message type, shared by the wire-format tests.
#pragma once

#include <vector>

#include "p2p/messages.h"
#include "testing/test_util.h"

namespace hearsay::test {

inline BlockHeader sample_block_header(uint64_t height) {
  BlockHeader h;
  h.network = kTestNetwork;
  h.prev.fill(static_cast<uint8_t>(height));
  h.height = height;
  h.time = 1'700'000'000 + height;
  h.merkle_root.fill(0x5e);
  h.sign(test_key(9));
  return h;
}

inline Hash256 sample_hash(uint8_t b) {
  Hash256 h;
  for (size_t i = 0; i < h.size(); ++i)
    h[i] = static_cast<uint8_t>(b + i);
  return h;
}

inline PeerRecord sample_peer_record(uint8_t i) {
  PeerRecord p;
  p.address.ip = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, i};
  p.address.port = static_cast<uint16_t>(8300 + i);
  p.time = 1'700'000'000 + i;
  p.sign(test_key(i));
  return p;
}

// Indexed by MsgType: sample_messages()[i] has type i.
inline std::vector<Message> sample_messages() {
  std::vector<Message> v;
  VersionMsg version;
  version.protocol_version = 70001;
  version.network_magic = kTestNetwork;
  version.services = 1;
  version.time = 1'700'000'000;
  version.addr_from = sample_peer_record(1).address;
  version.best_height = 12345;
  version.user_agent = "/hearsay:0.1.0/";
  v.emplace_back(version);
  v.emplace_back(VerackMsg{});
  v.emplace_back(PingMsg{0x0123456789abcdefULL});
  v.emplace_back(PongMsg{0xfedcba9876543210ULL});
  InvMsg inv;
  inv.entries = {{InvType::kTx, sample_hash(1)},
                 {InvType::kBlock, sample_hash(2)},
                 {InvType::kCmpctBlock, sample_hash(3)}};
  v.emplace_back(inv);
  v.emplace_back(GetDataMsg{{{InvType::kTx, sample_hash(4)}, {InvType::kTx, sample_hash(5)}}});
  v.emplace_back(NotFoundMsg{{{InvType::kBlock, sample_hash(6)}}});
  v.emplace_back(TxMsg{make_tx(1, 3, 1000, 40)});
  v.emplace_back(GetHeadersMsg{{sample_hash(7), sample_hash(8), sample_hash(9)}, sample_hash(10)});
  v.emplace_back(HeadersMsg{{sample_block_header(1), sample_block_header(2)}});
  auto block = std::make_shared<Block>();
  block->txs = {make_tx(1, 1, 100, 5), make_tx(2, 1, 200, 300), make_tx(3, 1, 300, 0)};
  block->header = sample_block_header(3);
  block->header.merkle_root = merkle_root(block->txs);
  block->header.sign(test_key(9));
  v.emplace_back(BlockMsg{block});
  v.emplace_back(SendCmpctMsg{true, 1});
  CmpctBlockMsg cmpct;
  cmpct.header = block->header;
  cmpct.nonce = 0x1122334455667788ULL;
  SipKey key = short_id_key(cmpct.header, cmpct.nonce);
  cmpct.short_ids = {short_id(key, block->txs[1]->id()), 0xffffffffffffULL};
  cmpct.prefilled = {{0, block->txs[0]}, {3, block->txs[2]}};
  v.emplace_back(cmpct);
  v.emplace_back(GetBlockTxnMsg{block->header.id(), {0, 1, 5, 300, 301}});
  v.emplace_back(BlockTxnMsg{block->header.id(), {block->txs[1], block->txs[2]}});
  v.emplace_back(AddrMsg{{sample_peer_record(1), sample_peer_record(2)}});
  v.emplace_back(GetAddrMsg{});
  v.emplace_back(FeeFilterMsg{1000});
  v.emplace_back(SendHeadersMsg{});
  v.emplace_back(SendShortIdsMsg{kShortIdsVersion, 0x0102030405060708ULL, 0x1112131415161718ULL});
  v.emplace_back(TxInvMsg{{0x010203040506ULL, 0xffffffffffffULL, 0}});
  v.emplace_back(GetTxMsg{{0x010203040506ULL}});
  v.emplace_back(TxNotFoundMsg{{0xa0a1a2a3a4a5ULL, 1}});
  v.emplace_back(TreeTxMsg{make_tx(2, 5, 700, 33), 0x89abcdefU});
  v.emplace_back(PruneMsg{{0x01020304U, 0xffffffffU, 0}});
  v.emplace_back(GraftMsg{{0xa0a1a2a3U}});
  // Part (2, 3): the elements from 0xc0000000. A capacity-3 sketch (12 bytes); two asked.
  v.emplace_back(ReqReconMsg{
      7, 2, 3, 40, {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c}});
  v.emplace_back(ReconDiffMsg{7, 2, 3, ReconResult::kDecoded, 38, {0xc0000001U, 0xdeadbeefU}});
  return v;
}

inline std::vector<uint8_t> payload_of(const Message& m) {
  std::vector<uint8_t> out;
  encode_payload(m, out);
  return out;
}

}  // namespace hearsay::test
