// task_service_test.cpp - the task service against a hand-driven FakeExecutor, on the real
// SQLite stores: every lifecycle move, the run kept in step, and a restart that reconciles.
#include "gateway/tasks/task_service.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <thread>

#include "gateway/tasks/sql_task_store.hpp"
#include "tracking/store/sql/sql_tracking_store.hpp"
#include "tracking/store/sqlite/sqlite_connection.hpp"

namespace mltf::gateway::tasks {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using executors::ExecutorEvent;

/// An executor the test drives by hand: it records what the service asks and reports what the
/// test says.
class FakeExecutor final : public executors::Executor {
 public:
  [[nodiscard]] std::string_view name() const override { return "fake"; }
  Result<void> CheckSatisfiable(const scheduler::ResourceRequest& resources) const override {
    if (resources.gpus > 1) return Fail(Error::InvalidParameter("this fake has one gpu"));
    return {};
  }
  void SetListener(Listener listener) override { listener_ = std::move(listener); }
  void Submit(executors::AttemptRequest request) override {
    std::lock_guard lock(mutex_);
    submitted_.push_back(std::move(request));
    changed_.notify_all();
  }
  void Cancel(const std::string& task_id, int attempt, std::string reason) override {
    std::lock_guard lock(mutex_);
    cancels_.push_back({task_id, attempt, std::move(reason)});
    changed_.notify_all();
  }
  void Reattach(std::vector<executors::RecordedAttempt> attempts) override {
    std::lock_guard lock(mutex_);
    reattached_ = std::move(attempts);
  }
  void Shutdown() override {}

  void Report(ExecutorEvent event) { listener_(std::move(event)); }

  /// Waits until `count` attempts were submitted and returns the last.
  executors::AttemptRequest WaitForSubmission(std::size_t count) {
    std::unique_lock lock(mutex_);
    EXPECT_TRUE(changed_.wait_for(lock, 10s, [&] { return submitted_.size() >= count; }));
    return submitted_.empty() ? executors::AttemptRequest{} : submitted_.back();
  }
  std::size_t WaitForCancels(std::size_t count) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, 10s, [&] { return cancels_.size() >= count; });
    return cancels_.size();
  }
  std::vector<executors::RecordedAttempt> reattached() {
    std::lock_guard lock(mutex_);
    return reattached_;
  }

 private:
  struct CancelOrder {
    std::string task_id;
    int attempt;
    std::string reason;
  };
  Listener listener_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<executors::AttemptRequest> submitted_;
  std::vector<CancelOrder> cancels_;
  std::vector<executors::RecordedAttempt> reattached_;
};

class TaskServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    root_ = fs::temp_directory_path() / ("mltf-task-service-test-" + std::to_string(::getpid()) +
                                         "-" + std::to_string(counter++));
    fs::create_directories(root_ / "project");
    std::ofstream(root_ / "project" / "MLproject")
        << "name: t\nentry_points:\n  main:\n    parameters:\n      lr: {type: float, default: "
           "0.1}\n    command: \"python train.py --lr {lr}\"\n";
    std::ofstream(root_ / "project" / "train.py") << "print('hi')\n";
    auto packed = projects::PackDirectory(root_ / "project", root_ / "project.tar.gz", {});
    ASSERT_TRUE(packed) << packed.error().message;

    OpenStores();
    std::ifstream archive(root_ / "project.tar.gz", std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(archive)),
                            std::istreambuf_iterator<char>());
    std::size_t offset = 0;
    auto stored = projects_->Put(
        [&](std::span<char> buffer) -> Result<std::size_t> {
          const std::size_t n = std::min(buffer.size(), bytes.size() - offset);
          std::copy_n(bytes.data() + offset, n, buffer.data());
          offset += n;
          return n;
        },
        nullptr);
    ASSERT_TRUE(stored) << stored.error().message;
    project_ = (*stored)->sha256;
  }

  void TearDown() override {
    CloseService();
    if (tracking_store_) tracking_store_->Close();
    fs::remove_all(root_);
  }

  /// The real stores on one SQLite file, as the server wires them.
  void OpenStores() {
    const std::string path = (root_ / "mltf.db").string();
    auto factory =
        [path](bool read_only) -> Result<std::unique_ptr<tracking::store::sql::SqlConnection>> {
      MLTF_ASSIGN_OR_RETURN(connection,
                            tracking::store::sqlite::SqliteConnection::Open(
                                {path, read_only, tracking::store::sqlite::Synchronous::OFF}));
      return std::unique_ptr<tracking::store::sql::SqlConnection>(std::move(connection));
    };
    auto database = tracking::store::sql::Database::Open(factory, {});
    ASSERT_TRUE(database) << database.error().message;
    tracking::store::sql::Database& shared = **database;
    auto store =
        tracking::store::sql::SqlTrackingStore::Open(std::move(*database), "mlflow-artifacts:/");
    ASSERT_TRUE(store) << store.error().message;
    tracking_store_ = std::move(*store);
    tracking_ = std::make_unique<tracking::TrackingService>(*tracking_store_);
    task_store_ = std::make_unique<SqlTaskStore>(shared);
    auto projects = projects::ProjectStore::Open(root_ / "projects", {}, 1 << 30);
    ASSERT_TRUE(projects);
    projects_ = std::move(*projects);
  }

  void OpenService() {
    executor_ = std::make_unique<FakeExecutor>();
    service_ = std::make_unique<TaskService>(
        *task_store_, *projects_, *tracking_, *executor_,
        TaskServiceOptions{.tasks_root = root_ / "tasks", .tracking_uri = "http://x"});
    ASSERT_TRUE(service_->Start());
  }

  void CloseService() {
    if (service_) service_->Stop();
    service_.reset();
    executor_.reset();
  }

  TaskSpec Spec() {
    TaskSpec spec;
    spec.project = project_;
    return spec;
  }

  /// Polls until the task is in `state`.
  Task WaitFor(const std::string& task_id, TaskStateName state) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (true) {
      auto task = service_->Get(task_id, true);
      EXPECT_TRUE(task);
      if (!task || task->state.state == state) return task ? *task : Task{};
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "task still " << TaskStateNameText(task->state.state);
        return *task;
      }
      std::this_thread::sleep_for(5ms);
    }
  }

  tracking::RunStatus RunStatus(const std::string& run_id) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    auto run = tracking_->GetRun(run_id);
    // The run is closed on the service's thread just after the state changed: wait for its end.
    const auto open = [](tracking::RunStatus status) {
      return status == tracking::RunStatus::RUNNING || status == tracking::RunStatus::SCHEDULED;
    };
    while (run && open(run->info.status) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
      run = tracking_->GetRun(run_id);
    }
    return run ? run->info.status : tracking::RunStatus::FAILED;
  }

  fs::path root_;
  std::unique_ptr<tracking::store::sql::SqlTrackingStore> tracking_store_;
  std::unique_ptr<tracking::TrackingService> tracking_;
  std::unique_ptr<projects::ProjectStore> projects_;
  std::unique_ptr<SqlTaskStore> task_store_;
  std::unique_ptr<FakeExecutor> executor_;
  std::unique_ptr<TaskService> service_;
  std::string project_;
};

