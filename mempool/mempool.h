// Mempool: every valid transaction that is not yet in a block, bounded, durable, sans-clock.
//
// Rules (admit(); the first failing rule answers, cheap checks first, the signature last):
//  well-formed → not already held → right network → size ≤ max_tx_size → not expired (height or
//  time, see tx_expired) → fee rate ≥ min_fee_rate → nonce ≥ the sender's next confirmed nonce
//  (ChainView) → if the sender already holds that nonce: replacement only when the new fee rate
//  is ≥ old × (100 + replace_step_percent) / 100 and higher, otherwise kConflict → the sender
//  holds < max_per_sender (a replacement does not count) → signature valid (skipped when the
//  caller says it verified it) → room: when the memory estimate would pass max_bytes, the
//  lowest fee-rate entries are evicted, unless the new one would itself be among them
//  (kMempoolFull; nothing is evicted then) → the store write succeeded.
//  Removals: confirmed by a block (the tx, and every held tx of that sender with a nonce ≤ the
//  confirmed one), own expiry, held longer than `expiry`, replaced, evicted. Each carries its
//  RemovalReason.
//
// Durability: every change (admissions, and the removals they cause) is applied to the store as
// one batch before admit()/admit_batch() return; memory and store change together: a failed
// write rolls memory back and answers kStoreFailed for each acceptance of the batch (refusals
// by rule stand). admit_batch() groups a burst into one batch. Removals that no admission
// caused (confirmed, expired, stale nonces) are deleted in one batch per call; if the store
// refuses it, memory keeps the removal (a confirmed tx must not be mined twice) and the next
// reload drops the stale records by the same rules. open() reloads the store, re-running every rule
// except the signature (the store is the node's own) in admission order and deleting what no longer
// passes (expired, confirmed,
// ...). A store that cannot be read fails open(): the node never starts empty over it.
//
// Pipelined writes (pipeline_writes(), what hearsayd runs): memory changes at once as above, and
// each batch goes to a StoreWriter thread (mempool/store_writer.h) that group-commits whatever
// is queued; admit_batch() returns without waiting, each acceptance carrying the ticket of its
// batch. An acceptance is durable once take_write_progress() says its ticket settled and does not
// list its id as undone: only then may the caller acknowledge or relay it. A refused write undoes
// in memory every admission not yet written (its victims stay removed: the store still holds
// them, and the next reload decides again) and lists them in the progress as undone; removals
// keep the rule above. Batches reach the store in the order they were made. A small batch made
// while the writer is idle is written at once, as without pipelining (ticket 0).
//
// Adversary: peers choose every byte of a transaction. Memory is bounded by max_bytes (estimate
// of everything the mempool owns: encodings, objects, index nodes); one sender holds at most
// max_per_sender entries; hash tables are keyed by SipHash with options.hash_key, so ids
// ground for collisions cost nothing. Known limit: a sender may hold nonce gaps (nonce >
// next + 1); such entries are not mined until the gap fills, are bounded by the per-sender cap,
// and are evicted or aged out like any other.
//
// Costs (n entries): admit O(log n) plus O(k log n) for k evictions; select_for_block O(n log n)
// worst; expire O(log n) per removal; reload O(n log n); sanity_check O(n log n).
//
// Threading: the caller serialises every call (the relay logic is single-threaded); pipelined
// writes add the writer thread, which touches only the store.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <unordered_map>
#include <vector>

#include "crypto/hash.h"
#include "mempool/chain_view.h"
#include "mempool/policy.h"
#include "mempool/store.h"
#include "mempool/store_writer.h"
#include "p2p/tx_pool.h"

