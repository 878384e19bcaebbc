// The standard process metrics of Prometheus' client libraries, read from /proc/self (Linux):
// CPU time, resident and virtual memory, open and maximum file descriptors, start time.
//
// read_process_metrics() reads /proc/self/stat, /proc/stat (boot time), /proc/self/fd and the
// RLIMIT_NOFILE soft limit; a few small reads, meant for a scrape. parse_proc_self_stat() is the
// pure part: the text of /proc/self/stat in, the numbers out (nullopt when it does not parse).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace hearsay {

struct ProcessMetrics {
  double cpu_seconds = 0;              // user + system
  uint64_t resident_memory_bytes = 0;  // RSS
  uint64_t virtual_memory_bytes = 0;
  uint64_t open_fds = 0;
  uint64_t max_fds = 0;           // soft limit
  double start_time_seconds = 0;  // since the Unix epoch
};

// The fields of /proc/<pid>/stat that the metrics need, in the kernel's units.
struct ProcStat {
  uint64_t utime_ticks = 0;
  uint64_t stime_ticks = 0;
  uint64_t start_ticks = 0;  // after boot
  uint64_t vsize_bytes = 0;
  uint64_t rss_pages = 0;
};

// Parses /proc/<pid>/stat (proc(5)); the command name, in parentheses, may hold anything.
std::optional<ProcStat> parse_proc_stat(std::string_view text);

// nullopt when /proc is missing or does not parse (the process families are then left out).
std::optional<ProcessMetrics> read_process_metrics();

}  // namespace hearsay
