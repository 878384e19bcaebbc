// The chain store: ChainState reloaded from LevelDB and the store errors it reports (locked,
// corrupt, another network, unwritable); the ChainStore implementations themselves (LevelDB
// and memory behave alike: batches in order and whole, a refused batch changes nothing,
// corruption told apart from I/O failure); a read failure while the tip moves.
#include "chainstub/chain_store.h"

#include <gtest/gtest.h>
#include <leveldb/db.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "chainstub/chain.h"
#include "testing/failing_store.h"
#include "testing/test_util.h"
#include "tests/chainstub/chain_test_util.h"

namespace hearsay {
namespace {

using namespace chain_test;

// --- storage -----------------------------------------------------------------------------------

TEST(ChainStoreTest, ReloadGivesTheSameTipAndNonces) {
  test::TempDir dir;
  std::string path = dir.file("chain");
  BlockId tip;
  ChainInfo before;
  {
    auto chain = open_chain(devnet_params(), path);
    ASSERT_TRUE(chain);
    BlockHeader g = devnet_params().genesis();
    BlockRef a1 = make_block(g, {tx(1, 0), tx(2, 0)});
    BlockRef a2 = make_block(a1->header, {tx(1, 1)});
    ASSERT_EQ(chain->accept_block(a1, kNow, false).error, BlockError::kOk);
    ASSERT_EQ(chain->accept_block(a2, kNow, false).error, BlockError::kOk);
    // A reorg: a side branch of three takes over.
    BlockRef s1 = make_block(g, {tx(3, 0)}, 10, 1);
    BlockRef s2 = make_block(s1->header, {tx(1, 0)}, 10, 1);
    BlockRef s3 = make_block(s2->header, {tx(3, 1)}, 10, 1);
    BlockRef bad = make_block(s3->header, {tx(3, 9)}, 10, 1);
    for (const auto& b : {s1, s2, s3})
      ASSERT_EQ(chain->accept_block(b, kNow, false).error, BlockError::kOk);
    ASSERT_EQ(chain->accept_block(bad, kNow, false).error, BlockError::kTxBadNonce);
    ASSERT_EQ(chain->accept_header(make_block(s3->header, {}, 20)->header, kNow).error,
              BlockError::kOk);
    tip = chain->tip_id();
    EXPECT_EQ(tip, s3->header.id());
    before = chain->chain_info();
    EXPECT_EQ(before.reorgs, 1u);
    chain->sanity_check();
  }
  auto chain = open_chain(devnet_params(), path);
  ASSERT_TRUE(chain);
  chain->sanity_check();
  EXPECT_EQ(chain->tip_id(), tip);
  ChainInfo after = chain->chain_info();
  EXPECT_EQ(after.height, 3u);
  EXPECT_EQ(after.index_size, before.index_size);
  EXPECT_EQ(after.headers, 4u);
  EXPECT_EQ(after.txs_confirmed, before.txs_confirmed);
  EXPECT_EQ(after.senders, before.senders);
  EXPECT_EQ(chain->next_nonce(test_key(1).public_key()), 1u);
  EXPECT_EQ(chain->next_nonce(test_key(2).public_key()), 0u);
  EXPECT_EQ(chain->next_nonce(test_key(3).public_key()), 2u);
  // It keeps working after the reload.
  BlockRef s4 = make_block(*chain->header(tip), {tx(2, 0)}, 20);
  EXPECT_EQ(chain->accept_block(s4, kNow, false).error, BlockError::kOk);
  chain->sanity_check();
}

TEST(ChainStoreTest, LockedStoreNamesThePath) {
  test::TempDir dir;
  std::string path = dir.file("chain");
  auto first = open_chain(devnet_params(), path);
  ASSERT_TRUE(first);
  auto second = ChainState::open(devnet_params(), ChainOptions{path, false});
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().find(path), std::string::npos) << second.error();
  EXPECT_NE(second.error().find("locked"), std::string::npos) << second.error();
}

TEST(ChainStoreTest, CorruptStoreNamesThePathAndTheFix) {
  test::TempDir dir;
  std::string path = dir.file("chain");
  {
    auto chain = open_chain(devnet_params(), path);
    ASSERT_TRUE(chain);
    ASSERT_EQ(chain->accept_block(make_block(devnet_params().genesis()), kNow, false).error,
              BlockError::kOk);
  }
  {
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), path, &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    ASSERT_TRUE(db->Put(leveldb::WriteOptions(), "t", std::string(32, 'x')).ok());
  }
  auto chain = ChainState::open(devnet_params(), ChainOptions{path, false});
  ASSERT_FALSE(chain.ok());
  EXPECT_NE(chain.error().find(path), std::string::npos) << chain.error();
  EXPECT_NE(chain.error().find("corrupt"), std::string::npos) << chain.error();
  EXPECT_NE(chain.error().find("delete " + path), std::string::npos) << chain.error();
}

