// FrameBudget: one cap on the memory that all connections together hold in partial frames —
// frames whose first byte has arrived and whose last has not.
//
// Why: a frame's payload is buffered until it is complete (p2p/transport.h), and the peer
// decides how long that takes. Each connection is bounded by kMaxMessagePayload, but N peers
// that each send most of a maximal frame and wait hold N × 4 MB (117 inbound slots: ≈ 470 MB)
// until the frame deadline (net/connection.h) cuts them. The budget bounds the sum.
//
// Rules:
//  * A holder (a Connection, by peer id) is charged what its FrameDecoder has allocated:
//    FrameDecoder::reserved_bytes(), the payload's capacity (not its size) plus the header
//    buffer. It asks before the allocation grows (charge() with FrameDecoder::reserved_after()),
//    so used() never exceeds cap(), not even for an instant; after the bytes are in it settles
//    to what it really holds, which is never more than it was granted.
//  * When growth would pass the cap, partial frames give way in this order: stalled ones (no
//    byte for stalled_after) before progressing ones, larger before smaller, lower peer id first
//    among equals. The grower takes part with the size it asks for, as progressing and before
//    the others of its size: if its turn comes before enough room is found, it is refused,
//    nobody is cut, and the caller cuts its own connection. So a small frame (a transaction)
//    never loses its connection while a larger frame is held, and what goes first is what is
//    stalled.
//  * A frame that gives way is cut: its charge is taken back at once, and
//    Holder::cut_partial_frame() drops the frame and closes the connection — at once when the
//    holder is on the grower's thread, soon after when it is on another (its memory outlives
//    the charge by one hand-over to that thread). Until it releases, a cut holder's charge()
//    is refused and its settle() ignored.
//
// Adversary: peers that open frames and stall them, or trickle them to look alive. Stalled
// frames go first; a trickled frame goes when it is the largest, and the frame deadline ends it
// regardless. What the budget cannot tell apart is an honest large frame (a block) from an
// equally large frame that an attacker keeps progressing: an attacker who spends the bandwidth
// to keep the cap full of progressing frames can cost honest blocks their connections (they are
// fetched again), never small messages.
//
// Bounds: one entry per connection holding a partial frame. charge() is O(log n) within the
// cap and O(n log n) when it must choose what gives way (n: holders); the rest O(log n).
// Thread-safe: Connections on different I/O threads share it. One lock, held while a cut is
// handed to its holder, and taken again (recursively) when the holder releases at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "p2p/limits.h"
#include "p2p/types.h"

namespace hearsay {

// hearsayd's cap on partial-frame memory (--max-partial-frame-memory): 16 maximal frames at
// once, twice the outbound peers that may send us a block together, against ≈ 470 MB unbounded.
inline constexpr size_t kDefaultMaxPartialFrameBytes = 64 * 1024 * 1024;
// The least cap the daemon accepts: a maximal frame completes while another is held.
inline constexpr size_t kMinPartialFrameBytes = 8 * 1024 * 1024;
static_assert(kMinPartialFrameBytes >= 2 * (kFrameHeaderSize + kMaxMessagePayload));
static_assert(kDefaultMaxPartialFrameBytes >= kMinPartialFrameBytes);
// A partial frame that received nothing for this long is stalled: it gives way first. A live
// TCP flow delivers something every retransmission timeout (≥ 200 ms, 1 s at first), so two
// seconds without a byte means the sender is not sending.
inline constexpr std::chrono::milliseconds kPartialFrameStalledAfter{2'000};

class FrameBudget {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  // What holds a charge: a Connection.
  class Holder {
   public:
    // Drops the partial frame (calling release()) and closes the connection with `reason`,
    // now or on the holder's own thread. Called with the budget's lock held: the holder stays
    // alive meanwhile (its destructor calls release(), which waits for the lock). `stalled`:
    // the frame had received nothing for stalled_after.
    virtual void cut_partial_frame(std::string reason, bool stalled) = 0;

   protected:
    ~Holder() = default;
  };

  explicit FrameBudget(size_t cap,
                       std::chrono::milliseconds stalled_after = kPartialFrameStalledAfter);
  FrameBudget(const FrameBudget&) = delete;
  FrameBudget& operator=(const FrameBudget&) = delete;

  // `peer` (held by `holder`) is to hold `bytes` in total, received at `now` (its progress).
  // Within the cap: granted. Beyond it: what must give way (rules) is cut first and it is
  // granted, or, when `peer` itself comes first, refused (false) with nothing changed.
  bool charge(PeerId peer, Holder& holder, size_t bytes, SteadyTime now);
  // After the bytes are in: `peer` holds `bytes`, at most what it was granted.
  void settle(PeerId peer, size_t bytes);
  // `peer` holds nothing any more (idempotent).
  void release(PeerId peer);

  // Who would give way, in order, for `peer` to hold `bytes` at `now` (empty: it fits);
  // nullopt when `peer` would be refused.
  std::optional<std::vector<PeerId>> victims(PeerId peer, size_t bytes, SteadyTime now) const;

  size_t used() const;
  size_t peak() const;  // the most used() has been
  size_t cap() const { return m_cap; }
  size_t charged(PeerId peer) const;
  size_t holders() const;
  // Aborts unless used() is the sum of the charges and within the cap, and no charge is 0.
  void sanity_check() const;

 private:
  struct Entry {
    Holder* holder;
    size_t bytes;
    SteadyTime progress;  // when its last bytes arrived
  };
  bool stalled(const Entry& e, SteadyTime now) const { return now - e.progress >= m_stalled_after; }
  size_t charged_locked(PeerId peer) const;
  std::optional<std::vector<PeerId>> victims_locked(PeerId peer, size_t bytes,
                                                    SteadyTime now) const;
  void release_locked(PeerId peer);

  const size_t m_cap;
  const std::chrono::milliseconds m_stalled_after;
  mutable std::recursive_mutex m_mutex;
  std::map<PeerId, Entry> m_entries;
  std::set<PeerId> m_cut;  // cut, and not released since
  size_t m_used = 0;
  size_t m_peak = 0;
};

}  // namespace hearsay
