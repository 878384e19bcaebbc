// Helpers shared by the tests: temporary directories, hex literals, promtool; with the
// deterministic keys and transactions of testing/tx_factory.h.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "testing/tx_factory.h"

namespace hearsay::test {

// A fresh directory under the system temp dir, removed (recursively) when destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return m_path; }
  std::string str() const { return m_path.string(); }
  std::string file(const std::string& name) const { return (m_path / name).string(); }

 private:
  std::filesystem::path m_path;
};

std::vector<uint8_t> bytes_of(const std::string& hex);

// Runs `promtool check metrics` on `text`; returns (exit status, output). nullopt when
// promtool is not installed (install-deps installs it; the callers fail then).
std::optional<std::pair<int, std::string>> promtool_check(const std::string& text);

}  // namespace hearsay::test
