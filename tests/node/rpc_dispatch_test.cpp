// RpcDispatcher without sockets: JSON-RPC 2.0 rules, limits and exception containment.
#include "node/rpc_dispatch.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace hearsay {
namespace {

namespace json = boost::json;

class RpcDispatchTest : public ::testing::Test {
 protected:
  RpcDispatchTest() {
    d.add_method("echo", [](const json::value& p) -> RpcResult { return p; });
    d.add_method("count", [this](const json::value&) -> RpcResult { return json::value(++calls); });
    d.add_method("typed", [](const json::value& p) -> RpcResult {
      return json::value(p.as_object().at("n").as_int64() + 1);  // throws on any other shape
    });
    d.add_method("value_to", [](const json::value& p) -> RpcResult {
      return json::value_from(
          json::value_to<std::vector<int>>(p));  // throws system_error on a wrong shape
    });
    d.add_method("bug", [](const json::value&) -> RpcResult { throw std::logic_error("bug"); });
    d.add_method("weird", [](const json::value&) -> RpcResult { throw 17; });
  }
  json::value run(std::string_view body) {
    auto r = d.handle(body);
    EXPECT_TRUE(r.has_value()) << body;
    return r ? json::parse(*r) : json::value();
  }
  int64_t code(std::string_view body) {
    json::value v = run(body);
    const json::object* o = v.if_object();
    if (o == nullptr || !o->contains("error")) return 0;
    return o->at("error").at("code").as_int64();
  }

