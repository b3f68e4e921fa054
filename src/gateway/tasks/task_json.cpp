// task_json.cpp - tasks as JSON: the submitted spec (checked), stored events, and the API view.
#include "gateway/tasks/task_json.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "gateway/projects/mlproject.hpp"

namespace mltf::gateway::tasks {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxParameters = 1000;
constexpr std::size_t kMaxNameLength = 250;
constexpr std::size_t kMaxValueLength = 6000;  // MLflow's limit for a param value
constexpr int kMaxPriority = 1000;
constexpr int kMaxRetries = 20;

bool IsHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Error Invalid(std::string message) { return Error::InvalidParameter(std::move(message)); }

/// A scalar JSON value as the string MLflow's client would send for it.
Result<std::string> ScalarText(const json& value, std::string_view field) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return std::string(value.get<bool>() ? "True" : "False");
  if (value.is_number_integer()) return value.dump();
  if (value.is_number_float()) {
    // Python's repr of a float keeps the shortest round-trip form; dump() does the same.
    return value.dump();
  }
  return Fail(Invalid(fmt::format("'{}' must be a string or a number", field)));
}

Result<std::string> StringField(const json& body, std::string_view name, std::size_t max_length) {
  const auto& value = body.at(std::string(name));
  if (!value.is_string()) return Fail(Invalid(fmt::format("'{}' must be a string", name)));
  auto text = value.get<std::string>();
  if (text.size() > max_length) {
    return Fail(Invalid(fmt::format("'{}' is longer than {} characters", name, max_length)));
  }
  if (std::any_of(text.begin(), text.end(), [](char c) { return c == '\0'; })) {
    return Fail(Invalid(fmt::format("'{}' contains a NUL character", name)));
  }
  return text;
}

Result<std::int64_t> IntegerField(const json& body, std::string_view name, std::int64_t min,
                                  std::int64_t max) {
  const auto& value = body.at(std::string(name));
  std::int64_t number = 0;
  if (value.is_number_integer()) {
    number = value.get<std::int64_t>();
  } else if (value.is_string()) {
    const auto text = value.get<std::string>();
    std::size_t used = 0;
    try {
      number = std::stoll(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != text.size()) {
      return Fail(Invalid(fmt::format("'{}' must be an integer, got '{}'", name, text)));
    }
  } else {
    return Fail(Invalid(fmt::format("'{}' must be an integer", name)));
  }
  if (number < min || number > max) {
    return Fail(Invalid(fmt::format("'{}' must be between {} and {}", name, min, max)));
  }
  return number;
}

Result<std::map<std::string, std::string>> StringMap(const json& value, std::string_view field) {
  if (!value.is_object()) return Fail(Invalid(fmt::format("'{}' must be an object", field)));
  if (value.size() > kMaxParameters) {
    return Fail(Invalid(fmt::format("'{}' has more than {} entries", field, kMaxParameters)));
  }
  std::map<std::string, std::string> out;
  for (const auto& [key, item] : value.items()) {
    if (key.empty() || key.size() > kMaxNameLength) {
      return Fail(
          Invalid(fmt::format("'{}': a key must have 1 to {} characters", field, kMaxNameLength)));
    }
    MLTF_ASSIGN_OR_RETURN(text, ScalarText(item, fmt::format("{}.{}", field, key)));
    if (text.size() > kMaxValueLength) {
      return Fail(Invalid(
          fmt::format("'{}.{}' is longer than {} characters", field, key, kMaxValueLength)));
    }
    out.emplace(key, std::move(text));
  }
  return out;
}

}  // namespace

