// StallGuard: remembers who stalls frames, and discourages those who do it again and again.
//
// Rules:
//  * A stall — a frame cut at its deadline, or a stalled frame cut at the partial-frame memory
//    cap (net/connection.h, net/frame_budget.h) — is recorded against the peer's identity and
//    against its IP address. Loopback addresses are not keys: every node of a local testnet
//    shares them (as BanList has it).
//  * `threshold` stalls of one key within `window` start a discouragement of that key for
//    `duration`: the Host refuses the IP at accept and the identity at TLS authentication until
//    it ends. Starting it forgets the key's stalls, so once it ends the key needs `threshold`
//    new ones; stalls while discouraged are not counted.
//  * A discouragement is not a ban: it is short, kept in memory only (never in banlist.dat),
//    and RPC's ban list does not show it.
//
// Adversary: a peer that holds our memory with a stalled frame and reconnects at once to do it
// again. The deadline and the memory cap bound what one stall costs; this bounds how often one
// identity or one address may make us pay it. Identities cost nothing, so off loopback the IP
// key is what binds a remote attacker.
//
// Bounds: at most max_entries keys (identities and IPs together). When full, the key whose
// last stall is oldest is forgotten — with its stalls or its discouragement — so an adversary
// making up keys can make us forget, never grow. O(log n) per call.
// Time is handed in (Host passes the system clock). Not thread-safe: the Host's io thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <map>
#include <optional>
#include <vector>

#include "net/ban_list.h"
#include "p2p/types.h"

namespace hearsay {

// One stall can be an honest link that died mid-block, two a flaky one; three within ten
// minutes is a habit. Ten minutes away costs a staller more than its stalls cost us (each at
// most a frame deadline: net/connection.h), and costs an honest node that tripped it little.
inline constexpr size_t kStallThreshold = 3;
inline constexpr Duration kStallWindow = std::chrono::minutes(10);
inline constexpr Duration kDiscouragementTime = std::chrono::minutes(10);
// Keys remembered: a few hundred bytes each.
inline constexpr size_t kStallGuardMaxEntries = 4096;

struct StallGuardConfig {
  size_t threshold = kStallThreshold;
  Duration window = kStallWindow;
  Duration duration = kDiscouragementTime;
  size_t max_entries = kStallGuardMaxEntries;
};

class StallGuard {
 public:
  explicit StallGuard(StallGuardConfig config = {});

  // A discouragement that starts: its key (an identity, or an IP with port 0), the stalls that
  // led to it, and when it ends.
  struct Started {
    BanTarget target;
    size_t stalls;
    Time until;
  };
  // Records a stall by `identity` (when known) from `remote` at `now`; returns the
  // discouragements it starts (none, one or both keys), each exactly once.
  std::vector<Started> record(const std::optional<PublicKey>& identity, const NetAddress& remote,
                              Time now);

  // When the discouragement of this identity / this IP (any port) ends; nullopt when none is
  // in force at `now`. A loopback IP is never discouraged.
  std::optional<Time> discouraged(const PublicKey& identity, Time now) const;
  std::optional<Time> discouraged_ip(const NetAddress& remote, Time now) const;

  const StallGuardConfig& config() const { return m_cfg; }
  size_t size() const { return m_entries.size(); }
  // Aborts unless the map and the age list agree, every key's stalls are fewer than the
  // threshold and in order, and the size is within max_entries.
  void sanity_check() const;

 private:
  struct TargetLess {
    bool operator()(const BanTarget& a, const BanTarget& b) const;
  };
  struct Entry {
    std::vector<Time> stalls;  // within the window, oldest first, fewer than the threshold
    Time until{};              // discouraged before this
    std::list<BanTarget>::iterator age;
  };
  std::optional<Started> bump(const BanTarget& target, Time now);
  std::optional<Time> until(const BanTarget& target, Time now) const;

  StallGuardConfig m_cfg;
  std::map<BanTarget, Entry, TargetLess> m_entries;
  std::list<BanTarget> m_ages;  // least recently stalled first
};

}  // namespace hearsay
