// slurm_executor_test.cpp - the SLURM executor against a scripted cluster: the test moves jobs
// through SLURM's states and checks what the executor reports and which commands it ran (one
// squeue per poll for all jobs, sacct only for jobs that left the queue), through SLURM's
// programs (CommandSlurmController). The real cluster is in tests/e2e/test_slurm_*.py.
#include "gateway/executors/slurm/slurm_executor.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "gateway/executors/attempt_description.hpp"
#include "gateway/executors/event_log_for_tests.hpp"

namespace mltf::gateway::executors::slurm {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Kind = ExecutorEvent::Kind;

/// A cluster in memory that answers sbatch, squeue, sacct and scancel as SLURM's programs do.
class FakeSlurm final : public SlurmCommands {
 public:
  struct Job {
    std::string state = "PENDING";
    std::string exit_code = "0:0";
    bool in_queue = true;  // slurmctld still knows it
    bool in_sacct = true;  // slurmdbd has its record
    std::string script;
  };

  Result<CommandOutput> Run(std::string_view program,
                            const std::vector<std::string>& arguments) override {
    std::lock_guard lock(mutex_);
    calls_.push_back({std::string(program), arguments});
    if (program == "sbatch") return Sbatch(arguments);
    if (program == "squeue") return Squeue(arguments);
    if (program == "sacct") return Sacct(arguments);
    if (program == "scancel") return Scancel(arguments);
    return CommandOutput{.exit_code = 127, .err = "no such program"};
  }

  void Set(const std::string& id, const std::string& state, const std::string& exit_code = "0:0") {
    std::lock_guard lock(mutex_);
    jobs_[id].state = state;
    jobs_[id].exit_code = exit_code;
  }
  void SetVisibility(const std::string& id, bool in_queue, bool in_sacct) {
    std::lock_guard lock(mutex_);
    jobs_[id].in_queue = in_queue;
    jobs_[id].in_sacct = in_sacct;
  }
  Job Get(const std::string& id) {
    std::lock_guard lock(mutex_);
    return jobs_.at(id);
  }
  void RefuseNextSbatch(std::string error, int times = 1) {
    std::lock_guard lock(mutex_);
    sbatch_error_ = std::move(error);
    sbatch_failures_left_ = times;
  }
  std::vector<std::vector<std::string>> Calls(const std::string& program) {
    std::lock_guard lock(mutex_);
    std::vector<std::vector<std::string>> out;
    for (const auto& [name, arguments] : calls_) {
      if (name == program) out.push_back(arguments);
    }
    return out;
  }
  int JobCount() {
    std::lock_guard lock(mutex_);
    return static_cast<int>(jobs_.size());
  }

 private:
  static std::vector<std::string> JobsArgument(const std::vector<std::string>& arguments) {
    std::vector<std::string> ids;
    for (const auto& argument : arguments) {
      if (!argument.starts_with("--jobs=")) continue;
      std::stringstream list(argument.substr(7));
      std::string id;
      while (std::getline(list, id, ',')) ids.push_back(id);
    }
    return ids;
  }

  Result<CommandOutput> Sbatch(const std::vector<std::string>& arguments) {
    if (sbatch_failures_left_ > 0) {
      --sbatch_failures_left_;
      return CommandOutput{.exit_code = 1, .err = "sbatch: error: " + sbatch_error_ + "\n"};
    }
    const std::string id = std::to_string(next_id_++);
    std::ifstream script(arguments.back());
    std::stringstream text;
    text << script.rdbuf();
    jobs_[id].script = text.str();
    return CommandOutput{.out = id + "\n"};
  }

  Result<CommandOutput> Squeue(const std::vector<std::string>& arguments) {
    CommandOutput output;
    bool any = false;
    for (const auto& id : JobsArgument(arguments)) {
      auto job = jobs_.find(id);
      if (job == jobs_.end() || !job->second.in_queue) continue;
      any = true;
      output.out += id + "|" + job->second.state + "|None|n1\n";
    }
    if (!any) {
      return CommandOutput{.exit_code = 1,
                           .err = "slurm_load_jobs error: Invalid job id specified\n"};
    }
    return output;
  }

