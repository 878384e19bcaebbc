// Addresses as net/ handles them: conversion between Asio endpoints and the wire's NetAddress
// (IPv6, IPv4 mapped as ::ffff:a.b.c.d), text forms for the command line and logs, and the
// dial target syntax `[PUBKEY@]host:port`. Parsing is strict and its errors name the input.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/ed25519.h"
#include "crypto/result.h"
#include "p2p/messages.h"

namespace hearsay {

using tcp = boost::asio::ip::tcp;

NetAddress to_net_address(const tcp::endpoint& ep);
tcp::endpoint to_endpoint(const NetAddress& a);
// "1.2.3.4:80" or "[::1]:80".
std::string to_string(const NetAddress& a);
bool is_loopback(const NetAddress& a);
// The address with its port cleared: the key of per-IP caps and IP bans.
NetAddress ip_only(const NetAddress& a);
// The IP alone as text: "1.2.3.4" or "::1" (no port, no brackets).
std::string ip_to_string(const NetAddress& a);
// Ordering for maps keyed by address (ip, then port).
struct NetAddressLess {
  bool operator()(const NetAddress& a, const NetAddress& b) const {
    return a.ip != b.ip ? a.ip < b.ip : a.port < b.port;
  }
};

// A numeric IPv4 address, or an IPv6 address with or without brackets; port 0. "localhost"
// is 127.0.0.1. Errors name the input.
Result<NetAddress, std::string> parse_ip(std::string_view text);

// "host:port" with a numeric IPv4 address, a bracketed IPv6 address, or "localhost".
// Port 0 is allowed (listen on an ephemeral port).
Result<tcp::endpoint, std::string> parse_endpoint(std::string_view text);

struct DialTarget {
  NetAddress address;
  std::optional<PublicKey> identity;  // pinned: the dial fails unless the remote proves it
};
// "PUBKEY@host:port" (64 hex digits) or "host:port".
Result<DialTarget, std::string> parse_dial_target(std::string_view text);

}  // namespace hearsay
