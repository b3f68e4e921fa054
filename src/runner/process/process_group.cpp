// process_group.cpp - vfork/exec of a process group, its waiting, killing and output reading.
#include "runner/process/process_group.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

namespace mltf::runner {
namespace {

// Used when the child's environment has no PATH (execvp's historical default).
constexpr std::string_view kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

// What the child reports through the status pipe when it fails before or at exec.
enum class ChildStep : int { CHDIR = 1, EXEC = 2, SETUP = 3 };
struct ChildFailure {
  int step;
  int error;
};

std::string ErrnoText(int error) { return std::strerror(error); }  // NOLINT(concurrency-mt-unsafe)

void CloseFd(int& fd) {
  if (fd >= 0) {
    ::close(fd);
    fd = -1;
  }
}

ExitStatus StatusFromWait(int wait_status) {
  ExitStatus status;
  if (WIFSIGNALED(wait_status)) {
    status.signal = WTERMSIG(wait_status);
    status.exit_code = 128 + *status.signal;
  } else {
    status.exit_code = WEXITSTATUS(wait_status);
  }
  return status;
}

// Finds argv[0] as execvp would, but in the child's PATH, so the parent can report a missing
// program before forking (execvp would search the parent's PATH).
Result<std::string> ResolveProgram(const ProcessSpec& spec) {
  const std::string& program = spec.argv.front();
  if (program.empty()) {
    return Fail(Error::InvalidParameter("cannot run '': the program name is empty"));
  }
  if (program.find('/') != std::string::npos) {
    return program;  // exec reports a missing or non-executable file through the status pipe
  }
  auto path_it = spec.environment.find("PATH");
  std::string_view path = path_it != spec.environment.end() ? path_it->second : kDefaultPath;
  int first_error = ENOENT;
  while (true) {
    std::size_t colon = path.find(':');
    std::string_view dir = path.substr(0, colon);
    std::filesystem::path base = dir.empty() ? std::filesystem::path(".") : dir;
    if (!base.is_absolute() && !spec.working_directory.empty()) {
      base = spec.working_directory / base;
    }
    std::string candidate = (base / program).string();
    struct stat info {};
    if (::stat(candidate.c_str(), &info) == 0 && S_ISREG(info.st_mode)) {
      if (::access(candidate.c_str(), X_OK) == 0) {
        return candidate;
      }
      first_error = EACCES;
    }
    if (colon == std::string_view::npos) {
      break;
    }
    path.remove_prefix(colon + 1);
  }
  return Fail(Error::InvalidParameter(
      fmt::format("cannot run '{}': {} (searched PATH)", program, ErrnoText(first_error))));
}

// Everything the child needs, built before vfork: the child may only make system calls, so it
// must not allocate.
struct ExecPlan {
  std::string program;
  std::vector<std::string> env_strings;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::string working_directory;
};

[[noreturn]] void ChildFail(int status_fd, ChildStep step, int error) {
  ChildFailure failure{static_cast<int>(step), error};
  // Best effort: if the write fails the parent sees a lost status and reports exit 127.
  [[maybe_unused]] ssize_t written = ::write(status_fd, &failure, sizeof failure);
  ::_exit(127);
}

// Runs in the child between vfork and exec, on the parent's memory: system calls only, no
// allocation, no return.
[[noreturn]] void RunChild(const ExecPlan& plan, pid_t parent, int stdin_fd, int out_fd, int err_fd,
                           int status_fd) {
  // A new group, so the parent can signal the whole tree with kill(-pid).
  if (::setpgid(0, 0) != 0) {
    ChildFail(status_fd, ChildStep::SETUP, errno);
  }
  // Die with the parent; if it already died before prctl took effect, die now.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) {
    ::_exit(127);
  }
  // Ignored signals and the signal mask survive exec: give the program a clean slate.
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    ::sigaction(sig, &default_action, nullptr);  // fails harmlessly for SIGKILL, SIGSTOP
  }
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  if (::dup2(stdin_fd, STDIN_FILENO) < 0 || ::dup2(out_fd, STDOUT_FILENO) < 0 ||
      ::dup2(err_fd, STDERR_FILENO) < 0) {
    ChildFail(status_fd, ChildStep::SETUP, errno);
  }
  // Every other descriptor (including the status pipe) closes at exec: nothing leaks.
  if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    ChildFail(status_fd, ChildStep::SETUP, errno);
  }
  if (!plan.working_directory.empty() && ::chdir(plan.working_directory.c_str()) != 0) {
    ChildFail(status_fd, ChildStep::CHDIR, errno);
  }
  ::execve(plan.program.c_str(), plan.argv.data(), plan.envp.data());
  ChildFail(status_fd, ChildStep::EXEC, errno);
}

