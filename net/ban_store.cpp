#include "net/ban_store.h"

#include <cstring>
#include <filesystem>

#include "crypto/hash.h"
#include "net/addr_store.h"
#include "p2p/serialize.h"

namespace hearsay {

namespace {
constexpr std::array<uint8_t, 8> kMagic = {'h', 's', 'b', 'a', 'n', 'l', 's', 't'};
constexpr uint8_t kKindIdentity = 1;
constexpr uint8_t kKindIp = 2;
constexpr size_t kChecksumBytes = 4;
}  // namespace

std::string ban_list_path(const std::string& datadir) {
  return (std::filesystem::path(datadir) / kBanListFile).string();
}

std::vector<uint8_t> encode_ban_list(std::span<const BanEntry> entries) {
  HEARSAY_CHECK(entries.size() <= kMaxBanFileEntries);
  std::vector<uint8_t> out;
  Writer w(out);
  w.bytes(kMagic).u32(kBanListVersion).compact_size(entries.size());
  for (const BanEntry& e : entries) {
    if (const auto* id = std::get_if<PublicKey>(&e.target))
      w.u8(kKindIdentity).bytes(*id);
    else
      w.u8(kKindIp).bytes(std::get<NetAddress>(e.target).ip);
    std::span<const uint8_t> reason(reinterpret_cast<const uint8_t*>(e.reason.data()),
                                    std::min(e.reason.size(), kMaxBanReason));
    w.i64(e.created.count()).i64(e.until.count()).var_bytes(reason);
  }
  Hash256 sum = sha256d(out);
  w.bytes(std::span<const uint8_t>(sum.data(), kChecksumBytes));
  return out;
}

Result<std::vector<BanEntry>, std::string> decode_ban_list(std::span<const uint8_t> bytes) {
  if (bytes.size() < kMagic.size() + kChecksumBytes) return fail(std::string("file too short"));
  if (std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) != 0)
    return fail(std::string("not a ban list (bad magic)"));
  std::span<const uint8_t> body = bytes.first(bytes.size() - kChecksumBytes);
  Hash256 sum = sha256d(body);
  if (std::memcmp(sum.data(), bytes.data() + body.size(), kChecksumBytes) != 0)
    return fail(std::string("checksum mismatch"));

  Reader r(body);
  std::array<uint8_t, 8> magic{};
  uint32_t version = 0;
  r.array(magic);
  r.u32(version);
  if (r.ok() && version != kBanListVersion)
    return fail("version " + std::to_string(version) + " (this build reads version " +
                std::to_string(kBanListVersion) + ")");
  uint64_t count = 0;
  r.compact_size(count, kMaxBanFileEntries);
  std::vector<BanEntry> out;
  for (uint64_t i = 0; r.ok() && i < count; ++i) {
    BanEntry e;
    uint8_t kind = 0;
    r.u8(kind);
    if (kind == kKindIdentity) {
      PublicKey id{};
      r.array(id);
      e.target = id;
    } else if (kind == kKindIp) {
      NetAddress ip;
      r.array(ip.ip);
      e.target = ip;
    } else if (r.ok()) {
      return fail("entry " + std::to_string(i) + " has unknown kind " + std::to_string(kind));
    }
    int64_t created = 0, until = 0;
    std::span<const uint8_t> reason;
    r.i64(created);
    r.i64(until);
    r.var_bytes(reason, kMaxBanReason);
    e.created = Time(created);
    e.until = Time(until);
    e.reason.assign(reason.begin(), reason.end());
    if (r.ok()) out.push_back(std::move(e));
  }
  r.expect_end();
  if (!r.ok()) return fail(std::string("malformed: ") + to_string(r.error()));
  return out;
}

BanListLoad load_ban_list(const std::string& datadir, Time now) {
  BanListLoad out;
  const std::string path = ban_list_path(datadir);
  std::error_code ec;
  const bool exists = std::filesystem::exists(path, ec);
  if (!ec && !exists) return out;  // first start
  out.found = !ec;
  std::string problem;  // why the file is corrupt
  uintmax_t size = ec ? 0 : std::filesystem::file_size(path, ec);
  if (ec) {
    out.warning = "cannot read ban list " + path + ": " + ec.message() +
                  "; starting without saved bans (the file is replaced when bans change)";
    return out;
  }
  if (size > kMaxBanFileBytes) {
    problem = "larger than " + std::to_string(kMaxBanFileBytes) + " bytes";
  } else {
    auto bytes = read_file_if_exists(path, kMaxBanFileBytes);
    if (!bytes) {
      out.warning =
          bytes.error() + "; starting without saved bans (the file is replaced when bans change)";
      return out;
    }
    if (!bytes->has_value()) return out;  // removed meanwhile
    auto decoded = decode_ban_list(**bytes);
    if (!decoded) {
      problem = decoded.error();
    } else {
      BanList list;
      for (BanEntry& e : *decoded) {
        if (e.until <= now)
          ++out.expired;
        else
          list.add(std::move(e));  // merges duplicates; refuses loopback IPs
      }
      out.entries = list.entries(now);
      return out;
    }
  }
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(now).count();
  const std::string aside = path + ".corrupt-" + std::to_string(secs);
  std::filesystem::rename(path, aside, ec);
  out.warning = "ban list " + path + " is corrupt (" + problem + ")" +
                (ec ? "; could not move it aside to " + aside + " (" + ec.message() + ")"
                    : "; moved it to " + aside) +
                "; starting without saved bans";
  return out;
}

Status save_ban_list(const std::string& datadir, std::span<const BanEntry> entries) {
  std::vector<uint8_t> bytes = encode_ban_list(entries);
  Status s = write_file_atomic(ban_list_path(datadir), bytes);
  if (!s) return fail("ban list not saved: " + s.message());
  return s;
}

}  // namespace hearsay
