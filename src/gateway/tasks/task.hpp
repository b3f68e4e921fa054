// task.hpp - a training task: what was asked (TaskSpec), what happened (TaskEvent), where it
// stands (TaskState, derived from the events by the pure Apply()).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mltf::gateway::tasks {

/// The lifecycle of DESIGN.md. A failed attempt with retries left and a preempted one go back to
/// QUEUED as a new attempt.
enum class TaskStateName {
  SUBMITTED,
  STAGING,
  QUEUED,
  STARTING,
  RUNNING,
  SUCCEEDED,
  FAILED,
  CANCELLED,
};

std::string_view TaskStateNameText(TaskStateName state);  ///< "RUNNING", ...
std::optional<TaskStateName> ParseTaskStateName(std::string_view text);
/// SUCCEEDED, FAILED and CANCELLED: nothing happens to the task any more.
bool IsTerminal(TaskStateName state);
/// QUEUED, STARTING and RUNNING: an attempt is with the executor.
bool IsActive(TaskStateName state);

/// What the user asked for, normalized: defaults filled, resources parsed and re-rendered, so
/// that `reproduce` can submit it again unchanged. Kept as the JSON the task was submitted with.
struct TaskSpec {
  std::string project;  ///< SHA-256 of the project archive
  std::string entry_point = "main";
  std::map<std::string, std::string> parameters;
  std::string experiment_id;    ///< resolved at submission
  std::string experiment_name;  ///< as given, if given
  std::string run_id;           ///< an existing run to attach to, if given
  std::string run_name;
  std::map<std::string, std::string> tags;
  std::string resources_json = "{}";  ///< the resource request as submitted (a JSON object)
  std::string env_manager;            ///< local | virtualenv; empty: from the project
  int priority = 0;
  int max_retries = 0;
  std::string metric_patterns_json = "[]";  ///< a JSON array, checked by the runner's parser
  bool preemptible = false;
  std::optional<std::int64_t> seed;
};

/// One thing that happened to a task. Events are appended, never changed; the state is what
/// they add up to.
struct TaskEvent {
  enum class Kind {
    SUBMITTED,         ///< accepted and stored
    QUEUED,            ///< attempt `attempt` handed to the executor
    STARTED,           ///< the executor started attempt `attempt` (`executor_id`, `gpus`)
    RUNNING,           ///< the runner reports the entry point is running
    EXITED,            ///< attempt `attempt` ended with `exit_code` (`reason` says why)
    CANCEL_REQUESTED,  ///< someone asked to cancel (`reason`)
    LOST,              ///< attempt `attempt` vanished, e.g. with the server (`reason`)
    /// attempt `attempt` was preempted and the executor runs the task on as attempt + 1 itself
    /// (SLURM requeue); not a retry, so it does not count against max_retries
    REQUEUED,
  };
  Kind kind = Kind::SUBMITTED;
  std::int64_t time_ms = 0;
  int attempt = 0;
  std::optional<int> exit_code;
  std::string reason;
  std::string executor_id;
  std::vector<int> gpus;
  /// For EXITED: the attempt was stopped on purpose (cancel), not by its own failure.
  bool cancelled = false;
  /// For EXITED and LOST: the attempt may not be retried (e.g. the walltime was exceeded).
  bool final = false;
};

std::string_view TaskEventKindText(TaskEvent::Kind kind);  ///< "EXITED", ...
std::optional<TaskEvent::Kind> ParseTaskEventKind(std::string_view text);

/// One attempt to run the task.
struct Attempt {
  int number = 0;
  TaskStateName state = TaskStateName::QUEUED;
  std::optional<std::int64_t> started_at;
  std::optional<std::int64_t> ended_at;
  std::optional<int> exit_code;
  std::string reason;
  std::string executor_id;
  std::vector<int> gpus;
};

/// Where a task stands: the fold of its events.
struct TaskState {
  TaskStateName state = TaskStateName::SUBMITTED;
  int max_retries = 0;
  std::int64_t submitted_at = 0;
  std::optional<std::int64_t> started_at;  ///< of the first attempt
  std::optional<std::int64_t> ended_at;
  std::optional<int> exit_code;
  std::string reason;
  bool cancel_requested = false;
  std::vector<Attempt> attempts;

  /// The attempt in progress or last made; nullptr before the first.
  [[nodiscard]] const Attempt* current() const {
    return attempts.empty() ? nullptr : &attempts.back();
  }
  [[nodiscard]] int attempt_number() const { return attempts.empty() ? 0 : attempts.back().number; }
};

/// The state after `event`. Pure and total: an event that does not apply to the state (a late
/// report for an old attempt, anything after the end) leaves it unchanged, which is what makes
/// replaying the log after a crash safe. Use CheckEvent() to refuse such events up front.
TaskState Apply(TaskState state, const TaskEvent& event);

/// Whether `event` changes `state`: false for events Apply() would ignore.
bool Changes(const TaskState& state, const TaskEvent& event);

/// Folds events into a state, starting from a fresh task with `max_retries`.
TaskState Replay(int max_retries, const std::vector<TaskEvent>& events);

/// A task as stored: identity, the spec and its events' fold.
struct Task {
  std::string task_id;
  std::string user;
  std::string run_id;
  std::string command;  ///< the resolved entry-point command
  std::string executor;
  TaskSpec spec;
  TaskState state;
  std::vector<TaskEvent> events;  ///< filled only when asked for
};

}  // namespace mltf::gateway::tasks
