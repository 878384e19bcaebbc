// Crash test: what the mempool acknowledged survives kill -9.
//
// A child process (this test binary re-executed, see run_crash_child) admits pre-signed
// transactions in small batches into a LevelDB-backed mempool and prints each id once
// admit_batch() returned. The parent kills it with SIGKILL at a random moment, reopens the
// store and checks that every printed id is there. Repeated with different timings and batch
// sizes, and until at least one kill has landed while the child was still writing (a kill
// after the last admission proves nothing about durability). The child is a fresh exec (not a
// bare fork) so LevelDB's background thread and locks start clean in it. Run twice: with
// synchronous writes, and with pipelined writes (ids acknowledged once their write settled).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "crypto/hex.h"
#include "mempool/mempool.h"
#include "testing/mempool_fakes.h"
#include "testing/test_util.h"

extern char** environ;

namespace hearsay {
namespace {

constexpr char kEnvStore[] = "HEARSAY_CRASH_STORE";
constexpr char kEnvTxs[] = "HEARSAY_CRASH_TXS";
constexpr char kEnvFd[] = "HEARSAY_CRASH_FD";
constexpr char kEnvBatch[] = "HEARSAY_CRASH_BATCH";
constexpr char kEnvPipelined[] = "HEARSAY_CRASH_PIPELINED";
constexpr int kRounds = 24;
// Rounds at most: past kRounds, rounds go on (killing sooner and sooner) until one kill lands
// while the child is still admitting.
constexpr int kMaxRounds = 100;
// The kill comes at a random moment up to this far into the run of admissions; halved after
// every round the child finished before it (a fast machine), down to killing at once.
constexpr std::chrono::microseconds kMaxKillDelay{50'000};
constexpr int kSenders = 30;
constexpr int kNoncesPerSender = 100;

MempoolOptions crash_options() {
  MempoolOptions o;
  o.network = test::kTestNetwork;
  o.max_per_sender = kNoncesPerSender;
  return o;
}

void write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ::_exit(3);
    off += static_cast<size_t>(n);
  }
}

[[noreturn]] void run_crash_child() {
  const int fd = std::atoi(std::getenv(kEnvFd));
  const size_t batch = static_cast<size_t>(std::atoi(std::getenv(kEnvBatch)));
  std::vector<TxRef> txs;
  {
    std::ifstream in(std::getenv(kEnvTxs), std::ios::binary);
    uint32_t len = 0;
    while (in.read(reinterpret_cast<char*>(&len), 4)) {
      std::vector<uint8_t> enc(len);
      in.read(reinterpret_cast<char*>(enc.data()), len);
      auto tx = Transaction::decode(std::move(enc));
      if (!tx) ::_exit(4);
      txs.push_back(*tx);
    }
  }
  FakeChainView chain;
  auto store = open_leveldb_store(StoreOptions{std::getenv(kEnvStore)});
  if (!store) ::_exit(5);
  const Time now = Time(1'700'000'000LL * 1'000'000);
  auto pool = Mempool::open(crash_options(), chain, std::move(*store), now);
  if (!pool) ::_exit(6);
  const bool pipelined = std::getenv(kEnvPipelined) != nullptr;
  // Every batch through the writer (never inline), so acknowledgements wait for its reports.
  if (pipelined) (*pool)->pipeline_writes(nullptr, /*inline_max_ops=*/0);
  // Pipelined: admitted ids wait here, with their tickets, until their writes settle.
  std::deque<std::pair<uint64_t, TxId>> unwritten;
  auto acknowledge_written = [&](bool all) {
    if (all && !unwritten.empty()) (*pool)->wait_written(unwritten.back().first);
    const WriteProgress p = (*pool)->take_write_progress();
    if (!p.undone.empty()) ::_exit(8);
    std::string acked;
    for (; !unwritten.empty() && unwritten.front().first <= p.settled; unwritten.pop_front())
      acked += to_hex(unwritten.front().second) + "\n";
    write_all(fd, acked);
  };
  write_all(fd, "R\n");
  for (size_t i = 0; i < txs.size(); i += batch) {
    std::vector<Candidate> cs;
    for (size_t j = i; j < std::min(txs.size(), i + batch); ++j)
      cs.push_back(Candidate{txs[j], true});
    auto results = (*pool)->admit_batch(cs, now);
    std::string acked;
    for (size_t j = 0; j < results.size(); ++j) {
      if (!results[j].ok()) ::_exit(7);
      if (results[j].ticket != 0)
        unwritten.emplace_back(results[j].ticket, cs[j].tx->id());
      else
        acked += to_hex(cs[j].tx->id()) + "\n";
    }
    write_all(fd, acked);
    if (pipelined) acknowledge_written(false);
  }
  if (pipelined) acknowledge_written(true);
  write_all(fd, "D\n");
  for (;;)
    ::pause();
}

// Runs before main() in the re-executed child; does nothing in a normal test run.
[[maybe_unused]] const bool kIsCrashChild = [] {
  if (std::getenv(kEnvStore) == nullptr) return false;
  run_crash_child();
}();

struct ChildOutput {
  std::set<std::string> ids;
  bool ready = false;
  bool done = false;
};

void parse_lines(std::string& buf, ChildOutput& out) {
  size_t pos;
  while ((pos = buf.find('\n')) != std::string::npos) {
    std::string line = buf.substr(0, pos);
    buf.erase(0, pos + 1);
    if (line == "R")
      out.ready = true;
    else if (line == "D")
      out.done = true;
    else
      out.ids.insert(line);
  }
}

// Reads from fd until `deadline` (or EOF); returns false at EOF.
bool read_until(int fd, std::chrono::steady_clock::time_point deadline, std::string& buf,
                ChildOutput& out, bool stop_when_ready = false) {
  char chunk[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || (stop_when_ready && out.ready)) return true;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buf.append(chunk, static_cast<size_t>(n));
    parse_lines(buf, out);
  }
}

// Starts the child on `store_path`; returns its pid and the read end of its pipe.
std::pair<pid_t, int> start_child(const std::string& store_path, const std::string& tx_file,
                                  size_t batch, bool pipelined = false) {
  int fds[2];
  HEARSAY_CHECK(::pipe(fds) == 0);
  // Environment for the child, built before fork (only async-signal-safe calls after it).
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e)
    env_strings.emplace_back(*e);
  env_strings.push_back(std::string(kEnvStore) + "=" + store_path);
  env_strings.push_back(std::string(kEnvTxs) + "=" + tx_file);
  env_strings.push_back(std::string(kEnvFd) + "=" + std::to_string(fds[1]));
  env_strings.push_back(std::string(kEnvBatch) + "=" + std::to_string(batch));
  if (pipelined) env_strings.push_back(std::string(kEnvPipelined) + "=1");
  std::vector<char*> envp;
  for (std::string& s : env_strings)
    envp.push_back(s.data());
  envp.push_back(nullptr);
  char exe[] = "/proc/self/exe";
  char* argv[] = {exe, nullptr};
  pid_t pid = ::fork();
  HEARSAY_CHECK(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    ::execve(exe, argv, envp.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  return {pid, fds[0]};
}

TEST(MempoolCrash, StoreLockedByAnotherProcessIsAClearError) {
  test::TempDir dir;
  const std::string tx_file = dir.file("txs.bin");
  { std::ofstream out(tx_file, std::ios::binary); }  // no transactions: the child just waits
  const std::string store_path = dir.file("store");
  auto [pid, fd] = start_child(store_path, tx_file, 1);
  ChildOutput got;
  std::string buf;
  read_until(fd, std::chrono::steady_clock::now() + std::chrono::seconds(60), buf, got, true);
  auto second = open_leveldb_store(StoreOptions{store_path});
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  ::close(fd);
  ASSERT_TRUE(got.ready) << "the child did not start";
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().kind, StoreError::Kind::kLocked) << second.error().message;
  EXPECT_NE(second.error().message.find("another hearsayd is using " + store_path),
            std::string::npos)
      << second.error().message;
  // Once that process is gone, the store opens.
  EXPECT_TRUE(open_leveldb_store(StoreOptions{store_path}).ok());
}

// Rounds of kill -9 at random moments; every id the child acknowledged must be in the store.
void kill_rounds(bool pipelined) {
  test::TempDir dir;
  const std::string tx_file = dir.file("txs.bin");
  std::set<std::string> all_ids;
  {
    // Pre-signed here: signing is slow under the sanitizers, decoding is not.
    std::ofstream out(tx_file, std::ios::binary);
    for (int k = 1; k <= kSenders; ++k)
      for (int n = 0; n < kNoncesPerSender; ++n) {
        TxRef tx = test::make_tx(static_cast<uint8_t>(k), static_cast<uint64_t>(n),
                                 1000 + 37 * static_cast<uint64_t>(n), 120);
        uint32_t len = static_cast<uint32_t>(tx->size());
        out.write(reinterpret_cast<const char*>(&len), 4);
        out.write(reinterpret_cast<const char*>(tx->encoding().data()), len);
        all_ids.insert(to_hex(tx->id()));
      }
  }
  std::mt19937 rng(20261122);
  size_t acknowledged_total = 0, killed_mid_run = 0;
  std::chrono::microseconds max_delay = kMaxKillDelay;
  int round = 0;
  for (; round < kRounds || (killed_mid_run == 0 && round < kMaxRounds); ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string store_path = dir.file("store-" + std::to_string(round));
    auto [pid, read_fd] = start_child(store_path, tx_file, 1 + round % 4, pipelined);
    ChildOutput got;
    std::string buf;
    const auto start_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    bool open = read_until(read_fd, start_deadline, buf, got, /*stop_when_ready=*/true);
    if (!got.ready) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      ::close(read_fd);
      FAIL() << "the child did not start";
    }
    // Kill at a random moment 0–max_delay into the run of admissions.
    const auto delay = std::chrono::microseconds(
        std::uniform_int_distribution<int64_t>(0, max_delay.count())(rng));
    if (open) open = read_until(read_fd, std::chrono::steady_clock::now() + delay, buf, got);
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child exited early";
    // What the child wrote before it died was acknowledged too: drain it.
    if (open)
      read_until(read_fd, std::chrono::steady_clock::now() + std::chrono::seconds(10), buf, got);
    ::close(read_fd);
    if (got.done)
      max_delay /= 2;  // it finished first: kill sooner
    else
      ++killed_mid_run;

    auto store = open_leveldb_store(StoreOptions{store_path});
    ASSERT_TRUE(store.ok()) << store.error().message;
    auto loaded = (*store)->load();
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    std::set<std::string> stored;
    for (const StoredTx& st : *loaded)
      stored.insert(to_hex(st.tx->id()));
    for (const std::string& id : got.ids) {
      EXPECT_TRUE(all_ids.count(id)) << "the child printed an unknown id " << id;
      EXPECT_TRUE(stored.count(id)) << "acknowledged but lost: " << id;
    }
    acknowledged_total += got.ids.size();
    // The reloaded mempool is consistent (no signature is verified again).
    FakeChainView chain;
    auto pool =
        Mempool::open(crash_options(), chain, std::move(*store), Time(1'700'000'000LL * 1'000'000));
    ASSERT_TRUE(pool.ok());
    (*pool)->sanity_check();
    EXPECT_EQ((*pool)->size(), stored.size());
  }
  EXPECT_GT(acknowledged_total, 0u);
  // The test is only worth something if a kill interrupted the writes at least once.
  EXPECT_GT(killed_mid_run, 0u) << "in " << round
                                << " rounds the child always finished before the kill";
  ::testing::Test::RecordProperty("acknowledged", static_cast<int>(acknowledged_total));
  ::testing::Test::RecordProperty("killed_mid_run", static_cast<int>(killed_mid_run));
  std::printf("crash test%s: %zu ids acknowledged over %d rounds, %zu rounds killed mid-run\n",
              pipelined ? " (pipelined writes)" : "", acknowledged_total, round, killed_mid_run);
}

TEST(MempoolCrash, AcknowledgedTransactionsSurviveKill9) {
  kill_rounds(false);
}

// The writer thread group-commits behind the admissions; only what a report said was written is
// acknowledged (mempool/store_writer.h).
TEST(MempoolCrash, AcknowledgedTransactionsSurviveKill9WithPipelinedWrites) {
  kill_rounds(true);
}

}  // namespace
}  // namespace hearsay
