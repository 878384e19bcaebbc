// TraceWriter: every line is JSON with the documented fields, the file is appended to, events
// reach the disk on flush, at the size threshold and at close, and a writer that falls behind
// drops events, counts them and says so.
#include "node/trace.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "crypto/hex.h"
#include "testing/test_util.h"

namespace hearsay {
namespace {

namespace json = boost::json;

std::vector<json::object> read_lines(const std::string& path) {
  std::vector<json::object> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    json::error_code ec;
    json::value v = json::parse(line, ec);
    EXPECT_FALSE(ec) << line;
    EXPECT_TRUE(v.is_object()) << line;
    if (v.is_object()) out.push_back(v.get_object());
  }
  return out;
}

const PublicKey kNode = test::test_key(1).public_key();
const PublicKey kPeer = test::test_key(2).public_key();

TEST(Trace, LinesAreJsonWithTheDocumentedFields) {
  test::TempDir dir;
  const std::string path = dir.file("trace.jsonl");
  auto w = TraceWriter::open(path, kNode);
  ASSERT_TRUE(w) << w.error();
  const TxId id = test::numbered_id(7, 0x11);
  (*w)->tx_first_seen(id, TxSource{false, kPeer}, Time(1'000'001));
  (*w)->tx_first_seen(id, TxSource{}, Time(1'000'002));
  (*w)->tx_accepted(id, Time(1'000'003));
  (*w)->tx_rejected(id, "fee \"too\" low\n", Time(1'000'004));
  (*w)->inv_sent(kPeer, 35, Time(1'000'005));
  (*w)->getdata_sent(kPeer, 2, Time(1'000'006));
  (*w)->close();
  EXPECT_EQ((*w)->dropped(), 0u);

  auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 8u);
  EXPECT_EQ(lines[0].at("ev"), "start");
  EXPECT_EQ(lines[0].at("node"), json::value(to_hex(kNode)));
  EXPECT_GT(lines[0].at("t").as_int64(), 1'600'000'000'000'000);
  EXPECT_EQ(lines[1].at("ev"), "tx_first_seen");
  EXPECT_EQ(lines[1].at("t"), 1'000'001);
  EXPECT_EQ(lines[1].at("id"), json::value(to_hex(id)));
  EXPECT_EQ(lines[1].at("from"), json::value(to_hex(kPeer)));
  EXPECT_EQ(lines[2].at("from"), "rpc");
  EXPECT_EQ(lines[3].at("ev"), "tx_accepted");
  EXPECT_EQ(lines[3].at("id"), json::value(to_hex(id)));
  EXPECT_EQ(lines[4].at("ev"), "tx_rejected");
  EXPECT_EQ(lines[4].at("reason"), "fee \"too\" low\n");
  EXPECT_EQ(lines[5].at("ev"), "inv_sent");
  EXPECT_EQ(lines[5].at("peer"), json::value(to_hex(kPeer)));
  EXPECT_EQ(lines[5].at("n"), 35);
  EXPECT_EQ(lines[6].at("ev"), "getdata_sent");
  EXPECT_EQ(lines[6].at("n"), 2);
  EXPECT_EQ(lines[7].at("ev"), "stop");
  EXPECT_EQ(lines[7].at("dropped"), 0);
}

TEST(Trace, BlockEventsAreJsonWithTheDocumentedFields) {
  test::TempDir dir;
  const std::string path = dir.file("trace.jsonl");
  auto w = TraceWriter::open(path, kNode);
  ASSERT_TRUE(w) << w.error();
  const BlockId id = test::numbered_id(9, 0x22);
  BlockObserver& obs = **w;
  obs.block_first_seen(id, 12, TxSource{false, kPeer}, Time(2'000'001));
  obs.block_first_seen(id, 12, TxSource{}, Time(2'000'002));
  obs.block_reconstructed(id, 2000, 1, 1990, 9, Time(2'000'003));
  obs.block_connected(id, 12, 2000, 512'345, Time(2'000'004));
  obs.block_disconnected(id, 12, Time(2'000'005));
  obs.block_rejected(id, "bad-producer", Time(2'000'006));
  (*w)->close();

  auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 8u);
  const std::string hex = to_hex(id);
  EXPECT_EQ(lines[1].at("ev"), "block_first_seen");
  EXPECT_EQ(lines[1].at("t"), 2'000'001);
  EXPECT_EQ(lines[1].at("id"), json::value(hex));
  EXPECT_EQ(lines[1].at("height"), 12);
  EXPECT_EQ(lines[1].at("from"), json::value(to_hex(kPeer)));
  EXPECT_EQ(lines[2].at("from"), "local");
  EXPECT_EQ(lines[3].at("ev"), "block_reconstructed");
  EXPECT_EQ(lines[3].at("txs"), 2000);
  EXPECT_EQ(lines[3].at("prefilled"), 1);
  EXPECT_EQ(lines[3].at("from_mempool"), 1990);
  EXPECT_EQ(lines[3].at("missing"), 9);
  EXPECT_EQ(lines[4].at("ev"), "block_connected");
  EXPECT_EQ(lines[4].at("height"), 12);
  EXPECT_EQ(lines[4].at("txs"), 2000);
  EXPECT_EQ(lines[4].at("size"), 512'345);
  EXPECT_EQ(lines[5].at("ev"), "block_disconnected");
  EXPECT_EQ(lines[5].at("height"), 12);
  EXPECT_EQ(lines[6].at("ev"), "block_rejected");
  EXPECT_EQ(lines[6].at("id"), json::value(hex));
  EXPECT_EQ(lines[6].at("reason"), "bad-producer");
  EXPECT_EQ(lines[7].at("ev"), "stop");
}

TEST(Trace, ReconRoundIsJsonWithTheReportsFields) {
  test::TempDir dir;
  const std::string path = dir.file("trace.jsonl");
  auto w = TraceWriter::open(path, kNode);
  ASSERT_TRUE(w) << w.error();
  RelayObserver& obs = **w;
  obs.recon_round(kPeer,
                  ReconReport{.round = 7,
                              .set_size = 1200,
                              .peer_set_size = 1190,
                              .requests = 3,
                              .bisections = 1,
                              .sketch_bytes = 816,
                              .differences = 41,
                              .complete = true,
                              .started = Time(3'000'000)},
                  Time(3'000'450));
  obs.recon_round(kPeer, ReconReport{.round = 8, .complete = false}, Time(3'100'000));
  (*w)->close();

  auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 4u);
  const json::object& r = lines[1];
  EXPECT_EQ(r.at("ev"), "recon_round");
  EXPECT_EQ(r.at("t"), 3'000'450);
  EXPECT_EQ(r.at("peer"), json::value(to_hex(kPeer)));
  EXPECT_EQ(r.at("round"), 7);
  EXPECT_EQ(r.at("started"), 3'000'000);
  EXPECT_EQ(r.at("set_size"), 1200);
  EXPECT_EQ(r.at("peer_set_size"), 1190);
  EXPECT_EQ(r.at("requests"), 3);
  EXPECT_EQ(r.at("bisections"), 1);
  EXPECT_EQ(r.at("sketch_bytes"), 816);
  EXPECT_EQ(r.at("differences"), 41);
  EXPECT_EQ(r.at("complete"), true);
  EXPECT_EQ(lines[2].at("round"), 8);
  EXPECT_EQ(lines[2].at("complete"), false);
}

TEST(Trace, AppendsToAnExistingFile) {
  test::TempDir dir;
  const std::string path = dir.file("trace.jsonl");
  for (int run = 0; run < 2; ++run) {
    auto w = TraceWriter::open(path, kNode);
    ASSERT_TRUE(w) << w.error();
    (*w)->tx_accepted(test::numbered_id(run, 1), Time(run));
  }  // the destructor closes
  auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0].at("ev"), "start");
  EXPECT_EQ(lines[3].at("ev"), "start");
  EXPECT_EQ(lines[4].at("t"), 1);
}

