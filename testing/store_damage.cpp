#include "testing/store_damage.h"

#include <leveldb/db.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>

#include "testing/check.h"

namespace hearsay::test {

namespace fs = std::filesystem;

std::vector<fs::path> files_ending(const fs::path& dir, const std::string& suffix) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::map<std::string, std::string> snapshot_files(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    out[fs::relative(e.path(), dir).string()] = bytes.str();
  }
  return out;
}

void truncate_to(const fs::path& file, double fraction) {
  const auto size = fs::file_size(file);
  fs::resize_file(file, static_cast<uintmax_t>(static_cast<double>(size) * fraction));
}

void garble(const fs::path& file, uint64_t offset, size_t count) {
  std::fstream f(file, std::ios::binary | std::ios::in | std::ios::out);
  HEARSAY_EXPECT(f.good(), "cannot open " + file.string());
  f.seekp(static_cast<std::streamoff>(offset));
  for (size_t i = 0; i < count; ++i)
    f.put(static_cast<char>(0xA5 ^ (i * 37)));
}

void put_raw_record(const std::string& store, const std::string& key, const std::string& value) {
  leveldb::DB* raw = nullptr;
  leveldb::Status s = leveldb::DB::Open(leveldb::Options(), store, &raw);
  HEARSAY_EXPECT(s.ok(), "cannot open " + store + ": " + s.ToString());
  if (!s.ok()) return;
  std::unique_ptr<leveldb::DB> db(raw);
  leveldb::WriteOptions wo;
  wo.sync = true;
  s = db->Put(wo, key, value);
  HEARSAY_EXPECT(s.ok(), "cannot write " + store + ": " + s.ToString());
}

}  // namespace hearsay::test
