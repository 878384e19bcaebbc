#include "testing/check.h"

#include <cstdio>
#include <cstdlib>

namespace hearsay::test {

// The default for programs without GoogleTest; the test binaries define a strong override.
__attribute__((weak)) void report_failure(const char* file, int line, const std::string& message) {
  std::fprintf(stderr, "%s:%d: test support check failed: %s\n", file, line, message.c_str());
  std::abort();
}

__attribute__((weak)) void report_fatal_failure(const char* file, int line,
                                                const std::string& message) {
  report_failure(file, line, message);
}

}  // namespace hearsay::test