namespace hearsay {

// Pipelined writes: batches of at most this many puts and deletes are written on the protocol
// thread while the writer is idle. Measured on the 2-core dev VM (50-node testnet, 100 tx/s,
// where batches hold one or two transactions): through the writer, 21 µs of its CPU per
// transaction on top of the protocol thread's own (two wake-ups, the report's post); a
// one-transaction LevelDB write costs ≈ 3 µs. From about 8 the write outweighs the hand-off; under
// load, verdicts come in chunks of up to 128 (net/verify_pool.h) and the writer is busy anyway.
inline constexpr size_t kDefaultInlineWriteMaxOps = 8;

struct MempoolOptions {
  uint32_t network = 0;                        // the only network id accepted
  size_t max_bytes = kDefaultMempoolMaxBytes;  // --mempool-max-mb × 1,000,000
  Duration expiry = kDefaultMempoolExpiry;     // --mempool-expiry
  uint64_t min_fee_rate = kDefaultMinFeeRate;  // per 1,000 bytes
  size_t max_tx_size = kMaxTxSize;             // bytes of encoding
  uint32_t replace_step_percent = kDefaultReplaceStepPercent;
  size_t max_per_sender = kDefaultMaxPerSender;
  SipKey hash_key{};  // random per process in the node: keys the hash tables
};

struct Candidate {
  TxRef tx;
  bool signature_verified = false;  // true: the caller verified it; never verified twice
};

struct AdmitResult {
  AdmitCode code = AdmitCode::kAccepted;
  std::vector<Removed> removed;  // replaced or evicted to make room (empty when refused)
  uint64_t ticket = 0;  // pipelined writes: the batch's ticket (durable once settled); else 0
  bool ok() const { return code == AdmitCode::kAccepted; }
};

struct MempoolInfo {
  size_t count = 0;         // transactions held
  size_t bytes = 0;         // sum of their encodings
  size_t memory_usage = 0;  // estimate of everything held (the figure max_bytes bounds)
  size_t max_bytes = 0;
  size_t senders = 0;                              // distinct senders held
  uint64_t lowest_fee_rate = 0;                    // of the entry evicted next (0 when empty)
  Duration oldest_age{0};                          // now − admission time of the oldest entry
  std::array<uint64_t, kAdmitCodeCount> admits{};  // answers given, by code
  std::array<uint64_t, kRemovalReasonCount> removals{};  // removals, by reason
  uint64_t store_batches = 0;                            // batches written
  uint64_t store_failures = 0;                           // batches refused by the store
  // Pipelined writes only: store writes made (each carries one or more batches), the most
  // batches one write carried, and the batches waiting for the writer thread now.
  uint64_t store_writes = 0;
  uint64_t store_inline_writes = 0;  // written on the caller's thread, the writer being idle
  uint64_t store_largest_group = 0;
  size_t store_queued = 0;
};

struct ReloadReport {
  size_t stored = 0;                                // entries found in the store
  size_t reloaded = 0;                              // entries held again
  size_t aged = 0;                                  // dropped: held longer than options.expiry
  std::array<uint64_t, kAdmitCodeCount> dropped{};  // entries dropped, by the rule they failed
};

class Mempool {
 public:
  // Opens a mempool over `store`, reloading its content as of `now` (see Durability above).
  // `chain` must outlive the mempool.
  static Result<std::unique_ptr<Mempool>, StoreError> open(const MempoolOptions& options,
                                                           const ChainView& chain,
                                                           std::unique_ptr<MempoolStore> store,
                                                           Time now);
  ~Mempool();
  Mempool(const Mempool&) = delete;
  Mempool& operator=(const Mempool&) = delete;

  // Admits one transaction; success means it is in the store (see store.h for how durable).
  AdmitResult admit(const TxRef& tx, Time now, bool signature_verified = false);
  // Admits a burst as one store batch: one result per candidate, in order. A later candidate
  // sees the earlier ones (nonce chains and replacements within a batch work).
  std::vector<AdmitResult> admit_batch(std::span<const Candidate> candidates, Time now);
  // The rules admit() checks before the signature and the room, without changing anything:
  // kAccepted when nothing but the signature or a full mempool can still refuse `tx`.
  AdmitCode precheck(const Transaction& tx, Time now) const;

