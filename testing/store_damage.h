// Damage for the tests of a damaged store: what a failing disk, a crash mid-copy or an older
// program leaves in a LevelDB directory, and a snapshot of the files to compare with.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace hearsay::test {

// The regular files directly in `dir` whose names end with `suffix` (".ldb", ".log",
// "CURRENT"), sorted.
std::vector<std::filesystem::path> files_ending(const std::filesystem::path& dir,
                                                const std::string& suffix);

// Every regular file under `dir` (recursively), by its path relative to `dir`, with its bytes.
std::map<std::string, std::string> snapshot_files(const std::filesystem::path& dir);

// Cuts `file` to `fraction` (0..1) of its size: a copy or a write that stopped part-way.
void truncate_to(const std::filesystem::path& file, double fraction);

// Overwrites `count` bytes of `file` from `offset` with bytes no program wrote.
void garble(const std::filesystem::path& file, uint64_t offset, size_t count);

// Writes `value` under `key` into the (closed) LevelDB store at `store`, bypassing every
// check of the program that owns it: a record an older or broken writer left behind.
void put_raw_record(const std::string& store, const std::string& key, const std::string& value);

}  // namespace hearsay::test
