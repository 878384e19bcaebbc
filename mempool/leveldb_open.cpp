#include "mempool/leveldb_open.h"

#include <leveldb/env.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <system_error>

namespace hearsay {

namespace fs = std::filesystem;

namespace {

// How many `.damaged-` names repair_leveldb tries for one second's stamp before it gives up.
constexpr int kMaxAsideNames = 100;

bool contains(const std::string& s, std::string_view needle) {
  return s.find(needle) != std::string::npos;
}

// LevelDB reads a table through mmap at the size its manifest records; reading a file cut
// short fails there with EINVAL, which LevelDB reports as an I/O error naming the table.
bool is_truncated_table(const leveldb::Status& s) {
  if (!s.IsIOError()) return false;
  const std::string detail = s.ToString();
  return contains(detail, std::strerror(EINVAL)) &&
         (contains(detail, ".ldb") || contains(detail, ".sst"));
}

// Now, in UTC to the second: "20261204T231500Z".
std::string utc_stamp() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  const size_t n = std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return std::string(buf, n);
}

// `<path>.damaged-<stamp>`, with "-2", "-3", ... appended while that name is taken; "" when
// every name tried is.
std::string free_aside_name(const std::string& path) {
  const std::string base = path + ".damaged-" + utc_stamp();
  for (int n = 1; n <= kMaxAsideNames; ++n) {
    std::string name = n == 1 ? base : base + "-" + std::to_string(n);
    std::error_code ec;
    if (fs::symlink_status(name, ec).type() == fs::file_type::not_found) return name;
  }
  return {};
}

// Copies the store at `path` to a sibling, renames the original to a free `.damaged-` name and
// the copy to `path`. Returns the original's new name, or what failed; on failure `path` is
// as it was.
Result<std::string, std::string> swap_in_copy(const std::string& path) {
  const std::string copy = path + ".repairing";
  std::error_code ec, ignored;
  fs::remove_all(copy, ignored);  // a copy left by an interrupted repair
  fs::copy(path, copy, fs::copy_options::recursive, ec);
  if (ec) {
    fs::remove_all(copy, ignored);
    return fail("cannot copy it to " + copy + " (" + ec.message() + ")");
  }
  const std::string aside = free_aside_name(path);
  if (aside.empty()) {
    fs::remove_all(copy, ignored);
    return fail("every name " + path + ".damaged-<time>[-N] is taken");
  }
  fs::rename(path, aside, ec);
  if (ec) {
    fs::remove_all(copy, ignored);
    return fail("cannot rename it to " + aside + " (" + ec.message() + ")");
  }
  fs::rename(copy, path, ec);
  if (ec) {
    fs::rename(aside, path, ignored);
    fs::remove_all(copy, ignored);
    return fail("cannot rename " + copy + " to " + path + " (" + ec.message() + ")");
  }
  return aside;
}

}  // namespace

bool leveldb_is_corruption(const leveldb::Status& s) {
  return s.IsCorruption() || is_truncated_table(s);
}

StoreError leveldb_open_error(std::string_view what_view, const std::string& path,
                              const leveldb::Status& s, std::string_view reset_hint) {
  const std::string what(what_view);
  const std::string hint(reset_hint);
  const std::string detail = s.ToString();
  if (leveldb_is_corruption(s))
    return {StoreError::Kind::kCorrupt,
            what + " " + path + " is corrupt (" +
                (s.IsCorruption() ? detail : "a table file is cut short: " + detail) + "); " +
                hint};
  // LevelDB's lock errors: "lock <path>/LOCK: already held by process" (another open in this
  // process) or "...: Resource temporarily unavailable" (fcntl: another process holds it).
  if (contains(detail, "already held") || contains(detail, "temporarily unavailable"))
    return {StoreError::Kind::kLocked,
            what + " " + path + " is locked: another hearsayd is using " + path +
                "? Stop it, or give this node its own data directory (" + detail + ")"};
  if (contains(detail, "Permission denied") || contains(detail, "Read-only file system") ||
      contains(detail, "Not a directory"))
    return {StoreError::Kind::kUnwritable,
            what + " " + path + " is not writable (" + detail +
                "); fix the data directory's permissions or choose another data directory"};
  return {StoreError::Kind::kIo, "cannot open " + what + " " + path + " (" + detail +
                                     "); check the data directory, or " + hint};
}

Result<std::unique_ptr<leveldb::DB>, StoreError> open_leveldb(std::string_view what,
                                                              const std::string& path,
                                                              const leveldb::Options& opts,
                                                              std::string_view reset_hint) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec)
    return fail(StoreError{StoreError::Kind::kUnwritable,
                           "cannot create " + std::string(what) + " directory " + path + " (" +
                               ec.message() +
                               "); fix the data directory's permissions or choose another "
                               "data directory"});
  leveldb::DB* raw = nullptr;
  leveldb::Status s = leveldb::DB::Open(opts, path, &raw);
  if (!s.ok()) return fail(leveldb_open_error(what, path, s, reset_hint));
  return std::unique_ptr<leveldb::DB>(raw);
}

Result<std::string, StoreError> repair_leveldb(std::string_view what_view, const std::string& path,
                                               const leveldb::Options& opts,
                                               std::string_view reset_hint) {
  const std::string what(what_view);
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return std::string();
  // Held while the store is copied and renamed: a store another process uses is not touched.
  leveldb::FileLock* lock = nullptr;
  leveldb::Status s = opts.env->LockFile(path + "/LOCK", &lock);
  if (!s.ok()) return fail(leveldb_open_error(what_view, path, s, reset_hint));
  auto aside = swap_in_copy(path);
  opts.env->UnlockFile(lock);
  if (!aside)
    return fail(StoreError{StoreError::Kind::kIo, "cannot repair " + what + " " + path + ": " +
                                                      aside.error() + "; " + path +
                                                      " is left as it was; free space or fix "
                                                      "the data directory, or " +
                                                      std::string(reset_hint)});
  s = leveldb::RepairDB(path, opts);
  if (!s.ok()) {
    fs::remove_all(path, ec);
    fs::rename(*aside, path, ec);
    return fail(StoreError{StoreError::Kind::kCorrupt,
                           "cannot repair " + what + " " + path + " (" + s.ToString() + "); " +
                               (ec ? "its files are kept in " + *aside : "it is left as it was") +
                               "; " + std::string(reset_hint)});
  }
  // RepairDB moves what it could not use to lost/: the original files are kept whole aside.
  fs::remove_all(fs::path(path) / "lost", ec);
  return *aside;
}

}  // namespace hearsay
