// RPC credentials: the cookie file, HTTP Basic encoding and a constant-time comparison.
//
// Rules (as bitcoind's `.cookie`):
//  - At start, when no --rpc-user/--rpc-password is configured, the daemon writes
//    `<datadir>/.cookie` holding `__cookie__:<64 lower-case hex digits>` (32 bytes from the
//    OS CSPRNG), mode 0600, by writing `<datadir>/.cookie.tmp` and renaming it over the old file,
//    so a reader never sees a half-written cookie. The daemon deletes it at stop.
//  - Whoever can read the file may call the RPC: the file's mode is the access control.
//  - Credentials are compared in constant time (over SHA-256 digests, so the length of the
//    expected secret does not leak through timing either).
// Errors name the path and the fix; nothing here throws.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "crypto/result.h"

namespace hearsay {

inline constexpr std::string_view kCookieFileName = ".cookie";
inline constexpr std::string_view kCookieUser = "__cookie__";
// Random secret in the cookie, bytes (hex-encoded in the file: 64 digits).
inline constexpr size_t kCookieSecretBytes = 32;
// A cookie file larger than this is not ours; refuse to read it (bytes).
inline constexpr size_t kMaxCookieFileBytes = 1024;

std::string cookie_path(const std::string& datadir);

// Writes a fresh cookie file; returns the credential "__cookie__:<hex>".
Result<std::string, std::string> write_cookie_file(const std::string& datadir);
// Reads the credential "user:password" from <datadir>/.cookie (first line, trailing newline and
// carriage return stripped). The error tells the user what to check.
Result<std::string, std::string> read_cookie_file(const std::string& datadir);
// Removes <datadir>/.cookie; a missing file is not an error.
Status delete_cookie_file(const std::string& datadir);

// Base64 (RFC 4648, with padding).
std::string base64_encode(std::string_view data);
// Strict decoding: nullopt on any character outside the alphabet or wrong padding.
std::optional<std::string> base64_decode(std::string_view text);

// "Basic <base64(user:password)>" for an Authorization header.
std::string basic_auth_header(std::string_view credential);
// The "user:password" inside an Authorization header value, nullopt unless it is Basic.
std::optional<std::string> parse_basic_auth(std::string_view header_value);

// Constant-time equality (time depends on neither content nor length of the inputs).
bool credentials_equal(std::string_view a, std::string_view b);

}  // namespace hearsay