TEST(ChainStoreTest, NoncesThatDisagreeWithTheChainAreCorruption) {
  test::TempDir dir;
  std::string path = dir.file("chain");
  {
    auto chain = open_chain(devnet_params(), path);
    ASSERT_EQ(
        chain->accept_block(make_block(devnet_params().genesis(), {tx(1, 0)}), kNow, false).error,
        BlockError::kOk);
  }
  {
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), path, &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    PublicKey k = test_key(1).public_key();
    std::string key = "n" + std::string(k.begin(), k.end());
    ASSERT_TRUE(db->Put(leveldb::WriteOptions(), key, std::string("\x05\0\0\0\0\0\0\0", 8)).ok());
  }
  auto chain = ChainState::open(devnet_params(), ChainOptions{path, false});
  ASSERT_FALSE(chain.ok());
  EXPECT_NE(chain.error().find("nonces"), std::string::npos) << chain.error();
}

TEST(ChainStoreTest, AnotherNetworksStoreIsRefused) {
  test::TempDir dir;
  std::string path = dir.file("chain");
  ASSERT_TRUE(open_chain(devnet_params(), path));
  auto chain = ChainState::open(small_params(), ChainOptions{path, false});
  ASSERT_FALSE(chain.ok());
  EXPECT_NE(chain.error().find("another network"), std::string::npos) << chain.error();
  EXPECT_NE(chain.error().find(path), std::string::npos);
}

TEST(ChainStoreTest, UnwritableDirectoryNamesThePath) {
  test::TempDir dir;
  std::ofstream(dir.file("file")) << "not a directory";
  std::string path = dir.file("file") + "/chain";
  auto chain = ChainState::open(devnet_params(), ChainOptions{path, false});
  ASSERT_FALSE(chain.ok());
  EXPECT_NE(chain.error().find(path), std::string::npos) << chain.error();
}

// --- a read failure while the tip moves ----------------------------------------------------------

TEST(ChainReadFailureTest, ABodyThatCannotBeReadWhileMovingTheTipChangesNothing) {
  auto failing = std::make_unique<test::FailingChainStore>(std::make_unique<MemoryChainStore>());
  test::FailingChainStore& store = *failing;
  auto chain = open_chain_over(std::move(failing));
  ASSERT_TRUE(chain);
  // 20 blocks, then a longer side branch: the first 20 side blocks push the main branch's
  // bodies out of the block cache, so the reorganisation reads them from the store.
  const size_t kLength = 20;
  BlockHeader prev = devnet_params().genesis();
  for (size_t i = 0; i < kLength; ++i) {
    BlockRef b = make_block(prev, {tx(1, i)});
    ASSERT_EQ(chain->accept_block(b, kNow, false).error, BlockError::kOk);
    prev = b->header;
  }
  const BlockId main_tip = chain->tip_id();
  prev = devnet_params().genesis();
  for (size_t i = 0; i < kLength; ++i) {
    BlockRef b = make_block(prev, {}, 10, 1);
    ASSERT_TRUE(chain->accept_block(b, kNow, false).update.empty());
    prev = b->header;
  }
  BlockRef last = make_block(prev, {}, 10, 1);
  store.fail_next_writes(0);
  store.fail_next_reads(1);
  AcceptResult r = chain->accept_block(last, kNow, false);
  EXPECT_EQ(r.error, BlockError::kStoreFailed);
  EXPECT_TRUE(r.update.empty());
  EXPECT_EQ(chain->tip_id(), main_tip);
  EXPECT_FALSE(chain->contains(last->header.id()));
  EXPECT_EQ(chain->next_nonce(test_key(1).public_key()), kLength);
  chain->sanity_check();
  // The store reads again: the same block moves the tip.
  r = chain->accept_block(last, kNow, false);
  EXPECT_EQ(r.error, BlockError::kOk);
  EXPECT_EQ(r.update.disconnected.size(), kLength);
  EXPECT_EQ(r.update.connected.size(), kLength + 1);
  EXPECT_EQ(chain->next_nonce(test_key(1).public_key()), 0u);
  chain->sanity_check();
}

