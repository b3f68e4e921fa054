// batch_script.hpp - the sbatch script (and sbatch's arguments) that runs `mltf run-task` for one
// attempt on a SLURM cluster. Pure: builds text, runs nothing.
//
// Every value that reaches the script is either from a closed set, checked against a narrow
// character set, or shell-quoted; nothing may contain a newline or start an option. The checks
// of scheduler::ParseResourceRequest are repeated here, because a ResourceRequest can also be
// built in code and a script is the last place a hostile value could do harm.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "common/shell_text.hpp"
#include "gateway/executors/executor.hpp"
#include "scheduler/resource_request.hpp"

namespace mltf::gateway::executors::slurm {

/// The operator's settings for every batch script.
struct BatchScriptOptions {
  /// The `mltf` binary, on a filesystem the nodes share. Must be absolute.
  std::filesystem::path runner_binary;
  /// Extra `#SBATCH` options written before the task's own (so the task's win where both set
  /// the same option), e.g. "--partition=batch" or "--qos=normal". Each must start with "--"
  /// and contain no whitespace, quotes or control characters.
  std::vector<std::string> operator_sbatch_options;
  /// Variables exported for the collective libraries (NCCL_SOCKET_IFNAME, NCCL_IB_HCA, ...).
  std::map<std::string, std::string> nccl_environment;
  /// For preemptible tasks: how long before the end (preemption or walltime) the runner gets
  /// SIGUSR1 to checkpoint (`--signal=B:USR1@<grace>`). 1 s to 65535 s (SLURM's bounds).
  std::chrono::seconds preempt_grace{60};
  /// Ask SLURM to send the checkpoint signal to the job's steps (`--signal=USR1@<grace>`), not
  /// to its batch shell: for submission through slurmrestd, which cannot ask for `B:` signals.
  /// On one node the runner stays the batch shell, where a cancel's SIGTERM reaches it (srun
  /// would end its step at once), and a preemptible job starts a helper step that passes SIGUSR1
  /// on to it; on several nodes the batch shell leaves both signals to SLURM and srun.
  bool signal_steps = false;
};

/// A batch job as sbatch would be given it: its options (each also an `#SBATCH` line of the
/// script) and the whole script.
struct BatchJob {
  /// "--name=value" or "--flag", the operator's first, in the order of the script's lines.
  std::vector<std::string> options;
  std::string script;
};

/// The batch job for `attempt` with `resources`: `#SBATCH` options (job name, working
/// directory, output appended to the task directory, nodes, tasks, cpus, memory, time,
/// partition, account, GPUs, exclusive, mail, requeue and the checkpoint signal when
/// `preemptible`), `module load` lines, the exported environment, then the runner (`exec`ed on
/// one node; started with `srun` on every node, with MASTER_ADDR/MASTER_PORT, when there are
/// several; see `options.signal_steps`). Fails with INVALID_PARAMETER_VALUE, naming the value, when
/// something cannot be written safely (a newline, a leading '-', a character outside its set, a
/// relative path, `sbatch-script-file` or `exports`, which the facility does not support, an
/// unknown key in `resources.other`, a reserved variable name).
Result<BatchJob> RenderBatchJob(const AttemptRequest& attempt,
                                const scheduler::ResourceRequest& resources, bool preemptible,
                                const BatchScriptOptions& options);

/// The script of RenderBatchJob. Fails as it does.
Result<std::string> RenderBatchScript(const AttemptRequest& attempt,
                                      const scheduler::ResourceRequest& resources, bool preemptible,
                                      const BatchScriptOptions& options);

/// The arguments of `sbatch` after the program name, before the script path: `--parsable` (the
/// output ParseSbatchOutput reads) and `--export=NONE`, so the service's own environment (its
/// secrets included) never reaches the job. Does not fail.
std::vector<std::string> SbatchArguments();

/// The `--mem` value for `bytes`: megabytes, rounded up ("100M"). Does not fail.
std::string SlurmMemoryOption(std::uint64_t bytes);

/// The `--time` value for `seconds`: "D-HH:MM:SS". Does not fail.
std::string SlurmTimeOption(std::int64_t seconds);

}  // namespace mltf::gateway::executors::slurm
