#include "mempool/leveldb_open.h"

#include <filesystem>
#include <system_error>

namespace hearsay {

namespace {

bool contains(const std::string& s, std::string_view needle) {
  return s.find(needle) != std::string::npos;
}

}  // namespace

StoreError leveldb_open_error(std::string_view what_view, const std::string& path,
                              const leveldb::Status& s, std::string_view reset_hint) {
  const std::string what(what_view);
  const std::string hint(reset_hint);
  const std::string detail = s.ToString();
  if (s.IsCorruption())
    return {StoreError::Kind::kCorrupt,
            what + " " + path + " is corrupt (" + detail + "); " + hint};
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

}  // namespace hearsay