  // A block confirmed these transactions: removes each (kConfirmed) and every held transaction
  // of its sender with a nonce ≤ its nonce (kNonceUsed).
  std::vector<Removed> remove_confirmed(std::span<const TxRef> block_txs);
  // The chain says `sender`'s next nonce is `next_nonce`: removes its held nonces below it.
  std::vector<Removed> remove_stale_nonces(const PublicKey& sender, uint64_t next_nonce);
  // Removes what expired by its own expiry (height from the ChainView, `now`) or is older than
  // options.expiry. Call on every new block and on a timer.
  std::vector<Removed> expire(Time now);

  bool contains(const TxId& id) const { return m_by_id.count(id) != 0; }
  TxRef get(const TxId& id) const;
  // The best-paying transactions whose encodings fit `byte_budget`, in an order a block can
  // hold them: each sender's nonces consecutive from its next confirmed nonce, ascending.
  std::vector<TxRef> select_for_block(size_t byte_budget) const;
  // Up to `n` transactions, newest admission first (to announce the mempool to a new peer).
  std::vector<TxRef> newest(size_t n) const;
  // Held transactions of `sender`, by nonce.
  std::vector<TxRef> by_sender(const PublicKey& sender) const;

  // Pipelined writes (see the header comment). `notify` runs on the writer thread whenever
  // reports wait; the owner then calls take_write_progress() on the mempool's thread. A batch
  // of at most `inline_max_ops` writes made while the writer is idle is written at once on the
  // calling thread, as without pipelining (durable on return, ticket 0): the two thread
  // hand-offs would cost more than the write. 0: every batch goes to the writer.
  void pipeline_writes(std::function<void()> notify,
                       size_t inline_max_ops = kDefaultInlineWriteMaxOps);
  // Waits for every batch made, settles it, and stops the writer thread: later writes are
  // synchronous again. Idempotent.
  void stop_pipelining();
  // Settles what the writer reported: the highest ticket settled (written, or undone), and the
  // ids of admissions undone since the last call (what stop_pipelining() settled included).
  WriteProgress take_write_progress();
  // Blocks until the batch `ticket` settled (then call take_write_progress()); a ticket past
  // the last batch made waits for every batch made so far.
  void wait_written(uint64_t ticket);

  MempoolInfo info(Time now) const;
  size_t size() const { return m_by_id.size(); }
  size_t memory_usage() const { return m_usage; }
  const ReloadReport& reload_report() const { return m_reload; }
  const MempoolOptions& options() const { return m_opts; }
  MempoolStore& store() { return *m_store; }

  // Rebuilds every index from the by-id table and checks it against the maintained ones, the
  // totals, the limits and the per-sender cap. Aborts on a broken invariant.
  void sanity_check() const;

  // Estimated bytes the mempool owns for one held transaction of `encoding_size` bytes.
  static size_t entry_usage(size_t encoding_size);

 private:
  struct Entry {
    TxRef tx;
    Time admitted;
    uint64_t seq;       // admission order, unique; tie-breaks equal fee rates
    uint64_t fee_rate;  // cached tx->fee_rate()
  };
  struct IdHash {
    SipKey key;
    size_t operator()(const TxId& id) const { return siphash24(key, id); }
  };
  struct SenderHash {
    SipKey key;
    size_t operator()(const PublicKey& k) const { return siphash24(key, k); }
  };
  // Fee order: ascending fee rate, then the newest first, so begin() is evicted first and
  // rbegin() is the best-paying, oldest entry.
  struct FeeKey {
    uint64_t fee_rate;
    uint64_t seq;
    const Entry* entry;
    bool operator<(const FeeKey& o) const {
      return fee_rate != o.fee_rate ? fee_rate < o.fee_rate : seq > o.seq;
    }
  };
  // A sender's entries by nonce: what the sender index maps each sender to.
  using Nonces = std::map<uint64_t, const Entry*>;
  using TimeKey = std::pair<int64_t, uint64_t>;     // (admitted µs, seq)
  using ExpiryKey = std::pair<uint64_t, uint64_t>;  // (tx expiry, seq), only expiry != 0
  // One change to memory, kept until the batch is written so it can be undone.
  struct Change {
    bool inserted;  // true: entry was inserted; false: entry was erased
    Entry entry;
    bool from_store;  // an insert of an entry already stored (reload): no put
  };

