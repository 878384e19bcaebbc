#include "mempool/leveldb_open.h"

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

}  // namespace hearsay