// --- the stores themselves: LevelDB and memory behave alike
// ---------------------------------------

enum class StoreKind { kLevelDb, kMemory };

class ChainStoreKindTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  std::unique_ptr<ChainStore> open_store() {
    if (GetParam() == StoreKind::kMemory) return std::make_unique<MemoryChainStore>();
    auto s = open_leveldb_chain_store(ChainStoreOptions{dir.file("chain"), false});
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? std::move(*s) : nullptr;
  }

  // What a new chain writes first: genesis, made this network's.
  static std::vector<ChainStoreOp> init_ops() {
    Block g;
    g.header = devnet_params().genesis();
    BlockId id = g.header.id();
    StoredHeader h;
    h.header = g.header;
    h.have_body = true;
    h.size = static_cast<uint32_t>(g.encoded_size());
    return {ChainStoreOp::init(id), ChainStoreOp::put_header(id, h),
            ChainStoreOp::put_body(id, std::make_shared<const Block>(g)),
            ChainStoreOp::put_tip(id)};
  }

  test::TempDir dir;
};

void expect_same(const StoredHeader& a, const StoredHeader& b) {
  EXPECT_EQ(a.header, b.header);
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.have_body, b.have_body);
  EXPECT_EQ(a.failed, b.failed);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.tx_count, b.tx_count);
  EXPECT_EQ(a.size, b.size);
}

TEST_P(ChainStoreKindTest, ANewStoreBelongsToNoNetworkUntilInitialised) {
  auto store = open_store();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->genesis(), std::nullopt);
  auto empty = store->load();
  ASSERT_FALSE(empty.ok());  // no tip: nothing a chain could start from
  EXPECT_EQ(empty.error().kind, ChainStoreError::Kind::kCorrupt);
  EXPECT_NE(empty.error().message.find("no tip record"), std::string::npos);

  ASSERT_TRUE(store->apply(init_ops()).ok());
  const BlockId g = devnet_params().genesis_id();
  EXPECT_EQ(store->genesis(), g);
  auto loaded = store->load();
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_EQ(loaded->headers.size(), 1u);
  EXPECT_EQ(loaded->headers[0].first, g);
  EXPECT_TRUE(loaded->headers[0].second.have_body);
  EXPECT_EQ(loaded->tip, g);
  EXPECT_TRUE(loaded->nonces.empty());
  auto body = store->read_body(g);
  ASSERT_TRUE(body.ok());
  ASSERT_NE(*body, nullptr);
  EXPECT_EQ((*body)->header.id(), g);
  auto none = store->read_body(test::numbered_id(1, 2));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, nullptr);
}

