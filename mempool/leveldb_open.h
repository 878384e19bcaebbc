// Why LevelDB refused to open a store, as a StoreError whose message names the path and the
// fix, and the salvage of a damaged store. One wording for every LevelDB store of the node: the
// mempool's (mempool/store.cpp) and the chain's (chainstub/chain_store.cpp).
#pragma once

#include <leveldb/db.h>
#include <leveldb/status.h>

#include <memory>
#include <string>
#include <string_view>

#include "mempool/store.h"

namespace hearsay {

// Whether `s` says a file of the store is damaged (the disk works, the content is wrong): a
// LevelDB corruption, or a table file shorter than the store's manifest records. LevelDB reads
// such a table past its end and reports that as an I/O error ("<dir>/000005.ldb: Invalid
// argument"); it is corruption all the same. Every LevelDB status is classified through this.
bool leveldb_is_corruption(const leveldb::Status& s);

// `what` names the store ("mempool store"); `reset_hint` says the ways out (it ends the message
// of a corrupt store and of an unexplained failure).
StoreError leveldb_open_error(std::string_view what, const std::string& path,
                              const leveldb::Status& s, std::string_view reset_hint);

// Creates `path` if missing and opens the LevelDB database there with `opts`; a failure is
// described as above.
Result<std::unique_ptr<leveldb::DB>, StoreError> open_leveldb(std::string_view what,
                                                              const std::string& path,
                                                              const leveldb::Options& opts,
                                                              std::string_view reset_hint);

// Salvages the LevelDB store at `path` without losing its files: copies it, renames the
// original to `<path>.damaged-<UTC time, YYYYMMDDTHHMMSSZ>` (a new name: an existing folder is
// never overwritten), puts the copy in its place and runs leveldb::RepairDB on the copy.
// Returns where the original files are kept, or "" when there is no store at `path` (nothing to
// repair). Fails, naming the paths, when another process holds the store, or when the copy or
// the repair fails: `path` is then left as it was.
Result<std::string, StoreError> repair_leveldb(std::string_view what, const std::string& path,
                                               const leveldb::Options& opts,
                                               std::string_view reset_hint);

}  // namespace hearsay
