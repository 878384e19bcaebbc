#include "node/rpc_methods.h"

#include <boost/json.hpp>
#include <chrono>
#include <string>

#include "crypto/hex.h"
#include "net/address.h"
#include "net/ban_list.h"
#include "node/node.h"
#include "node/rpc_server.h"

namespace hearsay {

namespace json = boost::json;

namespace {

RpcError error(int code, std::string message) {
  return RpcError{code, std::move(message)};
}

// Positional parameter i (params must be an array); nullptr when absent.
const json::value* param(const json::value& params, size_t i) {
  if (!params.is_array()) return nullptr;
  const json::array& a = params.get_array();
  return i < a.size() && !a[i].is_null() ? &a[i] : nullptr;
}

Result<std::string, RpcError> string_param(const json::value& params, size_t i, const char* name) {
  const json::value* v = param(params, i);
  if (!v) return fail(error(kRpcInvalidParams, std::string("missing parameter ") + name));
  if (!v->is_string()) return fail(error(kRpcTypeError, std::string(name) + " must be a string"));
  return std::string(v->get_string());
}

template <size_t N>
Result<std::array<uint8_t, N>, RpcError> hex_param(const json::value& params, size_t i,
                                                   const char* name) {
  auto s = string_param(params, i, name);
  if (!s) return fail(s.error());
  auto a = from_hex_array<N>(*s);
  if (!a)
    return fail(error(kRpcInvalidParameter,
                      std::string(name) + " must be " + std::to_string(2 * N) + " hex digits"));
  return *a;
}

// A block hash parameter, checked as bitcoind's ParseHashV does (-8): "NAME must be of length
// 64 (not N, for 'X')", else "NAME must be hexadecimal string (not 'X')".
Result<BlockId, RpcError> hash_param(const json::value& params, size_t i, const char* name) {
  auto s = string_param(params, i, name);
  if (!s) return fail(s.error());
  if (auto a = from_hex_array<32>(*s)) return *a;
  constexpr size_t kShown = 80;  // characters of a bad value echoed back
  const std::string shown = s->size() > kShown ? s->substr(0, kShown) + "..." : *s;
  if (s->size() != 64)
    return fail(error(kRpcInvalidParameter, std::string(name) + " must be of length 64 (not " +
                                                std::to_string(s->size()) + ", for '" + shown +
                                                "')"));
  return fail(error(kRpcInvalidParameter,
                    std::string(name) + " must be hexadecimal string (not '" + shown + "')"));
}

double ms(Duration d) {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(d).count()) /
         1000.0;
}

int64_t unix_seconds(Time t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t).count();
}

json::object tx_json(const Transaction& tx) {
  json::object o;
  o["txid"] = to_hex(tx.id());
  o["size"] = tx.size();
  o["network"] = tx.network();
  o["sender"] = to_hex(tx.sender());
  o["nonce"] = tx.nonce();
  o["fee"] = tx.fee();
  o["fee_rate"] = tx.fee_rate();
  o["expiry"] = tx.expiry();
  o["payload_size"] = tx.payload().size();
  o["hex"] = to_hex(tx.encoding());
  return o;
}

json::object header_json(const BlockInfo& b) {
  json::object o;
  o["hash"] = to_hex(b.id);
  o["height"] = b.header.height;
  o["time"] = b.header.time;
  o["prev"] = to_hex(b.header.prev);
  o["merkle_root"] = to_hex(b.header.merkle_root);
  o["producer"] = to_hex(b.header.producer);
  o["confirmations"] = b.confirmations;
  if (b.next) o["next"] = to_hex(*b.next);
  return o;
}

