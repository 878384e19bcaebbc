// hearsay-cli: see node/cli.h.
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "node/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::ios::sync_with_stdio(false);
  return hearsay::run_cli(args, {std::cout, std::cerr, ::isatty(STDERR_FILENO) == 1});
}
