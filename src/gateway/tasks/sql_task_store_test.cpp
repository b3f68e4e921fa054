// sql_task_store_test.cpp - tasks and event logs on a real SQLite database.
#include "gateway/tasks/sql_task_store.hpp"

#include <gtest/gtest.h>

#include <future>

#include "registry/store/sql/temporary_database.hpp"

namespace mltf::gateway::tasks {
namespace {

using Kind = TaskEvent::Kind;

Task NewTask(const std::string& id, const std::string& user, std::int64_t submitted_at,
             const std::string& experiment = "0") {
  Task task;
  task.task_id = id;
  task.user = user;
  task.run_id = std::string(32, 'b');
  task.command = "python train.py";
  task.executor = "local";
  task.spec.project = std::string(64, 'a');
  task.spec.experiment_id = experiment;
  task.spec.max_retries = 1;
  task.state.max_retries = 1;
  task.state.submitted_at = submitted_at;
  return task;
}

std::vector<TaskEvent> FirstEvents(std::int64_t time) {
  return {{.kind = Kind::SUBMITTED, .time_ms = time},
          {.kind = Kind::QUEUED, .time_ms = time, .attempt = 1}};
}

Result<void> AppendAndWait(SqlTaskStore& store, const std::string& id, const TaskEvent& event,
                           const TaskState& state) {
  std::promise<Result<void>> done;
  store.Append(id, event, state,
               [&done](Result<void> result) { done.set_value(std::move(result)); });
  return done.get_future().get();
}

class SqlTaskStoreTest : public ::testing::Test {
 protected:
  registry::store::sql::TemporaryDatabase database_;
  SqlTaskStore store_{database_.database()};
};

TEST_F(SqlTaskStoreTest, CreateGetAndAppend) {
  ASSERT_TRUE(store_.Create(NewTask("t1", "alice", 100), FirstEvents(100)));
  auto task = store_.Get("t1", true);
  ASSERT_TRUE(task) << task.error().message;
  EXPECT_EQ(task->user, "alice");
  EXPECT_EQ(task->command, "python train.py");
  EXPECT_EQ(task->state.state, TaskStateName::QUEUED);
  EXPECT_EQ(task->events.size(), 2U);

  TaskEvent started{.kind = Kind::STARTED, .time_ms = 110, .attempt = 1, .executor_id = "77"};
  TaskState state = Apply(task->state, started);
  ASSERT_TRUE(AppendAndWait(store_, "t1", started, state));
  task = store_.Get("t1", true);
  ASSERT_TRUE(task);
  EXPECT_EQ(task->state.state, TaskStateName::STARTING);
  EXPECT_EQ(task->state.attempts[0].executor_id, "77");
  EXPECT_EQ(task->events.size(), 3U);
}

TEST_F(SqlTaskStoreTest, UnknownTasks) {
  auto missing = store_.Get("nope", false);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
  TaskState state;
  auto appended = AppendAndWait(store_, "nope", {.kind = Kind::SUBMITTED}, state);
  ASSERT_FALSE(appended);
  EXPECT_EQ(appended.error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
  ASSERT_TRUE(store_.Create(NewTask("t1", "alice", 1), FirstEvents(1)));
  auto again = store_.Create(NewTask("t1", "alice", 1), FirstEvents(1));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::RESOURCE_ALREADY_EXISTS);
}

TEST_F(SqlTaskStoreTest, ListFiltersAndPages) {
  for (int index = 0; index < 5; ++index) {
    ASSERT_TRUE(store_.Create(NewTask("t" + std::to_string(index), index % 2 == 0 ? "alice" : "bob",
                                      100 + index, index < 3 ? "1" : "2"),
                              FirstEvents(100 + index)));
  }
  // t4 ends.
  auto t4 = store_.Get("t4", false);
  ASSERT_TRUE(t4);
  TaskEvent exited{.kind = Kind::EXITED, .time_ms = 200, .attempt = 1, .exit_code = 0};
  ASSERT_TRUE(AppendAndWait(store_, "t4", exited, Apply(t4->state, exited)));

  auto all = store_.List({});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->tasks.size(), 5U);
  EXPECT_EQ(all->tasks[0].task_id, "t4");  // newest first
  EXPECT_EQ(all->tasks[0].state.state, TaskStateName::SUCCEEDED);

  auto alice = store_.List({.user = "alice"});
  ASSERT_TRUE(alice);
  EXPECT_EQ(alice->tasks.size(), 3U);
  auto experiment = store_.List({.experiment_id = "2"});
  ASSERT_TRUE(experiment);
  EXPECT_EQ(experiment->tasks.size(), 2U);
  auto queued = store_.List({.states = {TaskStateName::QUEUED}});
  ASSERT_TRUE(queued);
  EXPECT_EQ(queued->tasks.size(), 4U);

  auto first = store_.List({.max_results = 2});
  ASSERT_TRUE(first);
  EXPECT_EQ(first->tasks.size(), 2U);
  EXPECT_TRUE(first->more);
  auto last = store_.List({.max_results = 2, .offset = 4});
  ASSERT_TRUE(last);
  EXPECT_EQ(last->tasks.size(), 1U);
  EXPECT_FALSE(last->more);

  auto unfinished = store_.LoadUnfinished();
  ASSERT_TRUE(unfinished);
  ASSERT_EQ(unfinished->size(), 4U);
  EXPECT_EQ((*unfinished)[0].task_id, "t0");
  EXPECT_EQ((*unfinished)[0].events.size(), 2U);
}

}  // namespace
}  // namespace mltf::gateway::tasks
