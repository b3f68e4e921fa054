// task_runner.hpp - `mltf run-task`: runs one attempt of a task wherever an executor started it.
//
// Protocol: read the attempt file; append a header to the task log; unpack the project snapshot
// into a fresh work directory; build or reuse the environment; start the entry point with
// /bin/sh in its own process group, with MLFLOW_* / MLTF_* / CUDA_VISIBLE_DEVICES set; announce
// that it runs on stdout (RunningAnnouncement; the local executor listens); copy the entry
// point's output into the task log and turn lines matching the task's metric patterns into
// metrics; on SIGTERM or SIGINT forward SIGTERM to the entry point's group and SIGKILL it after
// the grace period;
// upload the output directory and the log as run artifacts; write the result file and exit
// with the entry point's exit code.
#pragma once

#include <filesystem>

namespace mltf::runner {

/// Runs the attempt described by `attempt_file` and returns the process exit code: the entry
/// point's (128 + signal when it was killed), or 1 when the attempt could not start (unpacking
/// or the environment failed; the result file and the task log say why), or 2 when the attempt
/// file itself is unusable (then only stderr says why). Blocks SIGTERM, SIGINT and SIGUSR1 in
/// the calling thread; call it from the main thread of a process of its own.
int RunTask(const std::filesystem::path& attempt_file);

}  // namespace mltf::runner