/// What the child of VforkChild needs, in memory the child only reads.
struct ChildSetup {
  const ExecPlan* plan;
  pid_t parent;
  int stdin_fd;
  int out_fd;
  int err_fd;
  int status_fd;
};

// vfork, as posix_spawn does: the child borrows the parent's memory until it execs, so no page
// tables are copied (a fork of a server with many threads and a large address space costs
// milliseconds and TLB shootdowns on every core). The caller blocks every signal first, so that
// no handler of the parent runs in the child before RunChild resets them. A function of its
// own, so that no local of the caller lives across vfork. Returns the child's pid, or -1 with
// errno set.
[[gnu::noinline]] pid_t VforkChild(const ChildSetup& setup) {
  const pid_t pid = ::vfork();
  if (pid == 0) {
    RunChild(*setup.plan, setup.parent, setup.stdin_fd, setup.out_fd, setup.err_fd,
             setup.status_fd);
  }
  return pid;
}

}  // namespace

std::string ExitStatus::Describe() const {
  if (signal) {
    const char* abbrev = ::sigabbrev_np(*signal);
    return fmt::format("killed by signal {} (SIG{})", *signal, abbrev ? abbrev : "?");
  }
  return fmt::format("exit code {}", exit_code);
}

Result<ProcessGroup> ProcessGroup::Start(const ProcessSpec& spec) {
  if (spec.argv.empty()) {
    return Fail(Error::InvalidParameter("cannot run a process without a program (argv is empty)"));
  }
  ExecPlan plan;
  MLTF_ASSIGN_OR_RETURN(program, ResolveProgram(spec));
  plan.program = std::move(program);
  for (const auto& [name, value] : spec.environment) {
    if (name.empty() || name.find('=') != std::string::npos ||
        name.find('\0') != std::string::npos || value.find('\0') != std::string::npos) {
      return Fail(Error::InvalidParameter(
          fmt::format("invalid environment variable name '{}' for '{}'", name, spec.argv[0])));
    }
    plan.env_strings.push_back(fmt::format("{}={}", name, value));
  }
  for (const auto& arg : spec.argv) {
    plan.argv.push_back(const_cast<char*>(arg.c_str()));  // NOLINT: execve's historic signature
  }
  plan.argv.push_back(nullptr);
  for (auto& entry : plan.env_strings) {
    plan.envp.push_back(entry.data());
  }
  plan.envp.push_back(nullptr);
  plan.working_directory = spec.working_directory.string();

  // All descriptors are close-on-exec from birth, so a concurrent fork elsewhere in the
  // process cannot inherit them.
  std::array<int, 2> out{-1, -1};
  std::array<int, 2> err{-1, -1};
  std::array<int, 2> status{-1, -1};
  std::array<int, 2> in{-1, -1};
  int null_fd = -1;
  auto close_all = [&] {
    for (int* fd :
         {&out[0], &out[1], &err[0], &err[1], &status[0], &status[1], &in[0], &in[1], &null_fd}) {
      CloseFd(*fd);
    }
  };
  if (::pipe2(out.data(), O_CLOEXEC) != 0 ||
      (!spec.merge_stderr && ::pipe2(err.data(), O_CLOEXEC) != 0) ||
      ::pipe2(status.data(), O_CLOEXEC) != 0 ||
      (spec.input_pipe && ::pipe2(in.data(), O_CLOEXEC) != 0)) {
    int error = errno;
    close_all();
    return Fail(Error::Internal(fmt::format("cannot create pipes: {}", ErrnoText(error))));
  }
  null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) {
    int error = errno;
    close_all();
    return Fail(Error::Internal(fmt::format("cannot open /dev/null: {}", ErrnoText(error))));
  }

  sigset_t all_signals;
  sigset_t previous_mask;
  ::sigfillset(&all_signals);
  ::pthread_sigmask(SIG_SETMASK, &all_signals, &previous_mask);
  const pid_t pid = VforkChild({.plan = &plan,
                                .parent = ::getpid(),
                                .stdin_fd = spec.input_pipe ? in[0] : null_fd,
                                .out_fd = out[1],
                                .err_fd = spec.merge_stderr ? out[1] : err[1],
                                .status_fd = status[1]});
  const int fork_error = errno;
  ::pthread_sigmask(SIG_SETMASK, &previous_mask, nullptr);
  if (pid < 0) {
    close_all();
    return Fail(Error::Internal(fmt::format("cannot start a process: {}", ErrnoText(fork_error))));
  }
  // Also set the group from the parent, so kill(-pid) works even before the child ran.
  ::setpgid(pid, pid);
  CloseFd(out[1]);
  CloseFd(err[1]);
  CloseFd(status[1]);
  CloseFd(null_fd);
  CloseFd(in[0]);

  ChildFailure failure{};
  ssize_t got = 0;
  do {
    got = ::read(status[0], &failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  CloseFd(status[0]);
  ProcessGroup group(pid, out[0], err[0], in[1]);
  if (got == static_cast<ssize_t>(sizeof failure)) {
    group.Wait();
    std::string reason = ErrnoText(failure.error);
    switch (static_cast<ChildStep>(failure.step)) {
      case ChildStep::CHDIR:
        return Fail(Error::InvalidParameter(
            fmt::format("cannot run '{}': cannot enter working directory '{}': {}", spec.argv[0],
                        plan.working_directory, reason)));
      case ChildStep::EXEC:
        return Fail(
            Error::InvalidParameter(fmt::format("cannot run '{}': {}", spec.argv[0], reason)));
      case ChildStep::SETUP:
        break;
    }
    return Fail(Error::Internal(fmt::format("cannot set up '{}': {}", spec.argv[0], reason)));
  }
  for (int fd : {group.output_fd_, group.error_fd_}) {
    if (fd >= 0) {
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
  }
  return group;
}

ProcessGroup::ProcessGroup(pid_t pid, int output_fd, int error_fd, int input_fd)
    : pid_(pid), output_fd_(output_fd), error_fd_(error_fd), input_fd_(input_fd) {}

ProcessGroup::ProcessGroup(ProcessGroup&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      output_fd_(std::exchange(other.output_fd_, -1)),
      error_fd_(std::exchange(other.error_fd_, -1)),
      input_fd_(std::exchange(other.input_fd_, -1)),
      status_(std::exchange(other.status_, std::nullopt)) {}

ProcessGroup& ProcessGroup::operator=(ProcessGroup&& other) noexcept {
  if (this != &other) {
    Release();
    pid_ = std::exchange(other.pid_, -1);
    output_fd_ = std::exchange(other.output_fd_, -1);
    error_fd_ = std::exchange(other.error_fd_, -1);
    input_fd_ = std::exchange(other.input_fd_, -1);
    status_ = std::exchange(other.status_, std::nullopt);
  }
  return *this;
}

ProcessGroup::~ProcessGroup() { Release(); }

void ProcessGroup::Release() {
  CloseInput();
  if (pid_ > 0 && !status_) {
    ::kill(-pid_, SIGKILL);
    Wait();
  }
  CloseOutput();
  pid_ = -1;
}

void ProcessGroup::CloseInput() { CloseFd(input_fd_); }

void ProcessGroup::CloseOutput() {
  CloseFd(output_fd_);
  CloseFd(error_fd_);
}

void ProcessGroup::Signal(int sig) {
  if (pid_ > 0 && !status_) {
    ::kill(-pid_, sig);
  }
}

ExitStatus ProcessGroup::Reap() {
  // The leader is a zombie now, so its pid (= the group id) cannot be reused yet: the group
  // kill below reaches only our own stragglers.
  ::kill(-pid_, SIGKILL);
  int wait_status = 0;
  pid_t got = 0;
  do {
    got = ::waitpid(pid_, &wait_status, 0);
  } while (got < 0 && errno == EINTR);
  status_ = got == pid_ ? StatusFromWait(wait_status) : ExitStatus{127, std::nullopt, false};
  return *status_;
}

std::optional<ExitStatus> ProcessGroup::TryWait() {
  if (status_ || pid_ <= 0) {
    return status_;
  }
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    return Reap();  // ECHILD: someone else reaped it; Reap() records a lost status
  }
  if (info.si_pid == 0) {
    return std::nullopt;
  }
  return Reap();
}

ExitStatus ProcessGroup::Wait() {
  if (status_ || pid_ <= 0) {
    return status_.value_or(ExitStatus{127, std::nullopt, false});
  }
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT) != 0 &&
         errno == EINTR) {
  }
  return Reap();
}

