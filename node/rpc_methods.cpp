#include "node/rpc_methods.h"

#include <boost/json.hpp>
#include <chrono>
#include <string>

#include "crypto/hex.h"
#include "net/address.h"
#include "net/ban_list.h"
#include "node/node.h"
#include "node/rpc_params.h"
#include "node/rpc_reject.h"
#include "node/rpc_server.h"

namespace hearsay {

namespace json = boost::json;

namespace {

using rpc::error;
using rpc::hash_param;
using rpc::hex_param;
using rpc::param;
using rpc::string_param;

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
  o["network"] = rpc::magic_hex(tx.network());
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
  // The frames above as TLS carried them (the handshake included): the wire's own count.
  o["tls_bytes_sent"] = p.traffic.tls_bytes_out;
  o["tls_bytes_recv"] = p.traffic.tls_bytes_in;
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
  json::object o;
  for_each_relay_stat(s, [&](const char* name, uint64_t v) { o[name] = v; });
  return o;
}

json::object ban_json(const BanEntry& b) {
  return {{"target", ban_target_string(b.target)},
          {"ban_created", unix_seconds(b.created)},
          {"banned_until", unix_seconds(b.until)},
          {"reason", b.reason}};
}

Time wall_now() {
  return std::chrono::duration_cast<Time>(std::chrono::system_clock::now().time_since_epoch());
}

struct PeerCounts {
  size_t in = 0, out = 0;
};

PeerCounts peer_counts(Node& node) {
  PeerCounts c;
  for (const PeerStats& p : node.peer_stats())
    (p.inbound ? c.in : c.out) += 1;
  return c;
}

// --- peers ----------------------------------------------------------------------------------

RpcResult add_peer(Node& node, const json::value& params) {
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
}

RpcResult disconnect_peer(Node& node, const json::value& params) {
  std::optional<PeerId> target;
  const json::value* v = param(params, 0);
  if (!v) return fail(error(kRpcInvalidParams, "missing parameter peer (identity or id)"));
  auto peers = node.peer_stats();
  if (v->is_int64() || v->is_uint64()) {
    const auto id = static_cast<PeerId>(v->to_number<uint64_t>());
    for (const PeerStats& p : peers)
      if (p.id == id) target = id;
  } else if (v->is_string()) {
    auto key = rpc::hex_fixed(v->get_string(), "peer", 32);
    if (!key) return fail(key.error());
    for (const PeerStats& p : peers)
      if (p.identity && std::equal(p.identity->begin(), p.identity->end(), key->begin()))
        target = p.id;
  } else {
    return fail(error(kRpcTypeError, "peer must be an id or 64 hex digits"));
  }
  if (!target) return fail(error(kRpcInvalidAddressOrKey, "no such connected peer"));
  node.host().with_peer_manager(
      [&](PeerManager& pm) { pm.disconnect(*target, "disconnectpeer RPC"); });
  return json::value(nullptr);
}

// Bitcoin Core's disconnectnode: exactly one of an address (as getpeerinfo shows it) and a
// node id; every connection at that address is closed.
RpcResult disconnect_node(Node& node, const json::value& params) {
  const json::value* addr = param(params, 0);
  const json::value* id = param(params, 1);
  const bool by_addr =
      addr && !addr->is_null() && !(addr->is_string() && addr->get_string().empty());
  const bool by_id = id && !id->is_null();
  if (by_addr == by_id)
    return fail(error(kRpcInvalidParams, "give exactly one of address and nodeid"));
  if (by_addr && !addr->is_string())
    return fail(error(kRpcTypeError, "address must be a string such as \"127.0.0.1:8401\""));
  if (by_id && !id->is_int64() && !id->is_uint64())
    return fail(error(kRpcTypeError, "nodeid must be a number (getpeerinfo's id)"));
  std::vector<PeerId> targets;
  for (const PeerStats& p : node.peer_stats()) {
    if (by_addr ? to_string(p.remote) == addr->get_string()
                : p.id == static_cast<PeerId>(id->to_number<uint64_t>()))
      targets.push_back(p.id);
  }
  if (targets.empty())
    return fail(error(kRpcInvalidAddressOrKey, "node not found in connected nodes"));
  node.host().with_peer_manager([&](PeerManager& pm) {
    for (PeerId t : targets)
      pm.disconnect(t, "disconnectnode RPC");
  });
  return json::value(nullptr);
}

RpcResult set_ban(Node& node, const json::value& params) {
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
    seconds = v->is_int64() ? v->get_int64() : -1;
    if (seconds < 1 || seconds > 10LL * 365 * 86400)
      return fail(error(kRpcInvalidParameter, "bantime must be from 1 to 315360000 seconds"));
  }
  Status s = node.host().set_ban(*target, std::chrono::seconds(seconds), "setban RPC");
  if (!s) return fail(error(kRpcInvalidParameter, s.message()));
  return json::value(nullptr);
}

