// Reading the positional parameters of node/rpc_methods.cpp's methods, with errors that name
// the parameter, what was wrong and what is expected. The count of parameters is checked by the
// dispatcher beforehand (rpc_dispatch.h); these check presence, type and content.
//
// Hex: "NAME has an odd number of digits (3)" and "NAME is not hex: 'z' at position 7"
// (positions count from 0); a fixed-size value also "NAME must be 64 hex digits (got 3)".
#pragma once

#include <array>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/hex.h"
#include "crypto/result.h"
#include "node/rpc_dispatch.h"

namespace hearsay::rpc {

inline RpcError error(int code, std::string message) {
  return RpcError{code, std::move(message)};
}

// Positional parameter i (params must be an array); nullptr when absent or null.
const boost::json::value* param(const boost::json::value& params, size_t i);

// -32602 "missing parameter NAME" when absent, -3 when not a string.
Result<std::string, RpcError> string_param(const boost::json::value& params, size_t i,
                                           const char* name);

// What is wrong with `hex` as hex digits (an odd count, or the first non-hex character),
// naming it `what`; nullopt when it is an even number of hex digits.
std::optional<std::string> hex_problem(std::string_view what, std::string_view hex);

// A hex parameter of any even length; `code` for undecodable hex.
Result<std::vector<uint8_t>, RpcError> hex_bytes_param(const boost::json::value& params, size_t i,
                                                       const char* name, int code);

// A value of exactly `size` bytes given as hex; -8 naming `name` when it is not.
Result<std::vector<uint8_t>, RpcError> hex_fixed(std::string_view s, const char* name, size_t size);

template <size_t N>
Result<std::array<uint8_t, N>, RpcError> hex_param(const boost::json::value& params, size_t i,
                                                   const char* name) {
  auto s = string_param(params, i, name);
  if (!s) return fail(s.error());
  auto v = hex_fixed(*s, name, N);
  if (!v) return fail(v.error());
  std::array<uint8_t, N> out{};
  std::copy(v->begin(), v->end(), out.begin());
  return out;
}

// A block hash, checked as bitcoind's ParseHashV does (-8): "NAME must be of length 64 (not
// N, for 'X')", else "NAME must be hexadecimal string (not 'X'): 'z' at position P".
Result<std::array<uint8_t, 32>, RpcError> hash_param(const boost::json::value& params, size_t i,
                                                     const char* name);

// An optional flag: true/false, or a number (0 is false); `absent` when not given.
Result<bool, RpcError> bool_param(const boost::json::value& params, size_t i, const char* name,
                                  bool absent);

// A network magic as RPC results print it: "0x" and 8 lower-case hex digits.
std::string magic_hex(uint32_t magic);

}  // namespace hearsay::rpc
