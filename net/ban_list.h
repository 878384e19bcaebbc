// BanList: the node's authoritative set of bans — identities and IP addresses, each until a
// time, with the reason given.
//
// Rules:
//  * A ban names either an identity (the Ed25519 key proven by TLS) or an IP address (any
//    port). An identity ban follows the node wherever it connects from; an IP ban refuses a
//    whole host before TLS even starts.
//  * Banning a target already banned keeps the later end time and takes the newer reason.
//  * A ban whose end time has passed no longer counts; expire() drops such entries, and
//    entries() never lists them.
//  * Loopback addresses are never banned by IP (every node of a local testnet shares them):
//    add() refuses them and Host reports why. Identity bans apply on loopback as anywhere.
//
// Adversary: a peer can make us ban it (by forging) as often as it has identities and
// addresses; each ban is one entry. Bounds: at most kMaxBans identities and kMaxBans IPs;
// beyond that the ban of that kind ending first is dropped (O(n) scan; bans are rare). Reasons
// are cut to kMaxBanReason bytes. Lookups O(log n).
//
// Not thread-safe: Host uses it on its io thread only.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "crypto/ed25519.h"
#include "crypto/result.h"
#include "net/address.h"
#include "p2p/types.h"

namespace hearsay {

// Bans kept in memory per kind (identities, IPs); beyond it the ban ending first is dropped.
inline constexpr size_t kMaxBans = 10'000;
// Bytes of a ban's reason kept (longer ones are cut): enough for any reason p2p/ gives.
inline constexpr size_t kMaxBanReason = 256;
// Longest ban set_ban accepts (ten years): keeps `now + duration` far from overflow.
inline constexpr Duration kMaxBanDuration = std::chrono::hours(24 * 3653);

// An identity, or an IP address (port 0, IPv4 as ::ffff:a.b.c.d).
using BanTarget = std::variant<PublicKey, NetAddress>;

// "64 hex digits" for an identity, "1.2.3.4" / "2001:db8::1" for an IP.
std::string ban_target_string(const BanTarget& t);
// The inverse: 64 hex digits are an identity, anything else must be a numeric IP address
// (brackets allowed for IPv6). Errors name the input and the accepted forms.
Result<BanTarget, std::string> parse_ban_target(std::string_view text);

struct BanEntry {
  BanTarget target;
  Time created{};  // when it was set (unix µs)
  Time until{};    // when it ends (unix µs)
  std::string reason;
  bool operator==(const BanEntry&) const = default;
};

class BanList {
 public:
  // Adds or extends a ban (see rules). An IP target loses its port. Refuses (returns false) a
  // loopback IP; true otherwise.
  bool add(BanEntry e);
  // Removes the ban of exactly this target; false when there was none.
  bool remove(const BanTarget& t);
  void clear();

  bool is_banned(const PublicKey& id, Time now) const;
  bool is_banned_ip(const NetAddress& addr, Time now) const;  // any port of the address
  // Drops bans that ended at or before `now`; returns how many.
  size_t expire(Time now);
  // Bans in force at `now`: identities (by key), then IPs (by address).
  std::vector<BanEntry> entries(Time now) const;
  size_t size() const { return m_ids.size() + m_ips.size(); }

  void sanity_check() const;

 private:
  struct Ban {
    Time created{};
    Time until{};
    std::string reason;
  };
  template <class Map, class Key>
  static void put(Map& map, const Key& key, BanEntry&& e);

  std::map<PublicKey, Ban> m_ids;
  std::map<NetAddress, Ban, NetAddressLess> m_ips;  // keyed by ip_only()
};

}  // namespace hearsay
