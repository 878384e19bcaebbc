// The cookie file and HTTP Basic helpers.
#include "node/cookie.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "testing/test_util.h"

namespace hearsay {
namespace {

TEST(Cookie, WriteReadDelete) {
  test::TempDir dir;
  auto c = write_cookie_file(dir.str());
  ASSERT_TRUE(c) << c.error();
  EXPECT_TRUE(c->starts_with("__cookie__:"));
  EXPECT_EQ(c->size(), 11u + 2 * kCookieSecretBytes);
  struct stat st;
  ASSERT_EQ(::stat(cookie_path(dir.str()).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto r = read_cookie_file(dir.str());
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(*r, *c);
  auto c2 = write_cookie_file(dir.str());  // a restart: a new secret replaces the old
  ASSERT_TRUE(c2);
  EXPECT_NE(*c2, *c);
  EXPECT_EQ(*read_cookie_file(dir.str()), *c2);
  EXPECT_TRUE(delete_cookie_file(dir.str()));
  EXPECT_FALSE(std::filesystem::exists(cookie_path(dir.str())));
  EXPECT_TRUE(delete_cookie_file(dir.str()));  // already gone: fine
}

TEST(Cookie, StaleTmpFileWithWideModeIsReplaced) {
  test::TempDir dir;
  const std::string tmp = cookie_path(dir.str()) + ".tmp";
  { std::ofstream(tmp) << "old"; }
  ::chmod(tmp.c_str(), 0666);
  ASSERT_TRUE(write_cookie_file(dir.str()));
  struct stat st;
  ASSERT_EQ(::stat(cookie_path(dir.str()).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(Cookie, ReadErrorsSayWhatToDo) {
  test::TempDir dir;
  auto r = read_cookie_file(dir.str());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find(cookie_path(dir.str())), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("is hearsayd running with --datadir"), std::string::npos);
  { std::ofstream(cookie_path(dir.str())) << "no-colon\n"; }
  EXPECT_FALSE(read_cookie_file(dir.str()));
  { std::ofstream(cookie_path(dir.str())) << "user:pass\r\n"; }
  EXPECT_EQ(*read_cookie_file(dir.str()), "user:pass");
  { std::ofstream(cookie_path(dir.str())) << std::string(kMaxCookieFileBytes + 1, 'x'); }
  EXPECT_FALSE(read_cookie_file(dir.str()));
  auto w = write_cookie_file(dir.file("missing-dir"));
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().find("missing-dir"), std::string::npos) << w.error();
}

TEST(Base64, RoundTripAndStrictness) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "__cookie__:0123",
                                                       std::string("\0\xff\x10", 3)})
    EXPECT_EQ(base64_decode(base64_encode(s)), s);
  EXPECT_FALSE(base64_decode("Zg="));
  EXPECT_FALSE(base64_decode("Z==="));
  EXPECT_FALSE(base64_decode("Zg==Zg=="));
  EXPECT_FALSE(base64_decode("Zm9!"));
  EXPECT_FALSE(base64_decode("Zm=v"));
}

TEST(BasicAuth, Parse) {
  EXPECT_EQ(parse_basic_auth(basic_auth_header("u:p")), "u:p");
  EXPECT_EQ(parse_basic_auth("basic dTpw"), "u:p");
  EXPECT_EQ(parse_basic_auth("BASIC   dTpw  "), "u:p");
  EXPECT_FALSE(parse_basic_auth("Bearer dTpw"));
  EXPECT_FALSE(parse_basic_auth("Basic"));
  EXPECT_FALSE(parse_basic_auth("Basicx dTpw"));
  EXPECT_FALSE(parse_basic_auth("Basic dTpw!"));
  EXPECT_FALSE(parse_basic_auth(""));
}

TEST(BasicAuth, CredentialsEqual) {
  EXPECT_TRUE(credentials_equal("a:b", "a:b"));
  EXPECT_FALSE(credentials_equal("a:b", "a:c"));
  EXPECT_FALSE(credentials_equal("a:b", "a:bb"));
  EXPECT_FALSE(credentials_equal("", "a"));
  EXPECT_TRUE(credentials_equal("", ""));
}

}  // namespace
}  // namespace hearsay