// getpeerinfo: the host's view of each connection, and the relay's of its tree and
// reconciliation link (read on the network thread after the host's; a peer gone meanwhile just
// has no relay fields).
RpcResult peer_info(Node& node) {
  const std::vector<PeerStats> peers = node.peer_stats();
  std::vector<PeerId> ids;
  ids.reserve(peers.size());
  for (const PeerStats& p : peers)
    ids.push_back(p.id);
  const auto links = node.tree_links(ids);
  const auto recon = node.recon_links(ids);
  const auto flows = node.peer_flows(ids);
  json::array a;
  for (size_t i = 0; i < peers.size(); ++i) {
    json::object o = peer_json(peers[i]);
    if (const auto& t = links[i]) {
      o["tree"] = t->tree;
      o["tree_pruned"] = t->pruned_by_peer;
      o["tree_parent_of"] = t->parent_of;
    }
    if (const auto& r = recon[i]) {
      o["reconciles"] = r->reconciles;
      o["recon_asker"] = r->asker;
      o["flood"] = r->flood;
    }
    if (const auto& f = flows[i]) {
      o["request_window"] = f->window;
      o["link_rate_tps"] = f->rate;
      o["link_min_rtt_ms"] = f->min_rtt ? json::value(ms(*f->min_rtt)) : json::value(nullptr);
      o["deferred_announcements"] = f->deferred;
    }
    a.push_back(std::move(o));
  }
  return json::value(std::move(a));
}

