#include "node/rpc_help.h"

#include <algorithm>
#include <boost/json.hpp>

namespace hearsay {

namespace json = boost::json;

namespace {

std::string count_text(size_t n) {
  return std::to_string(n) + (n == 1 ? " parameter" : " parameters");
}

size_t required_count(const RpcMethodSpec& spec) {
  return static_cast<size_t>(std::count_if(spec.params.begin(), spec.params.end(),
                                           [](const RpcParam& p) { return p.required; }));
}

std::string param_token(const RpcParam& p) {
  return p.type == "string" ? "\"" + p.name + "\"" : p.name;
}

// "1. blockhash    (string, required) The block's hash."
std::string param_line(size_t index, const RpcParam& p, size_t width) {
  std::string line = std::to_string(index) + ". " + p.name;
  line.append(width + 2 - p.name.size(), ' ');
  line += "(" + p.type + ", " + (p.required ? "required" : "optional");
  if (!p.required && !p.default_value.empty()) line += ", default=" + p.default_value;
  line += ") " + p.description + "\n";
  return line;
}

}  // namespace

std::string usage_line(const RpcMethodSpec& spec) {
  std::string line = spec.name;
  if (spec.any_params) return line + " ( ... )";
  bool open = false;
  for (const RpcParam& p : spec.params) {
    if (!p.required && !open) {
      line += " (";
      open = true;
    }
    line += " " + param_token(p);
  }
  if (open) line += " )";
  return line;
}

std::optional<RpcError> check_param_count(const RpcMethodSpec& spec, const json::value& params) {
  if (spec.any_params) return std::nullopt;
  const std::string see = "; see help " + spec.name;
  size_t got = 0;
  if (const json::object* o = params.if_object()) {
    if (!o->empty())
      return RpcError{kRpcInvalidParams, spec.name +
                                             " takes positional parameters (a JSON array), not "
                                             "named ones (an object): " +
                                             usage_line(spec) + see};
  } else if (const json::array* a = params.if_array()) {
    got = a->size();
  }
  const size_t most = spec.params.size();
  const size_t least = required_count(spec);
  const std::string got_text = " (got " + std::to_string(got) + ")";
  if (got > most && most == 0)
    return RpcError{kRpcInvalidParams, spec.name + " takes no parameters" + got_text + see};
  if (got > most)
    return RpcError{kRpcInvalidParams, spec.name + " takes at most " + count_text(most) + got_text +
                                           ": " + usage_line(spec) + see};
  if (got < least)
    return RpcError{kRpcInvalidParams, spec.name + " needs " + (least < most ? "at least " : "") +
                                           count_text(least) + got_text + ": " + usage_line(spec) +
                                           see};
  return std::nullopt;
}

std::string RpcDispatcher::help_text() const {
  size_t width = 0;
  for (const auto& [name, spec] : m_methods)
    width = std::max(width, name.size());
  std::string text = "Methods (help METHOD shows its parameters, result and an example):\n";
  for (const auto& [name, spec] : m_methods) {
    text += "  " + name;
    text.append(width + 2 - name.size(), ' ');
    text += spec.summary + "\n";
  }
  return text;
}

std::optional<std::string> RpcDispatcher::help_text(std::string_view method) const {
  auto it = m_methods.find(method);
  if (it == m_methods.end()) return std::nullopt;
  const RpcMethodSpec& spec = it->second;
  std::string text = usage_line(spec) + "\n\n" + spec.summary + "\n";
  if (spec.any_params) return text + "\nNo further help: this method takes any parameters.\n";
  text += "\nArguments:";
  if (spec.params.empty()) text += " none";
  text += "\n";
  size_t width = 0;
  for (const RpcParam& p : spec.params)
    width = std::max(width, p.name.size());
  for (size_t i = 0; i < spec.params.size(); ++i)
    text += param_line(i + 1, spec.params[i], width);
  text += "\nResult:\n" + spec.result + "\n";
  if (!spec.example.empty()) text += "\nExample:\n  " + spec.example + "\n";
  return text;
}

RpcResult RpcDispatcher::help(const json::value& params) const {
  const json::array* a = params.if_array();
  if (a == nullptr || a->empty() || a->at(0).is_null()) return json::value(help_text());
  const json::string* name = a->at(0).if_string();
  if (name == nullptr)
    return fail(RpcError{kRpcTypeError, "help: the method name must be a string"});
  auto text = help_text(std::string_view(*name));
  if (!text)
    return fail(RpcError{kRpcMethodNotFound,
                         "help: unknown method '" + std::string(name->data(), name->size()) + "'"});
  return json::value(*text);
}

}  // namespace hearsay
