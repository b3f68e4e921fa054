// task_store.hpp - where tasks and their event logs are kept.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/callback.hpp"
#include "common/error.hpp"
#include "gateway/tasks/task.hpp"

namespace mltf::gateway::tasks {

struct TaskQuery {
  std::vector<TaskStateName> states;  ///< any of these; empty: all
  std::string user;                   ///< empty: everyone's
  std::string experiment_id;          ///< empty: every experiment
  std::int64_t max_results = 100;
  std::int64_t offset = 0;
};

struct TaskPage {
  std::vector<Task> tasks;  ///< newest first, without events
  bool more = false;        ///< another page follows
};

/// Tasks and their append-only event logs. The store keeps no rules: the service derives each
/// state with Apply() and hands the store the event and the state it leads to, which are
/// written in one transaction. Implementations are thread-safe.
class TaskStore {
 public:
  virtual ~TaskStore() = default;

  /// Stores a new task with its first events. Fails with RESOURCE_ALREADY_EXISTS for a known id.
  virtual Result<void> Create(const Task& task, const std::vector<TaskEvent>& events) = 0;
  /// Appends `event` to the log of `task_id` and records `state`, the state it leads to; `done`
  /// runs once both are durable (or failed), on a store thread: it must not block on the store.
  virtual void Append(const std::string& task_id, const TaskEvent& event, const TaskState& state,
                      Callback<void> done) = 0;
  /// The task with its state replayed from its events; its events too when `with_events`.
  /// RESOURCE_DOES_NOT_EXIST for an unknown id.
  virtual Result<Task> Get(const std::string& task_id, bool with_events) = 0;
  virtual Result<TaskPage> List(const TaskQuery& query) = 0;
  /// Every task not yet SUCCEEDED, FAILED or CANCELLED, with its events: what a restarted server
  /// must reconcile.
  virtual Result<std::vector<Task>> LoadUnfinished() = 0;
};

}  // namespace mltf::gateway::tasks
