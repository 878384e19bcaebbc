#include "net/address.h"

#include <charconv>

#include "crypto/hex.h"

namespace hearsay {

namespace ip = boost::asio::ip;

NetAddress to_net_address(const tcp::endpoint& ep) {
  NetAddress a;
  ip::address addr = ep.address();
  ip::address_v6 v6 =
      addr.is_v4() ? ip::make_address_v6(ip::v4_mapped, addr.to_v4()) : addr.to_v6();
  a.ip = v6.to_bytes();
  a.port = ep.port();
  return a;
}

tcp::endpoint to_endpoint(const NetAddress& a) {
  ip::address_v6 v6(a.ip);
  if (v6.is_v4_mapped()) return {ip::make_address_v4(ip::v4_mapped, v6), a.port};
  return {v6, a.port};
}

std::string to_string(const NetAddress& a) {
  tcp::endpoint ep = to_endpoint(a);
  if (ep.address().is_v4()) return ep.address().to_string() + ":" + std::to_string(a.port);
  return "[" + ep.address().to_string() + "]:" + std::to_string(a.port);
}

bool is_loopback(const NetAddress& a) {
  return to_endpoint(a).address().is_loopback();
}

NetAddress ip_only(const NetAddress& a) {
  NetAddress out = a;
  out.port = 0;
  return out;
}

std::string ip_to_string(const NetAddress& a) {
  return to_endpoint(a).address().to_string();
}

Result<NetAddress, std::string> parse_ip(std::string_view text) {
  std::string_view host = text;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code err;
  ip::address addr = ip::make_address(std::string(host), err);
  if (err)
    return fail("bad IP address '" + std::string(text) +
                "': expected a numeric IPv4 or IPv6 address, e.g. 192.0.2.7 or 2001:db8::7");
  return to_net_address(tcp::endpoint(addr, 0));
}

Result<tcp::endpoint, std::string> parse_endpoint(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return fail("bad address '" + std::string(text) + "': " + why +
                " (expected HOST:PORT, e.g. 127.0.0.1:8333 or [::1]:8333)");
  };
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("no port");
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535)
    return bad("port must be a number from 0 to 65535");
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code err;
  ip::address addr = ip::make_address(std::string(host), err);
  if (err) return bad("host must be a numeric IPv4 or [IPv6] address");
  return tcp::endpoint(addr, static_cast<uint16_t>(port));
}

Result<DialTarget, std::string> parse_dial_target(std::string_view text) {
  DialTarget t;
  size_t at = text.find('@');
  if (at != std::string_view::npos) {
    auto key = from_hex_array<32>(text.substr(0, at));
    if (!key)
      return fail("bad peer '" + std::string(text) +
                  "': the part before '@' must be a public key of 64 hex digits");
    t.identity = *key;
    text = text.substr(at + 1);
  }
  auto ep = parse_endpoint(text);
  if (!ep) return fail(ep.error());
  if (ep->port() == 0)
    return fail("bad peer '" + std::string(text) + "': port 0 cannot be dialled");
  t.address = to_net_address(*ep);
  return t;
}

}  // namespace hearsay
