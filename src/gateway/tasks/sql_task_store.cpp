// sql_task_store.cpp - tasks and their event logs in the tracking database (schema version 3).
#include "gateway/tasks/sql_task_store.hpp"

#include <fmt/format.h>

#include "gateway/tasks/task_json.hpp"

namespace mltf::gateway::tasks {
namespace {

using tracking::store::sql::SqlConnection;
using tracking::store::sql::SqlStatement;
using tracking::store::sql::SqlValue;

constexpr std::string_view kTaskColumns =
    "task_id, user_id, run_id, command, executor, spec, max_retries, submitted_at";

void BindOptional(SqlStatement& statement, int index, const std::optional<std::int64_t>& value) {
  if (value) {
    statement.BindInt(index, *value);
  } else {
    statement.BindNull(index);
  }
}

/// Writes the derived state into the task row, so lists need no replay.
Result<void> StoreState(SqlConnection& db, const std::string& task_id, const TaskState& state,
                        std::int64_t event_count) {
  MLTF_ASSIGN_OR_RETURN(update, db.Prepare("UPDATE tasks SET state = ?, attempt = ?, "
                                           "started_at = ?, ended_at = ?, exit_code = ?, "
                                           "reason = ?, event_count = ? WHERE task_id = ?"));
  update->BindText(1, TaskStateNameText(state.state));
  update->BindInt(2, state.attempt_number());
  BindOptional(*update, 3, state.started_at);
  BindOptional(*update, 4, state.ended_at);
  if (state.exit_code) {
    update->BindInt(5, *state.exit_code);
  } else {
    update->BindNull(5);
  }
  update->BindText(6, state.reason);
  update->BindInt(7, event_count);
  update->BindText(8, task_id);
  MLTF_TRY(update->Run());
  if (db.ChangedRows() != 1) {
    return Fail(Error::ResourceDoesNotExist(fmt::format("Task '{}' does not exist", task_id)));
  }
  return {};
}

Result<void> InsertEvent(SqlConnection& db, const std::string& task_id, std::int64_t seq,
                         const TaskEvent& event) {
  MLTF_ASSIGN_OR_RETURN(insert, db.Prepare("INSERT INTO task_events (task_id, seq, time, kind, "
                                           "data) VALUES (?, ?, ?, ?, ?)"));
  insert->BindText(1, task_id);
  insert->BindInt(2, seq);
  insert->BindInt(3, event.time_ms);
  insert->BindText(4, TaskEventKindText(event.kind));
  insert->BindText(5, EventDataToJson(event).dump());
  return insert->Run();
}

/// A task row's identity and spec (the columns of kTaskColumns, in order).
Result<Task> TaskFromRow(const SqlStatement& row) {
  Task task;
  task.task_id = row.Text(0);
  task.user = row.Text(1);
  task.run_id = row.Text(2);
  task.command = row.Text(3);
  task.executor = row.Text(4);
  auto spec_json = nlohmann::json::parse(row.Text(5), nullptr, false);
  if (spec_json.is_discarded()) {
    return Fail(
        Error::Internal(fmt::format("the stored spec of task {} is not JSON", task.task_id)));
  }
  auto spec = ParseTaskSpec(spec_json);
  if (!spec) return Fail(Error::Internal("a stored task spec is invalid: " + spec.error().message));
  task.spec = std::move(*spec);
  task.state.max_retries = static_cast<int>(row.Int(6));
  task.state.submitted_at = row.Int(7);
  return task;
}

Result<std::vector<TaskEvent>> LoadEvents(SqlConnection& db, const std::string& task_id) {
  MLTF_ASSIGN_OR_RETURN(query, db.Prepare("SELECT time, kind, data FROM task_events WHERE "
                                          "task_id = ? ORDER BY seq"));
  query->BindText(1, task_id);
  std::vector<TaskEvent> events;
  while (true) {
    MLTF_ASSIGN_OR_RETURN(has_row, query->Step());
    if (!has_row) break;
    MLTF_ASSIGN_OR_RETURN(event, EventFromStored(query->Text(1), query->Int(0), query->Text(2)));
    events.push_back(std::move(event));
  }
  return events;
}

/// Completes `task` with its events and their fold.
Result<void> LoadState(SqlConnection& db, Task& task, bool keep_events) {
  MLTF_ASSIGN_OR_RETURN(events, LoadEvents(db, task.task_id));
  task.state = Replay(task.state.max_retries, events);
  if (keep_events) task.events = std::move(events);
  return {};
}

}  // namespace

Result<void> SqlTaskStore::Create(const Task& task, const std::vector<TaskEvent>& events) {
  return database_.Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(
        insert,
        db.Prepare("INSERT INTO tasks (task_id, user_id, experiment_id, run_id, project, "
                   "entry_point, command, executor, priority, max_retries, submitted_at, spec, "
                   "state, attempt, reason, event_count) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'SUBMITTED', 0, '', 0)"));
    insert->BindText(1, task.task_id);
    insert->BindText(2, task.user);
    insert->BindText(3, task.spec.experiment_id);
    insert->BindText(4, task.run_id);
    insert->BindText(5, task.spec.project);
    insert->BindText(6, task.spec.entry_point);
    insert->BindText(7, task.command);
    insert->BindText(8, task.executor);
    insert->BindInt(9, task.spec.priority);
    insert->BindInt(10, task.spec.max_retries);
    insert->BindInt(11, task.state.submitted_at);
    insert->BindText(12, SpecToJson(task.spec).dump());
    MLTF_TRY(insert->Run());
    for (std::size_t index = 0; index < events.size(); ++index) {
      MLTF_TRY(InsertEvent(db, task.task_id, static_cast<std::int64_t>(index), events[index]));
    }
    return StoreState(db, task.task_id, Replay(task.spec.max_retries, events),
                      static_cast<std::int64_t>(events.size()));
  });
}