Result<TaskSpec> ParseTaskSpec(const json& body) {
  if (!body.is_object()) return Fail(Invalid("the task spec must be a JSON object"));
  static const std::set<std::string> kFields = {
      "project",  "entry_point", "parameters",  "experiment_id",   "experiment_name",
      "run_id",   "run_name",    "tags",        "resources",       "env_manager",
      "priority", "max_retries", "preemptible", "metric_patterns", "seed"};
  for (const auto& [key, value] : body.items()) {
    if (!kFields.contains(key)) {
      return Fail(
          Invalid(fmt::format("unknown field '{}' in the task spec; accepted: project, "
                              "entry_point, parameters, experiment_id, experiment_name, "
                              "run_id, run_name, tags, resources, env_manager, priority, "
                              "max_retries, preemptible, metric_patterns, seed",
                              key)));
    }
  }
  TaskSpec spec;
  if (!body.contains("project")) {
    return Fail(
        Invalid("missing 'project': upload the project archive first "
                "(POST /api/mltf/v1/projects) and pass its sha256"));
  }
  MLTF_ASSIGN_OR_RETURN(project, StringField(body, "project", 64));
  if (!projects::IsProjectHash(project)) {
    return Fail(
        Invalid("'project' must be the 64-character lowercase hex SHA-256 of an "
                "uploaded project archive"));
  }
  spec.project = std::move(project);
  if (body.contains("entry_point")) {
    MLTF_ASSIGN_OR_RETURN(entry, StringField(body, "entry_point", kMaxNameLength));
    if (entry.empty()) return Fail(Invalid("'entry_point' must not be empty"));
    spec.entry_point = std::move(entry);
  }
  if (body.contains("parameters")) {
    MLTF_ASSIGN_OR_RETURN(parameters, StringMap(body["parameters"], "parameters"));
    spec.parameters = std::move(parameters);
  }
  if (body.contains("experiment_id") && !body["experiment_id"].is_null()) {
    MLTF_ASSIGN_OR_RETURN(id, ScalarText(body["experiment_id"], "experiment_id"));
    spec.experiment_id = std::move(id);
  }
  if (body.contains("experiment_name")) {
    MLTF_ASSIGN_OR_RETURN(name, StringField(body, "experiment_name", 500));
    spec.experiment_name = std::move(name);
  }
  if (!spec.experiment_id.empty() && !spec.experiment_name.empty()) {
    return Fail(Invalid("give either 'experiment_id' or 'experiment_name', not both"));
  }
  if (body.contains("run_id") && !body["run_id"].is_null()) {
    MLTF_ASSIGN_OR_RETURN(run_id, StringField(body, "run_id", 32));
    if (!run_id.empty() && (run_id.size() != 32 || !IsHex(run_id))) {
      return Fail(Invalid("'run_id' must be an MLflow run id (32 hex characters)"));
    }
    spec.run_id = std::move(run_id);
  }
  if (body.contains("run_name")) {
    MLTF_ASSIGN_OR_RETURN(run_name, StringField(body, "run_name", kMaxNameLength));
    spec.run_name = std::move(run_name);
  }
  if (body.contains("tags")) {
    MLTF_ASSIGN_OR_RETURN(tags, StringMap(body["tags"], "tags"));
    spec.tags = std::move(tags);
  }
  if (body.contains("resources") && !body["resources"].is_null()) {
    if (!body["resources"].is_object()) return Fail(Invalid("'resources' must be an object"));
    spec.resources_json = body["resources"].dump();
  }
  if (body.contains("env_manager") && !body["env_manager"].is_null()) {
    MLTF_ASSIGN_OR_RETURN(manager, StringField(body, "env_manager", 32));
    if (manager != "local" && manager != "virtualenv" && manager != "conda" && !manager.empty()) {
      return Fail(Invalid(
          fmt::format("'env_manager' must be 'local' or 'virtualenv' (got '{}')", manager)));
    }
    spec.env_manager = std::move(manager);
  }
  if (body.contains("priority")) {
    MLTF_ASSIGN_OR_RETURN(priority, IntegerField(body, "priority", -kMaxPriority, kMaxPriority));
    spec.priority = static_cast<int>(priority);
  }
  if (body.contains("max_retries")) {
    MLTF_ASSIGN_OR_RETURN(retries, IntegerField(body, "max_retries", 0, kMaxRetries));
    spec.max_retries = static_cast<int>(retries);
  }
  if (body.contains("preemptible")) {
    if (!body["preemptible"].is_boolean()) return Fail(Invalid("'preemptible' must be a boolean"));
    spec.preemptible = body["preemptible"].get<bool>();
  }
  if (body.contains("metric_patterns") && !body["metric_patterns"].is_null()) {
    if (!body["metric_patterns"].is_array()) {
      return Fail(Invalid("'metric_patterns' must be a list"));
    }
    spec.metric_patterns_json = body["metric_patterns"].dump();
  }
  if (body.contains("seed") && !body["seed"].is_null()) {
    MLTF_ASSIGN_OR_RETURN(seed, IntegerField(body, "seed", 0, INT64_MAX));
    spec.seed = seed;
  }
  return spec;
}

