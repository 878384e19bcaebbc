#include "node/rpc_params.h"

#include <algorithm>
#include <boost/json.hpp>

namespace hearsay::rpc {

namespace json = boost::json;

namespace {

// Characters of a bad value echoed back in a message.
constexpr size_t kShownChars = 80;

std::string shown(std::string_view s) {
  return s.size() > kShownChars ? std::string(s.substr(0, kShownChars)) + "..." : std::string(s);
}

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// The first non-hex character of `s` and where it is, as "'z' at position 7".
std::optional<std::string> bad_digit(std::string_view s) {
  auto it = std::find_if_not(s.begin(), s.end(), is_hex_digit);
  if (it == s.end()) return std::nullopt;
  const auto c = static_cast<unsigned char>(*it);
  std::string what;
  if (c >= 0x20 && c < 0x7f)
    what = std::string("'") + *it + "'";
  else
    what = "byte 0x" + to_hex(std::span<const uint8_t>(&c, 1));
  return what + " at position " + std::to_string(it - s.begin());
}

}  // namespace

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

std::optional<std::string> hex_problem(std::string_view what, std::string_view hex) {
  if (auto bad = bad_digit(hex)) return std::string(what) + " is not hex: " + *bad;
  if (hex.size() % 2 != 0)
    return std::string(what) + " has an odd number of digits (" + std::to_string(hex.size()) + ")";
  return std::nullopt;
}

Result<std::vector<uint8_t>, RpcError> hex_bytes_param(const json::value& params, size_t i,
                                                       const char* name, int code) {
  auto s = string_param(params, i, name);
  if (!s) return fail(s.error());
  if (auto problem = hex_problem(name, *s)) return fail(error(code, *problem));
  auto bytes = from_hex(*s);
  if (!bytes) return fail(error(code, std::string(name) + " does not decode as hex"));
  return std::move(*bytes);
}

Result<std::vector<uint8_t>, RpcError> hex_fixed(std::string_view s, const char* name,
                                                 size_t size) {
  if (auto bad = bad_digit(s))
    return fail(error(kRpcInvalidParameter, std::string(name) + " is not hex: " + *bad));
  if (s.size() != 2 * size)
    return fail(error(kRpcInvalidParameter, std::string(name) + " must be " +
                                                std::to_string(2 * size) + " hex digits (got " +
                                                std::to_string(s.size()) + ")"));
  auto bytes = from_hex(s);
  if (!bytes) return fail(error(kRpcInvalidParameter, std::string(name) + " is not hex"));
  return std::move(*bytes);
}

Result<std::array<uint8_t, 32>, RpcError> hash_param(const json::value& params, size_t i,
                                                     const char* name) {
  auto s = string_param(params, i, name);
  if (!s) return fail(s.error());
  if (auto a = from_hex_array<32>(*s)) return *a;
  if (s->size() != 64)
    return fail(error(kRpcInvalidParameter, std::string(name) + " must be of length 64 (not " +
                                                std::to_string(s->size()) + ", for '" + shown(*s) +
                                                "')"));
  return fail(error(kRpcInvalidParameter, std::string(name) + " must be hexadecimal string (not '" +
                                              shown(*s) + "'): " + bad_digit(*s).value_or("")));
}

Result<bool, RpcError> bool_param(const json::value& params, size_t i, const char* name,
                                  bool absent) {
  const json::value* v = param(params, i);
  if (!v) return absent;
  if (v->is_bool()) return v->get_bool();
  if (v->is_int64()) return v->get_int64() != 0;
  if (v->is_uint64()) return v->get_uint64() != 0;
  return fail(error(kRpcTypeError, std::string(name) + " must be true or false"));
}

std::string magic_hex(uint32_t magic) {
  const std::array<uint8_t, 4> be = {static_cast<uint8_t>(magic >> 24),
                                     static_cast<uint8_t>(magic >> 16),
                                     static_cast<uint8_t>(magic >> 8), static_cast<uint8_t>(magic)};
  return "0x" + to_hex(be);
}

}  // namespace hearsay::rpc
