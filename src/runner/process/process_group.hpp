// process_group.hpp - start, watch and stop a whole process tree (a task's entry point, pip).
//
// Protocol: Start() forks a child that makes itself the leader of a new process group, asks the
// kernel to SIGKILL it when its parent dies, points stdin at /dev/null and stdout/stderr at
// pipes, closes every other descriptor and execs the program with exactly the given
// environment. An exec failure comes back through a close-on-exec status pipe as an Error.
// While it runs, the caller drains output_fd() (PumpOutput) and polls TryWait(); Terminate()
// stops it: SIGTERM to the group, a grace period, then SIGKILL to the group. Whenever the
// leader has exited, the whole group is SIGKILLed before the leader is reaped (the leader's
// zombie keeps the group id from being reused), so no member of the group outlives it.
//
// Limits: a descendant that calls setsid() or setpgid() leaves the group and escapes the group
// kill; a process that owns all its children (the task runner) can catch those too with
// BecomeSubreaper() at start-up and ReapOrphans() after the task. The death signal fires when
// the *thread* that called Start() exits, so start children from long-lived threads (the
// blocking pool), never from short-lived ones.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace mltf::runner {

/// What to run and how.
struct ProcessSpec {
  /// The program and its arguments; argv[0] without a '/' is searched in the PATH of
  /// `environment` (not of this process).
  std::vector<std::string> argv;
  /// The COMPLETE environment of the child: nothing of this process's environment is passed.
  std::map<std::string, std::string> environment;
  /// Where the child starts; empty keeps this process's working directory.
  std::filesystem::path working_directory;
  /// True sends stderr to the same pipe as stdout (in order); false gives it its own pipe.
  bool merge_stderr = true;
  /// Give the child a pipe as stdin (input_fd()); otherwise stdin is /dev/null.
  bool input_pipe = false;
};

/// How a process ended.
struct ExitStatus {
  /// The exit code, or 128 + the signal number when a signal ended it, as a shell reports it.
  int exit_code = 0;
  /// The signal that ended the process, if one did.
  std::optional<int> signal;
  /// True when Terminate() had to SIGKILL because the grace period ran out.
  bool timed_out_grace = false;

  /// "exit code 3" or "killed by signal 9 (SIGKILL)". Does not fail.
  [[nodiscard]] std::string Describe() const;
  /// True for exit code 0 without a signal.
  [[nodiscard]] bool Succeeded() const { return exit_code == 0 && !signal; }
};

/// A running (or finished, not yet destroyed) child and its process group.
///
/// Movable, not copyable. Destroying one whose child has not been reaped SIGKILLs the group
/// and reaps the leader, so no zombie or stray group is left. Not thread-safe: one owner
/// waits and signals.
class ProcessGroup {
 public:
  /// Starts `spec`. Fails with INVALID_PARAMETER_VALUE ("cannot run 'x': No such file or
  /// directory") when the program cannot be found or executed, or the working directory
  /// cannot be entered, and with INTERNAL_ERROR when pipes or fork fail.
  static Result<ProcessGroup> Start(const ProcessSpec& spec);

  ProcessGroup(ProcessGroup&& other) noexcept;
  ProcessGroup& operator=(ProcessGroup&& other) noexcept;
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;
  ~ProcessGroup();

  /// The leader's pid, which is also the process group id.
  [[nodiscard]] pid_t pid() const { return pid_; }
  /// Read end (non-blocking) of the stdout pipe (stdout and stderr when merged).
  [[nodiscard]] int output_fd() const { return output_fd_; }
  /// Read end (non-blocking) of the stderr pipe, or -1 when stderr is merged into stdout.
  [[nodiscard]] int error_fd() const { return error_fd_; }
  /// Write end (blocking) of the stdin pipe, or -1 unless ProcessSpec::input_pipe was set.
  [[nodiscard]] int input_fd() const { return input_fd_; }
  /// Closes the write end of the stdin pipe: the child reads end of file. Idempotent.
  void CloseInput();

