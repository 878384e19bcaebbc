// --mempool-repair (StoreOptions::repair): a damaged store is salvaged on a copy, the original
// files are kept whole beside it, what cannot be read is reported, and the store opens and
// loads again.
#include <gtest/gtest.h>

#include <filesystem>

#include "mempool/mempool.h"
#include "mempool/store.h"
#include "testing/mempool_fakes.h"
#include "testing/store_damage.h"
#include "testing/test_util.h"

namespace hearsay {
namespace {

namespace fs = std::filesystem;
using test::make_tx;
using test::TempDir;

constexpr Time kT0 = Time(1'700'000'000LL * 1'000'000);

// Stores txs[from, to) in the store at o.path, one batch each, and closes it.
void put_all(const StoreOptions& o, const std::vector<TxRef>& txs, size_t from, size_t to) {
  auto store = open_leveldb_store(o);
  ASSERT_TRUE(store.ok()) << store.error().message;
  for (size_t i = from; i < to; ++i) {
    StoreOp put{StoreOp::Kind::kPut, txs[i], kT0};
    ASSERT_TRUE((*store)->apply(std::span(&put, 1)).ok());
  }
}

std::vector<TxRef> make_txs(size_t n) {
  std::vector<TxRef> txs;
  for (uint64_t k = 0; k < n; ++k)
    txs.push_back(make_tx(static_cast<uint8_t>(1 + k % 7), k / 7, 1000));
  return txs;
}

// The folders beside `store` that a repair kept the originals in.
std::vector<fs::path> kept_folders(const std::string& store) {
  std::vector<fs::path> out;
  const std::string prefix = fs::path(store).filename().string() + ".damaged-";
  for (const auto& e : fs::directory_iterator(fs::path(store).parent_path()))
    if (e.path().filename().string().rfind(prefix, 0) == 0) out.push_back(e.path());
  return out;
}

std::vector<StoredTx> load_all(const StoreOptions& o) {
  auto store = open_leveldb_store(o);
  EXPECT_TRUE(store.ok()) << store.error().message;
  if (!store.ok()) return {};
  auto loaded = (*store)->load();
  EXPECT_TRUE(loaded.ok()) << loaded.error().message;
  return loaded.ok() ? std::move(*loaded) : std::vector<StoredTx>{};
}

// 20 transactions in a table, the 10 after them in the log; the table is then cut short.
TEST(StoreRepair, SalvagesWhatATruncatedTableLeavesAndKeepsTheOriginals) {
  TempDir dir;
  StoreOptions o{dir.file("mempool")};
  const std::vector<TxRef> txs = make_txs(30);
  put_all(o, txs, 0, 20);
  put_all(o, txs, 20, 30);  // the reopen turned the first 20 into a table
  const auto tables = test::files_ending(o.path, ".ldb");
  ASSERT_EQ(tables.size(), 1u) << o.path;
  test::truncate_to(tables[0], 0.5);
  const auto damaged = test::snapshot_files(o.path);

  o.repair = true;
  RepairReport report;
  auto store = open_leveldb_store(o, &report);
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_TRUE(report.repaired);
  EXPECT_EQ(report.read_back, 10u);
  EXPECT_EQ(report.undecodable, 0u);
  auto loaded = (*store)->load();
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_EQ(loaded->size(), 10u);
  for (const StoredTx& st : *loaded) {
    bool from_log = false;
    for (size_t i = 20; i < 30; ++i)
      from_log |= st.tx->id() == txs[i]->id();
    EXPECT_TRUE(from_log);
  }
  store = fail(StoreError{});  // closes it

  // The originals, byte for byte, in the one folder the report names.
  const auto kept = kept_folders(o.path);
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].string(), report.kept);
  EXPECT_EQ(test::snapshot_files(kept[0]), damaged);

