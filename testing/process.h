// Child processes for the tests that run the real programs (hearsayd, hearsay-cli): spawn with
// output to files, signal, wait with a deadline; the destructor kills what is still running.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "testing/check.h"

extern char** environ;

namespace hearsay::test {

inline std::string bin_path(const std::string& program) {
  return std::string(HEARSAY_BIN_DIR) + "/" + program;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class Process {
 public:
  // Runs `args` (args[0] is the program path) with stdout and stderr appended to the files.
  Process(std::vector<std::string> args, const std::string& out_path, const std::string& err_path)
      : m_out(out_path), m_err(err_path) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    std::vector<char*> argv;
    for (std::string& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = posix_spawn(&m_pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    HEARSAY_EXPECT(rc == 0, "cannot start " + args[0]);
    if (rc != 0) m_pid = 0;
  }
  ~Process() {
    if (running()) {
      ::kill(m_pid, SIGKILL);
      wait(std::chrono::seconds(10));
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  bool running() const { return m_pid > 0 && !m_status; }
  void signal(int sig) {
    if (running()) ::kill(m_pid, sig);
  }
  // The exit status (WEXITSTATUS, or 128 + signal) once it exited within `deadline`.
  std::optional<int> wait(std::chrono::milliseconds deadline) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (running()) {
      int st = 0;
      const pid_t r = waitpid(m_pid, &st, WNOHANG);
      if (r == m_pid) {
        m_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        break;
      }
      if (std::chrono::steady_clock::now() > end) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return m_status;
  }
  std::string out() const { return read_file(m_out); }
  std::string err() const { return read_file(m_err); }

 private:
  pid_t m_pid = 0;
  std::optional<int> m_status;
  std::string m_out, m_err;
};

}  // namespace hearsay::test
