#include "crypto/keyfile.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "tests/util/test_util.h"

namespace hearsay {
namespace {

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

TEST(KeyFile, SaveThenLoadGivesSameKey) {
  test::TempDir dir;
  KeyPair kp = test::test_key(7);
  ASSERT_TRUE(save_key_file(dir.file("id.key"), kp).ok());
  auto loaded = load_key_file(dir.file("id.key"));
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(loaded->public_key(), kp.public_key());
  struct stat st;
  ASSERT_EQ(::stat(dir.file("id.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(KeyFile, MissingFileNamesPathAndFix) {
  test::TempDir dir;
  auto r = load_key_file(dir.file("nope.key"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find(dir.file("nope.key")), std::string::npos);
  EXPECT_NE(r.error().find("does not exist"), std::string::npos);
  EXPECT_NE(r.error().find("keygen"), std::string::npos);
}

TEST(KeyFile, ShortFileIsRefused) {
  test::TempDir dir;
  write_file(dir.file("k"), "abcd\n");
  auto r = load_key_file(dir.file("k"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("too short"), std::string::npos);
}

TEST(KeyFile, MalformedFilesAreRefused) {
  test::TempDir dir;
  write_file(dir.file("k"), std::string(64, 'g') + "\n");
  auto r = load_key_file(dir.file("k"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("not hex"), std::string::npos);

  write_file(dir.file("k2"), std::string(70, 'a'));
  r = load_key_file(dir.file("k2"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("malformed"), std::string::npos);

  write_file(dir.file("k3"), std::string(10000, 'a'));
  r = load_key_file(dir.file("k3"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("too large"), std::string::npos);
}

TEST(KeyFile, UnreadableFileIsRefused) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads any file; permission test is meaningless";
  test::TempDir dir;
  ASSERT_TRUE(save_key_file(dir.file("k"), test::test_key(1)).ok());
  ::chmod(dir.file("k").c_str(), 0);
  auto r = load_key_file(dir.file("k"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("cannot open"), std::string::npos);
}

TEST(KeyFile, DirectoryInsteadOfFileIsRefused) {
  test::TempDir dir;
  auto r = load_key_file(dir.str());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find(dir.str()), std::string::npos);
}

TEST(KeyFile, LoadOrCreateCreatesOnceThenLoads) {
  test::TempDir dir;
  bool created = false;
  auto a = load_or_create_key_file(dir.file("id.key"), &created);
  ASSERT_TRUE(a);
  EXPECT_TRUE(created);
  auto b = load_or_create_key_file(dir.file("id.key"), &created);
  ASSERT_TRUE(b);
  EXPECT_FALSE(created);
  EXPECT_EQ(a->public_key(), b->public_key());
}

TEST(KeyFile, SaveIntoMissingDirectoryFails) {
  test::TempDir dir;
  Status s = save_key_file(dir.file("no/such/dir/k"), test::test_key(1));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no/such/dir"), std::string::npos);
}

}  // namespace
}  // namespace hearsay