  /// Sends `sig` to every process of the group. Does nothing once the leader is reaped.
  void Signal(int sig);
  /// The exit status if the leader has exited (then the group is killed and the leader
  /// reaped); nullopt while it runs. Does not block.
  std::optional<ExitStatus> TryWait();
  /// Blocks until the leader exits, then kills the rest of the group and reaps the leader.
  ExitStatus Wait();
  /// SIGTERM to the group, up to `grace` for the leader to exit, then SIGKILL to the group.
  /// Returns at once if it has already exited. `timed_out_grace` says whether SIGKILL was
  /// needed.
  ExitStatus Terminate(std::chrono::milliseconds grace);

  /// Closes the parent's ends of the output pipes (e.g. after EOF). Idempotent.
  void CloseOutput();

 private:
  ProcessGroup(pid_t pid, int output_fd, int error_fd, int input_fd);
  // Kills the group and reaps the leader, whose exit was seen with WNOWAIT.
  ExitStatus Reap();
  void Release();

  pid_t pid_ = -1;
  int output_fd_ = -1;
  int error_fd_ = -1;
  int input_fd_ = -1;
  std::optional<ExitStatus> status_;
};

/// Makes this process the subreaper of its descendants (PR_SET_CHILD_SUBREAPER): orphans,
/// including those that left their process group, are re-parented to it instead of init.
/// Fails with INTERNAL_ERROR if the kernel refuses.
Result<void> BecomeSubreaper();

/// SIGKILLs and reaps every remaining child of this process, repeatedly, until none is left
/// (killing one may re-parent its own children to us when we are a subreaper). Only for a
/// process that owns all its children, such as the task runner: in the server it would kill
/// other tasks' processes. Returns how many processes were reaped. Does not fail.
int ReapOrphans();

/// Splits a byte stream into lines (without the '\n'; a "\r\n" ending loses its '\r' too).
/// A line longer than `max_line_bytes` is delivered in pieces of that size, so a child that
/// prints megabytes without a newline cannot make us buffer them. Not thread-safe.
class LineReader {
 public:
  /// 64 KiB: longer than any sensible log line, small enough to keep per stream.
  static constexpr std::size_t kDefaultMaxLineBytes = std::size_t{64} * 1024;

  explicit LineReader(std::function<void(std::string_view line)> on_line,
                      std::size_t max_line_bytes = kDefaultMaxLineBytes);

  /// Adds bytes; calls on_line for each complete (or overlong) line.
  void Feed(std::string_view bytes);
  /// Delivers the unterminated last line, if any (at end of stream).
  void Finish();

 private:
  std::function<void(std::string_view)> on_line_;
  std::size_t max_line_bytes_;
  std::string pending_;
};

/// Waits up to `timeout` for `fd` (non-blocking) to become readable, then reads all it has,
/// passing each chunk to `on_bytes`. Returns true at end of stream, false when the time ran
/// out or the available bytes were read. Fails with INTERNAL_ERROR on a read or poll error.
Result<bool> PumpOutputFor(int fd, std::chrono::milliseconds timeout,
                           const std::function<void(std::string_view bytes)>& on_bytes);

/// Reads `fd` until end of stream or until `stop` is requested (checked every 100 ms), passing
/// raw chunks to `on_bytes` (may be empty) and lines to `on_line` (may be empty). Returns true
/// at end of stream, false when stopped. Fails with INTERNAL_ERROR on a read error.
Result<bool> PumpOutput(int fd, const std::function<void(std::string_view bytes)>& on_bytes,
                        const std::function<void(std::string_view line)>& on_line,
                        const std::stop_token& stop = {});

/// Runs `spec` (stderr merged) to completion, passing each output line to `on_line`. After
/// `timeout` the group is terminated (5 s grace) and the call fails with
/// TEMPORARILY_UNAVAILABLE; a start failure is returned as Start() reports it. A non-zero exit
/// is not an error: the caller reads the status.
Result<ExitStatus> RunProcess(ProcessSpec spec,
                              const std::function<void(std::string_view line)>& on_line,
                              std::chrono::milliseconds timeout);

}  // namespace mltf::runner
