// hearsayd: parse options, start a Node, wait for SIGINT/SIGTERM (or the `stop` RPC), stop.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "crypto/hex.h"
#include "net/address.h"
#include "node/logging.h"
#include "node/node.h"
#include "node/options.h"

using namespace hearsay;

namespace {

int run(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  auto parsed = parse_node_options(args);
  if (!parsed) {
    std::cerr << "hearsayd: " << parsed.error() << "\n";
    return 1;
  }
  if (parsed->outcome != OptionsOutcome::kRun) {
    std::cout << parsed->text;
    if (!parsed->text.empty() && parsed->text.back() != '\n') std::cout << "\n";
    return 0;
  }
  const NodeOptions& o = parsed->options;
  if (Status s = setup_logging(o.log_level, o.log_file); !s) {
    std::cerr << "hearsayd: --log-file: " << s.message() << "\n";
    return 1;
  }
  auto cfg = node_config_from_options(o);
  if (!cfg) {
    std::cerr << "hearsayd: " << cfg.error() << "\n";
    return 1;
  }

  // Every thread the node starts inherits this mask: only the main thread takes the signals.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  cfg->on_stop_request = [] { kill(getpid(), SIGTERM); };

  auto node = Node::start(std::move(*cfg));
  if (!node) {
    std::cerr << "hearsayd: " << node.error() << "\n";
    return 1;
  }
  Node& n = **node;
  const ReloadReport& reload = n.reload_report();
  const NodeConfig& c = n.config();
  std::printf("hearsayd %s on %s\n", kHearsayVersion, c.network.name.c_str());
  std::printf("identity %s%s\n", to_hex(n.identity()).c_str(),
              n.key_created() ? " (new key written to the data directory)" : "");
  std::printf("datadir  %s\n", n.config().datadir.c_str());
  if (auto l = n.listen_address())
    std::printf("p2p      %s (peers dial %s@%s)\n", to_string(*l).c_str(),
                to_hex(n.identity()).c_str(), to_string(*l).c_str());
  if (auto p = n.rpc_port())
    std::printf("rpc      %s:%u\n", n.config().rpc_host->c_str(), unsigned(*p));
  std::printf("mempool  %zu transactions reloaded\n", reload.reloaded);
  const ChainInfo chain = n.chain_info();
  std::printf("chain    network %s, genesis %s, tip height %llu%s\n", c.network.name.c_str(),
              to_hex(c.network.genesis_id()).c_str(), static_cast<unsigned long long>(chain.height),
              c.block_relay.producer_key
                  ? (", producer " + to_hex(c.block_relay.producer_key->public_key())).c_str()
                  : "");
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("{} received: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
  n.stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace

// An exception that escapes the node (one no component could handle, such as memory
// exhaustion) ends the process with its message instead of an unexplained abort.
int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "hearsayd: fatal: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "hearsayd: fatal: unknown exception\n";
  }
  return 1;
}