json::object peer_json(const PeerStats& p) {
  json::object o;
  o["id"] = p.id;
  o["identity"] = p.identity ? json::value(to_hex(*p.identity)) : json::value(nullptr);
  o["address"] = to_string(p.remote);
  o["direction"] = p.inbound ? "inbound" : "outbound";
  o["state"] = p.state;
  o["bytes_sent"] = p.traffic.total_bytes_out();
  o["bytes_recv"] = p.traffic.total_bytes_in();
  json::object by_type;
  for (size_t t = 0; t < kMsgTypeCount; ++t) {
    if (!p.traffic.msgs_in[t] && !p.traffic.msgs_out[t]) continue;
    by_type[command_name(static_cast<MsgType>(t))] = {
        {"sent", p.traffic.msgs_out[t]},
        {"sent_bytes", p.traffic.bytes_out[t]},
        {"recv", p.traffic.msgs_in[t]},
        {"recv_bytes", p.traffic.bytes_in[t]},
    };
  }
  o["messages"] = std::move(by_type);
  o["send_queue_bytes"] = p.queued_bytes;
  o["link"] = {{"delay_ms", p.link.delay_ms},
               {"jitter_ms", p.link.jitter_ms},
               {"bandwidth_kbps", p.link.bandwidth_kbps}};
  if (const auto& pi = p.protocol) {
    o["trusted"] = pi->trusted;
    o["handshake_done"] = pi->handshake_done;
    o["version"] = pi->version;
    o["services"] = pi->services;
    o["user_agent"] = pi->user_agent;
    o["connected_time"] = unix_seconds(pi->connected_at);
    o["rtt_ms"] = pi->last_rtt ? json::value(ms(*pi->last_rtt)) : json::value(nullptr);
    o["min_rtt_ms"] = pi->min_rtt ? json::value(ms(*pi->min_rtt)) : json::value(nullptr);
    o["phi"] = pi->phi;
    o["suspected"] = pi->suspected;
    o["misbehaviour"] = pi->misbehaviour;
    o["listen_address"] = to_string(pi->listen_address);
  }
  return o;
}

json::object relay_json(const TxRelayStats& s) {
  return {
      {"inv_received", s.inv_received},
      {"inv_sent", s.inv_sent},
      {"inv_messages_sent", s.inv_messages_sent},
      {"getdata_sent", s.getdata_sent},
      {"getdata_received", s.getdata_received},
      {"notfound_sent", s.notfound_sent},
      {"notfound_received", s.notfound_received},
      {"bodies_received", s.bodies_received},
      {"duplicate_bodies", s.duplicate_bodies},
      {"unrequested", s.unrequested},
      {"pushed", s.pushed},
      {"served", s.served},
      {"request_timeouts", s.request_timeouts},
      {"announce_dropped", s.announce_dropped},
      {"verify_dropped", s.verify_dropped},
      {"accepted", s.accepted},
      {"rejected", s.rejected},
      {"bad_signatures", s.bad_signatures},
      {"expired", s.expired},
      {"local_submitted", s.local_submitted},
      {"verifying", s.verifying},
      {"seen_entries", s.seen_size},
      {"seen_memory_bytes", s.seen_memory_bytes},
      {"tracked_announcements", s.tracked_announcements},
  };
}

json::object ban_json(const BanEntry& b) {
  return {{"target", ban_target_string(b.target)},
          {"ban_created", unix_seconds(b.created)},
          {"banned_until", unix_seconds(b.until)},
          {"reason", b.reason}};
}

