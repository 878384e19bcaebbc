// Vocabulary shared by the sans-IO protocol logic.
#pragma once

#include <chrono>
#include <cstdint>

namespace hearsay {

// A connection, numbered by net/ from 1 upwards and never reused within a process.
using PeerId = uint64_t;

// Time as the protocol logic sees it: microseconds since the unix epoch, always handed in by
// the caller (net/ passes the system clock, tests a fake one). p2p/ never reads a clock.
using Time = std::chrono::microseconds;
using Duration = std::chrono::microseconds;

using namespace std::chrono_literals;

}  // namespace hearsay