  Result<CommandOutput> Sacct(const std::vector<std::string>& arguments) {
    CommandOutput output;
    for (const auto& id : JobsArgument(arguments)) {
      auto job = jobs_.find(id);
      if (job == jobs_.end() || !job->second.in_sacct) continue;
      const Job& j = job->second;
      output.out += id + "|" + j.state + "|" + j.exit_code + "|0:0|None|n1|Unknown|Unknown\n";
      output.out += id + ".batch|" + j.state + "|" + j.exit_code + "||None|n1|Unknown|Unknown\n";
    }
    return output;
  }

  Result<CommandOutput> Scancel(const std::vector<std::string>& arguments) {
    const std::string& id = arguments.back();
    auto job = jobs_.find(id);
    if (job == jobs_.end()) return CommandOutput{.exit_code = 1, .err = "Invalid job id"};
    const bool signal_only =
        std::find(arguments.begin(), arguments.end(), "--batch") != arguments.end();
    if (!signal_only) {
      job->second.state = "CANCELLED";
      job->second.exit_code = "0:15";
    }
    return CommandOutput{};
  }

  std::mutex mutex_;
  std::map<std::string, Job> jobs_;
  std::vector<std::pair<std::string, std::vector<std::string>>> calls_;
  int next_id_ = 100;
  std::string sbatch_error_;
  int sbatch_failures_left_ = 0;
};

class SlurmExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    root_ = fs::temp_directory_path() /
            ("mltf-slurm-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    if (executor_) executor_->Shutdown();
    fs::remove_all(root_);
  }

  SlurmExecutor& Start(SlurmExecutorOptions options = {}) {
    options.script.runner_binary = "/opt/mltf/bin/mltf";
    options.poll_interval = 10ms;
    options.kill_margin = 0ms;
    options.sbatch_retry_pause = 5ms;
    executor_ =
        std::make_unique<SlurmExecutor>(options, std::make_shared<CommandSlurmController>(slurm_));
    executor_->SetListener([this](ExecutorEvent event) { events_.Add(std::move(event)); });
    return *executor_;
  }

  AttemptRequest Attempt(const std::string& task_id, int attempt = 1) {
    const fs::path attempt_dir = root_ / task_id / ("attempt-" + std::to_string(attempt));
    fs::create_directories(attempt_dir);
    return AttemptRequest{.task_id = task_id,
                          .attempt = attempt,
                          .user = "alice",
                          .attempt_file = attempt_dir / "attempt.json",
                          .task_dir = root_ / task_id,
                          .grace = 50ms};
  }

  /// Waits until the task's job was submitted; returns its id.
  std::string JobOf(const std::string& task_id, int attempt = 1) {
    const fs::path id_file =
        root_ / task_id / ("attempt-" + std::to_string(attempt)) / "slurm-job-id";
    for (int i = 0; i < 2000 && !fs::exists(id_file); ++i) std::this_thread::sleep_for(1ms);
    std::string id;
    std::ifstream(id_file) >> id;
    EXPECT_FALSE(id.empty()) << "no job for " << task_id;
    return id;
  }

  fs::path root_;
  std::shared_ptr<FakeSlurm> slurm_ = std::make_shared<FakeSlurm>();
  std::unique_ptr<SlurmExecutor> executor_;
  EventLog events_;
};

TEST_F(SlurmExecutorTest, FollowsAJobFromSubmissionToCompletion) {
  auto& executor = Start();
  executor.Submit(Attempt("t1"));
  const std::string id = JobOf("t1");
  EXPECT_NE(slurm_->Get(id).script.find("run-task --attempt-file"), std::string::npos);
  EXPECT_TRUE(fs::exists(root_ / "t1" / "attempt-1" / "job.sbatch"));

  slurm_->Set(id, "RUNNING");
  EXPECT_EQ(events_.WaitFor("t1", Kind::STARTED).executor_id, id);
  EXPECT_FALSE(events_.Has("t1", Kind::RUNNING));
  std::ofstream(root_ / "t1" / "attempt-1" / "user.pgid") << "4242\n";
  events_.WaitFor("t1", Kind::RUNNING);

  slurm_->Set(id, "COMPLETED");
  const ExecutorEvent end = events_.WaitFor("t1", Kind::EXITED);
  EXPECT_EQ(end.exit_code, 0);
  EXPECT_EQ(end.executor_id, id);
  EXPECT_FALSE(end.cancelled);
  EXPECT_EQ(executor.live_jobs(), 0U);
}