// getpeerinfo, addpeer, disconnectpeer and the ban list's methods. A registration table: each
// entry is short, and the list reads best in one piece.
void register_peer_methods(RpcServer& server, Node& node) {  // NOLINT(readability-function-size)
  server.add_method("getpeerinfo", [&node](const json::value&) -> RpcResult {
    json::array a;
    for (const PeerStats& p : node.peer_stats())
      a.push_back(peer_json(p));
    return json::value(std::move(a));
  });

  server.add_method("addpeer", [&node](const json::value& params) -> RpcResult {
    auto s = string_param(params, 0, "peer");
    if (!s) return fail(s.error());
    auto t = parse_dial_target(*s);
    if (!t) return fail(error(kRpcInvalidParameter, t.error()));
    const bool added = node.host().with_peer_manager(
        [&](PeerManager& pm) { return pm.add_connect(t->address, t->identity); });
    if (!added)
      return fail(error(kRpcInvalidParameter, "not added: " + *s +
                                                  " is already a peer to keep connected, or " +
                                                  std::to_string(kMaxConnectTargets) + " are set"));
    return json::value(nullptr);
  });

  server.add_method("disconnectpeer", [&node](const json::value& params) -> RpcResult {
    std::optional<PeerId> target;
    const json::value* v = param(params, 0);
    if (!v) return fail(error(kRpcInvalidParams, "missing parameter peer (identity or id)"));
    auto peers = node.peer_stats();
    if (v->is_int64() || v->is_uint64()) {
      const auto id = static_cast<PeerId>(v->to_number<uint64_t>());
      for (const PeerStats& p : peers)
        if (p.id == id) target = id;
    } else if (v->is_string()) {
      auto key = from_hex_array<32>(std::string(v->get_string()));
      if (!key) return fail(error(kRpcInvalidParameter, "peer must be an id or 64 hex digits"));
      for (const PeerStats& p : peers)
        if (p.identity && *p.identity == *key) target = p.id;
    } else {
      return fail(error(kRpcTypeError, "peer must be an id or 64 hex digits"));
    }
    if (!target) return fail(error(kRpcInvalidAddressOrKey, "no such connected peer"));
    node.host().with_peer_manager(
        [&](PeerManager& pm) { pm.disconnect(*target, "disconnectpeer RPC"); });
    return json::value(nullptr);
  });

  server.add_method("listbanned", [&node](const json::value&) -> RpcResult {
    json::array a;
    for (const BanEntry& b : node.host().list_bans())
      a.push_back(ban_json(b));
    return json::value(std::move(a));
  });

  server.add_method("setban", [&node](const json::value& params) -> RpcResult {
    auto target = string_param(params, 0, "target");
    if (!target) return fail(target.error());
    auto command = string_param(params, 1, "command");
    if (!command) return fail(command.error());
    if (*command == "remove") {
      if (!node.host().remove_ban(*target))
        return fail(error(kRpcInvalidAddressOrKey, "not banned: " + *target));
      return json::value(nullptr);
    }
    if (*command != "add")
      return fail(error(kRpcInvalidParameter, "command must be \"add\" or \"remove\""));
    int64_t seconds =
        std::chrono::duration_cast<std::chrono::seconds>(node.config().host.peer_manager.ban_time)
            .count();
    if (const json::value* v = param(params, 2)) {
      if (!v->is_int64() && !v->is_uint64())
        return fail(error(kRpcTypeError, "bantime must be a whole number of seconds"));
      seconds = v->to_number<int64_t>();
      if (seconds < 1 || seconds > 10LL * 365 * 86400)
        return fail(error(kRpcInvalidParameter, "bantime must be from 1 to 315360000 seconds"));
    }
    Status s = node.host().set_ban(*target, std::chrono::seconds(seconds), "setban RPC");
    if (!s) return fail(error(kRpcInvalidParameter, s.message()));
    return json::value(nullptr);
  });

  server.add_method("clearbanned", [&node](const json::value&) -> RpcResult {
    node.host().clear_bans();
    return json::value(nullptr);
  });
}

