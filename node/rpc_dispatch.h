// JSON-RPC 2.0 dispatch, without I/O: a request body in, a response body out.
//
// Rules (https://www.jsonrpc.org/specification):
//  - A request is an object {"jsonrpc": "2.0", "method": string, "params": array|object,
//    "id": string|number|null}. "jsonrpc" may be absent or "1.0" (as bitcoin-cli and curl
//    examples send); every response is a JSON-RPC 2.0 response. Absent "params" reach the
//    handler as an empty array.
//  - An "id" is echoed exactly or not at all: a numeric id must be an integer (int64 or
//    uint64) or a finite double within +-2^53; any other (1e400, 99999999999999999999999) is
//    answered with -32600 and id null, as JSON-RPC 2.0 says for an id that cannot be used. A
//    number beyond a double's range inside "params" is -32602, so no handler sees infinity and
//    every response body is valid JSON.
//  - A request without "id" is a notification: it runs, and nothing is answered for it (not
//    even an error). A body of notifications only has no response at all (nullopt).
//  - A batch (non-empty array of requests, at most kRpcMaxBatchRequests) is answered by an array
//    of the responses of its non-notification members, in order.
//  - Methods are registered from a table of RpcMethodSpec: name, summary, positional
//    parameters, result and example, beside the handler. The dispatcher checks the parameter
//    count against the spec before the handler runs (-32602 naming the method, the count and
//    `help METHOD`), and the built-in `help` method renders the same specs, so the help and
//    the checks cannot drift. Parameters are positional (an array); named parameters (a
//    non-empty object) are refused with -32602, an empty object counts as no parameters. A
//    method added with only a handler (add_method(name, handler)) takes any parameters.
//  - Errors carry a stable code (RpcErrorCode) and a readable message. Malformed JSON is
//    -32700, a well-formed body that is not a request -32600, an unknown method -32601.
//  - A handler reports failure by returning an RpcError. An exception escaping a handler is
//    caught here, never above: std::invalid_argument, std::out_of_range, std::length_error
//    and boost::system::system_error — what Boost.JSON throws for `as_string()` on a number,
//    `at("x")` on a missing key or `value_to<T>` on a wrong shape — become -32602 (invalid
//    params); anything else -32603 (internal error), logged.
//
// Adversary: whoever holds the RPC credentials (and, before authentication, nobody: the
// server checks credentials before a byte of the body is parsed). JSON nesting is capped by
// Boost.JSON's parser (kRpcMaxJsonDepth), so no input recurses deeply; a batch is capped.
//
// Thread-safety: add_method() only before the dispatcher is shared (before RpcServer::start());
// handle() is const and may run on several threads at once — handlers then run concurrently
// and must be thread-safe themselves (see RpcServer for how many threads call it).
#pragma once

#include <boost/json/value.hpp>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"

namespace hearsay {

// Stable error codes. The JSON-RPC 2.0 range first, then an application range borrowed from
// bitcoind's rpc/protocol.h so that operators' scripts read them the same way.
enum RpcErrorCode : int {
  kRpcParseError = -32700,      // body is not valid JSON
  kRpcInvalidRequest = -32600,  // valid JSON, but not a JSON-RPC request (or batch too large)
  kRpcMethodNotFound = -32601,  // no such method
  kRpcInvalidParams = -32602,   // wrong number or types of params
  kRpcInternalError = -32603,   // a handler failed unexpectedly (a bug: see the log)

  kRpcMiscError = -1,              // std::exception-like failure with no better code
  kRpcTypeError = -3,              // a value of the wrong type
  kRpcInvalidAddressOrKey = -5,    // unknown transaction / block / key
  kRpcInvalidParameter = -8,       // a parameter out of range
  kRpcClientNotConnected = -9,     // no peers
  kRpcDatabaseError = -20,         // LevelDB failed
  kRpcDeserializationError = -22,  // hex or encoding does not decode
  kRpcVerifyError = -25,           // transaction or block failed a check
  kRpcVerifyRejected = -26,        // transaction rejected by mempool policy
  kRpcVerifyAlreadyInChain = -27,  // transaction already known (confirmed or in mempool)
  kRpcInWarmup = -28,              // node still starting
  kRpcShuttingDown = -29,          // node stopping; retry later elsewhere
};

struct RpcError {
  int code = kRpcInternalError;
  std::string message;
};

using RpcResult = Result<boost::json::value, RpcError>;
// params: the request's "params" (an array or an object; an empty array when absent).
using RpcHandler = std::function<RpcResult(const boost::json::value& params)>;

// One positional parameter of a method, as `help METHOD` shows it.
struct RpcParam {
  std::string name{};
  std::string type{};  // "string", "number", "boolean", "object", ...
  bool required = true;
  std::string default_value{};  // optional ones: the value used when absent ("" when none)
  std::string description{};    // one sentence
};

// A method: what the dispatcher checks and calls, and what `help` shows.
struct RpcMethodSpec {
  std::string name{};
  std::string summary{};           // one line, for `help`
  std::vector<RpcParam> params{};  // positional; the required ones first
  std::string result{};            // what a success returns
  std::string example{};           // an example call (a hearsay-cli command line)
  RpcHandler handler{};
  bool any_params = false;  // true: no count check, no help beyond the name
};

// Most requests in one batch (bodies are capped in bytes too: kRpcMaxBodyBytes).
inline constexpr size_t kRpcMaxBatchRequests = 1000;
// Deepest JSON nesting accepted (Boost.JSON's default; no RPC needs more than a few levels).
inline constexpr size_t kRpcMaxJsonDepth = 32;

class RpcDispatcher {
 public:
  // Registers the built-in `help` method.
  RpcDispatcher();

  // Registers a method from its spec; registering a name twice, a null handler, an empty
  // summary or a required parameter after an optional one is a programming error
  // (HEARSAY_CHECK).
  void add_method(RpcMethodSpec spec);
  // Registers `name` taking any parameters, with no help beyond its name (tests and fakes).
  void add_method(std::string name, RpcHandler handler);
  bool has_method(std::string_view name) const;
  // Every registered name, sorted (`help` among them).
  std::vector<std::string> method_names() const;

  // `help`'s texts: every method with its summary; one method's usage, parameters, result and
  // example (nullopt for an unknown name).
  std::string help_text() const;
  std::optional<std::string> help_text(std::string_view method) const;

  // The response body for a request body, or nullopt when nothing is to be answered (only
  // notifications). Never throws.
  std::optional<std::string> handle(std::string_view body) const;

  // An error response with id null, for errors found before dispatch (e.g. body too large).
  static std::string error_body(int code, std::string_view message);

 private:
  // One request of a body (or of a batch); nullopt for a notification.
  std::optional<boost::json::value> handle_one(const boost::json::value& request) const;
  RpcResult call(const std::string& method, const boost::json::value& params) const;
  RpcResult help(const boost::json::value& params) const;

  std::map<std::string, RpcMethodSpec, std::less<>> m_methods;
};

}  // namespace hearsay