TEST_F(TaskServiceTest, ASubmittedTaskGoesToTheExecutorAndSucceeds) {
  OpenService();
  TaskSpec spec = Spec();
  spec.parameters = {{"lr", "0.5"}, {"extra", "x y"}};
  spec.experiment_name = "service-test";
  auto task = service_->Submit(spec, "alice");
  ASSERT_TRUE(task) << task.error().message;
  EXPECT_EQ(task->command, "python train.py --lr 0.5 --extra 'x y'");
  auto attempt = executor_->WaitForSubmission(1);
  EXPECT_EQ(attempt.task_id, task->task_id);
  EXPECT_EQ(attempt.attempt, 1);
  EXPECT_EQ(attempt.user, "alice");
  auto description = executors::ReadAttemptFile(attempt.attempt_file);
  ASSERT_TRUE(description) << description.error().message;
  EXPECT_EQ(description->run_id, task->run_id);
  EXPECT_EQ(description->command, task->command);
  EXPECT_EQ(description->tracking_uri, "http://x");

  auto run = tracking_->GetRun(task->run_id);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->info.status, tracking::RunStatus::SCHEDULED);

  executor_->Report({.kind = ExecutorEvent::Kind::STARTED,
                     .task_id = task->task_id,
                     .attempt = 1,
                     .executor_id = "99",
                     .gpus = {0}});
  executor_->Report({.kind = ExecutorEvent::Kind::RUNNING, .task_id = task->task_id, .attempt = 1});
  WaitFor(task->task_id, TaskStateName::RUNNING);
  executor_->Report({.kind = ExecutorEvent::Kind::EXITED,
                     .task_id = task->task_id,
                     .attempt = 1,
                     .exit_code = 0,
                     .reason = "exit code 0"});
  auto done = WaitFor(task->task_id, TaskStateName::SUCCEEDED);
  EXPECT_EQ(done.state.attempts[0].executor_id, "99");
  EXPECT_EQ(done.state.attempts[0].gpus, std::vector<int>{0});
  EXPECT_EQ(done.events.size(), 5U);
  EXPECT_EQ(RunStatus(task->run_id), tracking::RunStatus::FINISHED);
}

TEST_F(TaskServiceTest, AFailedAttemptIsRetriedThenFails) {
  OpenService();
  TaskSpec spec = Spec();
  spec.max_retries = 1;
  auto task = service_->Submit(spec, "alice");
  ASSERT_TRUE(task) << task.error().message;
  executor_->WaitForSubmission(1);
  executor_->Report({.kind = ExecutorEvent::Kind::EXITED,
                     .task_id = task->task_id,
                     .attempt = 1,
                     .exit_code = 2,
                     .reason = "exit code 2"});
  auto second = executor_->WaitForSubmission(2);
  EXPECT_EQ(second.attempt, 2);
  executor_->Report({.kind = ExecutorEvent::Kind::EXITED,
                     .task_id = task->task_id,
                     .attempt = 2,
                     .exit_code = 3,
                     .reason = "exit code 3"});
  auto failed = WaitFor(task->task_id, TaskStateName::FAILED);
  EXPECT_EQ(failed.state.exit_code, 3);
  EXPECT_EQ(RunStatus(task->run_id), tracking::RunStatus::FAILED);
}

TEST_F(TaskServiceTest, CancelAsksTheExecutorAndEndsCancelledWithTheRunKilled) {
  OpenService();
  auto task = service_->Submit(Spec(), "alice");
  ASSERT_TRUE(task);
  executor_->WaitForSubmission(1);
  executor_->Report({.kind = ExecutorEvent::Kind::STARTED, .task_id = task->task_id, .attempt = 1});
  WaitFor(task->task_id, TaskStateName::STARTING);
  ASSERT_TRUE(service_->Cancel(task->task_id, "cancelled by alice"));
  EXPECT_EQ(executor_->WaitForCancels(1), 1U);
  executor_->Report({.kind = ExecutorEvent::Kind::EXITED,
                     .task_id = task->task_id,
                     .attempt = 1,
                     .exit_code = 143,
                     .reason = "cancelled by alice",
                     .cancelled = true});
  auto cancelled = WaitFor(task->task_id, TaskStateName::CANCELLED);
  EXPECT_EQ(cancelled.state.reason, "cancelled by alice");
  EXPECT_EQ(RunStatus(task->run_id), tracking::RunStatus::KILLED);
  auto again = service_->Cancel(task->task_id, "again");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::RESOURCE_CONFLICT);
}

