// Fuzz target: the JSON-RPC dispatcher (node/rpc_dispatch.h) fed arbitrary request bodies.
//
// Oracle: no exception escapes handle(); whatever it answers is valid JSON made of JSON-RPC 2.0
// responses (an object, or for a batch an array of objects), each with "jsonrpc": "2.0", an
// "id", and exactly one of "result" / "error" (an error with an integer code and a string
// message); a single request's string or integer id is echoed exactly. The registered methods
// throw the exceptions real handlers do on wrong params.
#include <boost/json.hpp>

#include "fuzz/fuzz_util.h"
#include "node/rpc_dispatch.h"

namespace json = boost::json;
using namespace hearsay;

namespace {

const RpcDispatcher& dispatcher() {
  static const RpcDispatcher d = [] {
    RpcDispatcher r;
    r.add_method("echo", [](const json::value& p) -> RpcResult { return p; });
    r.add_method("add", [](const json::value& p) -> RpcResult {
      const json::array& a = p.as_array();  // throws on an object: must become -32602
      return json::value(a.at(0).as_int64() + a.at(1).as_int64());
    });
    r.add_method("name", [](const json::value& p) -> RpcResult {
      return json::value(std::string(p.at("name").as_string()) + "!");
    });
    r.add_method("fail", [](const json::value&) -> RpcResult {
      return fail(RpcError{kRpcVerifyRejected, "rejected"});
    });
    return r;
  }();
  return d;
}

void check_response(const json::value& v) {
  FUZZ_ASSERT(v.is_object());
  const json::object& o = v.as_object();
  const json::value* version = o.if_contains("jsonrpc");
  FUZZ_ASSERT(version && version->is_string() && version->as_string() == "2.0");
  FUZZ_ASSERT(o.contains("id"));
  bool has_result = o.contains("result"), has_error = o.contains("error");
  FUZZ_ASSERT(has_result != has_error);
  if (has_error) {
    const json::value& e = o.at("error");
    FUZZ_ASSERT(e.is_object());
    FUZZ_ASSERT(e.as_object().contains("code") && e.at("code").is_int64());
    FUZZ_ASSERT(e.as_object().contains("message") && e.at("message").is_string());
  }
}

// A single request whose id is a string or an integer is answered with that very id.
void check_echoed_id(std::string_view body, const json::value& response) {
  json::error_code ec;
  json::parse_options opts;
  opts.max_depth = kRpcMaxJsonDepth;
  json::value request = json::parse(body, ec, {}, opts);
  if (ec || !request.is_object()) return;
  const json::value* id = request.as_object().if_contains("id");
  if (id == nullptr || !(id->is_string() || id->is_int64() || id->is_uint64())) return;
  FUZZ_ASSERT(response.at("id") == *id);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  std::optional<std::string> out = dispatcher().handle(body);  // must not throw
  if (!out) return 0;                                          // notifications only
  json::error_code ec;
  json::value v = json::parse(*out, ec);
  FUZZ_ASSERT(!ec);
  if (v.is_object()) check_echoed_id(body, v);
  if (v.is_array()) {
    FUZZ_ASSERT(!v.as_array().empty());
    for (const json::value& r : v.as_array())
      check_response(r);
  } else {
    check_response(v);
  }
  return 0;
}
