// Fuzz target: the network file parser (chainstub/params.h, parse_network_json: what
// `hearsayd --network PATH` reads), fed arbitrary text.
//
// Oracle: nothing throws or crashes; a refused file gets a non-empty error; an accepted file
// passes validate(), and its re-serialisation (network_to_json) parses back to equal params
// and re-serialises to the same text (the writer's output is a fixed point).
#include <cstdint>
#include <string>
#include <string_view>

#include "chainstub/params.h"
#include "fuzz/fuzz_util.h"

using namespace hearsay;

namespace {

bool same(const NetworkParams& a, const NetworkParams& b) {
  return a.name == b.name && a.magic == b.magic && a.genesis_time == b.genesis_time &&
         a.producers == b.producers && a.block_interval_s == b.block_interval_s &&
         a.min_relay_fee_rate == b.min_relay_fee_rate && a.max_block_size == b.max_block_size &&
         a.max_tx_size == b.max_tx_size && a.genesis_id() == b.genesis_id();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = parse_network_json(text);
  if (!parsed) {
    FUZZ_ASSERT(!parsed.error().empty());
    return 0;
  }
  const NetworkParams& p = *parsed;
  FUZZ_ASSERT(p.validate().ok());
  const std::string json = network_to_json(p);
  auto again = parse_network_json(json);
  if (!again) std::fprintf(stderr, "re-parse refused: %s\n%s", again.error().c_str(), json.c_str());
  FUZZ_ASSERT(again.ok());
  FUZZ_ASSERT(same(p, *again));
  FUZZ_ASSERT(network_to_json(*again) == json);
  return 0;
}
