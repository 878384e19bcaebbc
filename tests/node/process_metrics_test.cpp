// The process metrics: /proc/self/stat parsing, and plausible values read from this process.
#include "node/process_metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace hearsay {
namespace {

TEST(ProcessMetrics, ParsesProcStat) {
  // A command name with spaces and parentheses, as a process may choose.
  const std::string stat =
      "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 1234 0 0 0 150 25 0 0 20 0 9 0 "
      "987654 123456789 2048 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 3 0 0 0 0 0\n";
  auto st = parse_proc_stat(stat);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->utime_ticks, 150u);
  EXPECT_EQ(st->stime_ticks, 25u);
  EXPECT_EQ(st->start_ticks, 987654u);
  EXPECT_EQ(st->vsize_bytes, 123456789u);
  EXPECT_EQ(st->rss_pages, 2048u);
  EXPECT_FALSE(parse_proc_stat(""));
  EXPECT_FALSE(parse_proc_stat("1 (x) S 1 2 3"));  // cut short
  EXPECT_FALSE(parse_proc_stat("1 (x) S 1 1 1 0 -1 0 0 0 0 0 x 25 0 0 20 0 9 0 1 2 3\n"));
}

TEST(ProcessMetrics, ReadFromThisProcessArePlausible) {
  auto m = read_process_metrics();
  ASSERT_TRUE(m) << "/proc/self is readable on Linux";
  EXPECT_GT(m->resident_memory_bytes, 0u);
  EXPECT_GE(m->virtual_memory_bytes, m->resident_memory_bytes);
  EXPECT_GT(m->open_fds, 0u);
  EXPECT_GE(m->max_fds, m->open_fds);
  EXPECT_GE(m->cpu_seconds, 0);
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_GT(m->start_time_seconds, 0);
  EXPECT_LE(m->start_time_seconds, now);
}

}  // namespace
}  // namespace hearsay
