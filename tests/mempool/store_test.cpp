// LevelDbStore: round trip, reload of a mempool, and every start-up failure (unwritable,
// locked, corrupt) with a message that names the path and the fix.
#include "mempool/store.h"

#include <gtest/gtest.h>

#include <fstream>

#include "mempool/mempool.h"
#include "testing/mempool_fakes.h"
#include "testing/store_damage.h"
#include "testing/test_util.h"

namespace hearsay {
namespace {

using test::make_tx;
using test::TempDir;

constexpr Time kT0 = Time(1'700'000'000LL * 1'000'000);

std::unique_ptr<MempoolStore> open_ok(const StoreOptions& o) {
  auto s = open_leveldb_store(o);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  return s.ok() ? std::move(*s) : nullptr;
}

// Overwrites p with `size` bytes LevelDB did not write. (A short garbage log is read as the
// torn tail of a write that never returned, and dropped by design: the log tests use more.)
void write_garbage(const std::filesystem::path& p, size_t size = 40) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  std::string chunk = "this is not what LevelDB wrote\x01\x02\x03";
  for (size_t n = 0; n < size; n += chunk.size())
    f << chunk.substr(0, std::min(chunk.size(), size - n));
}

TEST(LevelDbStore, RoundTrip) {
  TempDir dir;
  StoreOptions o{dir.file("mempool")};
  TxRef a = make_tx(1, 0), b = make_tx(2, 0), c = make_tx(3, 0);
  {
    auto store = open_ok(o);
    ASSERT_TRUE(store);
    std::vector<StoreOp> ops{{StoreOp::Kind::kPut, a, kT0},
                             {StoreOp::Kind::kPut, b, kT0 + 1s},
                             {StoreOp::Kind::kPut, c, kT0 + 2s},
                             {StoreOp::Kind::kDelete, b, Time(0)}};
    ASSERT_TRUE(store->apply(ops).ok());
    EXPECT_EQ(store->describe(), o.path);
  }
  auto store = open_ok(o);
  ASSERT_TRUE(store);
  auto loaded = store->load();
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->size(), 2u);
  for (const StoredTx& st : *loaded) {
    if (st.tx->id() == a->id()) {
      EXPECT_EQ(st.admitted, kT0);
    } else {
      EXPECT_EQ(st.tx->id(), c->id());
      EXPECT_EQ(st.admitted, kT0 + 2s);
    }
    EXPECT_TRUE(std::equal(st.tx->encoding().begin(), st.tx->encoding().end(),
                           (st.tx->id() == a->id() ? a : c)->encoding().begin()));
  }
}

TEST(LevelDbStore, MempoolReloadsAcrossRestart) {
  TempDir dir;
  FakeChainView chain;
  MempoolOptions mo;
  mo.network = test::kTestNetwork;
  StoreOptions so{dir.file("mempool"), /*sync=*/true};
  std::vector<TxRef> txs;
  for (uint8_t k = 1; k <= 5; ++k)
    txs.push_back(make_tx(k, 0, 1000 * k));
  {
    auto pool = Mempool::open(mo, chain, open_ok(so), kT0);
    ASSERT_TRUE(pool.ok());
    for (const TxRef& t : txs)
      ASSERT_EQ((*pool)->admit(t, kT0).code, AdmitCode::kAccepted);
    std::vector<TxRef> block{txs[0]};
    EXPECT_EQ((*pool)->remove_confirmed(block).size(), 1u);
  }
  auto pool = Mempool::open(mo, chain, open_ok(so), kT0 + 1s);
  ASSERT_TRUE(pool.ok());
  (*pool)->sanity_check();
  EXPECT_EQ((*pool)->size(), 4u);
  for (size_t i = 1; i < txs.size(); ++i)
    EXPECT_TRUE((*pool)->contains(txs[i]->id()));
  EXPECT_EQ((*pool)->reload_report().stored, 4u);
}

TEST(LevelDbStore, UnwritableDirectoryIsAClearError) {
  TempDir dir;
  write_garbage(dir.path() / "file");  // a regular file: nothing can be created under it
  StoreOptions o{(dir.path() / "file" / "mempool").string()};
  auto s = open_leveldb_store(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, StoreError::Kind::kUnwritable);
  EXPECT_NE(s.error().message.find(o.path), std::string::npos) << s.error().message;
}

TEST(LevelDbStore, LockedStoreIsAClearError) {
  TempDir dir;
  StoreOptions o{dir.file("mempool")};
  auto first = open_ok(o);
  ASSERT_TRUE(first);
  auto second = open_leveldb_store(o);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().kind, StoreError::Kind::kLocked);
  EXPECT_NE(second.error().message.find("another hearsayd is using " + o.path), std::string::npos)
      << second.error().message;
  // --mempool-reset does not destroy a store another node is using.
  o.reset = true;
  auto third = open_leveldb_store(o);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().kind, StoreError::Kind::kLocked);
}