json SpecToJson(const TaskSpec& spec) {
  json out = {
      {"project", spec.project},
      {"entry_point", spec.entry_point},
      {"parameters", spec.parameters},
      {"tags", spec.tags},
      {"resources", json::parse(spec.resources_json)},
      {"priority", spec.priority},
      {"max_retries", spec.max_retries},
      {"preemptible", spec.preemptible},
      {"metric_patterns", json::parse(spec.metric_patterns_json)},
  };
  if (!spec.experiment_id.empty()) {
    out["experiment_id"] = spec.experiment_id;
  } else if (!spec.experiment_name.empty()) {
    out["experiment_name"] = spec.experiment_name;
  }
  if (!spec.run_name.empty()) out["run_name"] = spec.run_name;
  if (!spec.env_manager.empty()) out["env_manager"] = spec.env_manager;
  if (spec.seed) out["seed"] = *spec.seed;
  return out;
}

json EventDataToJson(const TaskEvent& event) {
  json data = json::object();
  if (event.attempt != 0) data["attempt"] = event.attempt;
  if (event.exit_code) data["exit_code"] = *event.exit_code;
  if (!event.reason.empty()) data["reason"] = event.reason;
  if (!event.executor_id.empty()) data["executor_id"] = event.executor_id;
  if (!event.gpus.empty()) data["gpus"] = event.gpus;
  if (event.cancelled) data["cancelled"] = true;
  if (event.final) data["final"] = true;
  return data;
}

Result<TaskEvent> EventFromStored(std::string_view kind, std::int64_t time_ms,
                                  std::string_view data) {
  auto parsed_kind = ParseTaskEventKind(kind);
  if (!parsed_kind) return Fail(Error::Internal(fmt::format("unknown task event '{}'", kind)));
  TaskEvent event;
  event.kind = *parsed_kind;
  event.time_ms = time_ms;
  auto fields = json::parse(data, nullptr, false);
  if (!fields.is_object()) return Fail(Error::Internal("a stored task event is not JSON"));
  event.attempt = fields.value("attempt", 0);
  if (fields.contains("exit_code")) event.exit_code = fields["exit_code"].get<int>();
  event.reason = fields.value("reason", "");
  event.executor_id = fields.value("executor_id", "");
  if (fields.contains("gpus")) event.gpus = fields["gpus"].get<std::vector<int>>();
  event.cancelled = fields.value("cancelled", false);
  event.final = fields.value("final", false);
  return event;
}

json TaskToJson(const Task& task, bool detailed) {
  const TaskState& state = task.state;
  json out = {
      {"task_id", task.task_id},
      {"state", TaskStateNameText(state.state)},
      {"user", task.user},
      {"experiment_id", task.spec.experiment_id},
      {"run_id", task.run_id},
      {"project", task.spec.project},
      {"entry_point", task.spec.entry_point},
      {"parameters", task.spec.parameters},
      {"command", task.command},
      {"resources", json::parse(task.spec.resources_json)},
      {"priority", task.spec.priority},
      {"attempt", state.attempt_number()},
      {"max_retries", task.spec.max_retries},
      {"submitted_at", state.submitted_at},
      {"executor", task.executor},
  };
  if (state.started_at) out["started_at"] = *state.started_at;
  if (state.ended_at) out["ended_at"] = *state.ended_at;
  if (state.exit_code) out["exit_code"] = *state.exit_code;
  if (!state.reason.empty()) out["reason"] = state.reason;
  if (state.cancel_requested) out["cancel_requested"] = true;
  if (const Attempt* attempt = state.current(); attempt != nullptr && !attempt->gpus.empty()) {
    out["gpus"] = attempt->gpus;
  }
  if (!detailed) return out;
  out["spec"] = SpecToJson(task.spec);
  json attempts = json::array();
  for (const auto& attempt : state.attempts) {
    json item = {{"attempt", attempt.number}, {"state", TaskStateNameText(attempt.state)}};
    if (attempt.started_at) item["started_at"] = *attempt.started_at;
    if (attempt.ended_at) item["ended_at"] = *attempt.ended_at;
    if (attempt.exit_code) item["exit_code"] = *attempt.exit_code;
    if (!attempt.reason.empty()) item["reason"] = attempt.reason;
    if (!attempt.executor_id.empty()) item["executor_id"] = attempt.executor_id;
    if (!attempt.gpus.empty()) item["gpus"] = attempt.gpus;
    attempts.push_back(std::move(item));
  }
  out["attempts"] = std::move(attempts);
  json events = json::array();
  for (const auto& event : task.events) {
    json item = EventDataToJson(event);
    item["time"] = event.time_ms;
    item["event"] = TaskEventKindText(event.kind);
    events.push_back(std::move(item));
  }
  out["events"] = std::move(events);
  return out;
}

}  // namespace mltf::gateway::tasks
