// task_runner.hpp - `mltf run-task`: runs one attempt of a task wherever an executor started it.
//
// Protocol: read the attempt file and place this runner (distributed.hpp): node SLURM_NODEID of
// `nodes`, master MASTER_ADDR:MASTER_PORT (one node: 127.0.0.1 and a free port); when SLURM
// requeued the job (SLURM_RESTART_COUNT=k > 0) this run is attempt N+k, in attempt-(N+k)/.
// Append a header to the task log (node k > 0: task-node<k>.log); unpack the project snapshot
// into a fresh work directory (node k > 0: work-node<k>); build or reuse the environment; start
// `tasks_per_node` copies of the entry point, each with /bin/sh in its own process group, with
// MLFLOW_* / MLTF_* / CUDA_VISIBLE_DEVICES and torchrun's RANK, LOCAL_RANK, WORLD_SIZE,
// LOCAL_WORLD_SIZE, NODE_RANK, GROUP_RANK, MASTER_ADDR, MASTER_PORT set; announce that it runs
// on stdout (RunningAnnouncement; the local executor listens); copy the output into the task
// log (each line marked "[rank R] " when there are several ranks) and turn global rank 0's
// lines matching the task's metric patterns into metrics. On SIGTERM or SIGINT, or when a rank
// fails, SIGTERM every rank's group and SIGKILL them after the grace period; SIGUSR1 is a
// checkpoint request, passed on to every rank's group (the shell traps it, its programs get
// the default action or their handler). At the end node 0 uploads the output directory and the
// environment's lock, every node its log (mltf/task.log, mltf/task-node<k>.log); write the
// result file (node k > 0: result-node<k>.json) and exit with the first failing rank's exit
// code, else 0.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace mltf::runner {

/// Runs the attempt described by `attempt_file` and returns the process exit code: the first
/// failing rank's (128 + signal when it was killed; 0 when all succeeded), or 1 when the
/// attempt could not start (unpacking or the environment failed; the result file and the task
/// log say why), or 2 when the attempt file itself is unusable or this runner cannot place
/// itself (SLURM_NODEID beyond the nodes, no MASTER_ADDR for several nodes; then only stderr
/// says why). Blocks SIGTERM, SIGINT and SIGUSR1 in the calling thread; call it from the main
/// thread of a process of its own.
int RunTask(const std::filesystem::path& attempt_file);

/// The argv that runs an entry point's `command`: /bin/sh -c with SIGUSR1 trapped by the shell,
/// so that a checkpoint request sent to the whole process group reaches the programs that
/// handle it without ending the shell (and with it the group). Does not fail.
std::vector<std::string> EntryPointArgv(const std::string& command);

}  // namespace mltf::runner