// Writes a store, closes it (`reopen`: twice, so the log becomes a table), damages the files
// whose names end with `victim`, and expects corruption at open or, for tables, at load.
void expect_corrupt_after_damaging(const std::string& victim, bool reopen = false,
                                   size_t garbage = 40) {
  TempDir dir;
  StoreOptions o{dir.file("mempool")};
  {
    auto store = open_ok(o);
    ASSERT_TRUE(store);
    for (uint64_t n = 0; n < 20; ++n) {
      StoreOp put{StoreOp::Kind::kPut, make_tx(1, n), kT0};
      ASSERT_TRUE(store->apply(std::span(&put, 1)).ok());
    }
  }
  if (reopen) {
    ASSERT_TRUE(open_ok(o));
  }
  bool damaged = false;
  for (const auto& e : std::filesystem::directory_iterator(o.path)) {
    const std::string name = e.path().filename().string();
    if (name.find(victim) != std::string::npos && e.file_size() > 0) {
      write_garbage(e.path(), garbage);
      damaged = true;
    }
  }
  ASSERT_TRUE(damaged) << "no file named *" << victim << "* in " << o.path;
  auto s = open_leveldb_store(o);
  StoreError err;
  if (s.ok()) {
    auto loaded = (*s)->load();
    ASSERT_FALSE(loaded.ok()) << victim << ": damage went unnoticed";
    err = loaded.error();
    s = fail(err);  // closes the store
  } else {
    err = s.error();
  }
  EXPECT_EQ(err.kind, StoreError::Kind::kCorrupt) << err.message;
  EXPECT_NE(err.message.find(o.path), std::string::npos) << err.message;
  EXPECT_NE(err.message.find("--mempool-repair"), std::string::npos) << err.message;
  EXPECT_NE(err.message.find("--mempool-reset"), std::string::npos) << err.message;

  // --mempool-reset discards it and starts empty.
  o.reset = true;
  auto fresh = open_ok(o);
  ASSERT_TRUE(fresh);
  auto loaded = fresh->load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(loaded->empty());
}

TEST(LevelDbStore, CorruptCurrentIsAClearError) {
  expect_corrupt_after_damaging("CURRENT");
}

TEST(LevelDbStore, CorruptManifestIsAClearError) {
  expect_corrupt_after_damaging("MANIFEST");
}

TEST(LevelDbStore, CorruptLogIsAClearError) {
  expect_corrupt_after_damaging(".log", false, 40'000);
}

TEST(LevelDbStore, CorruptTableIsAClearError) {
  expect_corrupt_after_damaging(".ldb", /*reopen=*/true);
}

// A table file cut short (a copy or a write that stopped part-way) is a damaged file, not a
// failing disk: LevelDB reports it as an I/O error, the store as corruption.
TEST(LevelDbStore, TruncatedTableIsCorruptionNotIo) {
  TempDir dir;
  StoreOptions o{dir.file("mempool")};
  {
    auto store = open_ok(o);
    ASSERT_TRUE(store);
    for (uint64_t n = 0; n < 20; ++n) {
      StoreOp put{StoreOp::Kind::kPut, make_tx(1, n), kT0};
      ASSERT_TRUE(store->apply(std::span(&put, 1)).ok());
    }
  }
  ASSERT_TRUE(open_ok(o));  // the reopen turns the log into a table
  const auto tables = test::files_ending(o.path, ".ldb");
  ASSERT_FALSE(tables.empty()) << "no table in " << o.path;
  for (const auto& t : tables)
    test::truncate_to(t, 0.5);
  auto s = open_leveldb_store(o);
  StoreError err;
  if (s.ok()) {
    auto loaded = (*s)->load();
    ASSERT_FALSE(loaded.ok()) << "a truncated table went unnoticed";
    err = loaded.error();
  } else {
    err = s.error();
  }
  EXPECT_EQ(err.kind, StoreError::Kind::kCorrupt) << err.message;
  EXPECT_NE(err.message.find(o.path), std::string::npos) << err.message;
  EXPECT_NE(err.message.find("cut short"), std::string::npos) << err.message;
  EXPECT_NE(err.message.find("--mempool-repair"), std::string::npos) << err.message;
  EXPECT_NE(err.message.find("--mempool-reset"), std::string::npos) << err.message;
}

TEST(LevelDbStore, CorruptStoreFailsMempoolOpen) {
  TempDir dir;
  StoreOptions o{dir.file("mempool")};
  { ASSERT_TRUE(open_ok(o)); }
  write_garbage(std::filesystem::path(o.path) / "CURRENT");
  auto store = open_leveldb_store(o);
  ASSERT_FALSE(store.ok());  // the node refuses to start rather than start empty
}

TEST(LevelDbStore, ResetDiscardsContent) {
  TempDir dir;
  StoreOptions o{dir.file("mempool")};
  TxRef a = make_tx(1, 0);
  {
    auto store = open_ok(o);
    StoreOp put{StoreOp::Kind::kPut, a, kT0};
    ASSERT_TRUE(store->apply(std::span(&put, 1)).ok());
  }
  o.reset = true;
  auto store = open_ok(o);
  auto loaded = store->load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(loaded->empty());
}

}  // namespace
}  // namespace hearsay