TEST_P(ChainStoreKindTest, ABatchAppliesInOrderAndWhole) {
  auto store = open_store();
  ASSERT_TRUE(store && store->apply(init_ops()).ok());
  BlockRef b1 = make_block(devnet_params().genesis(), {tx(1, 0), tx(2, 0)});
  const BlockId id = b1->header.id();
  StoredHeader h;
  h.header = b1->header;
  h.seq = 7;
  h.have_body = true;
  h.tx_count = 2;
  h.size = static_cast<uint32_t>(b1->encoded_size());
  StoredHeader failed = h;
  failed.failed = true;
  failed.reason = BlockError::kTxBadNonce;
  const PublicKey k1 = test_key(1).public_key(), k2 = test_key(2).public_key();
  const std::vector<ChainStoreOp> batch = {
      ChainStoreOp::put_header(id, h), ChainStoreOp::put_body(id, b1),
      ChainStoreOp::put_nonce(k1, 5),  ChainStoreOp::put_nonce(k2, 1),
      ChainStoreOp::erase_nonce(k2),   ChainStoreOp::put_header(id, failed),
      ChainStoreOp::put_tip(id),
  };
  ASSERT_TRUE(store->apply(batch).ok());
  auto loaded = store->load();
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_EQ(loaded->headers.size(), 2u);
  for (const auto& [hid, rec] : loaded->headers)
    if (hid == id) expect_same(rec, failed);  // the later put wins
  EXPECT_EQ(loaded->nonces, (std::map<PublicKey, uint64_t>{{k1, 5}}));
  EXPECT_EQ(loaded->tip, id);
  auto body = store->read_body(id);
  ASSERT_TRUE(body.ok() && *body);
  EXPECT_EQ((*body)->header.id(), id);
  EXPECT_EQ((*body)->txs.size(), 2u);
}

TEST_P(ChainStoreKindTest, ARefusedBatchChangesNothing) {
  auto inner = open_store();
  ASSERT_TRUE(inner);
  test::FailingChainStore store(std::move(inner));
  ASSERT_TRUE(store.apply(init_ops()).ok());
  BlockRef b1 = make_block(devnet_params().genesis());
  StoredHeader h;
  h.header = b1->header;
  h.seq = 1;
  h.have_body = true;
  const std::vector<ChainStoreOp> batch = {
      ChainStoreOp::put_header(b1->header.id(), h), ChainStoreOp::put_body(b1->header.id(), b1),
      ChainStoreOp::put_nonce(test_key(1).public_key(), 1), ChainStoreOp::put_tip(b1->header.id())};
  store.fail_next_writes(1);
  Status refused = store.apply(batch);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find(store.describe()), std::string::npos) << refused.message();
  auto loaded = store.load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->headers.size(), 1u);
  EXPECT_TRUE(loaded->nonces.empty());
  EXPECT_EQ(loaded->tip, devnet_params().genesis_id());
  EXPECT_EQ(*store.read_body(b1->header.id()), nullptr);
  ASSERT_TRUE(store.apply(batch).ok());  // the next write goes through
  EXPECT_EQ(store.load()->tip, b1->header.id());
}

INSTANTIATE_TEST_SUITE_P(Stores, ChainStoreKindTest,
                         ::testing::Values(StoreKind::kLevelDb, StoreKind::kMemory),
                         [](const auto& info) {
                           return info.param == StoreKind::kLevelDb ? "LevelDb" : "Memory";
                         });

// --- LevelDB: corruption told apart from I/O failure ---------------------------------------------

// A LevelDB store at `path` holding genesis, then closed.
void make_store(const std::string& path) {
  auto chain = open_chain(devnet_params(), path);
  ASSERT_TRUE(chain);
}

void raw_put(const std::string& path, const std::string& key, const std::string& value) {
  leveldb::DB* raw = nullptr;
  ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), path, &raw).ok());
  std::unique_ptr<leveldb::DB> db(raw);
  ASSERT_TRUE(db->Put(leveldb::WriteOptions(), key, value).ok());
}

