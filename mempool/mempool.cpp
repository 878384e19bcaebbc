#include "mempool/mempool.h"

#include <algorithm>
#include <limits>
#include <queue>
#include <utility>

namespace hearsay {

namespace {

// glibc malloc: an allocation of n bytes uses n + 8 rounded up to 16 (at least 32).
constexpr size_t malloc_usage(size_t n) {
  return std::max<size_t>(32, (n + 8 + 15) / 16 * 16);
}
// A red-black tree node: colour + three pointers, then the value.
constexpr size_t kTreeNodeHeader = 32;

// new_rate is at least step percent above old_rate, and strictly above it.
bool pays_enough_more(uint64_t new_rate, uint64_t old_rate, uint32_t step_percent) {
  using U = unsigned __int128;
  return new_rate > old_rate && U(new_rate) * 100 >= U(old_rate) * (100 + U(step_percent));
}

}  // namespace

size_t Mempool::entry_usage(size_t encoding_size) {
  size_t u = malloc_usage(encoding_size);                   // the encoding
  u += malloc_usage(16 + sizeof(Transaction));              // make_shared block + object
  u += malloc_usage(8 + sizeof(TxId) + sizeof(Entry) + 8);  // id table node (next, hash)
  u += sizeof(void*);                                       // its bucket (load factor <= 1)
  u += malloc_usage(kTreeNodeHeader + sizeof(FeeKey));      // fee index
  u += malloc_usage(kTreeNodeHeader + sizeof(uint64_t) + sizeof(void*));   // sender's nonces
  u += malloc_usage(kTreeNodeHeader + sizeof(TimeKey) + sizeof(void*));    // time index
  u += malloc_usage(kTreeNodeHeader + sizeof(ExpiryKey) + sizeof(void*));  // if it expires
  // Its sender's index entry, at worst one per entry: node (next, key, nonces, hash), bucket.
  u += malloc_usage(8 + sizeof(PublicKey) + sizeof(Nonces) + 8) + sizeof(void*);
  return u;
}

Mempool::Mempool(const MempoolOptions& options, const ChainView& chain,
                 std::unique_ptr<MempoolStore> store)
    : m_opts(options),
      m_chain(chain),
      m_store(std::move(store)),
      m_by_id(0, IdHash{options.hash_key}),
      m_by_sender(0, SenderHash{options.hash_key}) {
  HEARSAY_CHECK(m_store != nullptr);
}

Mempool::~Mempool() = default;

Result<std::unique_ptr<Mempool>, StoreError> Mempool::open(const MempoolOptions& options,
                                                           const ChainView& chain,
                                                           std::unique_ptr<MempoolStore> store,
                                                           Time now) {
  std::unique_ptr<Mempool> m(new Mempool(options, chain, std::move(store)));
  auto loaded = m->m_store->load();
  if (!loaded) return fail(loaded.error());
  m->reload(std::move(*loaded), now);
  return m;
}

void Mempool::reload(std::vector<StoredTx> stored, Time now) {
  // Re-admit in admission order, so replacements and evictions decide as they did the first time.
  std::sort(stored.begin(), stored.end(), [](const StoredTx& a, const StoredTx& b) {
    return a.admitted != b.admitted ? a.admitted < b.admitted : a.tx->id() < b.tx->id();
  });
  std::vector<Change> journal;
  std::vector<StoreOp> ops;
  m_reload = ReloadReport{};
  m_reload.stored = stored.size();
  for (StoredTx& st : stored) {
    if (now - st.admitted >= m_opts.expiry) {
      ++m_reload.aged;
      ++m_removals[static_cast<size_t>(RemovalReason::kAged)];
      ops.push_back(StoreOp{StoreOp::Kind::kDelete, st.tx, Time(0)});
      continue;
    }
    AdmitResult r = check_and_apply(Candidate{st.tx, true}, now, st.admitted, true, journal);
    for (const Removed& rm : r.removed)
      ++m_removals[static_cast<size_t>(rm.reason)];
    if (r.ok()) continue;
    ++m_reload.dropped[static_cast<size_t>(r.code)];
    ++m_removals[static_cast<size_t>(RemovalReason::kReloadDropped)];
    ops.push_back(StoreOp{StoreOp::Kind::kDelete, st.tx, Time(0)});
  }
  for (const Change& c : journal)
    if (!c.inserted) ops.push_back(StoreOp{StoreOp::Kind::kDelete, c.entry.tx, Time(0)});
  m_reload.reloaded = m_by_id.size();
  // Memory is right whatever happens here: a failed clean-up is redone by the next reload.
  if (!ops.empty()) {
    if (m_store->apply(ops))
      ++m_store_batches;
    else
      ++m_store_failures;
  }
}

AdmitCode Mempool::precheck(const Transaction* tx, Time now, const Entry** old) const {
  if (!tx || tx->size() < kMinTxSize || tx->size() > kMaxTxSize) return AdmitCode::kMalformed;
  if (m_by_id.count(tx->id())) return AdmitCode::kDuplicate;
  if (tx->network() != m_opts.network) return AdmitCode::kWrongNetwork;
  if (tx->size() > m_opts.max_tx_size) return AdmitCode::kTooLarge;
  if (tx_expired(*tx, now, m_chain.height())) return AdmitCode::kExpired;
  const uint64_t rate = tx->fee_rate();
  if (rate < m_opts.min_fee_rate) return AdmitCode::kFeeRateTooLow;
  const PublicKey sender = tx->sender();
  if (tx->nonce() < m_chain.next_nonce(sender)) return AdmitCode::kNonceTooLow;
  *old = nullptr;
  if (auto s = m_by_sender.find(sender); s != m_by_sender.end())
    if (auto it = s->second.find(tx->nonce()); it != s->second.end()) *old = it->second;
  if (*old) {
    if (!pays_enough_more(rate, (*old)->fee_rate, m_opts.replace_step_percent))
      return AdmitCode::kConflict;
  } else if (sender_count(sender) >= m_opts.max_per_sender) {
    return AdmitCode::kSenderLimit;
  }
  return AdmitCode::kAccepted;
}

AdmitCode Mempool::precheck(const Transaction& tx, Time now) const {
  const Entry* old = nullptr;
  return precheck(&tx, now, &old);
}

AdmitResult Mempool::check_and_apply(const Candidate& c, Time now, Time admitted, bool from_store,
                                     std::vector<Change>& journal) {
  const TxRef& tx = c.tx;
  auto refuse = [](AdmitCode code) { return AdmitResult{code, {}}; };
  const Entry* old = nullptr;
  if (AdmitCode code = precheck(tx.get(), now, &old); code != AdmitCode::kAccepted)
    return refuse(code);
  const uint64_t rate = tx->fee_rate();
  if (!c.signature_verified && !tx->verify_signature()) return refuse(AdmitCode::kBadSignature);

  std::vector<TxId> victims;
  const size_t usage = entry_usage(tx->size());
  const size_t freed = old ? entry_usage(old->tx->size()) : 0;
  if (m_usage - freed + usage > m_opts.max_bytes &&
      !find_victims(m_usage - freed + usage - m_opts.max_bytes, rate, old, victims))
    return refuse(AdmitCode::kMempoolFull);

  AdmitResult r;
  if (old) remove(old->tx->id(), RemovalReason::kReplaced, journal, r.removed);
  for (const TxId& id : victims)
    remove(id, RemovalReason::kEvicted, journal, r.removed);
  Entry e{tx, admitted, m_next_seq++, rate};
  insert_entry(e);
  journal.push_back(Change{true, std::move(e), from_store});
  return r;
}

bool Mempool::find_victims(size_t needed, uint64_t fee_rate, const Entry* spare,
                           std::vector<TxId>& victims) const {
  size_t freed = 0;
  for (const FeeKey& k : m_by_fee) {
    if (k.entry == spare) continue;
    // The newcomer would be among the lowest-paying itself: refuse it, evict nothing.
    if (k.fee_rate >= fee_rate) return false;
    victims.push_back(k.entry->tx->id());
    freed += entry_usage(k.entry->tx->size());
    if (freed >= needed) return true;
  }
  return false;
}

void Mempool::insert_entry(const Entry& e) {
  auto [it, inserted] = m_by_id.emplace(e.tx->id(), e);
  HEARSAY_CHECK(inserted);
  const Entry* p = &it->second;
  HEARSAY_CHECK(m_by_fee.insert(FeeKey{e.fee_rate, e.seq, p}).second);
  const PublicKey sender = e.tx->sender();
  HEARSAY_CHECK(m_by_sender[sender].emplace(e.tx->nonce(), p).second);
  HEARSAY_CHECK(m_by_time.emplace(TimeKey{e.admitted.count(), e.seq}, p).second);
  if (e.tx->expiry() != 0)
    HEARSAY_CHECK(m_by_expiry.emplace(ExpiryKey{e.tx->expiry(), e.seq}, p).second);
  m_bytes += e.tx->size();
  m_usage += entry_usage(e.tx->size());
}

Mempool::Entry Mempool::erase_entry(const TxId& id) {
  auto it = m_by_id.find(id);
  HEARSAY_CHECK(it != m_by_id.end());
  Entry e = it->second;
  HEARSAY_CHECK(m_by_fee.erase(FeeKey{e.fee_rate, e.seq, nullptr}) == 1);
  const PublicKey sender = e.tx->sender();
  auto nonces = m_by_sender.find(sender);
  HEARSAY_CHECK(nonces != m_by_sender.end() && nonces->second.erase(e.tx->nonce()) == 1);
  if (nonces->second.empty()) m_by_sender.erase(nonces);
  HEARSAY_CHECK(m_by_time.erase(TimeKey{e.admitted.count(), e.seq}) == 1);
  if (e.tx->expiry() != 0) HEARSAY_CHECK(m_by_expiry.erase(ExpiryKey{e.tx->expiry(), e.seq}) == 1);
  m_by_id.erase(it);
  m_bytes -= e.tx->size();
  m_usage -= entry_usage(e.tx->size());
  return e;
}

void Mempool::remove(const TxId& id, RemovalReason why, std::vector<Change>& journal,
                     std::vector<Removed>& out) {
  Entry e = erase_entry(id);
  out.push_back(Removed{e.tx, why});
  journal.push_back(Change{false, std::move(e), false});
}

std::vector<StoreOp> Mempool::ops_of(const std::vector<Change>& journal) {
  std::vector<StoreOp> ops;
  ops.reserve(journal.size());
  for (const Change& c : journal) {
    if (c.inserted && c.from_store) continue;
    ops.push_back(StoreOp{c.inserted ? StoreOp::Kind::kPut : StoreOp::Kind::kDelete, c.entry.tx,
                          c.entry.admitted});
  }
  return ops;
}

Status Mempool::commit(std::vector<Change>& journal) {
  std::vector<StoreOp> ops = ops_of(journal);
  if (ops.empty()) return {};
  if (m_writer) ++m_inline_writes;  // pipelined, and the writer was idle
  Status s = m_store->apply(ops);
  if (s) {
    ++m_store_batches;
    return s;
  }
  ++m_store_failures;
  // Undo in reverse order: memory returns to exactly what the store still holds.
  for (auto it = journal.rbegin(); it != journal.rend(); ++it) {
    if (it->inserted)
      erase_entry(it->entry.tx->id());
    else
      insert_entry(it->entry);
  }
  return s;
}

uint64_t Mempool::submit(const std::vector<Change>& journal) {
  std::vector<StoreOp> ops = ops_of(journal);
  if (ops.empty()) return 0;
  m_last_ticket = m_writer->submit(std::move(ops));
  return m_last_ticket;
}

bool Mempool::writes_behind(size_t ops) const {
  return m_writer && !(ops <= m_inline_max_ops && m_writer->idle());
}

void Mempool::pipeline_writes(std::function<void()> notify, size_t inline_max_ops) {
  if (m_writer) return;
  m_inline_max_ops = inline_max_ops;
  m_writer = std::make_unique<StoreWriter>(*m_store, std::move(notify));
  m_settled = m_doomed_upto = m_last_ticket = 0;
}

void Mempool::stop_pipelining() {
  if (!m_writer) return;
  m_writer->wait_settled(m_last_ticket);
  poll_writer();
  m_writer.reset();
}

void Mempool::poll_writer() {
  if (!m_writer) return;
  for (const WriteReport& r : m_writer->take_reports())
    settle(r);
}

void Mempool::wait_written(uint64_t ticket) {
  if (m_writer) m_writer->wait_settled(std::min(ticket, m_last_ticket));
}

WriteProgress Mempool::take_write_progress() {
  poll_writer();
  WriteProgress out;
  out.settled = std::max(m_settled, m_doomed_upto);
  out.undone = std::exchange(m_undone, {});
  return out;
}

void Mempool::settle(const WriteReport& r) {
  const uint64_t batches = r.upto - m_settled;
  m_settled = r.upto;
  if (r.ok) {
    m_store_batches += batches;
    while (!m_pending.empty() && m_pending.front().ticket <= r.upto)
      m_pending.pop_front();
    return;
  }
  m_store_failures += batches;
  // Refused after the last refusal was handled: the writer refuses everything submitted so far
  // until resume(), so every batch not yet written is undone now, newest first.
  if (r.upto <= m_doomed_upto) return;
  for (auto p = m_pending.rbegin(); p != m_pending.rend(); ++p) {
    for (auto it = p->inserted.rbegin(); it != p->inserted.rend(); ++it) {
      auto e = m_by_id.find(it->first);
      // Replaced or removed since: nothing of this admission is left to undo.
      if (e == m_by_id.end() || e->second.seq != it->second) continue;
      erase_entry(it->first);
      m_undone.push_back(it->first);
      --m_admits[static_cast<size_t>(AdmitCode::kAccepted)];
      ++m_admits[static_cast<size_t>(AdmitCode::kStoreFailed)];
    }
  }
  m_pending.clear();
  m_doomed_upto = m_last_ticket;
  m_writer->resume();
}

AdmitResult Mempool::admit(const TxRef& tx, Time now, bool signature_verified) {
  Candidate c{tx, signature_verified};
  return std::move(admit_batch(std::span(&c, 1), now).front());
}

std::vector<AdmitResult> Mempool::admit_batch(std::span<const Candidate> candidates, Time now) {
  std::vector<Change> journal;
  std::vector<AdmitResult> results;
  results.reserve(candidates.size());
  for (const Candidate& c : candidates)
    results.push_back(check_and_apply(c, now, now, false, journal));
  if (writes_behind(journal.size())) {
    Pending p{submit(journal), {}};
    for (const Change& c : journal)
      if (c.inserted) p.inserted.emplace_back(c.entry.tx->id(), c.entry.seq);
    if (!p.inserted.empty()) m_pending.push_back(std::move(p));
    for (AdmitResult& r : results) {
      if (r.ok()) r.ticket = m_last_ticket;
      ++m_admits[static_cast<size_t>(r.code)];
      for (const Removed& rm : r.removed)
        ++m_removals[static_cast<size_t>(rm.reason)];
    }
    return results;
  }
  const bool written = commit(journal).ok();
  for (AdmitResult& r : results) {
    if (r.ok() && !written) {
      // Refusals by rule stand (a bad signature is still a bad signature); acceptances did not.
      r.code = AdmitCode::kStoreFailed;
      r.removed.clear();
    }
    ++m_admits[static_cast<size_t>(r.code)];
    for (const Removed& rm : r.removed)
      ++m_removals[static_cast<size_t>(rm.reason)];
  }
  return results;
}

std::vector<Removed> Mempool::commit_removals(std::vector<Change>& journal,
                                              std::vector<Removed> out) {
  std::vector<StoreOp> ops;
  ops.reserve(journal.size());
  for (const Change& c : journal)
    ops.push_back(StoreOp{StoreOp::Kind::kDelete, c.entry.tx, Time(0)});
  // Memory keeps the removal even if the store refuses it: a confirmed or expired transaction
  // must not be mined again, and the next reload drops it from the store by the same rules.
  if (!ops.empty() && writes_behind(ops.size())) {
    m_last_ticket = m_writer->submit(std::move(ops));
  } else if (!ops.empty()) {
    if (m_writer) ++m_inline_writes;
    if (m_store->apply(ops))
      ++m_store_batches;
    else
      ++m_store_failures;
  }
  for (const Removed& rm : out)
    ++m_removals[static_cast<size_t>(rm.reason)];
  return out;
}

void Mempool::remove_nonces_up_to(const PublicKey& sender, uint64_t last,
                                  std::vector<Change>& journal, std::vector<Removed>& out) {
  std::vector<TxId> ids;
  auto s = m_by_sender.find(sender);
  if (s == m_by_sender.end()) return;
  for (auto it = s->second.begin(); it != s->second.end() && it->first <= last; ++it)
    ids.push_back(it->second->tx->id());
  for (const TxId& id : ids)
    remove(id, RemovalReason::kNonceUsed, journal, out);
}

std::vector<Removed> Mempool::remove_confirmed(std::span<const TxRef> block_txs) {
  std::vector<Change> journal;
  std::vector<Removed> out;
  for (const TxRef& tx : block_txs) {
    if (!tx) continue;
    if (contains(tx->id())) remove(tx->id(), RemovalReason::kConfirmed, journal, out);
    remove_nonces_up_to(tx->sender(), tx->nonce(), journal, out);
  }
  return commit_removals(journal, std::move(out));
}

std::vector<Removed> Mempool::remove_stale_nonces(const PublicKey& sender, uint64_t next_nonce) {
  std::vector<Change> journal;
  std::vector<Removed> out;
  if (next_nonce > 0) remove_nonces_up_to(sender, next_nonce - 1, journal, out);
  return commit_removals(journal, std::move(out));
}

std::vector<Removed> Mempool::expire(Time now) {
  std::vector<Change> journal;
  std::vector<Removed> out;
  const uint64_t height = m_chain.height();
  std::vector<TxId> ids;
  // Heights first (keys below the threshold), then times; both ranges are sorted by expiry.
  for (auto it = m_by_expiry.begin();
       it != m_by_expiry.end() && it->first.first < kExpiryTimeThreshold &&
       it->first.first <= height;
       ++it)
    ids.push_back(it->second->tx->id());
  for (auto it = m_by_expiry.lower_bound({kExpiryTimeThreshold, 0});
       it != m_by_expiry.end() && tx_expired(*it->second->tx, now, height); ++it)
    ids.push_back(it->second->tx->id());
  for (const TxId& id : ids)
    remove(id, RemovalReason::kExpired, journal, out);
  ids.clear();
  const int64_t cutoff = (now - m_opts.expiry).count();
  for (auto it = m_by_time.begin(); it != m_by_time.end() && it->first.first <= cutoff; ++it)
    ids.push_back(it->second->tx->id());
  for (const TxId& id : ids)
    remove(id, RemovalReason::kAged, journal, out);
  return commit_removals(journal, std::move(out));
}

TxRef Mempool::get(const TxId& id) const {
  auto it = m_by_id.find(id);
  return it == m_by_id.end() ? nullptr : it->second.tx;
}

size_t Mempool::sender_count(const PublicKey& sender) const {
  auto it = m_by_sender.find(sender);
  return it == m_by_sender.end() ? 0 : it->second.size();
}

std::vector<TxRef> Mempool::select_for_block(size_t byte_budget) const {
  // Greedy by fee rate over each sender's next minable transaction: a sender's nonce n + 1
  // becomes a candidate only once its nonce n is taken, so the order is always valid. A
  // candidate that does not fit ends its sender's run (its later nonces cannot skip it).
  auto worse = [](const Entry* a, const Entry* b) {
    return a->fee_rate != b->fee_rate ? a->fee_rate < b->fee_rate : a->seq > b->seq;
  };
  std::priority_queue<const Entry*, std::vector<const Entry*>, decltype(worse)> heap(worse);
  for (const auto& [sender, nonces] : m_by_sender) {
    auto head = nonces.find(m_chain.next_nonce(sender));
    if (head != nonces.end()) heap.push(head->second);
  }
  std::vector<TxRef> out;
  size_t left = byte_budget;
  while (!heap.empty() && left >= kMinTxSize) {
    const Entry* e = heap.top();
    heap.pop();
    if (e->tx->size() > left) continue;
    out.push_back(e->tx);
    left -= e->tx->size();
    const uint64_t nonce = e->tx->nonce();
    if (nonce == std::numeric_limits<uint64_t>::max()) continue;
    const Nonces& nonces = m_by_sender.find(e->tx->sender())->second;
    auto next = nonces.find(nonce + 1);
    if (next != nonces.end()) heap.push(next->second);
  }
  return out;
}

std::vector<TxRef> Mempool::newest(size_t n) const {
  std::vector<TxRef> out;
  out.reserve(std::min(n, m_by_time.size()));
  for (auto it = m_by_time.rbegin(); it != m_by_time.rend() && out.size() < n; ++it)
    out.push_back(it->second->tx);
  return out;
}

std::vector<TxRef> Mempool::by_sender(const PublicKey& sender) const {
  std::vector<TxRef> out;
  if (auto s = m_by_sender.find(sender); s != m_by_sender.end())
    for (const auto& [nonce, e] : s->second)
      out.push_back(e->tx);
  return out;
}

MempoolInfo Mempool::info(Time now) const {
  MempoolInfo i;
  i.count = m_by_id.size();
  i.bytes = m_bytes;
  i.memory_usage = m_usage;
  i.max_bytes = m_opts.max_bytes;
  i.senders = m_by_sender.size();
  if (!m_by_fee.empty()) i.lowest_fee_rate = m_by_fee.begin()->fee_rate;
  if (!m_by_time.empty()) i.oldest_age = now - Time(m_by_time.begin()->first.first);
  i.admits = m_admits;
  i.removals = m_removals;
  i.store_batches = m_store_batches;
  i.store_failures = m_store_failures;
  if (m_writer) {
    const StoreWriterStats w = m_writer->stats();
    i.store_writes = w.writes;
    i.store_inline_writes = m_inline_writes;
    i.store_largest_group = w.largest_group;
    i.store_queued = w.queued;
  }
  return i;
}

void Mempool::sanity_check() const {
  const size_t n = m_by_id.size();
  HEARSAY_CHECK(m_by_fee.size() == n);
  HEARSAY_CHECK(m_by_time.size() == n);
  size_t bytes = 0, usage = 0, expiring = 0;
  for (const auto& [id, e] : m_by_id) {
    HEARSAY_CHECK(e.tx != nullptr && e.tx->id() == id);
    HEARSAY_CHECK(e.fee_rate == e.tx->fee_rate());
    HEARSAY_CHECK(e.seq > 0 && e.seq < m_next_seq);
    HEARSAY_CHECK(e.tx->network() == m_opts.network);
    auto f = m_by_fee.find(FeeKey{e.fee_rate, e.seq, nullptr});
    HEARSAY_CHECK(f != m_by_fee.end() && f->entry == &e);
    auto s = m_by_sender.find(e.tx->sender());
    HEARSAY_CHECK(s != m_by_sender.end());
    auto nonce = s->second.find(e.tx->nonce());
    HEARSAY_CHECK(nonce != s->second.end() && nonce->second == &e);
    auto t = m_by_time.find({e.admitted.count(), e.seq});
    HEARSAY_CHECK(t != m_by_time.end() && t->second == &e);
    if (e.tx->expiry() != 0) {
      ++expiring;
      auto x = m_by_expiry.find({e.tx->expiry(), e.seq});
      HEARSAY_CHECK(x != m_by_expiry.end() && x->second == &e);
    }
    bytes += e.tx->size();
    usage += entry_usage(e.tx->size());
  }
  HEARSAY_CHECK(m_by_expiry.size() == expiring);
  HEARSAY_CHECK(bytes == m_bytes);
  HEARSAY_CHECK(usage == m_usage);
  HEARSAY_CHECK(m_usage <= m_opts.max_bytes);
  // The sender index holds every entry once, and no sender over its cap.
  size_t indexed = 0;
  for (const auto& [sender, nonces] : m_by_sender) {
    HEARSAY_CHECK(!nonces.empty() && nonces.size() <= m_opts.max_per_sender);
    indexed += nonces.size();
  }
  HEARSAY_CHECK(indexed == n);
}

}  // namespace hearsay
