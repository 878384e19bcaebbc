// RpcClient: its error messages when there is no daemon, and bitcoin-cli's output convention.
// (The client against a live server is exercised throughout rpc_server_test.cpp.)
#include "node/rpc_client.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>

#include "node/cookie.h"
#include "testing/test_util.h"

namespace hearsay {
namespace {

namespace json = boost::json;

// A loopback port nobody listens on: bind one, note it, close it.
uint16_t closed_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  uint16_t port = a.local_endpoint().port();
  a.close();
  return port;
}

TEST(RpcClient, ClosedPortNamesTheAddress) {
  RpcClientConfig c;
  c.port = closed_port();
  c.user = "u";
  c.password = "p";
  RpcClient client(c);
  auto r = client.call("getinfo", json::array());
  ASSERT_FALSE(r);
  EXPECT_FALSE(r.error().rpc_code);
  const std::string& m = r.error().message;
  EXPECT_NE(m.find("127.0.0.1:" + std::to_string(c.port)), std::string::npos) << m;
  EXPECT_NE(m.find("is hearsayd running?"), std::string::npos) << m;
  EXPECT_EQ(r.error().one_line().find('\n'), std::string::npos);
  EXPECT_TRUE(r.error().one_line().starts_with("error: "));
}

TEST(RpcClient, MissingCookieSaysWhatToCheck) {
  test::TempDir dir;
  RpcClientConfig c;
  c.port = closed_port();
  c.datadir = dir.str();
  RpcClient client(c);
  auto r = client.call("getinfo", json::array());
  ASSERT_FALSE(r);
  const std::string& m = r.error().message;
  EXPECT_NE(m.find("cannot read cookie file " + cookie_path(dir.str())), std::string::npos) << m;
  EXPECT_NE(m.find("--datadir " + dir.str()), std::string::npos) << m;
  EXPECT_NE(m.find("--rpc-user/--rpc-password"), std::string::npos) << m;
}

TEST(RpcClient, NoCredentialsAtAll) {
  RpcClientConfig c;
  c.port = closed_port();
  RpcClient client(c);
  auto r = client.call("getinfo", json::array());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("--rpc-user"), std::string::npos) << r.error().message;
}

TEST(RpcClient, UnresolvableHost) {
  RpcClientConfig c;
  c.host = "no-such-host.invalid";
  c.port = 1;
  c.user = "u";
  c.password = "p";
  RpcClient client(c);
  auto r = client.call("getinfo", json::array());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("no-such-host.invalid"), std::string::npos) << r.error().message;
}

TEST(RpcClientOutput, FollowsBitcoinCli) {
  EXPECT_EQ(format_rpc_result(json::value("abc\"def")), "abc\"def");  // bare, unquoted
  EXPECT_EQ(format_rpc_result(json::value(nullptr)), "");
  EXPECT_EQ(format_rpc_result(json::value(42)), "42");
  EXPECT_EQ(format_rpc_result(json::value(-7)), "-7");
  EXPECT_EQ(format_rpc_result(json::value(true)), "true");
  EXPECT_EQ(format_rpc_result(json::value(1.5)), "1.5");
  EXPECT_EQ(format_rpc_result(json::array()), "[]");
  EXPECT_EQ(format_rpc_result(json::object()), "{}");
  json::value v = json::parse(R"({"a":1,"b":[1,"x",{"c":null}],"d":{},"e\n":"q\""})");
  EXPECT_EQ(format_rpc_result(v),
            "{\n"
            "  \"a\": 1,\n"
            "  \"b\": [\n"
            "    1,\n"
            "    \"x\",\n"
            "    {\n"
            "      \"c\": null\n"
            "    }\n"
            "  ],\n"
            "  \"d\": {},\n"
            "  \"e\\n\": \"q\\\"\"\n"
            "}");
  // Pretty output is still JSON and round-trips.
  EXPECT_EQ(json::parse(pretty_json(v)), v);
}

}  // namespace
}  // namespace hearsay
