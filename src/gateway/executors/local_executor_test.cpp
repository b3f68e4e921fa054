// local_executor_test.cpp - the local executor with real child processes: a shell script stands
// in for `mltf run-task`, so placement, GPU binding, cancel and walltime are observed for real.
#include "gateway/executors/local_executor.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <fstream>
#include <mutex>
#include <sstream>

#include "gateway/executors/event_log_for_tests.hpp"

namespace mltf::gateway::executors {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

/// What a runner prints once its entry point runs ($2 is the attempt file).
const std::string kAnnounceRunning =
    "echo \"@mltf {\\\"event\\\": \\\"running\\\", \\\"attempt_file\\\": \\\"$2\\\"}\"\n";

class LocalExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    root_ = fs::temp_directory_path() /
            ("mltf-executor-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    executor_.reset();
    fs::remove_all(root_);
  }

  /// An executor whose "runner" runs the script `behaviour` written into each task directory.
  void MakeExecutor(int cpus, int gpus, std::chrono::milliseconds margin = 300ms) {
    LocalExecutorOptions options;
    options.capacity.cpus = cpus;
    options.capacity.memory_bytes = 8ULL << 30;
    for (int index = 0; index < gpus; ++index) {
      options.capacity.gpus.push_back({.index = index,
                                       .uuid = "GPU-fake-" + std::to_string(index),
                                       .name = "fake-gpu",
                                       .memory_bytes = 1ULL << 30});
    }
    // $2 is the attempt file: <task dir>/attempt-N/attempt.json.
    options.runner_command = {"/bin/sh", "-c", "cd \"$(dirname \"$2\")\" && . ../behaviour.sh",
                              "runner"};
    options.base_environment = {{"PATH", "/usr/bin:/bin"}};
    options.kill_margin = margin;
    executor_ = std::make_unique<LocalExecutor>(options);
    executor_->SetListener([this](ExecutorEvent event) { events_.Add(std::move(event)); });
  }

  AttemptRequest Request(const std::string& task_id, const std::string& behaviour, int gpus = 0,
                         int priority = 0) {
    const fs::path task_dir = root_ / task_id;
    fs::create_directories(task_dir / "attempt-1");
    std::ofstream(task_dir / "behaviour.sh") << behaviour;
    AttemptRequest request;
    request.task_id = task_id;
    request.attempt = 1;
    request.user = "alice";
    request.priority = priority;
    request.resources.gpus = gpus;
    request.attempt_file = task_dir / "attempt-1" / "attempt.json";
    request.task_dir = task_dir;
    request.grace = 300ms;
    return request;
  }