// getpeerinfo, addpeer, disconnectpeer, disconnectnode and setnetworkactive.
std::vector<RpcMethodSpec> peer_methods(Node& node) {
  std::vector<RpcMethodSpec> m;
  m.push_back(
      {.name = "getpeerinfo",
       .summary = "Every connection: identity, address, direction, handshake, RTT, traffic.",
       .result = "An array with one object per connection: id, identity, address, direction, "
                 "state, bytes_sent and bytes_recv (frames: 24-byte header + payload), "
                 "tls_bytes_sent and tls_bytes_recv (TLS ciphertext, handshake included), "
                 "messages by type both ways (sent, sent_bytes, recv, recv_bytes), send queue, "
                 "link emulation, and after the handshake trusted, version, services, "
                 "user_agent, rtt_ms, phi, misbehaviour; once the peer is ready for relay, "
                 "tree (both ends relay by tree), tree_pruned (origins it pruned: announced to "
                 "it, not pushed), tree_parent_of (origins whose transactions it pushes to "
                 "us), reconciles (the link reconciles mempools: both ends set the service and "
                 "short ids are on), recon_asker (we ask for the rounds: we dialled) and flood "
                 "(new transactions are announced to it; false: it learns them by "
                 "reconciliation, --flood-peers); and its flow control: request_window "
                 "(getdata entries it may have in flight: twice its link's measured "
                 "bandwidth-delay product, 100 to 1000), link_rate_tps and link_min_rtt_ms "
                 "(what its answers showed; 0 and null until measured) and "
                 "deferred_announcements (over its tracked cap, to be fetched later).",
       .example = "hearsay-cli getpeerinfo",
       .handler = [&node](const json::value&) -> RpcResult { return peer_info(node); }});
  m.push_back(
      {.name = "addpeer",
       .summary = "Keeps a peer connected, like --connect.",
       .params = {{"peer", "string", true, "",
                   "The peer as PUBKEY@HOST:PORT (its identity, 64 hex digits, and address)."}},
       .result = "null.",
       .example = "hearsay-cli addpeer \"<64 hex digits>@127.0.0.1:8401\"",
       .handler = [&node](const json::value& p) { return add_peer(node, p); }});
  m.push_back({.name = "disconnectpeer",
               .summary = "Closes a connection (a --connect peer is dialled again).",
               .params = {{"peer", "string or number", true, "",
                           "The peer's identity (64 hex digits) or its id from getpeerinfo."}},
               .result = "null; -5 when no such peer is connected.",
               .example = "hearsay-cli disconnectpeer 3",
               .handler = [&node](const json::value& p) { return disconnect_peer(node, p); }});
  m.push_back({.name = "disconnectnode",
               .summary = "Closes the connection at an address, or with an id (Bitcoin Core's).",
               .params = {{"address", "string", false, "\"\"",
                           "The peer's address as getpeerinfo shows it (HOST:PORT)."},
                          {"nodeid", "number", false, "",
                           "The peer's id from getpeerinfo, with "
                           "address \"\" or null."}},
               .result =
                   "null; -5 when no such peer is connected, -32602 unless exactly one of "
                   "address and nodeid is given. A --connect peer is dialled again: to keep it "
                   "away for a while, setban its identity.",
               .example = "hearsay-cli disconnectnode 127.0.0.1:8401",
               .handler = [&node](const json::value& p) { return disconnect_node(node, p); }});
  m.push_back({.name = "setnetworkactive",
               .summary = "Turns all P2P activity off or on (Bitcoin Core's).",
               .params = {{"state", "boolean", true, "",
                           "false closes every connection and refuses every connection and dial; "
                           "true allows them again and dials the --connect peers at once."}},
               .result = "The state now in effect (getnetworkinfo's networkactive).",
               .example = "hearsay-cli setnetworkactive false",
               .handler = [&node](const json::value& p) -> RpcResult {
                 if (!param(p, 0)) return fail(error(kRpcInvalidParams, "missing parameter state"));
                 auto state = rpc::bool_param(p, 0, "state", true);
                 if (!state) return fail(state.error());
                 return json::value(node.host().set_network_active(*state));
               }});
  return m;
}

// The ban list's methods.
std::vector<RpcMethodSpec> ban_methods(Node& node) {
  std::vector<RpcMethodSpec> m;
  m.push_back({.name = "listbanned",
               .summary = "The ban list.",
               .result = "An array of {target, ban_created, banned_until, reason} (unix seconds).",
               .example = "hearsay-cli listbanned",
               .handler = [&node](const json::value&) -> RpcResult {
                 json::array a;
                 for (const BanEntry& b : node.host().list_bans())
                   a.push_back(ban_json(b));
                 return json::value(std::move(a));
               }});
  m.push_back(
      {.name = "setban",
       .summary = "Bans or unbans an identity or an IP address.",
       .params = {{"target", "string", true, "", "An identity (64 hex digits) or an IP address."},
                  {"command", "string", true, "", "\"add\" or \"remove\"."},
                  {"bantime", "number", false, "--ban-time",
                   "Seconds the ban lasts (1 to 315360000), for \"add\"."}},
       .result = "null; an IP ban on loopback is refused (ban the identity instead).",
       .example = "hearsay-cli setban 10.1.2.3 add 3600",
       .handler = [&node](const json::value& p) { return set_ban(node, p); }});
  m.push_back({.name = "clearbanned",
               .summary = "Removes every ban.",
               .result = "null.",
               .example = "hearsay-cli clearbanned",
               .handler = [&node](const json::value&) -> RpcResult {
                 node.host().clear_bans();
                 return json::value(nullptr);
               }});
  return m;
}

