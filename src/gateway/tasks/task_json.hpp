// task_json.hpp - tasks as JSON: the submitted spec (checked), stored events, and the API view.
#pragma once

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "gateway/tasks/task.hpp"

namespace mltf::gateway::tasks {

/// Reads a task spec as a client submits it (docs/gateway-api.md). Unknown fields, wrong types
/// and out-of-range values fail with INVALID_PARAMETER_VALUE naming the field; parameter values
/// may be numbers or booleans and become strings, as the MLflow client sends them. Checks the
/// shape only: the service checks the project, entry point and resources.
Result<TaskSpec> ParseTaskSpec(const nlohmann::json& body);

/// The spec as stored and as `reproduce` submits it again: ParseTaskSpec(SpecToJson(s)) == s
/// except that a resolved experiment id is kept instead of the name.
nlohmann::json SpecToJson(const TaskSpec& spec);

/// An event's fields other than kind and time, as stored in `task_events.data`.
nlohmann::json EventDataToJson(const TaskEvent& event);
/// Restores an event from its stored kind, time and data. Unknown fields are ignored, so old
/// servers read newer logs.
Result<TaskEvent> EventFromStored(std::string_view kind, std::int64_t time_ms,
                                  std::string_view data);

/// The API view of a task (docs/gateway-api.md, "TASK"); attempts and events only when
/// `detailed`.
nlohmann::json TaskToJson(const Task& task, bool detailed);

}  // namespace mltf::gateway::tasks