  RpcDispatcher d;
  int calls = 0;
};

TEST_F(RpcDispatchTest, Success) {
  json::value v = run(R"({"jsonrpc":"2.0","id":3,"method":"echo","params":[1,{"a":2}]})");
  EXPECT_EQ(v, json::parse(R"({"jsonrpc":"2.0","result":[1,{"a":2}],"id":3})"));
  // No params: the handler sees an empty array. jsonrpc absent or "1.0" is accepted.
  EXPECT_EQ(run(R"({"id":"s","method":"echo"})").at("result"), json::array());
  EXPECT_EQ(run(R"({"jsonrpc":"1.0","id":null,"method":"echo"})").at("id"), nullptr);
}

TEST_F(RpcDispatchTest, StandardErrors) {
  EXPECT_EQ(code("{\"id\":1,"), kRpcParseError);
  EXPECT_EQ(code(""), kRpcParseError);
  EXPECT_EQ(code(std::string(kRpcMaxJsonDepth + 1, '[')), kRpcParseError);
  EXPECT_EQ(code("\"str\""), kRpcInvalidRequest);
  EXPECT_EQ(code("null"), kRpcInvalidRequest);
  EXPECT_EQ(code(R"({"id":1})"), kRpcInvalidRequest);
  EXPECT_EQ(code(R"({"id":1,"method":5})"), kRpcInvalidRequest);
  EXPECT_EQ(code(R"({"id":1,"method":"echo","params":"x"})"), kRpcInvalidRequest);
  EXPECT_EQ(code(R"({"id":1,"method":"echo","jsonrpc":"3.0"})"), kRpcInvalidRequest);
  EXPECT_EQ(code(R"({"id":[1],"method":"echo"})"), kRpcInvalidRequest);
  EXPECT_EQ(code(R"({"id":1,"method":"nope"})"), kRpcMethodNotFound);
  // The id is echoed even on errors when it is valid.
  EXPECT_EQ(run(R"({"id":"k","method":"nope"})").at("id"), "k");
}

// Every answer is valid JSON whatever the id: one that cannot be echoed exactly (beyond a
// double, or an integer literal a double rounds) is refused with id null, as JSON-RPC 2.0 says.
TEST_F(RpcDispatchTest, IdsThatCannotBeEchoedGetInvalidRequestWithIdNull) {
  for (const char* body :
       {R"({"id":1e400,"method":"echo"})", R"({"id":-1e400,"method":"echo"})",
        R"({"id":1e308,"method":"echo"})", R"({"id":99999999999999999999999,"method":"echo"})",
        R"([{"id":1e400,"method":"echo"},{"id":2,"method":"echo"}])"}) {
    std::optional<std::string> out = d.handle(body);
    ASSERT_TRUE(out) << body;
    json::error_code ec;
    json::value v = json::parse(*out, ec);
    ASSERT_FALSE(ec) << body << " answered with invalid JSON: " << *out;
    const json::value& first = v.is_array() ? v.as_array().at(0) : v;
    EXPECT_EQ(first.at("error").at("code"), kRpcInvalidRequest) << body;
    EXPECT_EQ(first.at("id"), nullptr) << body;
    if (v.is_array()) {
      EXPECT_EQ(v.as_array().at(1).at("id"), 2);  // the rest of a batch is still answered
    }
  }
  // Ids that round-trip are echoed: integers at the uint64/int64 limits, small doubles, long
  // strings.
  EXPECT_EQ(run(R"({"id":18446744073709551615,"method":"echo"})").at("id"),
            json::value(uint64_t{18446744073709551615u}));
  EXPECT_EQ(run(R"({"id":-9223372036854775808,"method":"echo"})").at("id"), json::value(INT64_MIN));
  EXPECT_EQ(run(R"({"id":1.5,"method":"echo"})").at("id"), 1.5);
  std::string long_id(100'000, 'x');
  EXPECT_EQ(run(R"({"id":")" + long_id + R"(","method":"echo"})").at("id"), json::value(long_id));
  // A number no double holds inside params is refused before any handler sees it.
  EXPECT_EQ(code(R"({"id":7,"method":"echo","params":[1,{"a":[1e400]}]})"), kRpcInvalidParams);
  EXPECT_EQ(run(R"({"id":7,"method":"echo","params":[1e400]})").at("id"), 7);
  EXPECT_FALSE(d.handle(R"({"method":"echo","params":[1e400]})"));  // a notification
}

TEST_F(RpcDispatchTest, HandlerExceptionsAreContained) {
  EXPECT_EQ(run(R"({"id":1,"method":"typed","params":{"n":41}})").at("result"), 42);
  EXPECT_EQ(code(R"({"id":1,"method":"typed","params":{"n":"x"}})"), kRpcInvalidParams);
  EXPECT_EQ(code(R"({"id":1,"method":"typed","params":{}})"), kRpcInvalidParams);
  EXPECT_EQ(code(R"({"id":1,"method":"typed","params":[1]})"), kRpcInvalidParams);
  EXPECT_EQ(code(R"({"id":1,"method":"value_to","params":{"a":1}})"), kRpcInvalidParams);
  EXPECT_EQ(run(R"({"id":1,"method":"value_to","params":[1,2]})").at("result"),
            (json::array{1, 2}));
  EXPECT_EQ(code(R"({"id":1,"method":"bug"})"), kRpcInternalError);
  EXPECT_EQ(code(R"({"id":1,"method":"weird"})"), kRpcInternalError);
}

TEST_F(RpcDispatchTest, NotificationsAreNeverAnswered) {
  EXPECT_FALSE(d.handle(R"({"jsonrpc":"2.0","method":"count"})"));
  EXPECT_EQ(calls, 1);  // but they run
  EXPECT_FALSE(d.handle(R"({"method":"nope"})"));
  EXPECT_FALSE(d.handle(R"({"method":"bug"})"));
  EXPECT_FALSE(d.handle(R"({"method":"echo","params":7})"));
  EXPECT_FALSE(d.handle(R"([{"method":"count"},{"method":"count"}])"));
  EXPECT_EQ(calls, 3);
}

TEST_F(RpcDispatchTest, Batches) {
  json::value v = run(R"([{"id":1,"method":"count"},{"method":"count"},
                          {"id":2,"method":"nope"},[],{"id":3,"method":"count"}])");
  ASSERT_TRUE(v.is_array());
  const json::array& a = v.get_array();
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(a[0].at("result"), 1);
  EXPECT_EQ(a[1].at("error").at("code"), kRpcMethodNotFound);
  EXPECT_EQ(a[2].at("error").at("code"), kRpcInvalidRequest);
  EXPECT_EQ(a[3].at("result"), 3);
  EXPECT_EQ(code("[]"), kRpcInvalidRequest);

  std::string big = "[";
  for (size_t i = 0; i <= kRpcMaxBatchRequests; ++i)
    big += R"({"method":"count"},)";
  big.back() = ']';
  EXPECT_EQ(code(big), kRpcInvalidRequest);
  EXPECT_EQ(calls, 3);  // refused as a whole, nothing ran
}

TEST_F(RpcDispatchTest, ErrorBody) {
  json::value v = json::parse(RpcDispatcher::error_body(kRpcInvalidRequest, "too big"));
  EXPECT_EQ(
      v, json::parse(R"({"jsonrpc":"2.0","error":{"code":-32600,"message":"too big"},"id":null})"));
}

// Methods registered from a spec: the parameter count is checked before the handler runs, and
// `help` renders the same spec.
class RpcSpecTest : public ::testing::Test {
 protected:
  RpcSpecTest() {
    d.add_method({.name = "none",
                  .summary = "Takes nothing.",
                  .result = "null.",
                  .example = "hearsay-cli none",
                  .handler = [this](const json::value&) -> RpcResult {
                    ++calls;
                    return json::value(nullptr);
                  }});
    d.add_method({.name = "pair",
                  .summary = "Takes a name and maybe a count.",
                  .params = {{"name", "string", true, "", "Who."},
                             {"count", "number", false, "1", "How many."}},
                  .result = "The name.",
                  .example = "hearsay-cli pair \"x\" 2",
                  .handler = [this](const json::value& p) -> RpcResult {
                    ++calls;
                    return p.as_array().at(0);
                  }});
  }
  json::object run(std::string_view method, std::string_view params) {
    auto r = d.handle(R"({"id":1,"method":")" + std::string(method) + R"(","params":)" +
                      std::string(params) + "}");
    EXPECT_TRUE(r.has_value());
    return r ? json::parse(*r).as_object() : json::object();
  }
  static std::string message(const json::object& o) {
    return o.contains("error") ? std::string(o.at("error").at("message").as_string()) : "";
  }
  static int64_t code(const json::object& o) {
    return o.contains("error") ? o.at("error").at("code").as_int64() : 0;
  }