// --- transactions ---------------------------------------------------------------------------

// What explain_rejection() needs, read on the network thread after a refusal.
RejectContext reject_context(Node& node, const Transaction& tx) {
  RejectContext c;
  c.network_name = node.config().network.name;
  const Time now = wall_now();
  c.now_seconds = static_cast<uint64_t>(
      std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::seconds>(now).count()));
  node.with_chain([&](BlockRelay&, ChainState& chain, Mempool& pool) {
    const MempoolOptions& o = pool.options();
    c.network_magic = o.network;
    c.min_fee_rate = o.min_fee_rate;
    c.max_tx_size = o.max_tx_size;
    c.max_per_sender = o.max_per_sender;
    c.replace_step_percent = o.replace_step_percent;
    c.tip_height = chain.height();
    c.next_nonce = chain.next_nonce(tx.sender());
    const std::vector<TxRef> held = pool.by_sender(tx.sender());
    c.sender_held = held.size();
    for (const TxRef& h : held)
      if (h->nonce() == tx.nonce()) c.held_fee_rate = h->fee_rate();
    const MempoolInfo i = pool.info(now);
    c.lowest_fee_rate = i.lowest_fee_rate;
    c.memory_usage = i.memory_usage;
    c.max_bytes = i.max_bytes;
    c.mempool_full = i.memory_usage + Mempool::entry_usage(tx.size()) > i.max_bytes;
  });
  return c;
}

RpcResult send_raw_transaction(Node& node, const json::value& params) {
  auto bytes = rpc::hex_bytes_param(params, 0, "hex", kRpcDeserializationError);
  if (!bytes) {
    RpcError e = bytes.error();
    if (e.code == kRpcDeserializationError) e.message = "transaction " + e.message;
    return fail(std::move(e));
  }
  auto verbose = rpc::bool_param(params, 1, "verbose", false);
  if (!verbose) return fail(verbose.error());
  auto tx = Transaction::decode(std::move(*bytes));
  if (!tx)
    return fail(error(kRpcDeserializationError,
                      std::string("transaction does not decode: ") + to_string(tx.error())));
  const PoolResult r = node.submit(*tx);
  if (r.answer == PoolAnswer::kRejected)
    return fail(
        error(kRpcVerifyRejected, explain_rejection(r.reason, **tx, reject_context(node, **tx))));
  const std::string id = to_hex((*tx)->id());
  if (!*verbose) return json::value(id);  // accepted, or already held: the id either way
  return json::value{{"txid", id},
                     {"result", r.answer == PoolAnswer::kAccepted ? "accepted" : "already-held"}};
}

RpcResult mempool_info(Node& node) {
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
      {"max_per_sender", node.config().mempool.max_per_sender},
      {"min_fee_rate", node.config().mempool.min_fee_rate},
      {"lowest_fee_rate", i.lowest_fee_rate},
      {"oldest_age_s", std::chrono::duration_cast<std::chrono::seconds>(i.oldest_age).count()},
      {"admits", std::move(admits)},
      {"removals", std::move(removals)},
  };
}

