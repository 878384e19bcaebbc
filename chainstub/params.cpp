// Network parameters: validation, the embedded devnet, the network file (JSON) and
// `network new`. See params.h for the rules and the file format.
#include "chainstub/params.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "crypto/hex.h"
#include "crypto/keyfile.h"

namespace hearsay {

static_assert(kDefaultMaxBlockSize >= kMinMaxBlockSize && kDefaultMaxBlockSize <= kMaxBlockSize);
static_assert(kMinMaxBlockSize >= kBlockHeaderSize + 5 + kMinTxSize,
              "the smallest block limit still holds a header and one transaction");

namespace {

constexpr size_t kMaxNameLength = 32;
// The keys of a network file, in file order.
constexpr const char* kKeys[] = {"name",
                                 "magic",
                                 "genesis_time",
                                 "genesis_id",
                                 "producers",
                                 "block_interval_s",
                                 "min_relay_fee_rate",
                                 "max_block_size",
                                 "max_tx_size"};

std::string range(uint64_t lo, uint64_t hi) {
  return std::to_string(lo) + ".." + std::to_string(hi);
}

std::string out_of_range(const char* key, uint64_t value, uint64_t lo, uint64_t hi) {
  return "key \"" + std::string(key) + "\" is " + std::to_string(value) + ", allowed " +
         range(lo, hi);
}

std::string magic_hex(uint32_t magic) {
  char buf[11];
  std::snprintf(buf, sizeof(buf), "0x%08x", magic);
  return buf;
}

std::string sys_error() {
  return std::strerror(errno);
}

}  // namespace

BlockHeader NetworkParams::genesis() const {
  BlockHeader h;
  h.network = magic;
  h.time = genesis_time;
  return h;
}

BlockId NetworkParams::genesis_id() const {
  return genesis().id();
}

bool NetworkParams::is_producer(const PublicKey& key) const {
  return std::find(producers.begin(), producers.end(), key) != producers.end();
}

Status NetworkParams::validate() const {
  if (name.empty() || name.size() > kMaxNameLength)
    return Status::error("key \"name\" must be 1.." + std::to_string(kMaxNameLength) +
                         " characters of [A-Za-z0-9_-], found " + std::to_string(name.size()));
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'))
      return Status::error("key \"name\" (\"" + name +
                           "\") may hold only the characters [A-Za-z0-9_-], 1.." +
                           std::to_string(kMaxNameLength) + " of them");
  if (magic == kDevnetMagic && name != "devnet")
    return Status::error("key \"magic\" is " + magic_hex(magic) +
                         ", the devnet's: choose any other u32 (0x00000000..0xffffffff) so the "
                         "two networks cannot mix");
  if (name == "devnet" && magic != kDevnetMagic)
    return Status::error("key \"name\" is \"devnet\" but \"magic\" is " + magic_hex(magic) +
                         ": the name devnet is reserved for magic " + magic_hex(kDevnetMagic));
  if (genesis_time > kMaxGenesisTime)
    return Status::error(out_of_range("genesis_time", genesis_time, 0, kMaxGenesisTime));
  if (producers.empty() || producers.size() > kMaxProducers)
    return Status::error("key \"producers\" lists " + std::to_string(producers.size()) +
                         " keys, allowed " + range(1, kMaxProducers));
  std::set<PublicKey> seen;
  for (const PublicKey& p : producers)
    if (!seen.insert(p).second)
      return Status::error("key \"producers\" lists " + to_hex(p) +
                           " twice: each producer key must be distinct");
  if (block_interval_s < 1 || block_interval_s > kMaxBlockIntervalSeconds)
    return Status::error(
        out_of_range("block_interval_s", block_interval_s, 1, kMaxBlockIntervalSeconds));
  if (min_relay_fee_rate > kMaxMinRelayFeeRate)
    return Status::error(
        out_of_range("min_relay_fee_rate", min_relay_fee_rate, 0, kMaxMinRelayFeeRate));
  if (max_block_size < kMinMaxBlockSize || max_block_size > kMaxBlockSize)
    return Status::error(
        out_of_range("max_block_size", max_block_size, kMinMaxBlockSize, kMaxBlockSize));
  size_t tx_hi = std::min(kMaxTxSize, max_block_size);
  if (max_tx_size < kMinTxSize || max_tx_size > tx_hi)
    return Status::error(out_of_range("max_tx_size", max_tx_size, kMinTxSize, tx_hi));
  return {};
}

KeyPair devnet_producer_key(size_t i) {
  HEARSAY_CHECK(i < kDevnetProducers);
  crypto_init();
  std::string text = "hearsay devnet producer " + std::to_string(i);
  return KeyPair::from_seed(sha256(as_bytes(text)));
}

const NetworkParams& devnet_params() {
  static const NetworkParams kParams = [] {
    NetworkParams p;
    p.name = "devnet";
    p.magic = kDevnetMagic;
    p.genesis_time = kDevnetGenesisTime;
    for (size_t i = 0; i < kDevnetProducers; ++i)
      p.producers.push_back(devnet_producer_key(i).public_key());
    p.block_interval_s = kDefaultBlockIntervalSeconds;
    p.min_relay_fee_rate = kDefaultMinFeeRate;
    p.max_block_size = kDefaultMaxBlockSize;
    p.max_tx_size = kMaxTxSize;
    HEARSAY_CHECK(p.validate().ok());
    return p;
  }();
  return kParams;
}

namespace {

// Reads an unsigned integer value; error names the key.
Result<uint64_t, std::string> get_uint(const boost::json::value& v, const char* key) {
  if (v.is_uint64()) return v.get_uint64();
  if (v.is_int64() && v.get_int64() >= 0) return static_cast<uint64_t>(v.get_int64());
  if (v.is_int64()) return fail("key \"" + std::string(key) + "\" must not be negative");
  return fail("key \"" + std::string(key) + "\" must be an unsigned integer");
}

// "magic": "0x" and 1..8 hex digits, or a number 0..4294967295.
Result<uint32_t, std::string> parse_magic(const boost::json::value& v) {
  if (v.is_string()) {
    std::string_view s = v.get_string();
    if (s.size() < 3 || s.size() > 10 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
      return fail("key \"magic\" (\"" + std::string(s) +
                  "\") must be \"0x\" and 1..8 hex digits, or a number 0..4294967295");
    uint64_t m = 0;
    for (char c : s.substr(2)) {
      int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
              : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
              : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                          : -1;
      if (d < 0)
        return fail("key \"magic\" (\"" + std::string(s) +
                    "\") must be \"0x\" and 1..8 hex digits, or a number 0..4294967295");
      m = m << 4 | static_cast<uint64_t>(d);
    }
    return static_cast<uint32_t>(m);
  } else {
    auto m = get_uint(v, "magic");
    if (!m) return fail(m.error() + " (or a \"0x\" hex string), 0..4294967295");
    if (*m > 0xffffffffu) return fail(out_of_range("magic", *m, 0, 0xffffffffu));
    return static_cast<uint32_t>(*m);
  }
}

// "producers": 1..kMaxProducers public keys, 64 hex digits each.
Result<std::vector<PublicKey>, std::string> parse_producers(const boost::json::value& v) {
  if (!v.is_array())
    return fail("key \"producers\" must be an array of 1.." + std::to_string(kMaxProducers) +
                " public keys (64 hex each)");
  const auto& arr = v.get_array();
  std::vector<PublicKey> keys;
  if (arr.empty() || arr.size() > kMaxProducers)
    return fail("key \"producers\" lists " + std::to_string(arr.size()) + " keys, allowed " +
                range(1, kMaxProducers));
  for (size_t i = 0; i < arr.size(); ++i) {
    std::optional<PublicKey> k;
    if (arr[i].is_string()) k = from_hex_array<32>(std::string_view(arr[i].get_string()));
    if (!k)
      return fail("key \"producers\" entry " + std::to_string(i) +
                  " is not a public key (64 hex digits)");
    keys.push_back(*k);
  }
  return keys;
}

Result<NetworkParams, std::string> parse_params(const boost::json::object& obj) {
  NetworkParams p;
  std::optional<std::string> genesis_id_text;
  std::set<std::string> present;
  for (const auto& kv : obj) {
    std::string key(kv.key());
    const boost::json::value& v = kv.value();
    present.insert(key);
    if (key == "name") {
      if (!v.is_string()) return fail(std::string("key \"name\" must be a string"));
      p.name = std::string(v.get_string());
    } else if (key == "magic") {
      auto m = parse_magic(v);
      if (!m) return fail(m.error());
      p.magic = *m;
    } else if (key == "genesis_time") {
      auto t = get_uint(v, "genesis_time");
      if (!t) return fail(t.error() + ", allowed " + range(0, kMaxGenesisTime));
      p.genesis_time = *t;
    } else if (key == "genesis_id") {
      if (!v.is_string()) return fail(std::string("key \"genesis_id\" must be a string of 64 hex"));
      genesis_id_text = std::string(v.get_string());
    } else if (key == "producers") {
      auto k = parse_producers(v);
      if (!k) return fail(k.error());
      p.producers = std::move(*k);
    } else if (key == "block_interval_s") {
      auto x = get_uint(v, "block_interval_s");
      if (!x) return fail(x.error() + ", allowed " + range(1, kMaxBlockIntervalSeconds));
      p.block_interval_s = *x;
    } else if (key == "min_relay_fee_rate") {
      auto x = get_uint(v, "min_relay_fee_rate");
      if (!x) return fail(x.error() + ", allowed " + range(0, kMaxMinRelayFeeRate));
      p.min_relay_fee_rate = *x;
    } else if (key == "max_block_size") {
      auto x = get_uint(v, "max_block_size");
      if (!x) return fail(x.error() + ", allowed " + range(kMinMaxBlockSize, kMaxBlockSize));
      if (*x > kMaxBlockSize)
        return fail(out_of_range("max_block_size", *x, kMinMaxBlockSize, kMaxBlockSize));
      p.max_block_size = static_cast<size_t>(*x);
    } else if (key == "max_tx_size") {
      auto x = get_uint(v, "max_tx_size");
      if (!x) return fail(x.error() + ", allowed " + range(kMinTxSize, kMaxTxSize));
      if (*x > kMaxTxSize) return fail(out_of_range("max_tx_size", *x, kMinTxSize, kMaxTxSize));
      p.max_tx_size = static_cast<size_t>(*x);
    } else {
      std::string allowed;
      for (const char* k : kKeys)
        allowed += std::string(allowed.empty() ? "" : ", ") + k;
      return fail("unknown key \"" + key + "\" (allowed: " + allowed + ")");
    }
  }
  for (const char* k : kKeys)
    if (std::string(k) != "genesis_id" && !present.count(k))
      return fail("key \"" + std::string(k) + "\" is missing");
  Status s = p.validate();
  if (!s) return fail(s.message());
  if (genesis_id_text) {
    auto id = from_hex_array<32>(*genesis_id_text);
    if (!id) return fail(std::string("key \"genesis_id\" must be 64 hex digits"));
    if (*id != p.genesis_id())
      return fail("key \"genesis_id\" is " + *genesis_id_text +
                  " but the other keys give genesis " + to_hex(p.genesis_id()) +
                  ": the file was edited or is for another network");
  }
  return p;
}

}  // namespace

Result<NetworkParams, std::string> load_network_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    return fail("network file " + path +
                " does not exist: give --network devnet, or create one with `hearsay-cli network "
                "new --producers N --out DIR`");
  if (std::filesystem::is_directory(path, ec))
    return fail("network file " + path + " is a directory: give the path of its network.json");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return fail("cannot read network file " + path + ": " + sys_error() +
                " (check its permissions)");
  std::string text;
  text.resize(kMaxNetworkFileSize + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return fail("cannot read network file " + path + ": " + sys_error());
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxNetworkFileSize)
    return fail("network file " + path + " is larger than " + std::to_string(kMaxNetworkFileSize) +
                " bytes: is it the right file?");
  auto p = parse_network_json(text);
  if (!p) return fail("network file " + path + ": " + p.error());
  return p;
}

Result<NetworkParams, std::string> parse_network_json(std::string_view text) {
  if (text.size() > kMaxNetworkFileSize)
    return fail("larger than " + std::to_string(kMaxNetworkFileSize) +
                " bytes: is it the right file?");
  boost::json::error_code jec;
  boost::json::value v = boost::json::parse(text, jec);
  if (jec)
    return fail("not valid JSON (" + jec.message() +
                "): fix it, or recreate it with `hearsay-cli network new`");
  if (!v.is_object()) return fail(std::string("must hold one JSON object {\"name\": ..., ...}"));
  return parse_params(v.get_object());
}

std::string network_to_json(const NetworkParams& p) {
  std::ostringstream o;
  o << "{\n";
  o << "  \"name\": " << boost::json::serialize(boost::json::string(p.name)) << ",\n";
  o << "  \"magic\": \"" << magic_hex(p.magic) << "\",\n";
  o << "  \"genesis_time\": " << p.genesis_time << ",\n";
  o << "  \"genesis_id\": \"" << to_hex(p.genesis_id()) << "\",\n";
  o << "  \"producers\": [";
  for (size_t i = 0; i < p.producers.size(); ++i)
    o << (i ? ",\n" : "\n") << "    \"" << to_hex(p.producers[i]) << "\"";
  o << "\n  ],\n";
  o << "  \"block_interval_s\": " << p.block_interval_s << ",\n";
  o << "  \"min_relay_fee_rate\": " << p.min_relay_fee_rate << ",\n";
  o << "  \"max_block_size\": " << p.max_block_size << ",\n";
  o << "  \"max_tx_size\": " << p.max_tx_size << "\n";
  o << "}\n";
  return o.str();
}

Status save_network_file(const std::string& path, const NetworkParams& params) {
  std::string text = network_to_json(params);
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return Status::error("cannot create network file " + tmp + ": " + sys_error() +
                         " (does the directory exist and is it writable?)");
  const char* ptr = text.data();
  size_t left = text.size();
  while (left > 0) {
    ssize_t w = ::write(fd, ptr, left);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      std::string err = sys_error();
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::error("cannot write network file " + tmp + ": " + err);
    }
    ptr += w;
    left -= static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return Status::error("cannot flush network file " + tmp + ": " + sys_error());
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = sys_error();
    ::unlink(tmp.c_str());
    return Status::error("cannot move network file into place at " + path + ": " + err);
  }
  return {};
}