  Mempool(const MempoolOptions& options, const ChainView& chain,
          std::unique_ptr<MempoolStore> store);
  void reload(std::vector<StoredTx> stored, Time now);
  AdmitCode precheck(const Transaction* tx, Time now, const Entry** old) const;
  AdmitResult check_and_apply(const Candidate& c, Time now, Time admitted, bool from_store,
                              std::vector<Change>& journal);
  // The lowest-paying entries (never `spare`) whose removal frees `needed` bytes, all paying
  // less than `fee_rate`; false if there are not enough of them.
  bool find_victims(size_t needed, uint64_t fee_rate, const Entry* spare,
                    std::vector<TxId>& victims) const;
  void insert_entry(const Entry& e);
  Entry erase_entry(const TxId& id);
  void remove(const TxId& id, RemovalReason why, std::vector<Change>& journal,
              std::vector<Removed>& out);
  static std::vector<StoreOp> ops_of(const std::vector<Change>& journal);
  // Writes the journal to the store as one batch; on failure undoes it in memory.
  Status commit(std::vector<Change>& journal);
  // Pipelined: hands the journal's writes to the writer; returns the ticket (0: nothing to write).
  uint64_t submit(const std::vector<Change>& journal);
  void poll_writer();  // settles every report waiting
  // A batch of `ops` writes goes to the writer (else: it is written here, now).
  bool writes_behind(size_t ops) const;
  void settle(const WriteReport& r);
  std::vector<Removed> commit_removals(std::vector<Change>& journal, std::vector<Removed> out);
  void remove_nonces_up_to(const PublicKey& sender, uint64_t last, std::vector<Change>& journal,
                           std::vector<Removed>& out);
  size_t sender_count(const PublicKey& sender) const;

  MempoolOptions m_opts;
  const ChainView& m_chain;
  std::unique_ptr<MempoolStore> m_store;

  std::unordered_map<TxId, Entry, IdHash> m_by_id;
  std::set<FeeKey> m_by_fee;
  // Sender index: hashed by sender (one lookup, not a tree of 32-byte keys compared ≈ 17 times:
  // a third of the protocol thread's time under a flood), then by nonce. No empty Nonces; a
  // sender's count is its size.
  std::unordered_map<PublicKey, Nonces, SenderHash> m_by_sender;
  std::map<TimeKey, const Entry*> m_by_time;
  std::map<ExpiryKey, const Entry*> m_by_expiry;  // entries with expiry != 0 only

  size_t m_bytes = 0;
  size_t m_usage = 0;
  uint64_t m_next_seq = 1;
  std::array<uint64_t, kAdmitCodeCount> m_admits{};
  std::array<uint64_t, kRemovalReasonCount> m_removals{};
  uint64_t m_store_batches = 0;
  uint64_t m_store_failures = 0;
  ReloadReport m_reload;

  // Pipelined writes. An admission batch not yet written: what it inserted, as (id, seq).
  struct Pending {
    uint64_t ticket;
    std::vector<std::pair<TxId, uint64_t>> inserted;
  };
  std::unique_ptr<StoreWriter> m_writer;  // after m_store: stopped before it goes
  std::deque<Pending> m_pending;          // ticket order
  uint64_t m_last_ticket = 0;             // the last batch submitted
  uint64_t m_settled = 0;                 // reported by the writer
  uint64_t m_doomed_upto = 0;             // a refusal undid every batch up to here
  size_t m_inline_max_ops = 0;
  uint64_t m_inline_writes = 0;
  std::vector<TxId> m_undone;  // since the last take_write_progress()
};

}  // namespace hearsay