ExitStatus ProcessGroup::Terminate(std::chrono::milliseconds grace) {
  if (auto done = TryWait()) {
    return *done;
  }
  Signal(SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  auto pause = std::chrono::milliseconds(1);
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto done = TryWait()) {
      return *done;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
  Signal(SIGKILL);
  ExitStatus status = Wait();
  status.timed_out_grace = true;
  status_ = status;
  return status;
}

Result<void> BecomeSubreaper() {
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    return Fail(
        Error::Internal(fmt::format("cannot become a child subreaper: {}", ErrnoText(errno))));
  }
  return {};
}

int ReapOrphans() {
  int reaped = 0;
  // Bounded: each round kills what is there; new orphans appear only from killed parents.
  for (int round = 0; round < 100; ++round) {
    std::vector<pid_t> children;
    std::error_code ec;
    pid_t self = ::getpid();
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
      const std::string name = entry.path().filename().string();
      if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) {
        continue;
      }
      std::ifstream stat_file(entry.path() / "stat");
      std::string line;
      std::getline(stat_file, line);
      // Fields after the command, which is in parentheses and may contain anything.
      std::size_t close = line.rfind(')');
      if (close == std::string::npos) {
        continue;
      }
      std::istringstream fields(line.substr(close + 1));
      char state = 0;
      pid_t ppid = 0;
      fields >> state >> ppid;
      if (ppid == self) {
        children.push_back(static_cast<pid_t>(std::stol(name)));
      }
    }
    if (children.empty()) {
      break;
    }
    for (pid_t child : children) {
      ::kill(child, SIGKILL);
    }
    for (pid_t child : children) {
      while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
      }
      ++reaped;
    }
  }
  return reaped;
}

