#include "net/stall_guard.h"

#include "crypto/result.h"

namespace hearsay {

bool StallGuard::TargetLess::operator()(const BanTarget& a, const BanTarget& b) const {
  if (a.index() != b.index()) return a.index() < b.index();
  if (const auto* ka = std::get_if<PublicKey>(&a)) return *ka < std::get<PublicKey>(b);
  return NetAddressLess{}(std::get<NetAddress>(a), std::get<NetAddress>(b));
}

StallGuard::StallGuard(StallGuardConfig config) : m_cfg(config) {
  HEARSAY_CHECK(m_cfg.threshold > 0 && m_cfg.max_entries > 0);
}

std::vector<StallGuard::Started> StallGuard::record(const std::optional<PublicKey>& identity,
                                                    const NetAddress& remote, Time now) {
  std::vector<Started> out;
  if (identity)
    if (auto s = bump(*identity, now)) out.push_back(*s);
  if (!is_loopback(remote))
    if (auto s = bump(ip_only(remote), now)) out.push_back(*s);
  return out;
}

std::optional<StallGuard::Started> StallGuard::bump(const BanTarget& target, Time now) {
  auto it = m_entries.find(target);
  if (it == m_entries.end()) {
    if (m_entries.size() == m_cfg.max_entries) {
      m_entries.erase(m_ages.front());
      m_ages.pop_front();
    }
    m_ages.push_back(target);
    it = m_entries.emplace(target, Entry{{}, {}, std::prev(m_ages.end())}).first;
  } else {
    m_ages.splice(m_ages.end(), m_ages, it->second.age);  // now the most recent
  }
  Entry& e = it->second;
  if (now < e.until) return std::nullopt;  // already discouraged: refused, not counted
  std::erase_if(e.stalls, [&](Time t) { return t + m_cfg.window <= now; });
  e.stalls.push_back(now);
  if (e.stalls.size() < m_cfg.threshold) return std::nullopt;
  Started s{target, e.stalls.size(), now + m_cfg.duration};
  e.until = s.until;
  e.stalls.clear();
  return s;
}

std::optional<Time> StallGuard::until(const BanTarget& target, Time now) const {
  auto it = m_entries.find(target);
  if (it == m_entries.end() || now >= it->second.until) return std::nullopt;
  return it->second.until;
}

std::optional<Time> StallGuard::discouraged(const PublicKey& identity, Time now) const {
  return until(identity, now);
}

std::optional<Time> StallGuard::discouraged_ip(const NetAddress& remote, Time now) const {
  if (is_loopback(remote)) return std::nullopt;
  return until(ip_only(remote), now);
}

void StallGuard::sanity_check() const {
  HEARSAY_CHECK(m_entries.size() == m_ages.size());
  HEARSAY_CHECK(m_entries.size() <= m_cfg.max_entries);
  for (const auto& [target, e] : m_entries) {
    HEARSAY_CHECK(!TargetLess{}(*e.age, target) && !TargetLess{}(target, *e.age));
    HEARSAY_CHECK(e.stalls.size() < m_cfg.threshold);
    for (size_t i = 1; i < e.stalls.size(); ++i)
      HEARSAY_CHECK(e.stalls[i - 1] <= e.stalls[i]);
  }
}

}  // namespace hearsay