TEST_F(SlurmExecutorTest, TheRunnersReasonAndExitCodeAreReported) {
  auto request = Attempt("t1");
  ASSERT_TRUE(WriteAttemptResult(request.attempt_file.parent_path() / "result.json",
                                 {.exit_code = 3, .reason = "exit code 3 (the user's own)"}));
  Start().Submit(request);
  const std::string id = JobOf("t1");
  slurm_->Set(id, "FAILED", "3:0");
  const ExecutorEvent end = events_.WaitFor("t1", Kind::EXITED);
  EXPECT_EQ(end.exit_code, 3);
  EXPECT_EQ(end.reason, "exit code 3 (the user's own)");
  EXPECT_FALSE(end.final);
}

TEST_F(SlurmExecutorTest, WalltimeAndMemoryAreFinal) {
  auto& executor = Start();
  executor.Submit(Attempt("slow"));
  executor.Submit(Attempt("big"));
  slurm_->Set(JobOf("slow"), "TIMEOUT", "0:15");
  slurm_->Set(JobOf("big"), "OUT_OF_MEMORY", "0:125");
  const ExecutorEvent slow = events_.WaitFor("slow", Kind::EXITED);
  EXPECT_TRUE(slow.final);
  EXPECT_NE(slow.reason.find("walltime"), std::string::npos) << slow.reason;
  const ExecutorEvent big = events_.WaitFor("big", Kind::EXITED);
  EXPECT_TRUE(big.final);
  EXPECT_NE(big.reason.find("out of memory"), std::string::npos) << big.reason;
}

TEST_F(SlurmExecutorTest, ARequeuedJobGoesOnAsTheNextAttempt) {
  auto& executor = Start();
  executor.Submit(Attempt("t1"));
  const std::string id = JobOf("t1");
  slurm_->Set(id, "RUNNING");
  events_.WaitFor("t1", Kind::STARTED);
  slurm_->Set(id, "PREEMPTED");  // on its way back to the queue
  const ExecutorEvent requeued = events_.WaitFor("t1", Kind::EXITED);
  slurm_->Set(id, "PENDING");  // requeued: BeginTime
  EXPECT_TRUE(requeued.requeued);
  EXPECT_EQ(requeued.attempt, 1);
  EXPECT_EQ(JobOf("t1", 2), id) << "a restarted server finds the job under attempt 2";

  slurm_->Set(id, "RUNNING");
  std::ofstream(root_ / "t1" / "attempt-2" / "user.pgid") << "4242\n";
  for (int i = 0; i < 2000 && !events_.Has("t1", Kind::RUNNING); ++i) {
    std::this_thread::sleep_for(1ms);
  }
  slurm_->Set(id, "COMPLETED");
  // The job leaves the executor's table before its end is reported: wait for the report.
  for (int i = 0; i < 5000 && events_.All().size() < 5; ++i) {
    std::this_thread::sleep_for(1ms);
  }
  std::vector<std::pair<Kind, int>> seen;
  for (const auto& event : events_.All()) seen.emplace_back(event.kind, event.attempt);
  EXPECT_EQ(seen, (std::vector<std::pair<Kind, int>>{{Kind::STARTED, 1},
                                                     {Kind::EXITED, 1},
                                                     {Kind::STARTED, 2},
                                                     {Kind::RUNNING, 2},
                                                     {Kind::EXITED, 2}}));
}

TEST_F(SlurmExecutorTest, OneSqueueCallFollowsEveryLiveJob) {
  auto& executor = Start();
  constexpr int kTasks = 20;
  std::vector<std::string> ids;
  ids.reserve(kTasks);
  for (int i = 0; i < kTasks; ++i) executor.Submit(Attempt("t" + std::to_string(i)));
  for (int i = 0; i < kTasks; ++i) ids.push_back(JobOf("t" + std::to_string(i)));
  for (int i = 0; i < 5000 && executor.live_jobs() < kTasks; ++i) {
    std::this_thread::sleep_for(1ms);
  }
  const auto before = slurm_->Calls("squeue").size();
  std::this_thread::sleep_for(100ms);
  const auto squeue_calls = slurm_->Calls("squeue");
  ASSERT_GT(squeue_calls.size(), before);
  // Every poll lists all jobs in one call: about one call per 10-ms poll, not one per job.
  EXPECT_LT(squeue_calls.size() - before, 30U);
  const std::string& last_jobs = squeue_calls.back()[2];
  for (const auto& id : ids) EXPECT_NE(last_jobs.find(id), std::string::npos) << id;
  EXPECT_TRUE(slurm_->Calls("sacct").empty()) << "nothing has left the queue yet";

  // All end at once: one sacct call covers them all.
  for (const auto& id : ids) slurm_->Set(id, "COMPLETED");
  for (int i = 0; i < kTasks; ++i) events_.WaitFor("t" + std::to_string(i), Kind::EXITED);
  EXPECT_LE(slurm_->Calls("sacct").size(), 2U);
}

