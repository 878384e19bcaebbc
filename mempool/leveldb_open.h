// Why LevelDB refused to open a store, as a StoreError whose message names the path and the
// fix. One wording for every LevelDB store of the node: the mempool's (mempool/store.cpp) and
// the chain's (chainstub/chain_store.cpp).
#pragma once

#include <leveldb/db.h>
#include <leveldb/status.h>

#include <memory>
#include <string>
#include <string_view>

#include "mempool/store.h"

namespace hearsay {

// `what` names the store ("mempool store"); `reset_hint` says how to start over without its
// content (it ends the message of a corrupt store and of an unexplained failure).
StoreError leveldb_open_error(std::string_view what, const std::string& path,
                              const leveldb::Status& s, std::string_view reset_hint);

// Creates `path` if missing and opens the LevelDB database there with `opts`; a failure is
// described as above.
Result<std::unique_ptr<leveldb::DB>, StoreError> open_leveldb(std::string_view what,
                                                              const std::string& path,
                                                              const leveldb::Options& opts,
                                                              std::string_view reset_hint);

}  // namespace hearsay
