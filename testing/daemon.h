// A real hearsayd for the process-level tests: started on ephemeral loopback ports, its
// stdout and stderr in files of a TempDir, reached through its RPC port.
#pragma once

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "node/rpc_client.h"
#include "testing/check.h"
#include "testing/process.h"
#include "testing/test_util.h"
#include "testing/wait.h"

namespace hearsay::test {

// Starts hearsayd on `datadir` (listening on 127.0.0.1 only, logging at `log_level` and
// above) with `extra` options, its output in <dir>/<tag>.out and .err. Returns its RPC port,
// read from the lines it prints once started, or 0 (a test failure showing its stderr) when it
// exited (or printed nothing) first.
inline uint16_t start_daemon(std::unique_ptr<Process>& p, const TempDir& dir,
                             const std::string& datadir, const std::string& tag,
                             const std::vector<std::string>& extra = {},
                             const std::string& log_level = "warn") {
  std::vector<std::string> args{bin_path("hearsayd"), "--datadir",   datadir,
                                "--listen",           "127.0.0.1:0", "--rpc",
                                "127.0.0.1:0",        "--log-level", log_level};
  args.insert(args.end(), extra.begin(), extra.end());
  p = std::make_unique<Process>(args, dir.file(tag + ".out"), dir.file(tag + ".err"));
  uint16_t port = 0;
  wait_until([&] {
    std::istringstream lines(p->out());
    for (std::string line; std::getline(lines, line);)
      if (line.rfind("rpc ", 0) == 0)
        port = static_cast<uint16_t>(std::stoi(line.substr(line.rfind(':') + 1)));
    return port != 0 || !p->running();
  });
  HEARSAY_EXPECT(port != 0, "hearsayd printed no RPC address; stderr: " + p->err());
  return port;
}

// An RPC client of the daemon on `port` (the cookie is read from `datadir`).
inline RpcClient daemon_client(uint16_t port, const std::string& datadir) {
  RpcClientConfig c;
  c.port = port;
  c.datadir = datadir;
  return RpcClient(c);
}

}  // namespace hearsay::test