TEST_F(SlurmExecutorTest, SacctLagIsWaitedOutNeverTakenAsLost) {
  SlurmExecutorOptions options;
  options.lost_after = 10min;
  auto& executor = Start(options);
  executor.Submit(Attempt("t1"));
  const std::string id = JobOf("t1");
  slurm_->Set(id, "RUNNING");
  events_.WaitFor("t1", Kind::STARTED);
  // Gone from slurmctld, not yet in slurmdbd.
  slurm_->SetVisibility(id, false, false);
  slurm_->Set(id, "COMPLETED");
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(events_.Has("t1", Kind::EXITED));
  slurm_->SetVisibility(id, false, true);
  EXPECT_EQ(events_.WaitFor("t1", Kind::EXITED).exit_code, 0);
}

TEST_F(SlurmExecutorTest, AJobNobodyKnowsIsLostAfterAWhile) {
  SlurmExecutorOptions options;
  options.lost_after = 50ms;
  auto& executor = Start(options);
  executor.Submit(Attempt("t1"));
  slurm_->SetVisibility(JobOf("t1"), false, false);
  const ExecutorEvent end = events_.WaitFor("t1", Kind::EXITED);
  EXPECT_FALSE(end.exit_code.has_value());
  EXPECT_NE(end.reason.find("vanished"), std::string::npos) << end.reason;
}

TEST_F(SlurmExecutorTest, CancelOfARunningJobSignalsFirstThenKills) {
  auto& executor = Start();
  executor.Submit(Attempt("t1"));
  const std::string id = JobOf("t1");
  slurm_->Set(id, "RUNNING");
  events_.WaitFor("t1", Kind::STARTED);
  executor.Cancel("t1", 1, "cancelled by alice");
  const ExecutorEvent end = events_.WaitFor("t1", Kind::EXITED);
  EXPECT_TRUE(end.cancelled);
  EXPECT_EQ(end.reason, "cancelled by alice");
  const auto scancels = slurm_->Calls("scancel");
  ASSERT_GE(scancels.size(), 2U);
  EXPECT_EQ(scancels[0], (std::vector<std::string>{"--batch", "--signal=TERM", id}));
  EXPECT_EQ(scancels[1], (std::vector<std::string>{id}));
}

TEST_F(SlurmExecutorTest, CancelOfAPendingJobIsImmediate) {
  auto& executor = Start();
  executor.Submit(Attempt("t1"));
  const std::string id = JobOf("t1");
  for (int i = 0; i < 1000 && slurm_->Calls("squeue").empty(); ++i) {
    std::this_thread::sleep_for(1ms);
  }
  executor.Cancel("t1", 1, "not needed");
  const ExecutorEvent end = events_.WaitFor("t1", Kind::EXITED);
  EXPECT_TRUE(end.cancelled);
  EXPECT_EQ(slurm_->Calls("scancel").front(), (std::vector<std::string>{id}));
}

TEST_F(SlurmExecutorTest, AScancelBehindTheServicesBackEndsCancelled) {
  auto& executor = Start();
  executor.Submit(Attempt("t1"));
  const std::string id = JobOf("t1");
  slurm_->Set(id, "RUNNING");
  events_.WaitFor("t1", Kind::STARTED);
  slurm_->Set(id, "CANCELLED by 0", "0:15");
  const ExecutorEvent end = events_.WaitFor("t1", Kind::EXITED);
  EXPECT_TRUE(end.cancelled);
  EXPECT_NE(end.reason.find("cancelled in SLURM"), std::string::npos) << end.reason;
  EXPECT_TRUE(slurm_->Calls("scancel").empty());
}

