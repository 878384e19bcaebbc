#include "node/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace hearsay {
namespace {

// proc(5): fields are numbered from 1 (pid); the ones after the command name.
constexpr size_t kFieldUtime = 14;
constexpr size_t kFieldStime = 15;
constexpr size_t kFieldStartTime = 22;
constexpr size_t kFieldVsize = 23;
constexpr size_t kFieldRss = 24;
// The first field after ") ": the state.
constexpr size_t kFieldState = 3;

std::optional<uint64_t> to_u64(std::string_view s) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::string> read_text(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// "btime SECONDS" of /proc/stat: when the system booted, seconds since the epoch.
std::optional<uint64_t> boot_time_seconds() {
  std::ifstream in("/proc/stat");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("btime ")) return to_u64(std::string_view(line).substr(6));
  return std::nullopt;
}

std::optional<uint64_t> count_open_fds() {
  std::error_code ec;
  std::filesystem::directory_iterator it("/proc/self/fd", ec);
  if (ec) return std::nullopt;
  // The iterator's own descriptor is counted, as the client libraries count theirs.
  return static_cast<uint64_t>(std::distance(it, std::filesystem::directory_iterator()));
}

}  // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
  const size_t close = text.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::vector<std::string_view> fields;  // fields[0] is field kFieldState
  std::string_view rest = text.substr(close + 1);
  while (!rest.empty()) {
    const size_t start = rest.find_first_not_of(" \n");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const size_t end = std::min(rest.find_first_of(" \n"), rest.size());
    fields.push_back(rest.substr(0, end));
    rest.remove_prefix(end);
  }
  auto field = [&](size_t n) -> std::optional<uint64_t> {
    if (n - kFieldState >= fields.size()) return std::nullopt;
    return to_u64(fields[n - kFieldState]);
  };
  auto utime = field(kFieldUtime), stime = field(kFieldStime), start = field(kFieldStartTime);
  auto vsize = field(kFieldVsize), rss = field(kFieldRss);
  if (!utime || !stime || !start || !vsize || !rss) return std::nullopt;
  return ProcStat{*utime, *stime, *start, *vsize, *rss};
}

std::optional<ProcessMetrics> read_process_metrics() {
  const long ticks = sysconf(_SC_CLK_TCK);
  const long page = sysconf(_SC_PAGESIZE);
  if (ticks <= 0 || page <= 0) return std::nullopt;
  const std::optional<std::string> text = read_text("/proc/self/stat");
  if (!text) return std::nullopt;
  const std::optional<ProcStat> st = parse_proc_stat(*text);
  const std::optional<uint64_t> boot = boot_time_seconds();
  const std::optional<uint64_t> fds = count_open_fds();
  rlimit lim{};
  if (!st || !boot || !fds || getrlimit(RLIMIT_NOFILE, &lim) != 0) return std::nullopt;
  const auto hz = static_cast<double>(ticks);
  ProcessMetrics m;
  m.cpu_seconds = static_cast<double>(st->utime_ticks + st->stime_ticks) / hz;
  m.resident_memory_bytes = st->rss_pages * static_cast<uint64_t>(page);
  m.virtual_memory_bytes = st->vsize_bytes;
  m.open_fds = *fds;
  m.max_fds = static_cast<uint64_t>(lim.rlim_cur);
  m.start_time_seconds = static_cast<double>(*boot) + static_cast<double>(st->start_ticks) / hz;
  return m;
}

}  // namespace hearsay
