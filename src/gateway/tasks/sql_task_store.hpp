// sql_task_store.hpp - tasks and their event logs in the tracking database (schema version 3).
#pragma once

#include "gateway/tasks/task_store.hpp"
#include "tracking/store/sql/database.hpp"

namespace mltf::gateway::tasks {

/// TaskStore on the shared SQL database: one writer with group commit, so the events of many
/// tasks share transactions. Thread-safe. The database must outlive the store.
class SqlTaskStore final : public TaskStore {
 public:
  explicit SqlTaskStore(tracking::store::sql::Database& database) : database_(database) {}

  Result<void> Create(const Task& task, const std::vector<TaskEvent>& events) override;
  void Append(const std::string& task_id, const TaskEvent& event, const TaskState& state,
              Callback<void> done) override;
  Result<Task> Get(const std::string& task_id, bool with_events) override;
  Result<TaskPage> List(const TaskQuery& query) override;
  Result<std::vector<Task>> LoadUnfinished() override;

 private:
  tracking::store::sql::Database& database_;
};

}  // namespace mltf::gateway::tasks