  // The repaired store is an ordinary one now.
  o.repair = false;
  EXPECT_EQ(load_all(o).size(), 10u);
}

TEST(StoreRepair, MempoolReloadsTheRepairedStore) {
  TempDir dir;
  StoreOptions o{dir.file("mempool")};
  const std::vector<TxRef> txs = make_txs(30);
  put_all(o, txs, 0, 20);
  put_all(o, txs, 20, 30);
  for (const auto& t : test::files_ending(o.path, ".ldb"))
    test::truncate_to(t, 0.3);

  o.repair = true;
  RepairReport report;
  auto store = open_leveldb_store(o, &report);
  ASSERT_TRUE(store.ok()) << store.error().message;
  FakeChainView chain;
  MempoolOptions mo;
  mo.network = test::kTestNetwork;
  auto pool = Mempool::open(mo, chain, std::move(*store), kT0 + std::chrono::seconds(1));
  ASSERT_TRUE(pool.ok()) << pool.error().message;
  (*pool)->sanity_check();
  EXPECT_EQ((*pool)->reload_report().stored, 10u);
  EXPECT_EQ((*pool)->reload_report().reloaded, 10u);
  for (size_t i = 20; i < 30; ++i)
    EXPECT_TRUE((*pool)->contains(txs[i]->id()));
}

// A record that does not decode fails load(); the repair deletes it and keeps the rest.
TEST(StoreRepair, DropsRecordsThatDoNotDecode) {
  TempDir dir;
  StoreOptions o{dir.file("mempool")};
  const std::vector<TxRef> txs = make_txs(5);
  put_all(o, txs, 0, 5);
  test::put_raw_record(o.path, "t" + std::string(32, '\x7f'),
                       std::string(8, '\0') + "not a transaction");
  {
    auto store = open_leveldb_store(o);
    ASSERT_TRUE(store.ok()) << store.error().message;
    auto loaded = (*store)->load();
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.error().kind, StoreError::Kind::kCorrupt);
    EXPECT_NE(loaded.error().message.find("--mempool-repair"), std::string::npos)
        << loaded.error().message;
  }
  o.repair = true;
  RepairReport report;
  ASSERT_TRUE(open_leveldb_store(o, &report).ok());
  EXPECT_EQ(report.read_back, 6u);
  EXPECT_EQ(report.undecodable, 1u);
  o.repair = false;
  EXPECT_EQ(load_all(o).size(), 5u);
}

// Repair of a healthy store loses nothing; each run keeps the store as it was under a name of
// its own, never over an earlier one.
TEST(StoreRepair, HealthyStoreLosesNothingAndEachRunKeepsItsOwnCopy) {
  TempDir dir;
  StoreOptions o{dir.file("mempool")};
  const std::vector<TxRef> txs = make_txs(8);
  put_all(o, txs, 0, 8);
  const auto before = test::snapshot_files(o.path);
  o.repair = true;
  RepairReport first, second;
  ASSERT_TRUE(open_leveldb_store(o, &first).ok());
  ASSERT_TRUE(open_leveldb_store(o, &second).ok());
  EXPECT_EQ(first.read_back, 8u);
  EXPECT_EQ(second.read_back, 8u);
  EXPECT_NE(first.kept, second.kept);
  EXPECT_EQ(kept_folders(o.path).size(), 2u);
  EXPECT_EQ(test::snapshot_files(first.kept), before);
  o.repair = false;
  EXPECT_EQ(load_all(o).size(), 8u);
}

TEST(StoreRepair, NoStoreIsNothingToRepair) {
  TempDir dir;
  StoreOptions o{dir.file("mempool")};
  o.repair = true;
  RepairReport report;
  auto store = open_leveldb_store(o, &report);
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_FALSE(report.repaired);
  EXPECT_TRUE(kept_folders(o.path).empty());
}

// A store another open holds is not moved: the repair is refused as the open would be.
TEST(StoreRepair, LockedStoreIsLeftAlone) {
  TempDir dir;
  StoreOptions o{dir.file("mempool")};
  auto holder = open_leveldb_store(o);
  ASSERT_TRUE(holder.ok());
  o.repair = true;
  auto second = open_leveldb_store(o);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().kind, StoreError::Kind::kLocked) << second.error().message;
  EXPECT_TRUE(kept_folders(o.path).empty());
  EXPECT_TRUE(fs::exists(fs::path(o.path) / "CURRENT"));
}

}  // namespace
}  // namespace hearsay
