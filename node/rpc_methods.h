// The JSON-RPC methods of hearsayd (README's "RPC reference" lists them with examples).
//
// Parameters are positional (an array), as bitcoind takes them; ids and keys are lower-case
// hex in the byte order of the hash (no reversal). Errors use the stable codes of
// rpc_dispatch.h: -22 undecodable hex or transaction, -26 refused by a rule (the message is the
// rule's name, e.g. "fee-rate-too-low"), -5 unknown transaction or peer, -8 a parameter out of
// range, -32602 wrong parameter types.
#pragma once

#include <functional>

namespace hearsay {

class Node;
class RpcServer;

// Registers every method on `server` (before it starts). `request_stop` is what `stop` calls
// (hearsayd signals its main thread; it must not stop the server from the handler).
void register_rpc_methods(RpcServer& server, Node& node, const std::function<void()>& request_stop);

}  // namespace hearsay
