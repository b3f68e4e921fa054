// attempt_description.cpp - the attempt file between the service and `mltf run-task`.
#include "gateway/executors/attempt_description.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace mltf::gateway::executors {
namespace {

using nlohmann::json;

/// Replaces `path` with `text` at once (a reader sees the old or the new file, never half of
/// one). Not flushed to disk: after a crash the service writes attempt files again, and a result
/// file lost with the machine is an attempt lost with it.
Result<void> WriteFileAtomically(const std::filesystem::path& path, const std::string& text) {
  const auto temporary = path.string() + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Fail(Error::Internal(
        fmt::format("cannot write {}: {}", path.filename().string(), std::strerror(errno))));
  }
  std::string_view rest = text;
  while (!rest.empty()) {
    const ssize_t written = ::write(fd, rest.data(), rest.size());
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) {
      ::close(fd);
      return Fail(Error::Internal(
          fmt::format("cannot write {}: {}", path.filename().string(), std::strerror(errno))));
    }
    rest.remove_prefix(static_cast<std::size_t>(written));
  }
  if (::close(fd) != 0 || ::rename(temporary.c_str(), path.c_str()) != 0) {
    return Fail(Error::Internal(
        fmt::format("cannot write {}: {}", path.filename().string(), std::strerror(errno))));
  }
  return {};
}

Result<json> ReadJsonFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) {
    return Fail(Error::ResourceDoesNotExist(fmt::format("{} does not exist", path.string())));
  }
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = json::parse(text.str(), nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return Fail(Error::InvalidParameter(fmt::format("{} is not a JSON object", path.string())));
  }
  return parsed;
}

template <typename T>
Result<T> Field(const json& object, const char* name) {
  if (!object.contains(name)) {
    return Fail(Error::InvalidParameter(fmt::format("the attempt file lacks '{}'", name)));
  }
  try {
    return object.at(name).get<T>();
  } catch (const json::exception&) {
    return Fail(
        Error::InvalidParameter(fmt::format("the attempt file's '{}' has a wrong type", name)));
  }
}

/// A count of at least 1; absent means 1, as in attempt files written before the field existed.
Result<int> CountField(const json& object, const char* name) {
  if (!object.contains(name)) return 1;
  MLTF_ASSIGN_OR_RETURN(count, Field<int>(object, name));
  if (count < 1) {
    return Fail(Error::InvalidParameter(
        fmt::format("the attempt file's '{}' is {}; it must be at least 1", name, count)));
  }
  return count;
}

}  // namespace

json ToJson(const AttemptDescription& attempt) {
  json environment = json::array();
  for (const auto& [name, value] : attempt.environment) environment.push_back({name, value});
  const auto& settings = attempt.environment_settings;
  json out = {
      {"task_id", attempt.task_id},
      {"attempt", attempt.attempt},
      {"run_id", attempt.run_id},
      {"experiment_id", attempt.experiment_id},
      {"artifact_uri", attempt.artifact_uri},
      {"tracking_uri", attempt.tracking_uri},
      {"project_archive", attempt.project_archive.string()},
      {"command", attempt.command},
      {"env_manager", attempt.env_manager},
      {"python_env_file", attempt.python_env_file},
      {"environment_settings",
       {{"envs_root", settings.envs_root.string()},
        {"python", settings.python},
        {"pip_index_url", settings.pip_index_url},
        {"pip_find_links", settings.pip_find_links},
        {"pip_no_index", settings.pip_no_index},
        {"system_site_packages", settings.system_site_packages}}},
      {"metric_patterns", attempt.metric_patterns},
      {"environment", environment},
      {"work_dir", attempt.work_dir.string()},
      {"output_dir", attempt.output_dir.string()},
      {"checkpoint_dir", attempt.checkpoint_dir.string()},
      {"log_file", attempt.log_file.string()},
      {"result_file", attempt.result_file.string()},
      {"grace_ms", attempt.grace_ms},
      {"nodes", attempt.nodes},
      {"tasks_per_node", attempt.tasks_per_node},
      {"system_metrics_interval_ms", attempt.system_metrics_interval_ms},
      {"tracking_token", attempt.tracking_token},
      {"token_renew_ms", attempt.token_renew_ms},
  };
  if (attempt.seed) out["seed"] = *attempt.seed;
  return out;
}

