// A damaged mempool store and the real programs: hearsayd refuses it naming both ways out,
// and with --mempool-repair starts with what could be read, reports it, and keeps the
// damaged files.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <set>

#include "testing/daemon.h"
#include "testing/store_damage.h"

namespace hearsay::test {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr size_t kInjected = 300;

// The ids hearsay-cli inject recorded as accepted in `acks` (JSON lines).
std::set<std::string> accepted_ids(const std::string& acks) {
  std::set<std::string> out;
  std::istringstream in(read_file(acks));
  for (std::string line; std::getline(in, line);) {
    json::value v = json::parse(line);
    if (v.at("accepted").as_bool()) out.insert(std::string(v.at("id").as_string()));
  }
  return out;
}

std::set<std::string> held_ids(uint16_t port, const std::string& datadir) {
  auto pool = daemon_client(port, datadir).call("getrawmempool", json::array{});
  EXPECT_TRUE(pool.ok()) << pool.error().one_line();
  std::set<std::string> out;
  if (pool.ok())
    for (const json::value& id : pool->as_array())
      out.insert(std::string(id.as_string()));
  return out;
}

void stop(Process& daemon) {
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(10s), std::optional<int>(0)) << daemon.err();
}

// Fills a node's mempool through hearsay-cli inject, stops the node; returns the accepted ids.
std::set<std::string> fill_and_stop(const TempDir& dir, const std::string& datadir) {
  std::unique_ptr<Process> daemon;
  const uint16_t port = start_daemon(daemon, dir, datadir, "fill");
  EXPECT_NE(port, 0) << daemon->err();
  const std::string acks = dir.file("acks.jsonl");
  Process inject(
      {bin_path("hearsay-cli"), "--datadir", datadir, "--rpc", "127.0.0.1:" + std::to_string(port),
       "inject", "--count", std::to_string(kInjected), "--rate", "2500", "--senders", "20",
       "--size", "200", "--out", acks},
      dir.file("inject.out"), dir.file("inject.err"));
  EXPECT_EQ(inject.wait(120s), std::optional<int>(0)) << inject.err();
  stop(*daemon);
  return accepted_ids(acks);
}

TEST(MempoolRepair, DamagedStoreIsRefusedThenRepairedKeepingWhatCanBeRead) {
  TempDir dir;
  const std::string datadir = dir.file("node");
  const std::string store = (fs::path(datadir) / "mempool").string();
  const std::set<std::string> accepted = fill_and_stop(dir, datadir);
  ASSERT_EQ(accepted.size(), kInjected);

  // A write the disk never finished: garbage in the middle of the log.
  const auto logs = files_ending(store, ".log");
  ASSERT_FALSE(logs.empty()) << store;
  const fs::path log = logs.back();
  garble(log, fs::file_size(log) / 2, 200);

  Process refused({bin_path("hearsayd"), "--datadir", datadir, "--listen", "127.0.0.1:0", "--rpc",
                   "127.0.0.1:0"},
                  dir.file("refused.out"), dir.file("refused.err"));
  EXPECT_EQ(refused.wait(30s), std::optional<int>(1));
  for (const std::string& named :
       {store, std::string("--mempool-repair"), std::string("--mempool-reset")})
    EXPECT_NE(refused.err().find(named), std::string::npos) << named << ": " << refused.err();

  std::unique_ptr<Process> daemon;
  const uint16_t port = start_daemon(daemon, dir, datadir, "repair", {"--mempool-repair"});
  ASSERT_NE(port, 0) << daemon->err();
  const std::string log_text = daemon->err();
  EXPECT_NE(log_text.find("mempool: repaired " + store + ": "), std::string::npos) << log_text;
  EXPECT_NE(log_text.find("damaged files are kept in " + store + ".damaged-"), std::string::npos)
      << log_text;

  // What it holds is what could be read: some, not all, and nothing it never accepted.
  const std::set<std::string> held = held_ids(port, datadir);
  EXPECT_GT(held.size(), 0u);
  EXPECT_LT(held.size(), accepted.size());
  for (const std::string& id : held)
    EXPECT_EQ(accepted.count(id), 1u) << id;
  EXPECT_NE(log_text.find(", " + std::to_string(held.size()) + " transactions reloaded"),
            std::string::npos)
      << log_text;
  size_t kept = 0;
  for (const auto& e : fs::directory_iterator(datadir))
    kept += e.path().filename().string().rfind("mempool.damaged-", 0) == 0;
  EXPECT_EQ(kept, 1u);
  stop(*daemon);

  // The repaired store is an ordinary one: a plain restart holds the same transactions.
  const uint16_t again = start_daemon(daemon, dir, datadir, "again");
  ASSERT_NE(again, 0) << daemon->err();
  EXPECT_EQ(held_ids(again, datadir), held);
  stop(*daemon);
}

}  // namespace
}  // namespace hearsay::test