  std::string ReadFile(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  fs::path root_;
  EventLog events_;
  std::unique_ptr<LocalExecutor> executor_;
};

TEST_F(LocalExecutorTest, ReportsStartRunningAndTheResultFile) {
  MakeExecutor(2, 0);
  executor_->Submit(
      Request("t1", kAnnounceRunning +
                        "echo '{\"exit_code\": 3, \"reason\": \"exit code 3\"}' > result.json\n"
                        "exit 3\n"));
  auto started = events_.WaitFor("t1", ExecutorEvent::Kind::STARTED);
  EXPECT_FALSE(started.executor_id.empty());
  events_.WaitFor("t1", ExecutorEvent::Kind::RUNNING);
  auto exited = events_.WaitFor("t1", ExecutorEvent::Kind::EXITED);
  EXPECT_EQ(exited.exit_code, 3);
  EXPECT_EQ(exited.reason, "exit code 3");
  EXPECT_FALSE(exited.cancelled);
}

TEST_F(LocalExecutorTest, ARunnerWithoutAResultReportsItsOwnExit) {
  MakeExecutor(2, 0);
  executor_->Submit(Request("t1", "exit 7\n"));
  auto exited = events_.WaitFor("t1", ExecutorEvent::Kind::EXITED);
  EXPECT_EQ(exited.exit_code, 7);
  EXPECT_NE(exited.reason.find("without a result"), std::string::npos) << exited.reason;
}

TEST_F(LocalExecutorTest, TwoGpusThreeTasksTheThirdWaitsAndEachSeesOnlyItsOwn) {
  MakeExecutor(8, 2);
  const std::string behaviour =
      "echo \"$CUDA_VISIBLE_DEVICES\" > gpus.txt\n"
      "while [ ! -e ../release ]; do sleep 0.05; done\n"
      "echo '{\"exit_code\": 0, \"reason\": \"\"}' > result.json\n";
  for (const char* id : {"a", "b", "c"}) executor_->Submit(Request(id, behaviour, 1));
  auto a = events_.WaitFor("a", ExecutorEvent::Kind::STARTED);
  auto b = events_.WaitFor("b", ExecutorEvent::Kind::STARTED);
  ASSERT_EQ(a.gpus.size(), 1U);
  ASSERT_EQ(b.gpus.size(), 1U);
  EXPECT_NE(a.gpus[0], b.gpus[0]);
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(events_.Has("c", ExecutorEvent::Kind::STARTED))
      << "nothing starts that does not fit";

  std::ofstream(root_ / "a" / "release") << "";
  events_.WaitFor("a", ExecutorEvent::Kind::EXITED);
  auto c = events_.WaitFor("c", ExecutorEvent::Kind::STARTED);
  ASSERT_EQ(c.gpus.size(), 1U);
  EXPECT_EQ(c.gpus[0], a.gpus[0]) << "the third task gets the GPU the first gave back";
  std::ofstream(root_ / "b" / "release") << "";
  std::ofstream(root_ / "c" / "release") << "";
  events_.WaitFor("b", ExecutorEvent::Kind::EXITED);
  events_.WaitFor("c", ExecutorEvent::Kind::EXITED);
  EXPECT_EQ(ReadFile(root_ / "a" / "attempt-1" / "gpus.txt"), std::to_string(a.gpus[0]) + "\n");
  EXPECT_EQ(ReadFile(root_ / "b" / "attempt-1" / "gpus.txt"), std::to_string(b.gpus[0]) + "\n");
}

TEST_F(LocalExecutorTest, HigherPriorityStartsFirst) {
  MakeExecutor(1, 0);
  const std::string wait = "while [ ! -e ../release ]; do sleep 0.05; done\n";
  executor_->Submit(Request("blocker", wait));
  events_.WaitFor("blocker", ExecutorEvent::Kind::STARTED);
  executor_->Submit(Request("low", "exit 0\n", 0, 0));
  executor_->Submit(Request("high", "exit 0\n", 0, 10));
  std::this_thread::sleep_for(100ms);
  std::ofstream(root_ / "blocker" / "release") << "";
  events_.WaitFor("low", ExecutorEvent::Kind::EXITED);
  auto all = events_.All();
  auto position = [&](const std::string& id) {
    return std::find_if(all.begin(), all.end(),
                        [&](const ExecutorEvent& event) {
                          return event.task_id == id && event.kind == ExecutorEvent::Kind::STARTED;
                        }) -
           all.begin();
  };
  EXPECT_LT(position("high"), position("low"));
}

TEST_F(LocalExecutorTest, CancelOfAQueuedAttemptIsImmediate) {
  MakeExecutor(1, 0);
  executor_->Submit(Request("blocker", "sleep 30\n"));
  events_.WaitFor("blocker", ExecutorEvent::Kind::STARTED);
  executor_->Submit(Request("queued", "exit 0\n"));
  executor_->Cancel("queued", 1, "cancelled by alice");
  auto exited = events_.WaitFor("queued", ExecutorEvent::Kind::EXITED);
  EXPECT_TRUE(exited.cancelled);
  EXPECT_EQ(exited.reason, "cancelled by alice");
  EXPECT_FALSE(events_.Has("queued", ExecutorEvent::Kind::STARTED));
  executor_->Cancel("blocker", 1, "done");
  events_.WaitFor("blocker", ExecutorEvent::Kind::EXITED);
}

TEST_F(LocalExecutorTest, CancelStopsARunningAttemptWithSigterm) {
  MakeExecutor(1, 0);
  executor_->Submit(Request("t1", "trap 'echo term > got-term; exit 143' TERM\n" +
                                      kAnnounceRunning + "while true; do sleep 0.05; done\n"));
  events_.WaitFor("t1", ExecutorEvent::Kind::RUNNING);
  const auto before = std::chrono::steady_clock::now();
  executor_->Cancel("t1", 1, "cancelled by alice");
  auto exited = events_.WaitFor("t1", ExecutorEvent::Kind::EXITED);
  EXPECT_LT(std::chrono::steady_clock::now() - before, 2s);
  EXPECT_TRUE(exited.cancelled);
  EXPECT_EQ(exited.reason, "cancelled by alice");
  EXPECT_TRUE(fs::exists(root_ / "t1" / "attempt-1" / "got-term"));
}

TEST_F(LocalExecutorTest, ARunnerIgnoringSigtermIsKilledAfterGraceAndMargin) {
  MakeExecutor(1, 0, 200ms);
  executor_->Submit(
      Request("t1", "trap '' TERM\n" + kAnnounceRunning + "while true; do sleep 0.05; done\n"));
  events_.WaitFor("t1", ExecutorEvent::Kind::RUNNING);
  executor_->Cancel("t1", 1, "stop");
  auto exited = events_.WaitFor("t1", ExecutorEvent::Kind::EXITED, 5s);
  EXPECT_TRUE(exited.cancelled);
  EXPECT_EQ(exited.exit_code, 128 + SIGKILL);
}

TEST_F(LocalExecutorTest, WalltimeIsEnforcedAndFinal) {
  MakeExecutor(1, 0);
  auto request = Request("t1", "trap 'exit 143' TERM\nwhile true; do sleep 0.05; done\n");
  request.resources.time_seconds = 1;
  executor_->Submit(request);
  auto exited = events_.WaitFor("t1", ExecutorEvent::Kind::EXITED, 10s);
  EXPECT_TRUE(exited.final);
  EXPECT_FALSE(exited.cancelled);
  EXPECT_NE(exited.reason.find("walltime"), std::string::npos) << exited.reason;
}

TEST_F(LocalExecutorTest, UnsatisfiableRequestsAreRefusedUpFront) {
  MakeExecutor(2, 1);
  scheduler::ResourceRequest request;
  request.gpus = 2;
  auto refused = executor_->CheckSatisfiable(request);
  ASSERT_FALSE(refused);
  request.gpus = 1;
  EXPECT_TRUE(executor_->CheckSatisfiable(request));
}

TEST_F(LocalExecutorTest, ReattachReportsStartedAttemptsLostAndQueuesTheOthers) {
  MakeExecutor(1, 0);
  RecordedAttempt started{
      .request = Request("gone", "exit 0\n"), .executor_id = "12345", .started = true};
  RecordedAttempt queued{.request = Request("waiting", "exit 0\n"), .started = false};
  executor_->Reattach({started, queued});
  auto lost = events_.WaitFor("gone", ExecutorEvent::Kind::EXITED);
  EXPECT_FALSE(lost.exit_code.has_value());
  EXPECT_NE(lost.reason.find("server stopped"), std::string::npos);
  events_.WaitFor("waiting", ExecutorEvent::Kind::EXITED);
}

}  // namespace
}  // namespace mltf::gateway::executors