  RpcDispatcher d;
  int calls = 0;
};

TEST_F(RpcSpecTest, ParameterCountsAreChecked) {
  json::object r = run("none", "[1]");
  EXPECT_EQ(code(r), kRpcInvalidParams);
  EXPECT_EQ(message(r), "none takes no parameters (got 1); see help none");
  r = run("pair", "[]");
  EXPECT_EQ(code(r), kRpcInvalidParams);
  EXPECT_EQ(message(r),
            "pair needs at least 1 parameter (got 0): pair \"name\" ( count ); see help pair");
  r = run("pair", R"(["a",1,2])");
  EXPECT_EQ(code(r), kRpcInvalidParams);
  EXPECT_EQ(message(r),
            "pair takes at most 2 parameters (got 3): pair \"name\" ( count ); see help pair");
  EXPECT_EQ(calls, 0);  // no handler ran
  EXPECT_EQ(run("pair", R"(["a"])").at("result"), "a");
  EXPECT_EQ(run("pair", R"(["a",2])").at("result"), "a");
  EXPECT_EQ(run("none", "[]").at("result"), nullptr);
  EXPECT_EQ(calls, 3);
}

TEST_F(RpcSpecTest, NamedParametersAreRefusedAnEmptyObjectIsNone) {
  json::object r = run("pair", R"({"name":"a"})");
  EXPECT_EQ(code(r), kRpcInvalidParams);
  EXPECT_EQ(message(r),
            "pair takes positional parameters (a JSON array), not named ones (an object): "
            "pair \"name\" ( count ); see help pair");
  EXPECT_EQ(run("none", "{}").at("result"), nullptr);
  EXPECT_EQ(code(run("pair", "{}")), kRpcInvalidParams);  // its required name is missing
  EXPECT_EQ(calls, 1);
}

TEST_F(RpcSpecTest, HelpRendersTheTable) {
  const std::string all(run("help", "[]").at("result").as_string());
  for (const std::string& name : d.method_names()) {
    EXPECT_NE(all.find("  " + name + " "), std::string::npos) << all;
  }
  EXPECT_NE(all.find("Takes a name and maybe a count."), std::string::npos) << all;

  const std::string one(run("help", R"(["pair"])").at("result").as_string());
  EXPECT_EQ(one,
            "pair \"name\" ( count )\n\n"
            "Takes a name and maybe a count.\n\n"
            "Arguments:\n"
            "1. name   (string, required) Who.\n"
            "2. count  (number, optional, default=1) How many.\n\n"
            "Result:\nThe name.\n\n"
            "Example:\n  hearsay-cli pair \"x\" 2\n");
  const std::string none(run("help", R"(["none"])").at("result").as_string());
  EXPECT_NE(none.find("Arguments: none\n"), std::string::npos) << none;
  EXPECT_EQ(run("help", R"(["help"])").at("result").as_string().find("help ( \"method\" )"), 0u);

  json::object r = run("help", R"(["foo"])");
  EXPECT_EQ(code(r), kRpcMethodNotFound);
  EXPECT_EQ(message(r), "help: unknown method 'foo'");
  EXPECT_EQ(code(run("help", "[5]")), kRpcTypeError);
  EXPECT_EQ(code(run("help", R"(["a","b"])")), kRpcInvalidParams);
  // A method added with a bare handler takes anything, and help still names it.
  d.add_method("bare", [](const json::value& p) -> RpcResult { return p; });
  EXPECT_EQ(run("bare", R"({"x":1})").at("result"), json::parse(R"({"x":1})"));
  EXPECT_EQ(run("help", R"(["bare"])").at("result").as_string().find("bare ( ... )"), 0u);
}

TEST(RpcDispatchDeath, DuplicateMethodIsABug) {
  RpcDispatcher d;
  d.add_method("x", [](const json::value&) -> RpcResult { return json::value(nullptr); });
  EXPECT_DEATH(
      d.add_method("x", [](const json::value&) -> RpcResult { return json::value(nullptr); }),
      "invariant");
}

}  // namespace
}  // namespace hearsay