// sendrawtransaction and the mempool's methods.
std::vector<RpcMethodSpec> tx_methods(Node& node) {
  std::vector<RpcMethodSpec> m;
  m.push_back(
      {.name = "sendrawtransaction",
       .summary = "Submits a signed transaction: admitted to the mempool and relayed.",
       .params = {{"hex", "string", true, "", "The transaction's encoding, in hex."},
                  {"verbose", "boolean", false, "false",
                   "true: answer {txid, result} to tell \"accepted\" from \"already-held\"."}},
       .result = "The txid (also when already held); with verbose, {\"txid\": HEX, \"result\": "
                 "\"accepted\" | \"already-held\"}. -22 when the hex or the transaction does not "
                 "decode; -26 when a rule refuses it, the message starting with the rule's name "
                 "and its numbers (e.g. \"fee-rate-too-low: 3 per 1,000 bytes, the minimum is "
                 "100\").",
       .example = "hearsay-cli sendrawtransaction \"<hex>\" true",
       .handler = [&node](const json::value& p) { return send_raw_transaction(node, p); }});
  m.push_back(
      {.name = "gettransaction",
       .summary = "A transaction the mempool holds.",
       .params = {{"txid", "string", true, "", "The transaction id, 64 hex digits."}},
       .result = "{txid, size, network (\"0x\" + 8 hex digits), sender, nonce, fee, fee_rate, "
                 "expiry, payload_size, hex, in_mempool}; -5 when not held.",
       .example = "hearsay-cli gettransaction \"<64 hex digits>\"",
       .handler = [&node](const json::value& params) -> RpcResult {
         auto id = hex_param<32>(params, 0, "txid");
         if (!id) return fail(id.error());
         TxRef tx = node.get_transaction(*id);
         if (!tx) return fail(error(kRpcInvalidAddressOrKey, "no such transaction in the mempool"));
         json::object o = tx_json(*tx);
         o["in_mempool"] = true;
         return json::value(std::move(o));
       }});
  m.push_back({.name = "getmempoolinfo",
               .summary = "The mempool's size, limits, fee rates and counters.",
               .result = "{size, bytes, usage, maxmempool, senders, max_per_sender, min_fee_rate, "
                         "lowest_fee_rate, oldest_age_s, admits (answers by code), removals (by "
                         "reason)}.",
               .example = "hearsay-cli getmempoolinfo",
               .handler = [&node](const json::value&) { return mempool_info(node); }});
  m.push_back({.name = "getrawmempool",
               .summary = "The ids of the transactions the mempool holds, newest first.",
               .result = "An array of txids.",
               .example = "hearsay-cli getrawmempool",
               .handler = [&node](const json::value&) -> RpcResult {
                 json::array a;
                 for (const TxId& id : node.mempool_ids())
                   a.push_back(json::value(to_hex(id)));
                 return json::value(std::move(a));
               }});
  m.push_back(
      {.name = "getnextnonce",
       .summary = "The next nonce a sender should use (after its confirmed and held ones).",
       .params = {{"sender", "string", true, "", "The sender's public key, 64 hex digits."}},
       .result = "A number.",
       .example = "hearsay-cli getnextnonce \"<64 hex digits>\"",
       .handler = [&node](const json::value& params) -> RpcResult {
         auto key = hex_param<32>(params, 0, "sender");
         if (!key) return fail(key.error());
         return json::value(node.next_nonce(*key));
       }});
  return m;
}

// --- blocks ---------------------------------------------------------------------------------

