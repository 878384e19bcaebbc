// hearsay-cli: the command-line client of hearsayd.
//
//   hearsay-cli [--datadir DIR] [--rpc HOST:PORT] [--rpc-user U --rpc-password P]
//               [--rpc-timeout S] COMMAND [ARGS]
//
// COMMAND is an RPC method (its arguments become positional JSON params, converted as
// bitcoin-cli's vRPCConvertParams does: the parameters listed in kRpcNumericParams are parsed
// as JSON, every other one is passed as a string) or one of the local tools:
//   keygen --out FILE                         write a new key file; print its public key (hex)
//   tx --key FILE --nonce N [--fee N] [--payload HEX | --size N] [--expiry N] [--network NET]
//                                             build and sign (offline: the network defaults to
//                                             devnet); print the transaction's hex
//   sendtx (the options of tx; --nonce defaults to getnextnonce, --network to the node's
//          getnetworkinfo magic)              submit; print the id
//   inject ...                                load generator (node/inject.h)
//   flood [PUBKEY@]HOST:PORT ...              load generator through the P2P port, as a peer
//                                             (node/flood.h)
//   network new --producers N --out DIR [--name NAME] [--magic HEX] [--block-interval S]
//               [--max-block-size BYTES]      write DIR/network.json and DIR/producer-<i>.key
//                                             (chainstub/params.h create_network); print the
//                                             network, the file, the genesis id, the producers
//   help [TOOL | METHOD]                      usage; a tool's options; or, for any other name,
//                                             the node's help RPC on that method (exit 3 when
//                                             the node cannot be reached, 1 when it does not
//                                             know the method)
// The result is printed as bitcoin-cli does: a string bare, null as nothing, anything else as
// indented JSON, each followed by a newline.
//
// Exit codes (CliExit): 0 success; 1 the daemon answered an error, or a local failure (a file);
// 2 bad command line; 3 no answer from the daemon (not running, wrong address, credentials).
// Every failure prints one line to stderr.
#pragma once

#include <boost/json/array.hpp>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/ed25519.h"
#include "crypto/result.h"
#include "node/rpc_client.h"
#include "p2p/transaction.h"

namespace hearsay {

enum CliExit : int {
  kCliOk = 0,
  kCliFailure = 1,
  kCliUsage = 2,
  kCliUnreachable = 3,
};

// What the process provides: where output goes, and whether stderr is a terminal.
struct CliIo {
  std::ostream& out;
  std::ostream& err;
  bool err_is_tty = false;
};

// Runs hearsay-cli on `args` (argv without argv[0]) and returns the exit code.
int run_cli(const std::vector<std::string>& args, CliIo io);

// --- pieces, exposed for tests and for the inject tool -----------------------------------------

// hearsay-cli's options, global (before COMMAND) and each command's, are declared as tables of
// CliOptionSpec and read by one parser: `--name VALUE`, `--name=VALUE`, or `--name` for flags.
struct CliOptionSpec {
  const char* name;  // without the dashes
  bool takes_value;
  bool repeatable = false;
};
struct CliParsedArgs {
  std::map<std::string, std::vector<std::string>, std::less<>> values;
  std::vector<std::string> positional;
  bool has(std::string_view name) const { return values.find(name) != values.end(); }
  // The value of a non-repeatable option, or nullptr.
  const std::string* get(std::string_view name) const;
};
// A command's options; every argument not starting with "--" is positional. Errors name the
// command, the option and the fix ("see hearsay-cli help COMMAND").
Result<CliParsedArgs, std::string> parse_cli_options(std::string_view command,
                                                     const std::vector<std::string>& args,
                                                     std::span<const CliOptionSpec> specs);

struct HostPort {
  std::string host;
  uint16_t port = 0;
};
// "HOST:PORT", "[IPV6]:PORT", or "HOST" (default_port). The error names the text.
Result<HostPort, std::string> parse_host_port(std::string_view text, uint16_t default_port);

// "devnet", or a magic as decimal or 0x-hex (1..2^32-1).
Result<uint32_t, std::string> parse_network(std::string_view text);

// A decimal unsigned integer in [min, max]; the error names `option`.
Result<uint64_t, std::string> parse_uint(std::string_view option, std::string_view text,
                                         uint64_t min = 0, uint64_t max = UINT64_MAX);

// The method's CLI arguments as JSON params: listed parameters parsed as JSON (a number,
// true/false, ...), the others as strings. The error names the argument.
Result<boost::json::array, std::string> convert_rpc_params(std::string_view method,
                                                           const std::vector<std::string>& args);
// bitcoin-cli's table: (method, index of a parameter given as JSON).
struct RpcParamConversion {
  const char* method;
  int index;
};
extern const RpcParamConversion kRpcNumericParams[];
extern const size_t kRpcNumericParamsCount;

// A failure of a step that asks the node: the exit code (CliExit) and one line for stderr.
struct ToolError {
  int exit_code = kCliFailure;
  std::string message;
};

// The network magic of the node behind `client`: getnetworkinfo's "magic" ("0x" and 8 hex
// digits, or a number). Used by sendtx and inject when --network is not given. Errors:
// kCliUnreachable when the node gave no answer; kCliFailure when it answered an error or no
// magic (the message says to pass --network).
Result<uint32_t, ToolError> query_node_magic(RpcClient& client);

// A transaction to build: every field but the key, the nonce and the fee.
struct TxTemplate {
  uint32_t network = 0;         // tx defaults to kDevnetMagic (chainstub/params.h), sendtx
                                // and inject to the node's network
  std::optional<uint64_t> fee;  // default: min_fee_for(size, kDefaultMinFeeRate)
  uint64_t expiry = 0;
  std::vector<uint8_t> payload;
};
TxRef build_tx(const TxTemplate& t, const KeyPair& key, uint64_t nonce);

}  // namespace hearsay
