// task_spec.hpp - turning the flags of `mltf submit` and a backend config file into the task
// spec JSON of POST /api/mltf/v1/tasks (docs/gateway-api.md). Pure functions, no I/O but
// reading the config file.
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace mltf::cli {

/// The flags of `mltf submit`, as parsed.
struct SubmitFlags {
  std::string dir = ".";
  std::string entry_point = "main";
  std::vector<std::string> parameters;  ///< "key=value", from -P.
  std::string backend_config_file;      ///< --backend-config; empty: look in `dir`.
  std::string resources_json;           ///< --resources-json; overrides the config file.
  std::string experiment_name;
  std::string experiment_id;
  std::string run_name;
  std::string env_manager;  ///< Empty: the server decides.
  std::optional<std::int64_t> priority;
  std::optional<std::int64_t> max_retries;
  /// May be preempted; gets SIGUSR1 as a checkpoint request first.
  bool preemptible = false;
  std::vector<std::string> metric_patterns;
  bool follow = false;
};

/// The backend config files looked for in the project directory, in this order, when no
/// --backend-config is given (the existing MLTF client reads gateway_config.json; its docs
/// still name slurm_config.json).
inline constexpr const char* kBackendConfigFiles[] = {"gateway_config.json", "slurm_config.json"};

/// Parses -P values of the form key=value (the value may hold '=' and be empty). Fails with
/// INVALID_PARAMETER_VALUE naming the expected form for a value without '=' or with an empty
/// key, and for a key given twice.
Result<std::map<std::string, std::string>> ParseParameters(const std::vector<std::string>& values);

/// The backend config: the JSON object in `config_file` when given, else the first of
/// kBackendConfigFiles in `project_dir`, else `{}`. Fails with INVALID_PARAMETER_VALUE naming
/// the file when it is missing (if given), unreadable, not JSON, or not an object.
Result<nlohmann::json> LoadBackendConfig(const std::filesystem::path& project_dir,
                                         const std::string& config_file);

/// The task's `resources`: `backend_config` overlaid with the object in `resources_json` (may
/// be empty), without null values, MLflow's injected backend keys (ENV_MANAGER, SYNCHRONOUS,
/// DOCKER_ARGS, STORAGE_DIR, build_image, docker_auth) and the old client's secrets (url,
/// auth_token). Fails with INVALID_PARAMETER_VALUE when `resources_json` is not a JSON object.
Result<nlohmann::json> BuildResources(const nlohmann::json& backend_config,
                                      const std::string& resources_json);

/// The task spec for `project_sha256` from the flags and `resources`. Fails with
/// INVALID_PARAMETER_VALUE for bad -P values, both --experiment-name and --experiment-id, an
/// unknown --env-manager, or a negative --max-retries.
Result<nlohmann::json> BuildTaskSpec(const SubmitFlags& flags, const std::string& project_sha256,
                                     const nlohmann::json& resources);

}  // namespace mltf::cli
