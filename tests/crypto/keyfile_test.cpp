#include "crypto/keyfile.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "testing/test_util.h"

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

// Open failures other than "missing" (here ENOTDIR: a path below a regular file) get their
// own message. Unlike a chmod 000 file, this fails for root too, so it runs in CI.
TEST(KeyFile, UnopenablePathIsRefused) {
  test::TempDir dir;
  write_file(dir.file("plain"), "x");
  auto r = load_key_file(dir.file("plain/key"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("cannot open key file"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find(dir.file("plain/key")), std::string::npos);
}

// A file that opens but cannot be read: /proc/self/mem fails with EIO at offset 0.
TEST(KeyFile, ReadErrorIsRefused) {
  auto r = load_key_file("/proc/self/mem");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("cannot read key file /proc/self/mem"), std::string::npos) << r.error();
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