LineReader::LineReader(std::function<void(std::string_view)> on_line, std::size_t max_line_bytes)
    : on_line_(std::move(on_line)), max_line_bytes_(std::max<std::size_t>(max_line_bytes, 1)) {}

void LineReader::Feed(std::string_view bytes) {
  while (!bytes.empty()) {
    // A full piece is held until the next byte: a newline right after it ends that line, so
    // the lines do not depend on how the bytes were split into reads.
    if (pending_.size() >= max_line_bytes_ && bytes.front() != '\n') {
      on_line_(pending_);
      pending_.clear();
    }
    std::size_t newline = bytes.find('\n');
    std::size_t room = max_line_bytes_ - pending_.size();
    if (newline != std::string_view::npos && newline <= room) {
      std::string_view piece = bytes.substr(0, newline);
      bytes.remove_prefix(newline + 1);
      if (pending_.empty()) {
        if (!piece.empty() && piece.back() == '\r') {
          piece.remove_suffix(1);
        }
        on_line_(piece);
      } else {
        pending_.append(piece);
        if (!pending_.empty() && pending_.back() == '\r') {
          pending_.pop_back();
        }
        on_line_(pending_);
        pending_.clear();
      }
      continue;
    }
    // No newline within the room left: buffer up to the limit (delivered above, or by Finish).
    std::size_t take = std::min(room, bytes.size());
    pending_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
  }
}

