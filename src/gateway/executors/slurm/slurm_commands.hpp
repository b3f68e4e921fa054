// slurm_commands.hpp - how the SLURM executor runs SLURM's client programs (sbatch, squeue,
// sacct, scancel): a seam, so the executor's logic can be tested against a scripted cluster and
// runs against a real one through child processes.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace mltf::gateway::executors::slurm {

/// What a finished command printed and how it ended.
struct CommandOutput {
  int exit_code = 0;
  std::string out;
  std::string err;
};

class SlurmCommands {
 public:
  virtual ~SlurmCommands() = default;
  /// Runs `program` ("sbatch", "squeue", "sacct", "scancel") with `arguments` to its end. A
  /// non-zero exit is not an error (the caller reads the output); fails when the program cannot
  /// be started or does not end within the timeout. Called from several threads at once.
  virtual Result<CommandOutput> Run(std::string_view program,
                                    const std::vector<std::string>& arguments) = 0;
};

/// Runs the programs as child processes: from `bin_dir` when it is set, else found in the PATH
/// of `environment`, which is their complete environment (SLURM_CONF, PATH, HOME: nothing of the
/// server's secrets).
class ProcessSlurmCommands final : public SlurmCommands {
 public:
  ProcessSlurmCommands(std::filesystem::path bin_dir,
                       std::map<std::string, std::string> environment,
                       std::chrono::milliseconds timeout);
  Result<CommandOutput> Run(std::string_view program,
                            const std::vector<std::string>& arguments) override;

 private:
  std::filesystem::path bin_dir_;
  std::map<std::string, std::string> environment_;
  std::chrono::milliseconds timeout_;
};

}  // namespace mltf::gateway::executors::slurm
