// job_table.hpp - batched polling: the arguments of one squeue/sacct call for every live job,
// and parsers of their output into one record per job. Pure: runs nothing.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "gateway/executors/slurm/job_state.hpp"

namespace mltf::gateway::executors::slurm {

/// squeue's --format, read by ParseSqueue.
inline constexpr std::string_view kSqueueFormat = "%i|%T|%r|%N";
/// sacct's --format, read by ParseSacct (with --parsable2).
inline constexpr std::string_view kSacctFormat =
    "JobID,State,ExitCode,DerivedExitCode,Reason,NodeList,Start,End";

/// The latest known state of one job.
struct SlurmJobRecord {
  std::string job_id;
  SlurmJobPhase phase = SlurmJobPhase::UNKNOWN;
  std::string state;  ///< as printed, e.g. "CANCELLED by 0"
  std::string reason;
  std::string node_list;
  std::string exit_code;          ///< sacct only, e.g. "3:0"
  std::string derived_exit_code;  ///< sacct only
  std::string start;              ///< sacct only, e.g. "2024-05-01T10:00:00" or "Unknown"
  std::string end;                ///< sacct only
  /// Phases of the earlier attempts of a requeued job (sacct --duplicates), oldest first.
  std::vector<SlurmJobPhase> earlier_phases;

  /// What the record means for the attempt (OutcomeOf its phase and exit codes).
  [[nodiscard]] JobOutcome outcome() const;
};

/// Every job found in one poll, and how many lines could not be read.
struct SlurmJobTable {
  std::map<std::string, SlurmJobRecord> jobs;
  /// Lines that were neither a job nor a job step (wrong field count, no job id): skipped.
  std::size_t skipped_lines = 0;
};

/// Whether `text` is a SLURM job id: digits, optionally with an array index ("123_4") or a
/// het-job offset ("123+0"). Steps ("123.batch") are not job ids. Does not fail.
bool IsSlurmJobId(std::string_view text);

/// The ids as squeue's and sacct's --jobs want them: "1,2,3", duplicates removed, in first-seen
/// order. Ids that are not SLURM job ids are left out (they never come from sbatch). Does not
/// fail.
std::string JobIdList(const std::vector<std::string>& job_ids);

/// `squeue` arguments after the program name that list `job_ids` in kSqueueFormat, finished
/// jobs included while slurmctld remembers them. Does not fail.
std::vector<std::string> SqueueArguments(const std::vector<std::string>& job_ids);

/// `sacct` arguments after the program name that list every attempt of `job_ids` in
/// kSacctFormat. Does not fail.
std::vector<std::string> SacctArguments(const std::vector<std::string>& job_ids);

/// Reads `squeue --noheader --format=%i|%T|%r|%N` output. Does not fail: unreadable lines are
/// counted in skipped_lines; blank lines are ignored.
SlurmJobTable ParseSqueue(std::string_view output);

/// Reads `sacct --noheader --parsable2 --duplicates --format=<kSacctFormat>` output: the
/// allocation line of each job is kept (steps such as "123.batch", "123.extern", "123.0" are
/// passed over), and of several rows for one job (a requeued job) the last one, the others'
/// phases going to earlier_phases. Does not fail: unreadable lines are counted in
/// skipped_lines.
SlurmJobTable ParseSacct(std::string_view output);

/// What `sbatch --parsable` printed.
struct SubmittedJob {
  std::string job_id;
  std::string cluster;  ///< empty unless the output was "<id>;<cluster>"
};

/// Reads `sbatch --parsable` output ("123\n" or "123;cluster"), taking its last non-blank line.
/// Fails with INTERNAL_ERROR quoting the output when it holds no job id.
Result<SubmittedJob> ParseSbatchOutput(std::string_view output);

}  // namespace mltf::gateway::executors::slurm
