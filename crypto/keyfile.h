// Identity key files.
//
// Format: one line holding the 32-byte Ed25519 seed as 64 hex digits, then a newline.
// Written with mode 0600 through a temporary file and rename, so a crash never leaves a
// half-written key. Every failure names the path and what to do about it.
#pragma once

#include <string>

#include "crypto/ed25519.h"
#include "crypto/result.h"

namespace hearsay {

Result<KeyPair, std::string> load_key_file(const std::string& path);
Status save_key_file(const std::string& path, const KeyPair& key);
// Loads the key at path, or creates it if the file does not exist. *created tells which.
Result<KeyPair, std::string> load_or_create_key_file(const std::string& path, bool* created);

}  // namespace hearsay
