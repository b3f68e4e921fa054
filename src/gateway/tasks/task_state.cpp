// task_state.cpp - the pure transition function of a task's event log, and the names of states
// and events.
#include <array>
#include <utility>

#include "gateway/tasks/task.hpp"

namespace mltf::gateway::tasks {
namespace {

constexpr std::array<std::pair<TaskStateName, std::string_view>, 8> kStateNames = {{
    {TaskStateName::SUBMITTED, "SUBMITTED"},
    {TaskStateName::STAGING, "STAGING"},
    {TaskStateName::QUEUED, "QUEUED"},
    {TaskStateName::STARTING, "STARTING"},
    {TaskStateName::RUNNING, "RUNNING"},
    {TaskStateName::SUCCEEDED, "SUCCEEDED"},
    {TaskStateName::FAILED, "FAILED"},
    {TaskStateName::CANCELLED, "CANCELLED"},
}};

constexpr std::array<std::pair<TaskEvent::Kind, std::string_view>, 8> kEventNames = {{
    {TaskEvent::Kind::SUBMITTED, "SUBMITTED"},
    {TaskEvent::Kind::QUEUED, "QUEUED"},
    {TaskEvent::Kind::STARTED, "STARTED"},
    {TaskEvent::Kind::RUNNING, "RUNNING"},
    {TaskEvent::Kind::EXITED, "EXITED"},
    {TaskEvent::Kind::CANCEL_REQUESTED, "CANCEL_REQUESTED"},
    {TaskEvent::Kind::LOST, "LOST"},
    {TaskEvent::Kind::REQUEUED, "REQUEUED"},
}};

bool IsCurrentAttempt(const TaskState& state, int attempt) {
  return !state.attempts.empty() && state.attempts.back().number == attempt;
}

void Finish(TaskState& state, TaskStateName end, std::int64_t time_ms) {
  state.state = end;
  state.ended_at = time_ms;
}

/// The end of the current attempt: cancelled, succeeded, retried, or failed for good.
TaskState EndAttempt(TaskState state, const TaskEvent& event) {
  Attempt& attempt = state.attempts.back();
  attempt.ended_at = event.time_ms;
  attempt.exit_code = event.exit_code;
  attempt.reason = event.reason;
  state.exit_code = event.exit_code;

  if (state.cancel_requested || event.cancelled) {
    attempt.state = TaskStateName::CANCELLED;
    state.reason = event.reason.empty() ? "cancelled" : event.reason;
    Finish(state, TaskStateName::CANCELLED, event.time_ms);
    return state;
  }
  if (event.kind == TaskEvent::Kind::EXITED && event.exit_code == 0) {
    attempt.state = TaskStateName::SUCCEEDED;
    state.reason.clear();
    Finish(state, TaskStateName::SUCCEEDED, event.time_ms);
    return state;
  }
  attempt.state = TaskStateName::FAILED;
  const int retries_used = attempt.number - 1;
  if (!event.final && retries_used < state.max_retries) {
    state.reason =
        "attempt " + std::to_string(attempt.number) + " failed (" + event.reason + "); retrying";
    state.state = TaskStateName::QUEUED;
    state.attempts.push_back(Attempt{.number = attempt.number + 1});
    return state;
  }
  state.reason = event.reason;
  Finish(state, TaskStateName::FAILED, event.time_ms);
  return state;
}

/// The executor requeued the attempt itself: the next one is queued there already.
TaskState RequeueAttempt(TaskState state, const TaskEvent& event) {
  Attempt& attempt = state.attempts.back();
  attempt.ended_at = event.time_ms;
  attempt.reason = event.reason;
  attempt.state = TaskStateName::FAILED;
  if (state.cancel_requested) {
    attempt.state = TaskStateName::CANCELLED;
    state.reason = "cancelled";
    Finish(state, TaskStateName::CANCELLED, event.time_ms);
    return state;
  }
  state.reason = "attempt " + std::to_string(attempt.number) + " " + event.reason;
  state.state = TaskStateName::QUEUED;
  state.attempts.push_back(Attempt{.number = attempt.number + 1});
  return state;
}

}  // namespace

std::string_view TaskStateNameText(TaskStateName state) {
  for (const auto& [value, name] : kStateNames) {
    if (value == state) return name;
  }
  return "UNKNOWN";
}

std::optional<TaskStateName> ParseTaskStateName(std::string_view text) {
  for (const auto& [value, name] : kStateNames) {
    if (name == text) return value;
  }
  return std::nullopt;
}

bool IsTerminal(TaskStateName state) {
  return state == TaskStateName::SUCCEEDED || state == TaskStateName::FAILED ||
         state == TaskStateName::CANCELLED;
}

bool IsActive(TaskStateName state) {
  return state == TaskStateName::QUEUED || state == TaskStateName::STARTING ||
         state == TaskStateName::RUNNING;
}

std::string_view TaskEventKindText(TaskEvent::Kind kind) {
  for (const auto& [value, name] : kEventNames) {
    if (value == kind) return name;
  }
  return "UNKNOWN";
}

std::optional<TaskEvent::Kind> ParseTaskEventKind(std::string_view text) {
  for (const auto& [value, name] : kEventNames) {
    if (name == text) return value;
  }
  return std::nullopt;
}

bool Changes(const TaskState& state, const TaskEvent& event) {
  if (IsTerminal(state.state)) return false;
  switch (event.kind) {
    case TaskEvent::Kind::SUBMITTED:
      return state.attempts.empty() && state.submitted_at == 0;
    case TaskEvent::Kind::QUEUED:
      return (state.state == TaskStateName::SUBMITTED || state.state == TaskStateName::STAGING) &&
             event.attempt == 1;
    case TaskEvent::Kind::STARTED:
      return state.state == TaskStateName::QUEUED && IsCurrentAttempt(state, event.attempt);
    case TaskEvent::Kind::RUNNING:
      return (state.state == TaskStateName::QUEUED || state.state == TaskStateName::STARTING) &&
             IsCurrentAttempt(state, event.attempt);
    case TaskEvent::Kind::EXITED:
    case TaskEvent::Kind::LOST:
    case TaskEvent::Kind::REQUEUED:
      return IsActive(state.state) && IsCurrentAttempt(state, event.attempt);
    case TaskEvent::Kind::CANCEL_REQUESTED:
      return !state.cancel_requested;
  }
  return false;
}

TaskState Apply(TaskState state, const TaskEvent& event) {
  if (!Changes(state, event)) return state;
  switch (event.kind) {
    case TaskEvent::Kind::SUBMITTED:
      state.state = TaskStateName::SUBMITTED;
      state.submitted_at = event.time_ms;
      break;
    case TaskEvent::Kind::QUEUED:
      state.state = TaskStateName::QUEUED;
      state.attempts.push_back(Attempt{.number = event.attempt});
      break;
    case TaskEvent::Kind::STARTED:
    case TaskEvent::Kind::RUNNING: {
      Attempt& attempt = state.attempts.back();
      if (!attempt.started_at) attempt.started_at = event.time_ms;
      if (!state.started_at) state.started_at = event.time_ms;
      if (!event.executor_id.empty()) attempt.executor_id = event.executor_id;
      if (!event.gpus.empty()) attempt.gpus = event.gpus;
      attempt.state =
          event.kind == TaskEvent::Kind::STARTED ? TaskStateName::STARTING : TaskStateName::RUNNING;
      state.state = attempt.state;
      break;
    }
    case TaskEvent::Kind::EXITED:
    case TaskEvent::Kind::LOST:
      return EndAttempt(std::move(state), event);
    case TaskEvent::Kind::REQUEUED:
      return RequeueAttempt(std::move(state), event);
    case TaskEvent::Kind::CANCEL_REQUESTED:
      state.cancel_requested = true;
      // Not yet with an executor: nothing to stop, so the cancel is immediate.
      if (state.state == TaskStateName::SUBMITTED || state.state == TaskStateName::STAGING) {
        state.reason = event.reason.empty() ? "cancelled" : event.reason;
        Finish(state, TaskStateName::CANCELLED, event.time_ms);
      }
      break;
  }
  return state;
}

TaskState Replay(int max_retries, const std::vector<TaskEvent>& events) {
  TaskState state;
  state.max_retries = max_retries;
  for (const auto& event : events) state = Apply(std::move(state), event);
  return state;
}

}  // namespace mltf::gateway::tasks
