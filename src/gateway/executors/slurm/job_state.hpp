// job_state.hpp - SLURM's job states (squeue, scontrol, sacct spellings) and what each means for
// the attempt: still going, ended with an exit code and a reason, cancelled, or requeued.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mltf::gateway::executors::slurm {

/// The job states MLTF tells apart; several SLURM states fold into one (COMPLETING is RUNNING,
/// STOPPED is SUSPENDED, REQUEUE_HOLD is REQUEUED, ...).
enum class SlurmJobPhase {
  PENDING,
  RUNNING,
  COMPLETED,
  FAILED,
  CANCELLED,
  TIMEOUT,
  OUT_OF_MEMORY,
  NODE_FAIL,
  PREEMPTED,
  REQUEUED,
  BOOT_FAIL,
  DEADLINE,
  SUSPENDED,
  UNKNOWN,
};

/// "PENDING", "RUNNING", ... Does not fail.
std::string_view SlurmJobPhaseName(SlurmJobPhase phase);

/// Reads a state as squeue (long names with %T, short codes with %t), scontrol and sacct print
/// it: "RUNNING", "R", "CANCELLED by 0", "CANCELLED+". Case-insensitive; surrounding blanks are
/// ignored. Truncated names ("OUT_OF_ME+", from sacct without --parsable2) and anything else are
/// UNKNOWN. Does not fail.
SlurmJobPhase ParseSlurmState(std::string_view text);

/// Reads sacct's ExitCode "code:signal": "3:0" gives 3, "0:9" (killed by signal 9) gives 137 as
/// a shell reports it. Empty if the text is not of that form or the signal is not a signal
/// number (sacct shows OUT_OF_MEMORY as "0:125"). Does not fail.
std::optional<int> ParseExitCode(std::string_view text);

/// What became of an attempt.
struct JobOutcome {
  /// The attempt ended (also when it was requeued: the next attempt is a new one).
  bool finished = false;
  /// SLURM requeued the job (preemption, `scontrol requeue`): the task goes on in a new attempt.
  bool requeued = false;
  /// Set whenever `finished` and not `requeued`: the job's own status if it has a nonzero one
  /// (128 + N when signal N killed it), else a stand-in: 143 (SIGTERM) for TIMEOUT, CANCELLED
  /// and DEADLINE, 137 (SIGKILL) for OUT_OF_MEMORY and NODE_FAIL, 1 for FAILED and BOOT_FAIL,
  /// 0 for COMPLETED.
  std::optional<int> exit_code;
  /// In words, for the task's status: "exit code 3", "walltime exceeded", "out of memory", ...
  std::string reason;
  bool cancelled = false;
  /// Must not be retried: a new attempt would end the same way (walltime, memory, deadline).
  bool final = false;
};

/// The outcome of a job in `phase`, with sacct's ExitCode and DerivedExitCode (the highest exit
/// code of its steps; either may be empty, e.g. from squeue). PENDING, RUNNING, SUSPENDED and
/// UNKNOWN are not finished. Does not fail.
JobOutcome OutcomeOf(SlurmJobPhase phase, std::string_view exit_code,
                     std::string_view derived_exit_code);

}  // namespace mltf::gateway::executors::slurm
