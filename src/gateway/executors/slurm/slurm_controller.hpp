// slurm_controller.hpp - the SLURM operations the executor is built on (submit a batch job, list
// what slurmctld knows of some jobs, read their accounting records, signal, cancel): a seam with
// two ways to talk to SLURM, its client programs (here) and slurmrestd (slurm_rest.hpp). The
// executor's state machine, retries, requeue detection, reattach and cancel grace are the same
// for both.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "gateway/executors/slurm/batch_script.hpp"
#include "gateway/executors/slurm/job_table.hpp"
#include "gateway/executors/slurm/slurm_commands.hpp"

namespace mltf::gateway::executors::slurm {

/// How the executor reaches SLURM. Every method may be called from several threads at once.
class SlurmController {
 public:
  virtual ~SlurmController() = default;

  /// "sbatch" or "slurmrestd", for logs. Does not fail.
  [[nodiscard]] virtual std::string_view name() const = 0;

  /// Whether `job` can be submitted this way, without asking SLURM. Fails with
  /// INVALID_PARAMETER_VALUE naming what cannot be passed on.
  [[nodiscard]] virtual Result<void> CheckJob(const BatchJob& job) const = 0;

  /// Submits `job`, whose script the executor wrote to `script_path`; returns the job id. Fails
  /// with TEMPORARILY_UNAVAILABLE when SLURM could not be asked or was busy (worth another try),
  /// with another code when SLURM refused the job (final). The message quotes SLURM.
  virtual Result<std::string> Submit(const BatchJob& job,
                                     const std::filesystem::path& script_path) = 0;

  /// What slurmctld knows of `job_ids`, finished jobs included while it remembers them; ids it
  /// does not know are absent. A row has an exit code only where the source gives a right one
  /// (then a finished row is final as it stands). Fails when slurmctld could not be asked:
  /// nothing can be concluded then.
  virtual Result<SlurmJobTable> Queue(const std::vector<std::string>& job_ids) = 0;

  /// The accounting records of `job_ids`, for jobs slurmctld no longer shows; ids not (yet)
  /// recorded are absent. Fails when accounting could not be asked.
  virtual Result<SlurmJobTable> Accounting(const std::vector<std::string>& job_ids) = 0;

  /// SIGTERM to the job's payload, which may checkpoint and end; SLURM does not cancel the job.
  /// Fails when SLURM refused (often: the job is ending anyway) or could not be asked.
  virtual Result<void> Terminate(const std::string& job_id) = 0;

  /// Cancels the job (SIGTERM, SIGKILL after SLURM's KillWait); it ends CANCELLED. Fails as
  /// Terminate.
  virtual Result<void> Cancel(const std::string& job_id) = 0;
};

/// SLURM's client programs: `sbatch --parsable --export=NONE <script>`, one `squeue` and one
/// `sacct` call for a list of jobs (job_table.hpp), `scancel --batch --signal=TERM` and `scancel`.
class CommandSlurmController final : public SlurmController {
 public:
  explicit CommandSlurmController(std::shared_ptr<SlurmCommands> commands);

  [[nodiscard]] std::string_view name() const override { return "sbatch"; }
  [[nodiscard]] Result<void> CheckJob(const BatchJob& job) const override;
  Result<std::string> Submit(const BatchJob& job,
                             const std::filesystem::path& script_path) override;
  Result<SlurmJobTable> Queue(const std::vector<std::string>& job_ids) override;
  Result<SlurmJobTable> Accounting(const std::vector<std::string>& job_ids) override;
  Result<void> Terminate(const std::string& job_id) override;
  Result<void> Cancel(const std::string& job_id) override;

 private:
  Result<void> Scancel(std::vector<std::string> arguments);

  std::shared_ptr<SlurmCommands> commands_;
};

/// Whether `error`, as sbatch or slurmctld words it, means "busy or away; try again". Does not
/// fail.
bool IsTransientSlurmError(std::string_view error);

}  // namespace mltf::gateway::executors::slurm
