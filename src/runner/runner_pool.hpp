// runner_pool.hpp - `mltf run-task --serve`: a long-lived runner that forks one child per
// attempt, so an attempt does not pay for loading the binary and its ~50 shared libraries
// (11 ms of CPU, most of a short task's cost) - a zygote, as Android starts its apps.
//
// Protocol, one JSON object per line. The executor writes requests to the pool's stdin:
//   {"attempt_file": "...", "environment": {"CUDA_VISIBLE_DEVICES": "0", ...}}
// The pool forks; the child becomes the leader of a new process group, dies with the pool
// (PR_SET_PDEATHSIG), sets the variables and runs the attempt (RunTask). The pool answers on
// its stdout, each line prefixed with "@mltf " so that other output (a child's own stderr goes
// to the same pipe) is told apart:
//   @mltf {"event": "started", "attempt_file": "...", "pid": 123}
//   @mltf {"event": "failed", "attempt_file": "...", "error": "..."}     (fork failed)
//   @mltf {"event": "exited", "pid": 123, "exit_code": 0, "signal": 0}
// and the children add `@mltf {"event": "running", "attempt_file": "..."}` themselves. Lines are
// written whole and are shorter than PIPE_BUF, so writers sharing the pipe never interleave.
// At end of input the pool waits for its children, reports them, and exits.
#pragma once

#include <filesystem>
#include <functional>

namespace mltf::runner {

/// Serves attempt requests from stdin until it is closed and every child ended; returns the
/// exit code of the pool (0, or 1 when its input or output failed). `run_attempt` runs in each
/// forked child and its result is the child's exit code. Blocks SIGCHLD in the calling thread;
/// call it from the main thread of a process of its own.
int ServeAttempts(const std::function<int(const std::filesystem::path&)>& run_attempt);

/// The line a runner writes on stdout once its entry point runs (for the local executor).
std::string RunningAnnouncement(const std::filesystem::path& attempt_file);

}  // namespace mltf::runner