TEST_F(SlurmExecutorTest, CancelDuringSubmissionEndsCancelled) {
  // The cancel arrives while sbatch is being retried (or before it ran at all).
  slurm_->RefuseNextSbatch("Unable to contact slurm controller (connect failure)", 1);
  auto& executor = Start();
  executor.Submit(Attempt("t1"));
  executor.Cancel("t1", 1, "changed my mind");
  const ExecutorEvent end = events_.WaitFor("t1", Kind::EXITED);
  EXPECT_TRUE(end.cancelled);
}

TEST_F(SlurmExecutorTest, SbatchRefusalsAreFinalAndTransientErrorsAreRetried) {
  auto& executor = Start();
  slurm_->RefuseNextSbatch("Invalid partition name specified");
  executor.Submit(Attempt("refused"));
  const ExecutorEvent refused = events_.WaitFor("refused", Kind::EXITED);
  EXPECT_TRUE(refused.final);
  EXPECT_NE(refused.reason.find("Invalid partition name specified"), std::string::npos);

  slurm_->RefuseNextSbatch("Unable to contact slurm controller (connect failure)", 2);
  executor.Submit(Attempt("retried"));
  EXPECT_FALSE(JobOf("retried").empty());
  EXPECT_FALSE(events_.Has("retried", Kind::EXITED));
}

TEST_F(SlurmExecutorTest, ReattachFollowsRecordedJobsAndSubmitsTheOthers) {
  // A first server submitted two attempts and stopped before it heard of the second's start.
  auto& first = Start();
  first.Submit(Attempt("known"));
  first.Submit(Attempt("unheard"));
  const std::string known = JobOf("known");
  const std::string unheard = JobOf("unheard");
  slurm_->Set(known, "RUNNING");
  first.Shutdown();
  ASSERT_EQ(slurm_->JobCount(), 2);

  auto& second = Start();
  second.Reattach({{.request = Attempt("known"), .executor_id = known, .started = true},
                   {.request = Attempt("unheard"), .executor_id = "", .started = false},
                   {.request = Attempt("never"), .executor_id = "", .started = false}});
  EXPECT_FALSE(JobOf("never").empty());
  EXPECT_EQ(slurm_->JobCount(), 3) << "only the attempt without a job is submitted";
  slurm_->Set(known, "COMPLETED");
  slurm_->Set(unheard, "FAILED", "2:0");
  EXPECT_EQ(events_.WaitFor("known", Kind::EXITED).exit_code, 0);
  EXPECT_FALSE(events_.Has("known", Kind::STARTED)) << "it was started before the restart";
  EXPECT_EQ(events_.WaitFor("unheard", Kind::EXITED).exit_code, 2);
}

TEST_F(SlurmExecutorTest, CheckSatisfiableRefusesWhatTheScriptWould) {
  SlurmExecutorOptions options;
  options.allowed_partitions = {"main", "gpu"};
  auto& executor = Start(options);
  scheduler::ResourceRequest resources;
  EXPECT_TRUE(executor.CheckSatisfiable(resources));
  resources.partition = "secret";
  auto refused = executor.CheckSatisfiable(resources);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("main, gpu"), std::string::npos);
  resources.partition = "gpu";
  resources.sbatch_script_file = "mine.sh";
  refused = executor.CheckSatisfiable(resources);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("sbatch-script-file"), std::string::npos);
}

TEST(ProcessSlurmCommandsTest, SeparatesOutputFromErrorsAndKeepsTheExitCode) {
  ProcessSlurmCommands commands("", {{"PATH", "/usr/bin:/bin"}}, 10s);
  auto output = commands.Run("sh", {"-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(output) << output.error().message;
  EXPECT_EQ(output->out, "out\n");
  EXPECT_EQ(output->err, "err\n");
  EXPECT_EQ(output->exit_code, 3);
}

TEST(ProcessSlurmCommandsTest, AHangingCommandIsStoppedAtTheTimeout) {
  ProcessSlurmCommands commands("", {{"PATH", "/usr/bin:/bin"}}, 200ms);
  auto output = commands.Run("sleep", {"30"});
  ASSERT_FALSE(output);
  EXPECT_NE(output.error().message.find("did not end"), std::string::npos);
}

TEST(ProcessSlurmCommandsTest, AMissingProgramIsAnError) {
  ProcessSlurmCommands commands("/nonexistent/bin", {{"PATH", "/usr/bin:/bin"}}, 1s);
  EXPECT_FALSE(commands.Run("sbatch", {"--version"}));
}

}  // namespace
}  // namespace mltf::gateway::executors::slurm
