// How the shared test support reports a broken expectation without depending on GoogleTest
// (the fuzz targets and benchmarks link it too): HEARSAY_EXPECT(cond, message) calls
// report_failure() when `cond` is false and carries on. In the test binaries report_failure()
// records a non-fatal GoogleTest failure at the caller's file and line
// (tests/support/report_failure.cpp); everywhere else it prints the message and aborts, as a
// fuzz oracle does.
#pragma once

#include <string>

namespace hearsay::test {

void report_failure(const char* file, int line, const std::string& message);
// The same as a fatal failure (what ASSERT_* records): the caller returns at once after it.
void report_fatal_failure(const char* file, int line, const std::string& message);

}  // namespace hearsay::test

#define HEARSAY_EXPECT(cond, message)                                                   \
  do {                                                                                  \
    if (!(cond))                                                                        \
      ::hearsay::test::report_failure(__FILE__, __LINE__,                               \
                                      std::string("expected: " #cond " ") + (message)); \
  } while (0)
