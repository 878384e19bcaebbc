#include "net/frame_budget.h"

#include <algorithm>

#include "crypto/result.h"

namespace hearsay {

FrameBudget::FrameBudget(size_t cap, std::chrono::milliseconds stalled_after)
    : m_cap(cap), m_stalled_after(stalled_after) {}

size_t FrameBudget::used() const {
  std::lock_guard lock(m_mutex);
  return m_used;
}

size_t FrameBudget::peak() const {
  std::lock_guard lock(m_mutex);
  return m_peak;
}

size_t FrameBudget::holders() const {
  std::lock_guard lock(m_mutex);
  return m_entries.size();
}

size_t FrameBudget::charged(PeerId peer) const {
  std::lock_guard lock(m_mutex);
  return charged_locked(peer);
}

size_t FrameBudget::charged_locked(PeerId peer) const {
  auto it = m_entries.find(peer);
  return it == m_entries.end() ? 0 : it->second.bytes;
}

std::optional<std::vector<PeerId>> FrameBudget::victims(PeerId peer, size_t bytes,
                                                        SteadyTime now) const {
  std::lock_guard lock(m_mutex);
  return victims_locked(peer, bytes, now);
}

std::optional<std::vector<PeerId>> FrameBudget::victims_locked(PeerId peer, size_t bytes,
                                                               SteadyTime now) const {
  const size_t others = m_used - charged_locked(peer);
  if (others + bytes <= m_cap) return std::vector<PeerId>{};
  size_t excess = others + bytes - m_cap;
  struct Candidate {
    bool stalled;
    size_t bytes;
    bool grower;
    PeerId id;
  };
  std::vector<Candidate> order;
  order.reserve(m_entries.size() + 1);
  for (const auto& [id, e] : m_entries)
    if (id != peer) order.push_back({stalled(e, now), e.bytes, false, id});
  order.push_back({false, bytes, true, peer});
  // Stalled first, then larger first; the grower before the others of its size, then by id.
  std::sort(order.begin(), order.end(), [](const Candidate& a, const Candidate& b) {
    if (a.stalled != b.stalled) return a.stalled;
    if (a.bytes != b.bytes) return a.bytes > b.bytes;
    if (a.grower != b.grower) return a.grower;
    return a.id < b.id;
  });
  std::vector<PeerId> out;
  for (const Candidate& c : order) {
    if (c.grower) return std::nullopt;
    out.push_back(c.id);
    if (c.bytes >= excess) return out;
    excess -= c.bytes;
  }
  HEARSAY_CHECK(false);  // the grower is in the order
  return std::nullopt;
}

bool FrameBudget::charge(PeerId peer, Holder& holder, size_t bytes, SteadyTime now) {
  std::lock_guard lock(m_mutex);
  if (bytes == 0) {
    release_locked(peer);
    return true;
  }
  if (m_cut.contains(peer)) return false;  // its cut is on its way to it
  auto cut = victims_locked(peer, bytes, now);
  if (!cut) return false;
  for (PeerId v : *cut) {
    auto it = m_entries.find(v);
    HEARSAY_CHECK(it != m_entries.end());
    const bool was_stalled = stalled(it->second, now);
    const size_t held = it->second.bytes;
    Holder* victim = it->second.holder;
    m_used -= held;
    m_entries.erase(it);
    m_cut.insert(v);
    victim->cut_partial_frame("partial frames at their memory cap (" + std::to_string(m_cap) +
                                  " bytes): this " + std::to_string(held) + "-byte frame" +
                                  (was_stalled ? ", stalled," : "") +
                                  " gave way to a frame of peer=" + std::to_string(peer),
                              was_stalled);
  }
  auto [it, inserted] = m_entries.try_emplace(peer, Entry{&holder, 0, now});
  m_used = m_used - it->second.bytes + bytes;
  it->second.bytes = bytes;
  it->second.progress = now;
  HEARSAY_CHECK(m_used <= m_cap);
  m_peak = std::max(m_peak, m_used);
  return true;
}

void FrameBudget::settle(PeerId peer, size_t bytes) {
  std::lock_guard lock(m_mutex);
  if (bytes == 0) {
    release_locked(peer);
    return;
  }
  if (m_cut.contains(peer)) return;  // what it holds is no longer charged: its cut is coming
  auto it = m_entries.find(peer);
  // The decoder allocates no more than reserved_after() said: growth was granted before.
  HEARSAY_CHECK(it != m_entries.end() && bytes <= it->second.bytes);
  m_used -= it->second.bytes - bytes;
  it->second.bytes = bytes;
}

void FrameBudget::release(PeerId peer) {
  std::lock_guard lock(m_mutex);
  release_locked(peer);
}

void FrameBudget::release_locked(PeerId peer) {
  m_cut.erase(peer);
  auto it = m_entries.find(peer);
  if (it == m_entries.end()) return;
  m_used -= it->second.bytes;
  m_entries.erase(it);
}

void FrameBudget::sanity_check() const {
  std::lock_guard lock(m_mutex);
  size_t sum = 0;
  for (const auto& [id, e] : m_entries) {
    HEARSAY_CHECK(e.bytes > 0 && e.holder != nullptr);
    sum += e.bytes;
  }
  HEARSAY_CHECK(sum == m_used);
  HEARSAY_CHECK(m_used <= m_cap && m_used <= m_peak);
}

}  // namespace hearsay
