// attempt_description.hpp - everything `mltf run-task` needs to run one attempt, as a JSON file
// the service writes into the attempt's directory and the runner reads, wherever it runs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "gateway/envs/env_builder.hpp"

namespace mltf::gateway::executors {

struct AttemptDescription {
  std::string task_id;
  int attempt = 1;
  std::string run_id;
  std::string experiment_id;
  std::string artifact_uri;  ///< the run's, e.g. mlflow-artifacts:/1/<run>/artifacts
  std::string tracking_uri;  ///< the server, as the runner reaches it
  std::filesystem::path project_archive;
  std::string command;          ///< the rendered entry point, for /bin/sh -c
  std::string env_manager;      ///< local | virtualenv
  std::string python_env_file;  ///< inside the project; empty: none
  /// How the runner builds environments: the operator's settings, passed through.
  envs::EnvironmentOptions environment_settings;
  nlohmann::json metric_patterns = nlohmann::json::array();
  std::optional<std::int64_t> seed;
  /// Extra variables from the resource request (`environment: ["K=V"]`).
  std::vector<std::pair<std::string, std::string>> environment;
  std::filesystem::path work_dir;        ///< the unpacked project (fresh per attempt)
  std::filesystem::path output_dir;      ///< MLTF_OUTPUT_DIR, uploaded as artifacts
  std::filesystem::path checkpoint_dir;  ///< MLTF_CHECKPOINT_DIR, kept across attempts
  std::filesystem::path log_file;        ///< the task log, appended by every attempt
  std::filesystem::path result_file;     ///< where the runner reports the exit status
  std::int64_t grace_ms = 10000;         ///< SIGTERM to SIGKILL for the user's processes
  int nodes = 1;                         ///< runners of the attempt, one per node
  int tasks_per_node = 1;                ///< copies of the entry point each runner starts
  /// How often the runner logs system metrics (CPU, memory, disk, network, GPUs); 0: never.
  std::int64_t system_metrics_interval_ms = 10000;
  /// The task's own token (MLFLOW_TRACKING_TOKEN for the runner and the user's code), which the
  /// runner renews every `token_renew_ms`; empty when the server authenticates nobody. The
  /// attempt file is therefore readable by its owner only.
  std::string tracking_token;
  std::int64_t token_renew_ms = 0;
};

nlohmann::json ToJson(const AttemptDescription& attempt);
/// Fails with INVALID_PARAMETER_VALUE naming a missing or mistyped field, a node or task count
/// below 1, or a negative system metrics interval. `nodes` and `tasks_per_node` may be absent
/// (files of older servers): then 1; `system_metrics_interval_ms` too: then 10000; the token
/// fields too: then none.
Result<AttemptDescription> AttemptFromJson(const nlohmann::json& json);

/// Writes the description atomically (a temporary file renamed into place).
Result<void> WriteAttemptFile(const std::filesystem::path& path, const AttemptDescription& attempt);
Result<AttemptDescription> ReadAttemptFile(const std::filesystem::path& path);

/// What the runner reports when it ends (`result_file`).
struct AttemptResult {
  int exit_code = 0;
  std::string reason;  ///< "exit code 3", "killed by signal 9 (SIGKILL)", "cannot unpack ..."
};
Result<void> WriteAttemptResult(const std::filesystem::path& path, const AttemptResult& result);
/// RESOURCE_DOES_NOT_EXIST when the runner wrote none (it died first).
Result<AttemptResult> ReadAttemptResult(const std::filesystem::path& path);

}  // namespace mltf::gateway::executors