Result<NetworkParams, std::string> create_network(const NewNetworkOptions& opts, uint64_t now_s) {
  namespace fs = std::filesystem;
  if (opts.out_dir.empty()) return fail(std::string("give an output directory (--out DIR)"));
  if (opts.producers < 1 || opts.producers > kMaxProducers)
    return fail("--producers is " + std::to_string(opts.producers) + ", allowed " +
                range(1, kMaxProducers));
  std::random_device rd;
  NetworkParams p;
  if (opts.name.empty()) {
    char buf[9];
    std::snprintf(buf, sizeof(buf), "%08x", static_cast<uint32_t>(rd()));
    p.name = std::string("testnet-") + buf;
  } else {
    p.name = opts.name;
  }
  if (opts.magic) {
    p.magic = *opts.magic;
  } else {
    do
      p.magic = static_cast<uint32_t>(rd());
    while (p.magic == kDevnetMagic);
  }
  p.genesis_time = opts.genesis_time != 0 ? opts.genesis_time : now_s / 60 * 60;
  p.block_interval_s = opts.block_interval_s;
  p.max_block_size = opts.max_block_size;
  // The largest transaction a block can still hold beside its header and count.
  size_t room = kBlockHeaderSize + compact_size_len(kMaxBlockTxs);
  p.max_tx_size =
      opts.max_block_size > room ? std::min(kMaxTxSize, opts.max_block_size - room) : kMaxTxSize;
  p.min_relay_fee_rate = kDefaultMinFeeRate;

  crypto_init();
  std::vector<KeyPair> keys;
  for (size_t i = 0; i < opts.producers; ++i) {
    keys.push_back(KeyPair::generate());
    p.producers.push_back(keys.back().public_key());
  }
  Status s = p.validate();
  if (!s) return fail(s.message());

  fs::path dir(opts.out_dir);
  std::string net_path = (dir / "network.json").string();
  std::error_code ec;
  if (fs::exists(net_path, ec))
    return fail(net_path +
                " already exists; refusing to overwrite a network (its producers' keys would be "
                "lost): choose another --out directory or delete it");
  for (size_t i = 0; i < keys.size(); ++i) {
    std::string kp = (dir / ("producer-" + std::to_string(i) + ".key")).string();
    if (fs::exists(kp, ec))
      return fail(kp +
                  " already exists; refusing to overwrite a key: choose another --out directory "
                  "or delete it");
  }
  fs::create_directories(dir, ec);
  if (ec)
    return fail("cannot create directory " + dir.string() + " (" + ec.message() +
                "): check the path and its permissions");
  for (size_t i = 0; i < keys.size(); ++i) {
    std::string kp = (dir / ("producer-" + std::to_string(i) + ".key")).string();
    Status ks = save_key_file(kp, keys[i]);
    if (!ks) return fail(ks.message());
  }
  // network.json last: its presence means the network is complete.
  Status ns = save_network_file(net_path, p);
  if (!ns) return fail(ns.message());
  return p;
}

}  // namespace hearsay
