// The parts of RpcDispatcher that read a method's spec (rpc_dispatch.h): the parameter-count
// check made before every call, and the texts of the `help` method. Internal to the node
// library; rpc_help.cpp also defines RpcDispatcher's help members.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>

#include "node/rpc_dispatch.h"

namespace hearsay {

// `getblock "blockhash" ( verbosity )`: the name, then each parameter, string ones quoted and
// optional ones in parentheses (bitcoind's style).
std::string usage_line(const RpcMethodSpec& spec);

// The -32602 error for params that do not fit the spec: more positional parameters than it
// declares, fewer than it requires, or named parameters (a non-empty object). nullopt when they
// fit, or when the spec takes any parameters.
std::optional<RpcError> check_param_count(const RpcMethodSpec& spec,
                                          const boost::json::value& params);

}  // namespace hearsay
