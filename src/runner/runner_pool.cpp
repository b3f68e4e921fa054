// runner_pool.cpp - `mltf run-task --serve`: one forked child per attempt (see the header for
// the protocol).
#include "runner/runner_pool.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

namespace mltf::runner {
namespace {

using nlohmann::json;

/// Writes one protocol line with a single write(2), so lines of several writers never mix.
bool Announce(const json& message) {
  const std::string line =
      "@mltf " + message.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  std::string_view rest = line;
  while (!rest.empty()) {
    const ssize_t written = ::write(STDOUT_FILENO, rest.data(), rest.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    rest.remove_prefix(static_cast<std::size_t>(written));
  }
  return true;
}

/// In the forked child: a process group of its own, death with the pool, the attempt's
/// variables, a clean signal state; then the attempt. Never returns.
[[noreturn]] void RunChild(const json& request, pid_t pool, int signal_fd,
                           const std::function<int(const std::filesystem::path&)>& run_attempt) {
  ::close(signal_fd);
  ::setpgid(0, 0);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != pool) ::_exit(127);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
  if (const auto environment = request.find("environment");
      environment != request.end() && environment->is_object()) {
    for (const auto& [name, value] : environment->items()) {
      if (value.is_string()) ::setenv(name.c_str(), value.get<std::string>().c_str(), 1);
    }
  }
  const int code = run_attempt(request.value("attempt_file", ""));
  std::fflush(nullptr);
  ::_exit(code);
}

}  // namespace

std::string RunningAnnouncement(const std::filesystem::path& attempt_file) {
  return "@mltf " + json{{"event", "running"}, {"attempt_file", attempt_file.string()}}.dump();
}

int ServeAttempts(const std::function<int(const std::filesystem::path&)>& run_attempt) {
  sigset_t child_signal;
  ::sigemptyset(&child_signal);
  ::sigaddset(&child_signal, SIGCHLD);
  ::pthread_sigmask(SIG_BLOCK, &child_signal, nullptr);
  const int signal_fd = ::signalfd(-1, &child_signal, SFD_CLOEXEC | SFD_NONBLOCK);
  const pid_t pool = ::getpid();
  std::string pending;
  std::array<char, 4096> buffer{};
  bool input_open = true;
  int children = 0;
  while (input_open || children > 0) {
    std::array<pollfd, 2> fds{
        {{.fd = input_open ? STDIN_FILENO : -1, .events = POLLIN, .revents = 0},
         {.fd = signal_fd, .events = POLLIN, .revents = 0}}};
    if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) return 1;
    if ((fds[1].revents & POLLIN) != 0) {
      signalfd_siginfo info{};
      while (::read(signal_fd, &info, sizeof info) == sizeof info) {
      }
    }
    // On every wake-up: one SIGCHLD may stand for several exits.
    while (true) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      --children;
      const int signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
      const int exit_code = signal != 0 ? 128 + signal : WEXITSTATUS(status);
      if (!Announce(
              {{"event", "exited"}, {"pid", pid}, {"exit_code", exit_code}, {"signal", signal}})) {
        return 1;
      }
    }
    if (!input_open || (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
    const ssize_t got = ::read(STDIN_FILENO, buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      input_open = false;
      continue;
    }
    pending.append(buffer.data(), static_cast<std::size_t>(got));
    std::size_t newline = 0;
    while ((newline = pending.find('\n')) != std::string::npos) {
      const json request = json::parse(pending.substr(0, newline), nullptr, false);
      pending.erase(0, newline + 1);
      if (!request.is_object() || !request.contains("attempt_file")) continue;
      const std::string attempt_file = request.value("attempt_file", "");
      const pid_t pid = ::fork();
      if (pid == 0) RunChild(request, pool, signal_fd, run_attempt);
      if (pid < 0) {
        if (!Announce({{"event", "failed"},
                       {"attempt_file", attempt_file},
                       {"error", std::strerror(errno)}})) {
          return 1;
        }
        continue;
      }
      ::setpgid(pid, pid);  // also from here, so the group exists before anyone signals it
      ++children;
      if (!Announce({{"event", "started"}, {"attempt_file", attempt_file}, {"pid", pid}})) {
        return 1;
      }
    }
  }
  return 0;
}

}  // namespace mltf::runner