TEST(Trace, FlushWritesWhatWasRecorded) {
  test::TempDir dir;
  const std::string path = dir.file("trace.jsonl");
  TraceOptions opt;
  opt.flush_interval = std::chrono::hours(1);  // only flush() or the size threshold write
  auto w = TraceWriter::open(path, kNode, opt);
  ASSERT_TRUE(w) << w.error();
  for (int i = 0; i < 10; ++i)
    (*w)->tx_accepted(test::numbered_id(i, 2), Time(i));
  (*w)->flush();
  EXPECT_EQ(read_lines(path).size(), 11u);
  EXPECT_EQ((*w)->events(), 11u);
}

TEST(Trace, PassingTheSizeThresholdWakesTheWriter) {
  test::TempDir dir;
  const std::string path = dir.file("trace.jsonl");
  TraceOptions opt;
  opt.flush_interval = std::chrono::hours(1);
  opt.flush_bytes = 1000;
  auto w = TraceWriter::open(path, kNode, opt);
  ASSERT_TRUE(w) << w.error();
  for (int i = 0; i < 20; ++i)
    (*w)->tx_accepted(test::numbered_id(i, 3), Time(i));  // > 1000 B
  // Neither flush() nor close(): the threshold alone must get what passed it written (the
  // tail after the last crossing may wait for the interval).
  auto file_size = [&] {
    std::error_code ec;
    auto n = std::filesystem::file_size(path, ec);
    return ec ? uintmax_t{0} : n;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (file_size() < opt.flush_bytes && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_GE(file_size(), opt.flush_bytes);
  (*w)->close();
  EXPECT_EQ(read_lines(path).size(), 22u);  // start, 20 events, stop
}

TEST(Trace, FallingBehindDropsCountsAndSaysSo) {
  test::TempDir dir;
  const std::string path = dir.file("trace.jsonl");
  TraceOptions opt;
  opt.max_buffer_bytes = 2000;
  opt.flush_bytes = 500;
  auto w = TraceWriter::open(path, kNode, opt);
  ASSERT_TRUE(w) << w.error();
  (*w)->flush();  // the start line is out
  (*w)->pause_writer(true);
  for (int i = 0; i < 100; ++i)
    (*w)->tx_accepted(test::numbered_id(i, 4), Time(i));
  const uint64_t dropped = (*w)->dropped();
  EXPECT_GT(dropped, 0u);
  EXPECT_LT(dropped, 100u);
  (*w)->pause_writer(false);
  (*w)->flush();
  (*w)->tx_accepted(test::numbered_id(1000, 4), Time(1000));  // carries the "dropped" note
  (*w)->close();

  auto lines = read_lines(path);
  uint64_t accepted = 0, noted = 0;
  for (const auto& l : lines) {
    if (l.at("ev") == "tx_accepted") ++accepted;
    if (l.at("ev") == "dropped") noted += l.at("n").to_number<uint64_t>();
  }
  EXPECT_EQ(accepted + dropped, 101u);
  EXPECT_EQ(noted, dropped);
  EXPECT_EQ(lines.back().at("ev"), "stop");
  EXPECT_EQ(lines.back().at("dropped").to_number<uint64_t>(), dropped);
}

TEST(Trace, ManyThreadsLoseNothing) {
  test::TempDir dir;
  const std::string path = dir.file("trace.jsonl");
  TraceOptions opt;
  opt.flush_bytes = 4096;
  auto w = TraceWriter::open(path, kNode, opt);
  ASSERT_TRUE(w) << w.error();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i)
        (*w)->inv_sent(kPeer, static_cast<size_t>(t * 1000 + i), Time(i));
    });
  for (auto& th : threads)
    th.join();
  (*w)->close();
  auto lines = read_lines(path);
  EXPECT_EQ(lines.size(), 2002u);
  EXPECT_EQ((*w)->dropped(), 0u);
  // After close, events are dropped (and counted), never written.
  (*w)->tx_accepted(test::numbered_id(1, 5), Time(1));
  EXPECT_EQ((*w)->dropped(), 1u);
  EXPECT_EQ(read_lines(path).size(), 2002u);
}

TEST(Trace, UnopenablePathIsNamed) {
  test::TempDir dir;
  const std::string path = dir.file("missing/dir/trace.jsonl");
  auto w = TraceWriter::open(path, kNode);
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().find(path), std::string::npos) << w.error();
  EXPECT_NE(w.error().find("--trace"), std::string::npos) << w.error();
}

}  // namespace
}  // namespace hearsay
