// The JSON-RPC methods of hearsayd (README's "RPC methods" lists them; `help METHOD` shows
// each one's usage, parameters, result and an example, from the same table).
//
// Parameters are positional (an array), as bitcoind takes them; ids and keys are lower-case
// hex in the byte order of the hash (no reversal); a network magic is "0x" and 8 lower-case
// hex digits. Errors use the stable codes of rpc_dispatch.h: -22 undecodable hex or
// transaction, -26 refused by a rule (the message starts with the rule's name, e.g.
// "fee-rate-too-low: 3 per 1,000 bytes, the minimum is 100"; node/rpc_reject.h), -5 unknown
// transaction or peer, -8 a parameter out of range, -3 a parameter of the wrong type, -32602 a
// wrong number of parameters.
#pragma once

#include <functional>
#include <vector>

#include "node/rpc_dispatch.h"

namespace hearsay {

class Node;
class RpcServer;

// Every method of the node, with its help: what register_rpc_methods() registers.
std::vector<RpcMethodSpec> rpc_method_table(Node& node, const std::function<void()>& request_stop);

// Registers every method on `server` (before it starts). `request_stop` is what `stop` calls
// (hearsayd signals its main thread; it must not stop the server from the handler).
void register_rpc_methods(RpcServer& server, Node& node, const std::function<void()>& request_stop);

}  // namespace hearsay