TEST_F(TaskServiceTest, ARestartHandsTheExecutorWhatItHad) {
  OpenService();
  auto running = service_->Submit(Spec(), "alice");
  auto queued = service_->Submit(Spec(), "bob");
  ASSERT_TRUE(running && queued);
  executor_->WaitForSubmission(2);
  executor_->Report({.kind = ExecutorEvent::Kind::STARTED,
                     .task_id = running->task_id,
                     .attempt = 1,
                     .executor_id = "1234"});
  WaitFor(running->task_id, TaskStateName::STARTING);
  CloseService();

  OpenService();
  auto recorded = executor_->reattached();
  ASSERT_EQ(recorded.size(), 2U);
  for (const auto& attempt : recorded) {
    if (attempt.request.task_id == running->task_id) {
      EXPECT_TRUE(attempt.started);
      EXPECT_EQ(attempt.executor_id, "1234");
    } else {
      EXPECT_EQ(attempt.request.task_id, queued->task_id);
      EXPECT_FALSE(attempt.started);
      EXPECT_EQ(attempt.request.user, "bob");
    }
  }
  // The executor reports the started attempt lost: without retries the task fails.
  executor_->Report({.kind = ExecutorEvent::Kind::EXITED,
                     .task_id = running->task_id,
                     .attempt = 1,
                     .reason = "the server stopped"});
  auto lost = WaitFor(running->task_id, TaskStateName::FAILED);
  EXPECT_EQ(lost.state.reason, "the server stopped");
  EXPECT_EQ(lost.events.back().kind, TaskEvent::Kind::LOST);
}

TEST_F(TaskServiceTest, SubmissionsThatCannotRunStoreNothing) {
  OpenService();
  struct Case {
    std::function<void(TaskSpec&)> change;
    ErrorCode code;
  };
  const std::vector<Case> cases = {
      {[](TaskSpec& s) { s.project = std::string(64, 'f'); }, ErrorCode::RESOURCE_DOES_NOT_EXIST},
      {[](TaskSpec& s) { s.entry_point = "nope"; }, ErrorCode::INVALID_PARAMETER_VALUE},
      {[](TaskSpec& s) {
         s.parameters = {{"lr", "fast"}};
       },
       ErrorCode::INVALID_PARAMETER_VALUE},
      {[](TaskSpec& s) { s.resources_json = R"({"gpus": 2})"; },
       ErrorCode::INVALID_PARAMETER_VALUE},
      {[](TaskSpec& s) { s.resources_json = R"({"bogus": 1})"; },
       ErrorCode::INVALID_PARAMETER_VALUE},
      {[](TaskSpec& s) { s.env_manager = "conda"; }, ErrorCode::INVALID_PARAMETER_VALUE},
      {[](TaskSpec& s) { s.experiment_id = "12345"; }, ErrorCode::RESOURCE_DOES_NOT_EXIST},
      {[](TaskSpec& s) { s.run_id = std::string(32, 'a'); }, ErrorCode::RESOURCE_DOES_NOT_EXIST},
      {[](TaskSpec& s) { s.metric_patterns_json = R"(["(oops"])"; },
       ErrorCode::INVALID_PARAMETER_VALUE},
  };
  for (const auto& test : cases) {
    TaskSpec spec = Spec();
    test.change(spec);
    auto task = service_->Submit(spec, "alice");
    ASSERT_FALSE(task);
    EXPECT_EQ(task.error().code, test.code) << task.error().message;
  }
  auto listed = service_->List({});
  ASSERT_TRUE(listed);
  EXPECT_TRUE(listed->tasks.empty());
}

TEST_F(TaskServiceTest, ReproduceSubmitsTheSameSpecIntoANewRun) {
  OpenService();
  TaskSpec spec = Spec();
  spec.parameters = {{"lr", "0.3"}};
  spec.priority = 7;
  auto first = service_->Submit(spec, "alice");
  ASSERT_TRUE(first);
  auto second = service_->Reproduce(first->task_id, "alice");
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_NE(second->run_id, first->run_id);
  EXPECT_EQ(second->command, first->command);
  EXPECT_EQ(second->spec.priority, 7);
  EXPECT_EQ(second->spec.tags.at("mltf.reproduces"), first->task_id);
}

}  // namespace
}  // namespace mltf::gateway::tasks