// getblock HASH [VERBOSITY]: 0 the block's hex, 1 its header and transaction ids, 2 its header
// and transactions (bitcoind's verbosity levels).
RpcResult get_block(Node& node, const json::value& params) {
  auto id = hash_param(params, 0, "blockhash");
  if (!id) return fail(id.error());
  int64_t verbosity = 1;
  if (const json::value* v = param(params, 1)) {
    if (v->is_bool())
      verbosity = v->get_bool() ? 1 : 0;
    else if (v->is_int64())
      verbosity = v->get_int64();
    else if (v->is_uint64())
      verbosity = -1;
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

RpcResult get_block_header(Node& node, const json::value& params) {
  auto id = hash_param(params, 0, "blockhash");
  if (!id) return fail(id.error());
  auto verbose = rpc::bool_param(params, 1, "verbose", true);
  if (!verbose) return fail(verbose.error());
  auto info =
      node.with_chain([&](BlockRelay&, ChainState& chain, Mempool&) { return chain.info(*id); });
  if (!info) return fail(error(kRpcInvalidAddressOrKey, "block not found"));
  if (!*verbose) {
    std::vector<uint8_t> bytes;
    info->header.encode(bytes);
    return json::value(to_hex(bytes));
  }
  return json::value(header_json(*info));
}

RpcResult chain_info(Node& node) {
  const ChainInfo c = node.chain_info();
  return json::value{
      {"network", c.network},
      {"magic", rpc::magic_hex(node.config().network.magic)},
      {"blocks", c.height},
      {"headers", c.headers},
      {"bestblockhash", to_hex(c.tip)},
      {"time", c.tip_time},
      {"orphans", c.orphans},
      {"reorgs", c.reorgs},
      {"txs", c.txs_confirmed},
      {"producer", node.is_producer()},
  };
}

RpcResult blockchain_info(Node& node) {
  const ChainInfo c = node.chain_info();
  return json::value{
      {"chain", c.network},
      {"magic", rpc::magic_hex(node.config().network.magic)},
      {"blocks", c.height},
      {"headers", c.headers},
      {"bestblockhash", to_hex(c.tip)},
      {"time", c.tip_time},
      {"txs", c.txs_confirmed},
  };
}

RpcResult generate_block(Node& node) {
  if (!node.is_producer()) return fail(error(kRpcMiscError, kNotAProducerError));
  auto block = node.generate_block();
  if (!block) return fail(error(kRpcMiscError, block.error()));
  const Block& b = **block;
  return json::value{{"hash", to_hex(b.header.id())},
                     {"height", b.header.height},
                     {"txs", b.txs.size()},
                     {"size", b.encoded_size()}};
}

const RpcParam kBlockHashParam{"blockhash", "string", true, "", "The block's hash, 64 hex digits."};

// The chain's methods, and generateblock.
std::vector<RpcMethodSpec> block_methods(Node& node) {
  std::vector<RpcMethodSpec> m;
  m.push_back(
      {.name = "getbestblock",
       .summary = "The tip of the best chain.",
       .result = "{hash, height, time}.",
       .example = "hearsay-cli getbestblock",
       .handler = [&node](const json::value&) -> RpcResult {
         const ChainInfo c = node.chain_info();
         return json::value{{"hash", to_hex(c.tip)}, {"height", c.height}, {"time", c.tip_time}};
       }});
  m.push_back({.name = "getblockcount",
               .summary = "The height of the tip.",
               .result = "A number.",
               .example = "hearsay-cli getblockcount",
               .handler = [&node](const json::value&) -> RpcResult {
                 return json::value(node.chain_info().height);
               }});
  m.push_back(
      {.name = "getchaininfo",
       .summary = "The chain: network, tip, headers, orphans, reorgs.",
       .result = "{network (name), magic (\"0x\" + 8 hex digits), blocks, headers, bestblockhash, "
                 "time, orphans, reorgs, txs, producer}.",
       .example = "hearsay-cli getchaininfo",
       .handler = [&node](const json::value&) { return chain_info(node); }});
  m.push_back({.name = "getblockchaininfo",
               .summary = "The chain, shaped as bitcoind's getblockchaininfo.",
               .result =
                   "{chain (the network's name), magic (\"0x\" + 8 hex digits), blocks, headers, "
                   "bestblockhash, time (the tip's), txs}.",
               .example = "hearsay-cli getblockchaininfo",
               .handler = [&node](const json::value&) { return blockchain_info(node); }});
  m.push_back(
      {.name = "generateblock",
       .summary = "Producer only: builds a block from the mempool, connects and announces it.",
       .result = "{hash, height, txs, size}; -1 when the node is not a producer.",
       .example = "hearsay-cli generateblock",
       .handler = [&node](const json::value&) { return generate_block(node); }});
  m.push_back(
      {.name = "getblock",
       .summary = "A block by its hash.",
       .params = {kBlockHashParam,
                  {"verbosity", "number", false, "1",
                   "0: the block's hex; 1: header fields and txids; 2: transactions as objects."}},
       .result = "0: hex; 1: {hash, height, time, prev, merkle_root, producer, confirmations, "
                 "size, ntx, tx: [txid], next}; 2: the same with each tx an object. -5 unknown, "
                 "-8 malformed hash.",
       .example = "hearsay-cli getblock \"<64 hex digits>\" 2",
       .handler = [&node](const json::value& p) { return get_block(node, p); }});
  m.push_back(
      {.name = "getblockheader",
       .summary = "A block's header by its hash.",
       .params = {kBlockHashParam,
                  {"verbose", "boolean", false, "true", "false: the header's hex instead."}},
       .result = "{hash, height, time, prev, merkle_root, producer, confirmations, next}, or hex.",
       .example = "hearsay-cli getblockheader \"<64 hex digits>\"",
       .handler = [&node](const json::value& p) { return get_block_header(node, p); }});
  return m;
}

// --- the node -------------------------------------------------------------------------------

RpcResult get_info(Node& node) {
  const NodeConfig& c = node.config();
  json::object o;
  o["version"] = kHearsayVersion;
  o["network"] = c.network.name;
  o["magic"] = rpc::magic_hex(c.network.magic);
  o["identity"] = to_hex(node.identity());
  auto listen = node.listen_address();
  o["listen"] = listen ? json::value(to_string(*listen)) : json::value(nullptr);
  const PeerCounts peers = peer_counts(node);
  o["connections"] = peers.in + peers.out;
  o["connections_in"] = peers.in;
  o["connections_out"] = peers.out;
  o["mempool_size"] = node.mempool_size();
  const ChainInfo chain = node.chain_info();
  o["blocks"] = chain.height;
  o["bestblockhash"] = to_hex(chain.tip);
  o["datadir"] = c.datadir;
  o["relay_mode"] = relay_mode_name(c);
  o["relay"] = relay_json(node.relay_stats());
  // Since start, closed connections included: what the node put on the wire and took off it.
  const TrafficCounters traffic = node.host().total_traffic();
  o["tls_bytes_sent"] = traffic.tls_bytes_out;
  o["tls_bytes_recv"] = traffic.tls_bytes_in;
  return json::value(std::move(o));
}

RpcResult network_info(Node& node) {
  const NodeConfig& c = node.config();
  json::object o;
  o["version"] = kHearsayVersion;
  o["subversion"] = c.host.peer_manager.user_agent;
  o["protocolversion"] = c.host.peer_manager.protocol_version;
  o["network"] = c.network.name;
  o["magic"] = rpc::magic_hex(c.network.magic);
  o["identity"] = to_hex(node.identity());
  auto listen = node.listen_address();
  o["listen"] = listen ? json::value(to_string(*listen)) : json::value(nullptr);
  const PeerCounts peers = peer_counts(node);
  o["connections"] = peers.in + peers.out;
  o["connections_in"] = peers.in;
  o["connections_out"] = peers.out;
  o["relayfee"] = c.mempool.min_fee_rate;
  o["min_fee_rate"] = c.mempool.min_fee_rate;
  o["relay_mode"] = relay_mode_name(c);
  o["push_peers"] = c.relay.push_peers;
  using std::chrono::duration_cast, std::chrono::milliseconds;
  o["graft_timeout_ms"] = duration_cast<milliseconds>(c.relay.graft_timeout).count();
  o["lazy_interval_ms"] = duration_cast<milliseconds>(c.relay.lazy_interval).count();
  o["reconcile"] = reconciles(c);
  o["reconcile_interval_ms"] = duration_cast<milliseconds>(c.relay.reconcile_interval).count();
  o["flood_peers"] = c.relay.flood_peers;
  o["networkactive"] = node.host().net_stats().network_active;
  return json::value(std::move(o));
}

// getinfo, getnetworkinfo, getconnectioncount, uptime and stop.
std::vector<RpcMethodSpec> node_methods(Node& node, const std::function<void()>& request_stop) {
  const auto started = std::chrono::steady_clock::now();
  std::vector<RpcMethodSpec> m;
  m.push_back(
      {.name = "getinfo",
       .summary = "The node at a glance: version, network, identity, peers, mempool, chain.",
       .result = "{version, network, magic, identity, listen, connections, connections_in, "
                 "connections_out, mempool_size, blocks, bestblockhash, datadir, relay_mode "
                 "(\"pull\", \"push\" or \"tree\"), relay (counters; tree relay's: "
                 "tree_peers, tree_pushed, prunes_sent, prunes_received, grafts_sent, "
                 "grafts_received, tree_swaps, withheld; reconciliation's: recon_peers, "
                 "recon_rounds (asked for), recon_requests_sent, recon_requests_received "
                 "(reqrecon, one per part), recon_sketch_bytes_sent, recon_sketch_bytes_received, "
                 "recon_differences, recon_failures (undecodable sketches), recon_bisections, "
                 "recon_exchanges (failed parts announced whole), recon_refused (over a peer's "
                 "budget), recon_timeouts, recon_announced (ids a "
                 "peer lacked)), tls_bytes_sent, tls_bytes_recv (TLS "
                 "ciphertext of all connections since start, closed ones included)}.",
       .example = "hearsay-cli getinfo",
       .handler = [&node](const json::value&) { return get_info(node); }});
  m.push_back(
      {.name = "getnetworkinfo",
       .summary = "The node's network: version, user agent, protocol, magic, connections, fee, "
                  "relay mode, reconciliation.",
       .result = "{version, subversion (user agent), protocolversion, network (name), magic "
                 "(\"0x\" + 8 hex digits), identity, listen, connections, connections_in, "
                 "connections_out, relayfee, min_fee_rate (both per 1,000 bytes), relay_mode "
                 "(\"pull\", \"push\" or \"tree\"), push_peers (push mode's), "
                 "graft_timeout_ms, lazy_interval_ms (tree mode's), reconcile (set "
                 "reconciliation on: --reconcile with short ids), reconcile_interval_ms (0: only "
                 "on connect), flood_peers (0: new transactions announced to every peer), "
                 "networkactive (false: setnetworkactive turned P2P off)}.",
       .example = "hearsay-cli getnetworkinfo",
       .handler = [&node](const json::value&) { return network_info(node); }});
  m.push_back({.name = "getconnectioncount",
               .summary = "The number of connections, both directions.",
               .result = "A number.",
               .example = "hearsay-cli getconnectioncount",
               .handler = [&node](const json::value&) -> RpcResult {
                 return json::value(node.peer_stats().size());
               }});
  m.push_back({.name = "uptime",
               .summary = "Seconds since the node started.",
               .result = "A number.",
               .example = "hearsay-cli uptime",
               .handler = [started](const json::value&) -> RpcResult {
                 const auto up = std::chrono::steady_clock::now() - started;
                 return json::value(std::chrono::duration_cast<std::chrono::seconds>(up).count());
               }});
  m.push_back({.name = "stop",
               .summary = "Stops hearsayd.",
               .result = "\"hearsayd stopping\".",
               .example = "hearsay-cli stop",
               .handler = [request_stop](const json::value&) -> RpcResult {
                 request_stop();
                 return json::value("hearsayd stopping");
               }});
  return m;
}

}  // namespace

std::vector<RpcMethodSpec> rpc_method_table(Node& node, const std::function<void()>& request_stop) {
  std::vector<RpcMethodSpec> all = node_methods(node, request_stop);
  for (auto* group : {&peer_methods, &ban_methods, &tx_methods, &block_methods})
    for (RpcMethodSpec& spec : (*group)(node))
      all.push_back(std::move(spec));
  return all;
}

void register_rpc_methods(RpcServer& server, Node& node,
                          const std::function<void()>& request_stop) {
  for (RpcMethodSpec& spec : rpc_method_table(node, request_stop))
    server.add_method(std::move(spec));
}

}  // namespace hearsay
