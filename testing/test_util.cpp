#include "testing/test_util.h"

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>

#include "crypto/hex.h"
#include "crypto/result.h"

namespace hearsay::test {

TempDir::TempDir() {
  static std::random_device rd;
  for (;;) {
    auto p = std::filesystem::temp_directory_path() /
             ("hearsay-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::error_code ec;
    if (std::filesystem::create_directory(p, ec)) {
      m_path = p;
      return;
    }
  }
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(m_path, ec);
}

std::vector<uint8_t> bytes_of(const std::string& hex) {
  auto v = from_hex(hex);
  HEARSAY_CHECK(v.has_value());
  return *v;
}

std::optional<std::pair<int, std::string>> promtool_check(const std::string& text) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) return std::nullopt;
  TempDir dir;
  const std::string in = dir.file("metrics.txt");
  const std::string out = dir.file("promtool.out");
  { std::ofstream(in, std::ios::binary) << text; }
  int status = std::system(("promtool check metrics < '" + in + "' > '" + out + "' 2>&1").c_str());
  std::ifstream f(out);
  std::string output((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, output);
}

}  // namespace hearsay::test
