// The test binaries' report_failure() (testing/check.h): a broken expectation of the shared
// test support is a GoogleTest failure at the line that checked it.
#include <gtest/gtest.h>

#include "testing/check.h"

namespace hearsay::test {

void report_failure(const char* file, int line, const std::string& message) {
  ADD_FAILURE_AT(file, line) << message;
}

void report_fatal_failure(const char* file, int line, const std::string& message) {
  GTEST_FAIL_AT(file, line) << message;
}

}  // namespace hearsay::test
