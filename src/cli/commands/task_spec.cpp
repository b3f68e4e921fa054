// task_spec.cpp - task spec JSON from flags and backend config files.
#include "cli/commands/task_spec.hpp"

#include <fmt/format.h>

#include <array>
#include <fstream>
#include <iterator>
#include <string_view>

namespace mltf::cli {
namespace {

namespace fs = std::filesystem;

// Keys that never reach the executor: MLflow injects the first six into every backend config
// of `mlflow run --backend`; the old client kept its server URL and token in the same file.
constexpr std::array<std::string_view, 8> kDroppedKeys = {
    "ENV_MANAGER", "SYNCHRONOUS", "DOCKER_ARGS", "STORAGE_DIR",
    "build_image", "docker_auth", "url",         "auth_token"};

// Config files are small; a larger one is a mistake (a data file passed by accident).
constexpr std::uintmax_t kMaxConfigBytes = 1 << 20;

Result<nlohmann::json> ReadJsonObject(const fs::path& file) {
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  if (ec) {
    return Fail(Error::InvalidParameter(
        fmt::format("cannot read backend config {}: {}", file.string(), ec.message())));
  }
  if (size > kMaxConfigBytes) {
    return Fail(Error::InvalidParameter(
        fmt::format("backend config {} is larger than 1 MiB", file.string())));
  }
  std::ifstream in(file, std::ios::binary);
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (!in.good() && !in.eof()) {
    return Fail(
        Error::InvalidParameter(fmt::format("cannot read backend config {}", file.string())));
  }
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return Fail(Error::InvalidParameter(fmt::format(
        "backend config {} must hold a JSON object such as {{\"partition\": \"gpu\", \"gpus\": "
        "1}}",
        file.string())));
  }
  return json;
}

}  // namespace

Result<std::map<std::string, std::string>> ParseParameters(const std::vector<std::string>& values) {
  std::map<std::string, std::string> parameters;
  for (const auto& value : values) {
    const auto equals = value.find('=');
    if (equals == std::string::npos || equals == 0) {
      return Fail(Error::InvalidParameter(
          fmt::format("-P expects key=value (e.g. -P alpha=0.5), got '{}'", value)));
    }
    auto key = value.substr(0, equals);
    if (parameters.contains(key)) {
      return Fail(Error::InvalidParameter(fmt::format("parameter '{}' is given twice", key)));
    }
    parameters.emplace(std::move(key), value.substr(equals + 1));
  }
  return parameters;
}

Result<nlohmann::json> LoadBackendConfig(const fs::path& project_dir,
                                         const std::string& config_file) {
  if (!config_file.empty()) {
    std::error_code ec;
    if (!fs::is_regular_file(config_file, ec)) {
      return Fail(Error::InvalidParameter(
          fmt::format("--backend-config {} is not a readable file", config_file)));
    }
    return ReadJsonObject(config_file);
  }
  for (const char* name : kBackendConfigFiles) {
    const fs::path candidate = project_dir / name;
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return ReadJsonObject(candidate);
  }
  return nlohmann::json::object();
}

Result<nlohmann::json> BuildResources(const nlohmann::json& backend_config,
                                      const std::string& resources_json) {
  nlohmann::json resources = backend_config.is_object() ? backend_config : nlohmann::json::object();
  if (!resources_json.empty()) {
    auto overlay = nlohmann::json::parse(resources_json, nullptr, /*allow_exceptions=*/false);
    if (overlay.is_discarded() || !overlay.is_object()) {
      return Fail(
          Error::InvalidParameter(fmt::format("--resources-json must be a JSON object such as "
                                              "'{{\"gpus\": 1, \"time\": \"01:00:00\"}}', "
                                              "got '{}'",
                                              resources_json)));
    }
    for (auto& [key, value] : overlay.items()) resources[key] = std::move(value);
  }
  for (auto it = resources.begin(); it != resources.end();) {
    const bool dropped = it->is_null() || std::find(kDroppedKeys.begin(), kDroppedKeys.end(),
                                                    it.key()) != kDroppedKeys.end();
    it = dropped ? resources.erase(it) : std::next(it);
  }
  return resources;
}

Result<nlohmann::json> BuildTaskSpec(const SubmitFlags& flags, const std::string& project_sha256,
                                     const nlohmann::json& resources) {
  MLTF_ASSIGN_OR_RETURN(parameters, ParseParameters(flags.parameters));
  if (!flags.experiment_name.empty() && !flags.experiment_id.empty()) {
    return Fail(
        Error::InvalidParameter("give either --experiment-name or --experiment-id, not both"));
  }
  if (!flags.env_manager.empty() && flags.env_manager != "local" &&
      flags.env_manager != "virtualenv") {
    return Fail(Error::InvalidParameter(
        fmt::format("--env-manager must be 'local' or 'virtualenv', got '{}'", flags.env_manager)));
  }
  if (flags.max_retries && *flags.max_retries < 0) {
    return Fail(Error::InvalidParameter(
        fmt::format("--max-retries must be 0 or more, got {}", *flags.max_retries)));
  }
  if (flags.entry_point.empty()) {
    return Fail(Error::InvalidParameter("-e/--entry-point must not be empty"));
  }
  nlohmann::json spec = {
      {"project", project_sha256}, {"entry_point", flags.entry_point}, {"parameters", parameters}};
  if (!flags.experiment_name.empty()) spec["experiment_name"] = flags.experiment_name;
  if (!flags.experiment_id.empty()) spec["experiment_id"] = flags.experiment_id;
  if (!flags.run_name.empty()) spec["run_name"] = flags.run_name;
  if (resources.is_object() && !resources.empty()) spec["resources"] = resources;
  if (!flags.env_manager.empty()) spec["env_manager"] = flags.env_manager;
  if (flags.priority) spec["priority"] = *flags.priority;
  if (flags.max_retries) spec["max_retries"] = *flags.max_retries;
  if (flags.preemptible) spec["preemptible"] = true;
  if (!flags.metric_patterns.empty()) spec["metric_patterns"] = flags.metric_patterns;
  return spec;
}

}  // namespace mltf::cli
