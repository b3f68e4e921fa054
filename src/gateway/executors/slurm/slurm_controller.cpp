// slurm_controller.cpp - the SLURM operations through SLURM's client programs.
#include "gateway/executors/slurm/slurm_controller.hpp"

#include <fmt/format.h>

namespace mltf::gateway::executors::slurm {
namespace {

std::string FirstLine(std::string_view text) {
  while (!text.empty() && (text.front() == '\n' || text.front() == ' ')) text.remove_prefix(1);
  return std::string(text.substr(0, text.find('\n')));
}

/// What a failed program printed (or why it could not run), for messages.
std::string Complaint(const Result<CommandOutput>& output) {
  if (!output) return output.error().message;
  return fmt::format("exited {}: {}", output->exit_code, FirstLine(output->err));
}

}  // namespace

bool IsTransientSlurmError(std::string_view error) {
  for (const std::string_view transient :
       {"Unable to contact slurm controller", "Socket timed out", "temporarily unable",
        "Resource temporarily unavailable", "try again"}) {
    if (error.find(transient) != std::string_view::npos) return true;
  }
  return false;
}

CommandSlurmController::CommandSlurmController(std::shared_ptr<SlurmCommands> commands)
    : commands_(std::move(commands)) {}

Result<void> CommandSlurmController::CheckJob(const BatchJob& /*job*/) const {
  return {};  // sbatch reads the script's own #SBATCH lines: everything passes
}

Result<std::string> CommandSlurmController::Submit(const BatchJob& /*job*/,
                                                   const std::filesystem::path& script_path) {
  std::vector<std::string> arguments = SbatchArguments();
  arguments.push_back(script_path.string());
  auto output = commands_->Run("sbatch", arguments);
  if (output && output->exit_code == 0) {
    MLTF_ASSIGN_OR_RETURN(submitted, ParseSbatchOutput(output->out));
    return std::move(submitted.job_id);
  }
  const std::string error = output ? FirstLine(output->err) : output.error().message;
  std::string message = fmt::format("sbatch refused the job: {}", error);
  if (IsTransientSlurmError(error)) return Fail(Error::Unavailable(std::move(message)));
  return Fail(Error::InvalidParameter(std::move(message)));
}

Result<SlurmJobTable> CommandSlurmController::Queue(const std::vector<std::string>& job_ids) {
  auto output = commands_->Run("squeue", SqueueArguments(job_ids));
  if (output && output->exit_code == 0) return ParseSqueue(output->out);
  if (output && output->err.find("Invalid job id") != std::string::npos) {
    return SlurmJobTable{};  // none of the jobs is known to slurmctld any more
  }
  return Fail(Error::Unavailable(fmt::format("squeue failed: {}", Complaint(output))));
}

Result<SlurmJobTable> CommandSlurmController::Accounting(const std::vector<std::string>& job_ids) {
  auto output = commands_->Run("sacct", SacctArguments(job_ids));
  if (output && output->exit_code == 0) return ParseSacct(output->out);
  return Fail(Error::Unavailable(fmt::format("sacct failed: {}", Complaint(output))));
}

Result<void> CommandSlurmController::Terminate(const std::string& job_id) {
  // Only the batch shell: the runner (or the script's trap) passes it on to the entry point.
  return Scancel({"--batch", "--signal=TERM", job_id});
}

Result<void> CommandSlurmController::Cancel(const std::string& job_id) { return Scancel({job_id}); }

Result<void> CommandSlurmController::Scancel(std::vector<std::string> arguments) {
  auto output = commands_->Run("scancel", arguments);
  if (output && output->exit_code == 0) return {};
  return Fail(Error::Unavailable(
      fmt::format("scancel {} {}", fmt::join(arguments, " "), Complaint(output))));
}

}  // namespace mltf::gateway::executors::slurm
