#include "node/datadir.h"

#include <gtest/gtest.h>

#include <fstream>

#include "testing/test_util.h"

namespace hearsay {
namespace {

TEST(Datadir, CreatesNestedDirectory) {
  test::TempDir dir;
  std::string p = dir.file("a/b/c");
  ASSERT_TRUE(ensure_datadir(p).ok());
  EXPECT_TRUE(std::filesystem::is_directory(p));
  EXPECT_TRUE(ensure_datadir(p).ok());  // idempotent
}

TEST(Datadir, FileInTheWayIsRefused) {
  test::TempDir dir;
  std::ofstream(dir.file("f")) << "x";
  Status s = ensure_datadir(dir.file("f"));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not a directory"), std::string::npos);
  s = ensure_datadir(dir.file("f/sub"));  // cannot create below a file, even as root
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(dir.file("f/sub")), std::string::npos);
}

TEST(Datadir, SecondLockIsRefusedUntilFirstIsReleased) {
  test::TempDir dir;
  {
    auto first = DatadirLock::acquire(dir.str());
    ASSERT_TRUE(first) << first.error();
    auto second = DatadirLock::acquire(dir.str());
    ASSERT_FALSE(second);
    EXPECT_NE(second.error().find("in use by another hearsayd"), std::string::npos);
  }
  auto third = DatadirLock::acquire(dir.str());
  EXPECT_TRUE(third);
}

}  // namespace
}  // namespace hearsay
