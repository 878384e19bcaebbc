#include "node/rpc_dispatch.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include <boost/json.hpp>
#include <boost/system/system_error.hpp>
#include <cmath>
#include <stdexcept>

#include "node/rpc_help.h"

namespace hearsay {
namespace json = boost::json;

namespace {

json::object error_object(int code, std::string_view message) {
  json::object err;
  err["code"] = code;
  err["message"] = message;
  return err;
}

json::value error_response(int code, std::string_view message, json::value id) {
  json::object r;
  r["jsonrpc"] = "2.0";
  r["error"] = error_object(code, message);
  r["id"] = std::move(id);
  return r;
}

// A double that serialises back to the same number: finite, and within the range where every
// integer is exact (a larger literal such as 99999999999999999999 was rounded when parsed).
bool exact_double(double d) {
  constexpr double kExactLimit = 9007199254740992.0;  // 2^53
  return std::isfinite(d) && std::fabs(d) <= kExactLimit;
}

// False when `v` holds a number a double cannot represent (1e400 parses as infinity, which
// Boost.JSON would serialise as the non-JSON token Infinity). Depth is bounded by
// kRpcMaxJsonDepth, so the recursion is too.
bool finite_numbers(const json::value& v) {
  if (v.is_double()) return std::isfinite(v.get_double());
  if (const json::array* a = v.if_array())
    return std::all_of(a->begin(), a->end(),
                       [](const json::value& e) { return finite_numbers(e); });
  if (const json::object* o = v.if_object())
    return std::all_of(o->begin(), o->end(),
                       [](const json::key_value_pair& e) { return finite_numbers(e.value()); });
  return true;
}

json::value success_response(json::value result, json::value id) {
  json::object r;
  r["jsonrpc"] = "2.0";
  r["result"] = std::move(result);
  r["id"] = std::move(id);
  return r;
}

}  // namespace

RpcDispatcher::RpcDispatcher() {
  RpcMethodSpec help;
  help.name = "help";
  help.summary = "Lists every method, or describes one: usage, parameters, result, example.";
  help.params = {{"method", "string", false, "",
                  "The method to describe; without it, every method is listed."}};
  help.result = "Text (a JSON string).";
  help.example = "hearsay-cli help getblock";
  // No handler: call() answers `help` itself (it renders this dispatcher's own table).
  m_methods.emplace(help.name, std::move(help));
}

void RpcDispatcher::add_method(RpcMethodSpec spec) {
  HEARSAY_CHECK(spec.handler != nullptr);
  HEARSAY_CHECK(!spec.summary.empty());
  bool optional_seen = false;
  for (const RpcParam& p : spec.params) {
    HEARSAY_CHECK(!(p.required && optional_seen));
    optional_seen = optional_seen || !p.required;
  }
  std::string name = spec.name;
  bool inserted = m_methods.emplace(std::move(name), std::move(spec)).second;
  HEARSAY_CHECK(inserted);
}

void RpcDispatcher::add_method(std::string name, RpcHandler handler) {
  RpcMethodSpec spec;
  spec.name = std::move(name);
  spec.summary = "(no description)";
  spec.handler = std::move(handler);
  spec.any_params = true;
  add_method(std::move(spec));
}

bool RpcDispatcher::has_method(std::string_view name) const {
  return m_methods.find(name) != m_methods.end();
}

std::vector<std::string> RpcDispatcher::method_names() const {
  std::vector<std::string> names;
  names.reserve(m_methods.size());
  for (const auto& [name, spec] : m_methods)
    names.push_back(name);
  return names;
}

std::string RpcDispatcher::error_body(int code, std::string_view message) {
  return json::serialize(error_response(code, message, nullptr));
}

RpcResult RpcDispatcher::call(const std::string& method, const json::value& params) const {
  auto it = m_methods.find(method);
  if (it == m_methods.end())
    return fail(RpcError{kRpcMethodNotFound, "method not found: " + method});
  if (auto refused = check_param_count(it->second, params)) return fail(std::move(*refused));
  // The one place where a handler's exception is caught: nothing escapes into Asio.
  try {
    if (!it->second.handler) return help(params);
    return it->second.handler(params);
  } catch (const boost::system::system_error& e) {
    return fail(RpcError{kRpcInvalidParams, "invalid params for " + method + ": " + e.what()});
  } catch (const std::invalid_argument& e) {
    return fail(RpcError{kRpcInvalidParams, "invalid params for " + method + ": " + e.what()});
  } catch (const std::out_of_range& e) {
    return fail(RpcError{kRpcInvalidParams, "invalid params for " + method + ": " + e.what()});
  } catch (const std::length_error& e) {
    return fail(RpcError{kRpcInvalidParams, "invalid params for " + method + ": " + e.what()});
  } catch (const std::exception& e) {
    spdlog::error("rpc: method {} threw: {}", method, e.what());
    return fail(RpcError{kRpcInternalError, "internal error in " + method + ": " + e.what()});
  } catch (...) {
    spdlog::error("rpc: method {} threw a non-standard exception", method);
    return fail(RpcError{kRpcInternalError, "internal error in " + method});
  }
}

std::optional<json::value> RpcDispatcher::handle_one(const json::value& request) const {
  const json::object* req = request.if_object();
  if (req == nullptr)
    return error_response(kRpcInvalidRequest, "invalid request: expected a JSON object", nullptr);

  // The id decides whether this is a notification; an id that cannot be echoed exactly is
  // answered with id null (as JSON-RPC 2.0 says for an id that cannot be used).
  const json::value* id = req->if_contains("id");
  if (id != nullptr && !id->is_string() && !id->is_number() && !id->is_null())
    return error_response(kRpcInvalidRequest,
                          "invalid request: \"id\" must be a string, a number or null", nullptr);
  if (id != nullptr && id->is_double() && !exact_double(id->get_double()))
    return error_response(kRpcInvalidRequest,
                          "invalid request: a numeric \"id\" must be finite and within +-2^53, "
                          "so that it is echoed exactly; use an integer or a string",
                          nullptr);
  json::value reply_id = id != nullptr ? *id : json::value(nullptr);

  auto invalid = [&](std::string_view why) -> std::optional<json::value> {
    if (id == nullptr) return std::nullopt;  // notifications are never answered
    return error_response(kRpcInvalidRequest, why, reply_id);
  };
  if (const json::value* v = req->if_contains("jsonrpc")) {
    const json::string* s = v->if_string();
    if (s == nullptr || (*s != "2.0" && *s != "1.0"))
      return invalid("invalid request: \"jsonrpc\" must be \"2.0\"");
  }
  const json::value* method = req->if_contains("method");
  if (method == nullptr || !method->is_string())
    return invalid("invalid request: \"method\" must be a string");
  static const json::value kNoParams = json::array();
  const json::value* params = req->if_contains("params");
  if (params == nullptr) params = &kNoParams;
  if (!params->is_array() && !params->is_object())
    return invalid("invalid request: \"params\" must be an array or an object");
  if (!finite_numbers(*params)) {
    if (id == nullptr) return std::nullopt;
    return error_response(kRpcInvalidParams,
                          "invalid params: a number is out of range (beyond a double's)", reply_id);
  }

  RpcResult result = call(std::string(method->get_string()), *params);
  if (id == nullptr) return std::nullopt;
  if (!result) return error_response(result.error().code, result.error().message, reply_id);
  return success_response(std::move(result).value(), reply_id);
}

std::optional<std::string> RpcDispatcher::handle(std::string_view body) const {
  try {
    json::error_code ec;
    json::parse_options opts;
    opts.max_depth = kRpcMaxJsonDepth;
    json::value doc = json::parse(body, ec, {}, opts);
    if (ec) return error_body(kRpcParseError, "parse error: " + ec.message());

    if (const json::array* batch = doc.if_array()) {
      if (batch->empty()) return error_body(kRpcInvalidRequest, "invalid request: empty batch");
      if (batch->size() > kRpcMaxBatchRequests)
        return error_body(kRpcInvalidRequest,
                          "invalid request: batch of " + std::to_string(batch->size()) +
                              " requests; at most " + std::to_string(kRpcMaxBatchRequests));
      json::array responses;
      for (const json::value& request : *batch)
        if (auto r = handle_one(request)) responses.push_back(std::move(*r));
      if (responses.empty()) return std::nullopt;
      return json::serialize(responses);
    }
    auto r = handle_one(doc);
    if (!r) return std::nullopt;
    return json::serialize(*r);
  } catch (const std::exception& e) {
    // Only allocation failure can get here (handlers' exceptions are caught in call()).
    spdlog::error("rpc: dispatch failed: {}", e.what());
    return error_body(kRpcInternalError, std::string("internal error: ") + e.what());
  }
}

}  // namespace hearsay