// sendrawtransaction and the mempool's methods.
void register_tx_methods(RpcServer& server, Node& node) {
  server.add_method("sendrawtransaction", [&node](const json::value& params) -> RpcResult {
    auto hex = string_param(params, 0, "hex");
    if (!hex) return fail(hex.error());
    auto bytes = from_hex(*hex);
    if (!bytes) return fail(error(kRpcDeserializationError, "transaction hex is not hex"));
    auto tx = Transaction::decode(std::move(*bytes));
    if (!tx)
      return fail(error(kRpcDeserializationError,
                        std::string("transaction does not decode: ") + to_string(tx.error())));
    const PoolResult r = node.submit(*tx);
    if (r.answer == PoolAnswer::kRejected) return fail(error(kRpcVerifyRejected, r.reason));
    return json::value(to_hex((*tx)->id()));  // accepted, or already held: the id either way
  });

  server.add_method("gettransaction", [&node](const json::value& params) -> RpcResult {
    auto id = hex_param<32>(params, 0, "txid");
    if (!id) return fail(id.error());
    TxRef tx = node.get_transaction(*id);
    if (!tx) return fail(error(kRpcInvalidAddressOrKey, "no such transaction in the mempool"));
    json::object o = tx_json(*tx);
    o["in_mempool"] = true;
    return json::value(std::move(o));
  });

  server.add_method("getmempoolinfo", [&node](const json::value&) -> RpcResult {
    const MempoolInfo i = node.mempool_info();
    json::object admits, removals;
    for (size_t c = 0; c < kAdmitCodeCount; ++c)
      if (i.admits[c]) admits[to_string(static_cast<AdmitCode>(c))] = i.admits[c];
    for (size_t r = 0; r < kRemovalReasonCount; ++r)
      if (i.removals[r]) removals[to_string(static_cast<RemovalReason>(r))] = i.removals[r];
    return json::value{
        {"size", i.count},
        {"bytes", i.bytes},
        {"usage", i.memory_usage},
        {"maxmempool", i.max_bytes},
        {"senders", i.senders},
        {"min_fee_rate", node.config().mempool.min_fee_rate},
        {"lowest_fee_rate", i.lowest_fee_rate},
        {"oldest_age_s", std::chrono::duration_cast<std::chrono::seconds>(i.oldest_age).count()},
        {"admits", std::move(admits)},
        {"removals", std::move(removals)},
    };
  });

  server.add_method("getrawmempool", [&node](const json::value&) -> RpcResult {
    json::array a;
    for (const TxId& id : node.mempool_ids())
      a.push_back(json::value(to_hex(id)));
    return json::value(std::move(a));
  });

  server.add_method("getnextnonce", [&node](const json::value& params) -> RpcResult {
    auto key = hex_param<32>(params, 0, "sender");
    if (!key) return fail(key.error());
    return json::value(node.next_nonce(*key));
  });
}

// getblock HASH [VERBOSITY]: 0 the block's hex, 1 its header and transaction ids, 2 its header
// and transactions (bitcoind's verbosity levels).
RpcResult get_block(Node& node, const json::value& params) {
  auto id = hash_param(params, 0, "blockhash");
  if (!id) return fail(id.error());
  int64_t verbosity = 1;
  if (const json::value* v = param(params, 1)) {
    if (v->is_bool())
      verbosity = v->get_bool() ? 1 : 0;
    else if (v->is_int64() || v->is_uint64())
      verbosity = v->to_number<int64_t>();
    else
      return fail(error(kRpcTypeError, "verbosity must be 0, 1 or 2"));
    if (verbosity < 0 || verbosity > 2)
      return fail(error(kRpcInvalidParameter, "verbosity must be 0, 1 or 2"));
  }
  struct Found {
    std::optional<BlockInfo> info;
    BlockRef block;
  };
  Found f = node.with_chain([&](BlockRelay&, ChainState& chain, Mempool&) {
    Found r{chain.info(*id), nullptr};
    if (r.info && r.info->have_body) r.block = chain.block(*id);
    return r;
  });
  if (!f.info) return fail(error(kRpcInvalidAddressOrKey, "block not found"));
  if (!f.block)
    return fail(error(kRpcMiscError,
                      "block not available: only its header is known (its body is still being "
                      "downloaded, or it was never sent)"));
  if (verbosity == 0) {
    std::vector<uint8_t> bytes;
    f.block->encode(bytes);
    return json::value(to_hex(bytes));
  }
  json::object o = header_json(*f.info);
  o["size"] = f.block->encoded_size();
  o["ntx"] = f.block->txs.size();
  json::array txs;
  for (const TxRef& tx : f.block->txs) {
    if (verbosity == 1)
      txs.push_back(json::value(to_hex(tx->id())));
    else
      txs.push_back(tx_json(*tx));
  }
  o["tx"] = std::move(txs);
  if (f.info->next) {  // keep "next" last, as getblockheader shows it
    o.erase("next");
    o["next"] = to_hex(*f.info->next);
  }
  return json::value(std::move(o));
}