void LineReader::Finish() {
  if (!pending_.empty()) {
    on_line_(pending_);
    pending_.clear();
  }
}

Result<bool> PumpOutputFor(int fd, std::chrono::milliseconds timeout,
                           const std::function<void(std::string_view)>& on_bytes) {
  std::array<char, 65536> buffer{};
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd poll_fd{fd, POLLIN, 0};
    int ready = ::poll(&poll_fd, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Fail(Error::Internal(fmt::format("cannot poll process output: {}", ErrnoText(errno))));
    }
    if (ready == 0) {
      return false;
    }
    // Drain what is there (POLLHUP still leaves buffered bytes to read).
    while (true) {
      ssize_t got = ::read(fd, buffer.data(), buffer.size());
      if (got > 0) {
        if (on_bytes) {
          on_bytes(std::string_view(buffer.data(), static_cast<std::size_t>(got)));
        }
        continue;
      }
      if (got == 0) {
        return true;
      }
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return false;  // all there was; the caller decides whether to wait again
      }
      return Fail(Error::Internal(fmt::format("cannot read process output: {}", ErrnoText(errno))));
    }
  }
}

Result<bool> PumpOutput(int fd, const std::function<void(std::string_view)>& on_bytes,
                        const std::function<void(std::string_view)>& on_line,
                        const std::stop_token& stop) {
  LineReader lines([&](std::string_view line) {
    if (on_line) {
      on_line(line);
    }
  });
  auto feed = [&](std::string_view bytes) {
    if (on_bytes) {
      on_bytes(bytes);
    }
    lines.Feed(bytes);
  };
  while (!stop.stop_requested()) {
    MLTF_ASSIGN_OR_RETURN(eof, PumpOutputFor(fd, std::chrono::milliseconds(100), feed));
    if (eof) {
      lines.Finish();
      return true;
    }
  }
  lines.Finish();
  return false;
}

Result<ExitStatus> RunProcess(ProcessSpec spec,
                              const std::function<void(std::string_view)>& on_line,
                              std::chrono::milliseconds timeout) {
  spec.merge_stderr = true;
  MLTF_ASSIGN_OR_RETURN(group, ProcessGroup::Start(spec));
  LineReader lines([&](std::string_view line) {
    if (on_line) {
      on_line(line);
    }
  });
  auto feed = [&](std::string_view bytes) { lines.Feed(bytes); };
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::optional<ExitStatus> status;
  std::chrono::steady_clock::time_point exited_at;
  bool eof = false;
  while (!eof) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      lines.Finish();
      ExitStatus stopped = group.Terminate(std::chrono::seconds(5));
      return Fail(Error::Unavailable(fmt::format(
          "'{}' did not finish within {} s and was stopped ({})", spec.argv[0],
          std::chrono::duration_cast<std::chrono::seconds>(timeout).count(), stopped.Describe())));
    }
    auto slice = std::min(std::chrono::milliseconds(100),
                          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
    MLTF_ASSIGN_OR_RETURN(got_eof, PumpOutputFor(group.output_fd(), slice, feed));
    eof = got_eof;
    if (!status) {
      // Once the leader exits the group is killed, so the pipe closes at once unless a
      // descendant escaped the group and holds it open: give that one second, not forever.
      status = group.TryWait();
      exited_at = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - exited_at > std::chrono::seconds(1)) {
      break;
    }
  }
  lines.Finish();
  if (!status) {
    status = group.Wait();
  }
  return *status;
}

}  // namespace mltf::runner