TEST(LevelDbChainStoreTest, ARecordThatDoesNotDecodeIsCorruption) {
  test::TempDir dir;
  std::string path = dir.file("chain");
  make_store(path);
  BlockId id = test::numbered_id(1, 3);
  raw_put(path, "h" + std::string(id.begin(), id.end()), "short");
  auto store = open_leveldb_chain_store(ChainStoreOptions{path, false});
  ASSERT_TRUE(store.ok()) << store.error().message;
  auto loaded = (*store)->load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().kind, ChainStoreError::Kind::kCorrupt);
  EXPECT_EQ(loaded.error().message, "chain store " + path +
                                        " is corrupt: a header record of the wrong size; stop "
                                        "hearsayd and delete " +
                                        path + " to resync the chain from peers");
}

TEST(LevelDbChainStoreTest, ABodyThatDoesNotDecodeIsCorruption) {
  test::TempDir dir;
  std::string path = dir.file("chain");
  make_store(path);
  BlockId g = devnet_params().genesis_id();
  raw_put(path, "b" + std::string(g.begin(), g.end()), "not a block");
  auto store = open_leveldb_chain_store(ChainStoreOptions{path, false});
  ASSERT_TRUE(store.ok());
  auto body = (*store)->read_body(g);
  ASSERT_FALSE(body.ok());
  EXPECT_EQ(body.error().kind, ChainStoreError::Kind::kCorrupt);
  EXPECT_NE(body.error().message.find("delete " + path), std::string::npos);
  store->reset();
  // ChainState reads every active body on open: genesis has none to read, so it opens.
  EXPECT_TRUE(open_chain(devnet_params(), path));
}

TEST(LevelDbChainStoreTest, AnUnknownFormatVersionNamesThePathAndTheFix) {
  test::TempDir dir;
  std::string path = dir.file("chain");
  make_store(path);
  raw_put(path, "v", std::string("\x02\0\0\0", 4));
  auto store = open_leveldb_chain_store(ChainStoreOptions{path, false});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().kind, ChainStoreError::Kind::kCorrupt);
  EXPECT_EQ(store.error().message, "chain store " + path +
                                       " has unknown format version 2 (this hearsayd writes 1); "
                                       "stop hearsayd and delete " +
                                       path + " to resync the chain from peers");
}

TEST(LevelDbChainStoreTest, OpenTellsCorruptionFromIoFailure) {
  test::TempDir dir;
  // LevelDB's CURRENT names the manifest: garbage there is corruption...
  std::string corrupt = dir.file("corrupt");
  make_store(corrupt);
  std::ofstream(corrupt + "/CURRENT", std::ios::trunc) << "garbage";
  auto a = open_leveldb_chain_store(ChainStoreOptions{corrupt, false});
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().kind, ChainStoreError::Kind::kCorrupt) << a.error().message;
  EXPECT_NE(a.error().message.find("chain store " + corrupt + " is corrupt"), std::string::npos)
      << a.error().message;
  EXPECT_NE(a.error().message.find("delete " + corrupt), std::string::npos);
  // ...while a CURRENT that cannot be read at all is an I/O failure.
  std::string unreadable = dir.file("unreadable");
  std::filesystem::create_directories(unreadable + "/CURRENT");
  auto b = open_leveldb_chain_store(ChainStoreOptions{unreadable, false});
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().kind, ChainStoreError::Kind::kIo) << b.error().message;
  EXPECT_NE(b.error().message.find("cannot open chain store " + unreadable), std::string::npos)
      << b.error().message;
}

TEST(LevelDbChainStoreTest, OpenErrorsAreTyped) {
  test::TempDir dir;
  std::string path = dir.file("chain");
  auto first = open_leveldb_chain_store(ChainStoreOptions{path, false});
  ASSERT_TRUE(first.ok());
  auto second = open_leveldb_chain_store(ChainStoreOptions{path, false});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().kind, ChainStoreError::Kind::kLocked);
  std::ofstream(dir.file("file")) << "not a directory";
  auto unwritable = open_leveldb_chain_store(ChainStoreOptions{dir.file("file") + "/chain", false});
  ASSERT_FALSE(unwritable.ok());
  EXPECT_EQ(unwritable.error().kind, ChainStoreError::Kind::kUnwritable);
}

}  // namespace
}  // namespace hearsay
