// Hex encoding (lower case) and strict decoding.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hearsay {

std::string to_hex(std::span<const uint8_t> data);

// Decodes an even-length string of [0-9a-fA-F]; nullopt on any other input.
std::optional<std::vector<uint8_t>> from_hex(std::string_view hex);

// Decodes exactly N bytes (2N hex digits); nullopt otherwise.
template <size_t N>
std::optional<std::array<uint8_t, N>> from_hex_array(std::string_view hex) {
  if (hex.size() != 2 * N) return std::nullopt;
  auto v = from_hex(hex);
  if (!v) return std::nullopt;
  std::array<uint8_t, N> out{};
  std::copy(v->begin(), v->end(), out.begin());
  return out;
}

}  // namespace hearsay