// The chain's methods, and generateblock.
void register_block_methods(RpcServer& server, Node& node) {
  server.add_method("getbestblock", [&node](const json::value&) -> RpcResult {
    const ChainInfo c = node.chain_info();
    return json::value{{"hash", to_hex(c.tip)}, {"height", c.height}, {"time", c.tip_time}};
  });

  server.add_method("getchaininfo", [&node](const json::value&) -> RpcResult {
    const ChainInfo c = node.chain_info();
    return json::value{
        {"network", c.network},
        {"blocks", c.height},
        {"headers", c.headers},
        {"bestblockhash", to_hex(c.tip)},
        {"time", c.tip_time},
        {"orphans", c.orphans},
        {"reorgs", c.reorgs},
        {"txs", c.txs_confirmed},
        {"producer", node.is_producer()},
    };
  });

  server.add_method("generateblock", [&node](const json::value&) -> RpcResult {
    if (!node.is_producer()) return fail(error(kRpcMiscError, kNotAProducerError));
    auto block = node.generate_block();
    if (!block) return fail(error(kRpcMiscError, block.error()));
    const Block& b = **block;
    return json::value{{"hash", to_hex(b.header.id())},
                       {"height", b.header.height},
                       {"txs", b.txs.size()},
                       {"size", b.encoded_size()}};
  });

  server.add_method("getblockheader", [&node](const json::value& params) -> RpcResult {
    auto id = hash_param(params, 0, "blockhash");
    if (!id) return fail(id.error());
    bool verbose = true;
    if (const json::value* v = param(params, 1)) {
      if (v->is_bool())
        verbose = v->get_bool();
      else if (v->is_int64() || v->is_uint64())
        verbose = v->to_number<int64_t>() != 0;
      else
        return fail(error(kRpcTypeError, "verbose must be true or false"));
    }
    auto info =
        node.with_chain([&](BlockRelay&, ChainState& chain, Mempool&) { return chain.info(*id); });
    if (!info) return fail(error(kRpcInvalidAddressOrKey, "block not found"));
    if (!verbose) {
      std::vector<uint8_t> bytes;
      info->header.encode(bytes);
      return json::value(to_hex(bytes));
    }
    return json::value(header_json(*info));
  });

  server.add_method("getblock",
                    [&node](const json::value& params) { return get_block(node, params); });
}

}  // namespace

void register_rpc_methods(RpcServer& server, Node& node,
                          const std::function<void()>& request_stop) {
  server.add_method("getinfo", [&node](const json::value&) -> RpcResult {
    const NodeConfig& c = node.config();
    json::object o;
    o["version"] = kHearsayVersion;
    o["network"] = c.network.name;
    o["identity"] = to_hex(node.identity());
    auto listen = node.listen_address();
    o["listen"] = listen ? json::value(to_string(*listen)) : json::value(nullptr);
    size_t in = 0, out = 0;
    for (const PeerStats& p : node.peer_stats())
      (p.inbound ? in : out) += 1;
    o["connections"] = in + out;
    o["connections_in"] = in;
    o["connections_out"] = out;
    o["mempool_size"] = node.mempool_size();
    const ChainInfo chain = node.chain_info();
    o["blocks"] = chain.height;
    o["bestblockhash"] = to_hex(chain.tip);
    o["datadir"] = c.datadir;
    o["relay"] = relay_json(node.relay_stats());
    return json::value(std::move(o));
  });

  register_peer_methods(server, node);
  register_tx_methods(server, node);
  register_block_methods(server, node);

  server.add_method("stop", [request_stop](const json::value&) -> RpcResult {
    request_stop();
    return json::value("hearsayd stopping");
  });
}

}  // namespace hearsay