void SqlTaskStore::Append(const std::string& task_id, const TaskEvent& event,
                          const TaskState& state, Callback<void> done) {
  database_.WriteAsync(
      [task_id, event, state](SqlConnection& db) -> Result<void> {
        MLTF_ASSIGN_OR_RETURN(count, db.Prepare("SELECT event_count FROM tasks WHERE task_id = ?"));
        count->BindText(1, task_id);
        MLTF_ASSIGN_OR_RETURN(has_row, count->Step());
        if (!has_row) {
          return Fail(
              Error::ResourceDoesNotExist(fmt::format("Task '{}' does not exist", task_id)));
        }
        const std::int64_t seq = count->Int(0);
        MLTF_TRY(InsertEvent(db, task_id, seq, event));
        return StoreState(db, task_id, state, seq + 1);
      },
      std::move(done));
}

Result<Task> SqlTaskStore::Get(const std::string& task_id, bool with_events) {
  Task task;
  MLTF_TRY(database_.Read([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(
        query, db.Prepare(fmt::format("SELECT {} FROM tasks WHERE task_id = ?", kTaskColumns)));
    query->BindText(1, task_id);
    MLTF_ASSIGN_OR_RETURN(has_row, query->Step());
    if (!has_row) {
      return Fail(Error::ResourceDoesNotExist(fmt::format("Task '{}' does not exist", task_id)));
    }
    MLTF_ASSIGN_OR_RETURN(loaded, TaskFromRow(*query));
    task = std::move(loaded);
    return LoadState(db, task, with_events);
  }));
  return task;
}

Result<TaskPage> SqlTaskStore::List(const TaskQuery& query) {
  std::string sql = fmt::format("SELECT {} FROM tasks WHERE 1 = 1", kTaskColumns);
  std::vector<SqlValue> params;
  if (!query.states.empty()) {
    sql += " AND state IN (";
    for (std::size_t index = 0; index < query.states.size(); ++index) {
      sql += index == 0 ? "?" : ", ?";
      params.emplace_back(std::string(TaskStateNameText(query.states[index])));
    }
    sql += ")";
  }
  if (!query.user.empty()) {
    sql += " AND user_id = ?";
    params.emplace_back(query.user);
  }
  if (!query.experiment_id.empty()) {
    sql += " AND experiment_id = ?";
    params.emplace_back(query.experiment_id);
  }
  sql += " ORDER BY submitted_at DESC, task_id DESC LIMIT ? OFFSET ?";
  params.emplace_back(query.max_results + 1);
  params.emplace_back(query.offset);

  TaskPage page;
  MLTF_TRY(database_.Read([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(statement, db.PrepareOnce(sql));
    statement->BindAll(params);
    while (true) {
      MLTF_ASSIGN_OR_RETURN(has_row, statement->Step());
      if (!has_row) break;
      if (static_cast<std::int64_t>(page.tasks.size()) == query.max_results) {
        page.more = true;
        break;
      }
      MLTF_ASSIGN_OR_RETURN(task, TaskFromRow(*statement));
      page.tasks.push_back(std::move(task));
    }
    for (auto& task : page.tasks) MLTF_TRY(LoadState(db, task, false));
    return {};
  }));
  return page;
}

Result<std::vector<Task>> SqlTaskStore::LoadUnfinished() {
  std::vector<Task> tasks;
  MLTF_TRY(database_.Read([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(
        query, db.Prepare(fmt::format("SELECT {} FROM tasks WHERE state NOT IN ('SUCCEEDED', "
                                      "'FAILED', 'CANCELLED') ORDER BY submitted_at, task_id",
                                      kTaskColumns)));
    while (true) {
      MLTF_ASSIGN_OR_RETURN(has_row, query->Step());
      if (!has_row) break;
      MLTF_ASSIGN_OR_RETURN(task, TaskFromRow(*query));
      tasks.push_back(std::move(task));
    }
    for (auto& task : tasks) MLTF_TRY(LoadState(db, task, true));
    return {};
  }));
  return tasks;
}

}  // namespace mltf::gateway::tasks
