#include "net/ban_list.h"

#include <algorithm>

#include "crypto/hex.h"

namespace hearsay {

std::string ban_target_string(const BanTarget& t) {
  if (const auto* id = std::get_if<PublicKey>(&t)) return to_hex(*id);
  return ip_to_string(std::get<NetAddress>(t));
}

Result<BanTarget, std::string> parse_ban_target(std::string_view text) {
  if (text.size() == 64) {
    if (auto key = from_hex_array<32>(text)) return BanTarget(*key);
  }
  auto ip = parse_ip(text);
  if (!ip)
    return fail("bad ban target '" + std::string(text) +
                "': expected an identity (64 hex digits) or a numeric IP address");
  return BanTarget(*ip);
}

template <class Map, class Key>
void BanList::put(Map& map, const Key& key, BanEntry&& e) {
  if (e.reason.size() > kMaxBanReason) e.reason.resize(kMaxBanReason);
  auto it = map.find(key);
  if (it != map.end()) {
    it->second.until = std::max(it->second.until, e.until);
    it->second.created = e.created;
    it->second.reason = std::move(e.reason);
    return;
  }
  if (map.size() >= kMaxBans) {
    auto first = std::min_element(map.begin(), map.end(), [](const auto& a, const auto& b) {
      return a.second.until < b.second.until;
    });
    map.erase(first);
  }
  map.emplace(key, Ban{e.created, e.until, std::move(e.reason)});
}

bool BanList::add(BanEntry e) {
  if (const auto* id = std::get_if<PublicKey>(&e.target)) {
    PublicKey key = *id;
    put(m_ids, key, std::move(e));
    return true;
  }
  NetAddress ip = ip_only(std::get<NetAddress>(e.target));
  if (is_loopback(ip)) return false;
  put(m_ips, ip, std::move(e));
  return true;
}

bool BanList::remove(const BanTarget& t) {
  if (const auto* id = std::get_if<PublicKey>(&t)) return m_ids.erase(*id) != 0;
  return m_ips.erase(ip_only(std::get<NetAddress>(t))) != 0;
}

void BanList::clear() {
  m_ids.clear();
  m_ips.clear();
}

bool BanList::is_banned(const PublicKey& id, Time now) const {
  auto it = m_ids.find(id);
  return it != m_ids.end() && it->second.until > now;
}

bool BanList::is_banned_ip(const NetAddress& addr, Time now) const {
  auto it = m_ips.find(ip_only(addr));
  return it != m_ips.end() && it->second.until > now;
}

size_t BanList::expire(Time now) {
  size_t n = 0;
  auto sweep = [&](auto& map) {
    for (auto it = map.begin(); it != map.end();) {
      if (it->second.until <= now) {
        it = map.erase(it);
        ++n;
      } else {
        ++it;
      }
    }
  };
  sweep(m_ids);
  sweep(m_ips);
  return n;
}

std::vector<BanEntry> BanList::entries(Time now) const {
  std::vector<BanEntry> out;
  out.reserve(size());
  for (const auto& [id, b] : m_ids)
    if (b.until > now) out.push_back(BanEntry{id, b.created, b.until, b.reason});
  for (const auto& [ip, b] : m_ips)
    if (b.until > now) out.push_back(BanEntry{ip, b.created, b.until, b.reason});
  return out;
}

void BanList::sanity_check() const {
  HEARSAY_CHECK(m_ids.size() <= kMaxBans && m_ips.size() <= kMaxBans);
  for (const auto& [id, b] : m_ids)
    HEARSAY_CHECK(b.reason.size() <= kMaxBanReason);
  for (const auto& [ip, b] : m_ips) {
    HEARSAY_CHECK(ip.port == 0 && !is_loopback(ip));
    HEARSAY_CHECK(b.reason.size() <= kMaxBanReason);
  }
}

}  // namespace hearsay
