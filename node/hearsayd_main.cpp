// hearsayd: parse options, start a Node, wait for SIGINT/SIGTERM (or the `stop` RPC), stop.
// SIGHUP reopens the log file (for logrotate) and never stops the node.
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
#include "node/datadir.h"
#include "node/logging.h"
#include "node/node.h"
#include "node/options.h"

using namespace hearsay;

namespace {

// The signals the main thread takes with sigwaitinfo; blocked in every thread.
sigset_t handled_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

// Writes the start-up summary to stdout (the tests and contrib/testnet read it), and one line
// of it to the log.
void report_started(Node& n) {
  const ReloadReport& reload = n.reload_report();
  const NodeConfig& c = n.config();
  const std::string id = to_hex(n.identity());
  std::vector<std::string> lines;
  lines.push_back(std::string("hearsayd ") + kHearsayVersion + " on " + c.network.name);
  lines.push_back("identity " + id +
                  (n.key_created() ? " (new key written to the data directory)" : ""));
  lines.push_back("datadir  " + c.datadir);
  if (auto l = n.listen_address())
    lines.push_back("p2p      " + to_string(*l) + " (peers dial " + id + "@" + to_string(*l) + ")");
  if (auto p = n.rpc_port()) lines.push_back("rpc      " + *c.rpc_host + ":" + std::to_string(*p));
  lines.push_back("mempool  " + std::to_string(reload.reloaded) + " transactions reloaded");
  const ChainInfo chain = n.chain_info();
  lines.push_back("chain    network " + c.network.name + ", genesis " +
                  to_hex(c.network.genesis_id()) + ", tip height " + std::to_string(chain.height) +
                  (c.block_relay.producer_key
                       ? ", producer " + to_hex(c.block_relay.producer_key->public_key())
                       : std::string()));
  for (const std::string& line : lines)
    std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  // One line in the log (on stderr too by default, so not the stdout lines again).
  spdlog::info(
      "hearsayd {} on {} started: identity {}, {} transactions reloaded, tip height {}, "
      "rpc {}",
      kHearsayVersion, c.network.name, id, reload.reloaded, chain.height,
      n.rpc_port() ? *c.rpc_host + ":" + std::to_string(*n.rpc_port()) : "off");
}

// Waits for SIGINT, SIGTERM or the `stop` RPC (a SIGTERM the process sends itself), reopening
// the log file on each SIGHUP meanwhile.
void wait_for_stop(const sigset_t& signals, const std::string& log_file) {
  for (;;) {
    siginfo_t info{};
    const int sig = sigwaitinfo(&signals, &info);
    if (sig == SIGHUP) {
      if (log_file.empty()) {
        spdlog::info("SIGHUP received: no log file to reopen (--log-file none)");
      } else if (Status s = reopen_log_file(); s) {
        spdlog::info("SIGHUP received: log file {} reopened", log_file);
      } else {
        spdlog::error("SIGHUP received: {}; still writing to the file open before", s.message());
      }
    } else if (sig == SIGTERM && info.si_pid == getpid()) {
      spdlog::info("stop requested by RPC: stopping");
      return;
    } else if (sig == SIGINT || sig == SIGTERM) {
      spdlog::info("{} received: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
      return;
    }
  }
}

int run(int argc, char** argv) {
  // Before any thread starts (spdlog's flusher, the node's): every thread inherits this mask,
  // so only the main thread takes these signals, in wait_for_stop.
  const sigset_t signals = handled_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

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
  const std::string log_file = log_file_path(o);
  if (o.log_file.empty()) {  // the default log file lives in the data directory
    if (Status s = ensure_datadir(o.datadir); !s) {
      std::cerr << "hearsayd: " << s.message() << "\n";
      return 1;
    }
  }
  if (Status s = setup_logging(o.log_level, log_file, o.log_stderr); !s) {
    std::cerr << "hearsayd: " << s.message() << "\n";
    return 1;
  }
  auto cfg = node_config_from_options(o);
  if (!cfg) {
    std::cerr << "hearsayd: " << cfg.error() << "\n";
    return 1;
  }
  // The `stop` RPC: a SIGTERM from this process, which wait_for_stop tells from an operator's.
  cfg->on_stop_request = [] { kill(getpid(), SIGTERM); };

  spdlog::info("hearsayd {} starting, data directory {}", kHearsayVersion, o.datadir);
  auto node = Node::start(std::move(*cfg));
  if (!node) {
    // In the log file too; on stderr once.
    spdlog::error("cannot start: {}", node.error());
    if (!o.log_stderr || !spdlog::default_logger()->should_log(spdlog::level::err))
      std::cerr << "hearsayd: " << node.error() << "\n";
    return 1;
  }
  Node& n = **node;
  report_started(n);

  wait_for_stop(signals, log_file);
  n.stop();
  spdlog::info("stopped");
  flush_log();
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