Result<AttemptDescription> AttemptFromJson(const json& in) {
  AttemptDescription attempt;
  MLTF_ASSIGN_OR_RETURN(task_id, Field<std::string>(in, "task_id"));
  attempt.task_id = std::move(task_id);
  MLTF_ASSIGN_OR_RETURN(number, Field<int>(in, "attempt"));
  attempt.attempt = number;
  MLTF_ASSIGN_OR_RETURN(run_id, Field<std::string>(in, "run_id"));
  attempt.run_id = std::move(run_id);
  MLTF_ASSIGN_OR_RETURN(experiment_id, Field<std::string>(in, "experiment_id"));
  attempt.experiment_id = std::move(experiment_id);
  MLTF_ASSIGN_OR_RETURN(artifact_uri, Field<std::string>(in, "artifact_uri"));
  attempt.artifact_uri = std::move(artifact_uri);
  MLTF_ASSIGN_OR_RETURN(tracking_uri, Field<std::string>(in, "tracking_uri"));
  attempt.tracking_uri = std::move(tracking_uri);
  MLTF_ASSIGN_OR_RETURN(archive, Field<std::string>(in, "project_archive"));
  attempt.project_archive = archive;
  MLTF_ASSIGN_OR_RETURN(command, Field<std::string>(in, "command"));
  attempt.command = std::move(command);
  MLTF_ASSIGN_OR_RETURN(env_manager, Field<std::string>(in, "env_manager"));
  attempt.env_manager = std::move(env_manager);
  MLTF_ASSIGN_OR_RETURN(python_env_file, Field<std::string>(in, "python_env_file"));
  attempt.python_env_file = std::move(python_env_file);
  MLTF_ASSIGN_OR_RETURN(settings, Field<json>(in, "environment_settings"));
  auto& out_settings = attempt.environment_settings;
  MLTF_ASSIGN_OR_RETURN(envs_root, Field<std::string>(settings, "envs_root"));
  out_settings.envs_root = envs_root;
  MLTF_ASSIGN_OR_RETURN(python, Field<std::string>(settings, "python"));
  out_settings.python = std::move(python);
  MLTF_ASSIGN_OR_RETURN(index_url, Field<std::string>(settings, "pip_index_url"));
  out_settings.pip_index_url = std::move(index_url);
  MLTF_ASSIGN_OR_RETURN(find_links, Field<std::vector<std::string>>(settings, "pip_find_links"));
  out_settings.pip_find_links = std::move(find_links);
  MLTF_ASSIGN_OR_RETURN(no_index, Field<bool>(settings, "pip_no_index"));
  out_settings.pip_no_index = no_index;
  MLTF_ASSIGN_OR_RETURN(system_site, Field<bool>(settings, "system_site_packages"));
  out_settings.system_site_packages = system_site;
  MLTF_ASSIGN_OR_RETURN(patterns, Field<json>(in, "metric_patterns"));
  attempt.metric_patterns = std::move(patterns);
  if (in.contains("seed")) {
    MLTF_ASSIGN_OR_RETURN(seed, Field<std::int64_t>(in, "seed"));
    attempt.seed = seed;
  }
  MLTF_ASSIGN_OR_RETURN(
      environment, (Field<std::vector<std::pair<std::string, std::string>>>(in, "environment")));
  attempt.environment = std::move(environment);
  MLTF_ASSIGN_OR_RETURN(work_dir, Field<std::string>(in, "work_dir"));
  attempt.work_dir = work_dir;
  MLTF_ASSIGN_OR_RETURN(output_dir, Field<std::string>(in, "output_dir"));
  attempt.output_dir = output_dir;
  MLTF_ASSIGN_OR_RETURN(checkpoint_dir, Field<std::string>(in, "checkpoint_dir"));
  attempt.checkpoint_dir = checkpoint_dir;
  MLTF_ASSIGN_OR_RETURN(log_file, Field<std::string>(in, "log_file"));
  attempt.log_file = log_file;
  MLTF_ASSIGN_OR_RETURN(result_file, Field<std::string>(in, "result_file"));
  attempt.result_file = result_file;
  MLTF_ASSIGN_OR_RETURN(grace_ms, Field<std::int64_t>(in, "grace_ms"));
  attempt.grace_ms = grace_ms;
  MLTF_ASSIGN_OR_RETURN(nodes, CountField(in, "nodes"));
  attempt.nodes = nodes;
  MLTF_ASSIGN_OR_RETURN(tasks_per_node, CountField(in, "tasks_per_node"));
  attempt.tasks_per_node = tasks_per_node;
  if (in.contains("system_metrics_interval_ms")) {  // absent in files of older servers
    MLTF_ASSIGN_OR_RETURN(interval, Field<std::int64_t>(in, "system_metrics_interval_ms"));
    if (interval < 0) {
      return Fail(Error::InvalidParameter(fmt::format(
          "the attempt file's 'system_metrics_interval_ms' is {}; it must not be negative",
          interval)));
    }
    attempt.system_metrics_interval_ms = interval;
  }
  if (in.contains("tracking_token")) {
    MLTF_ASSIGN_OR_RETURN(token, Field<std::string>(in, "tracking_token"));
    attempt.tracking_token = token;
    MLTF_ASSIGN_OR_RETURN(renew_ms, Field<std::int64_t>(in, "token_renew_ms"));
    attempt.token_renew_ms = renew_ms;
  }
  return attempt;
}

Result<void> WriteAttemptFile(const std::filesystem::path& path,
                              const AttemptDescription& attempt) {
  return WriteFileAtomically(path, ToJson(attempt).dump(2));
}

Result<AttemptDescription> ReadAttemptFile(const std::filesystem::path& path) {
  MLTF_ASSIGN_OR_RETURN(parsed, ReadJsonFile(path));
  return AttemptFromJson(parsed);
}

Result<void> WriteAttemptResult(const std::filesystem::path& path, const AttemptResult& result) {
  return WriteFileAtomically(
      path, json{{"exit_code", result.exit_code}, {"reason", result.reason}}.dump());
}

Result<AttemptResult> ReadAttemptResult(const std::filesystem::path& path) {
  MLTF_ASSIGN_OR_RETURN(parsed, ReadJsonFile(path));
  AttemptResult result;
  MLTF_ASSIGN_OR_RETURN(exit_code, Field<int>(parsed, "exit_code"));
  result.exit_code = exit_code;
  MLTF_ASSIGN_OR_RETURN(reason, Field<std::string>(parsed, "reason"));
  result.reason = std::move(reason);
  return result;
}

}  // namespace mltf::gateway::executors
