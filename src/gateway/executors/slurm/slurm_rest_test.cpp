// slurm_rest_test.cpp - the slurmrestd way to SLURM: the job object built from the batch job's
// options, answers of the shapes Slurm 22.05 gives (recorded from the test cluster), wait-status
// decoding, the token file, error classification, and the executor running on it against a
// scripted slurmrestd.
#include "gateway/executors/slurm/slurm_rest.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>

#include "gateway/executors/event_log_for_tests.hpp"
#include "gateway/executors/slurm/slurm_executor.hpp"

namespace mltf::gateway::executors::slurm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;
using Kind = ExecutorEvent::Kind;

// Answers as slurmrestd 22.05.8 gave them (meta blocks shortened).
constexpr std::string_view kBadPartition =
    R"({"meta":{"plugin":{"type":"openapi\/v0.0.38"}},
        "errors":[{"error_code":2000,"error":"Invalid partition name specified"}]})";
constexpr std::string_view kUnknownJob =
    R"({"meta":{},"errors":[{"description":"Unable to find JobId=99999","error_number":2017,
        "error":"Invalid job id specified","source":"slurm_load_job"}],"jobs":[]})";
constexpr std::string_view kBadToken =
    R"({"meta":{},"errors":[{"description":"slurmctld config is unable to load",
        "error_number":-1,"error":"Unspecified error","source":"slurm_load_ctl_conf"}]})";
constexpr std::string_view kNothingInDb =
    R"({"meta":{},"errors":[{"description":"Nothing found","error_number":9003,
        "error":"Nothing found with query","source":"slurmdb_jobs_get"}],"jobs":[]})";

/// A file of the test's own, removed at the end.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() / ("mltf-slurm-rest-test-" + std::to_string(::getpid()) +
                                         "-" + std::to_string(counter++));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

BatchJob JobWith(std::vector<std::string> options) {
  return BatchJob{.options = std::move(options), .script = "#!/bin/bash\nexec true\n"};
}

TEST(RestJobSubmission, EveryOptionOfTheExecutorsScriptsBecomesAField) {
  scheduler::ResourceRequest resources;
  resources.nodes = 2;
  resources.tasks_per_node = 2;
  resources.cpus = 3;
  resources.memory_bytes = std::uint64_t{100} << 20U;
  resources.time_seconds = 90;
  resources.partition = "main";
  resources.account = "testacct";
  resources.gpus = 1;
  resources.gpu_type = "a100";
  resources.exclusive = true;
  resources.mail_user = "a@b.c";
  resources.mail_type = "end";
  const AttemptRequest attempt{.task_id = "t1",
                               .attempt = 1,
                               .attempt_file = "/data/tasks/t1/attempt-1/attempt.json",
                               .task_dir = "/data/tasks/t1"};
  BatchScriptOptions options{.runner_binary = "/opt/mltf",
                             .operator_sbatch_options = {"--qos=normal"},
                             .preempt_grace = std::chrono::seconds(45),
                             .signal_steps = true};
  auto job = RenderBatchJob(attempt, resources, true, options);
  ASSERT_TRUE(job) << job.error().message;
  auto body = RestJobSubmission(*job, {{"PATH", "/usr/bin:/bin"}});
  ASSERT_TRUE(body) << body.error().message;
  const json expected_job = {
      {"qos", "normal"},
      {"name", "mltf-t1"},
      {"current_working_directory", "/data/tasks/t1"},
      {"standard_output", "/data/tasks/t1/slurm-%j.out"},
      {"standard_error", "/data/tasks/t1/slurm-%j.out"},
      {"open_mode", "append"},
      {"nodes", {2, 2}},
      {"tasks_per_node", 2},
      {"tasks", 4},
      {"cpus_per_task", 3},
      {"memory_per_node", 100},
      {"time_limit", 2},  // 90 s, in whole minutes
      {"partition", "main"},
      {"account", "testacct"},
      {"gres", "gpu:a100:1"},
      {"exclusive", "true"},
      {"mail_user", "a@b.c"},
      {"mail_type", "END"},
      {"requeue", true},
      {"signal", "USR1@45"},
      {"environment", {{"PATH", "/usr/bin:/bin"}}},
  };
  EXPECT_EQ((*body)["job"], expected_job) << (*body)["job"].dump(2);
  EXPECT_EQ((*body)["script"], job->script);
}

TEST(RestJobSubmission, OneNodeTheRunnerIsTheBatchShellAndAHelperStepPassesUsr1On) {
  const AttemptRequest attempt{.task_id = "t1",
                               .attempt = 1,
                               .attempt_file = "/d/t1/attempt-1/attempt.json",
                               .task_dir = "/d/t1"};
  BatchScriptOptions options{.runner_binary = "/opt/mltf", .signal_steps = true};
  auto plain = RenderBatchJob(attempt, {}, false, options);
  ASSERT_TRUE(plain) << plain.error().message;
  // A cancel's SIGTERM goes to the batch shell (srun would kill its step at once).
  EXPECT_NE(plain->script.find("\nexec /opt/mltf run-task"), std::string::npos) << plain->script;
  EXPECT_EQ(plain->script.find("srun"), std::string::npos) << plain->script;

  auto preemptible = RenderBatchJob(attempt, {}, true, options);
  ASSERT_TRUE(preemptible) << preemptible.error().message;
  const std::string& script = preemptible->script;
  const auto helper = script.find("\nsrun --overlap --nodes=1 --ntasks=1 ");
  ASSERT_NE(helper, std::string::npos) << script;
  EXPECT_NE(script.find("trap \"kill -USR1 $0\" USR1", helper), std::string::npos) << script;
  EXPECT_GT(script.find("\nexec /opt/mltf run-task"), helper) << script;
  EXPECT_EQ(script.find("MASTER_ADDR"), std::string::npos) << "one node, no rendezvous";
  auto body = RestJobSubmission(*preemptible, {});
  ASSERT_TRUE(body) << body.error().message;
  EXPECT_EQ((*body)["job"]["requeue"], true);
  EXPECT_EQ((*body)["job"]["signal"], "USR1@60");
  EXPECT_EQ((*body)["job"]["environment"], json::object()) << "the API requires the object";
  auto refused = RestJobSubmission(*plain, {});
  ASSERT_TRUE(refused);
  EXPECT_EQ((*refused)["job"]["requeue"], false);
}

TEST(RestJobSubmission, SeveralNodesLeaveTheSignalsToSlurmAndSrun) {
  const AttemptRequest attempt{.task_id = "t1",
                               .attempt = 1,
                               .attempt_file = "/d/t1/attempt-1/attempt.json",
                               .task_dir = "/d/t1"};
  scheduler::ResourceRequest resources;
  resources.nodes = 2;
  BatchScriptOptions options{.runner_binary = "/opt/mltf", .signal_steps = true};
  auto job = RenderBatchJob(attempt, resources, true, options);
  ASSERT_TRUE(job) << job.error().message;
  EXPECT_NE(job->script.find("\ntrap : USR1 TERM\n"), std::string::npos) << job->script;
  EXPECT_EQ(job->script.find("kill -USR1 \"$srun_pid\""), std::string::npos) << job->script;
  EXPECT_NE(job->script.find("--signal=USR1@60"), std::string::npos) << job->script;
}

TEST(RestJobSubmission, WhatHasNoFieldIsRefusedNamingTheOption) {
  for (const auto& [option, words] : std::vector<std::pair<std::string, std::string>>{
           {"--signal=B:USR1@60", "batch shell"},
           {"--nodelist=n1", "has no field"},
           {"--mem=lots", "needs a size"},
           {"--time=soon", "needs a time"},
           {"--nodes=0", "node count"},
           {"--exclusive=maybe", "'user' or 'mcs'"},
       }) {
    auto body = RestJobSubmission(JobWith({option}), {});
    ASSERT_FALSE(body) << option;
    EXPECT_NE(body.error().message.find(option), std::string::npos) << body.error().message;
    EXPECT_NE(body.error().message.find(words), std::string::npos) << body.error().message;
  }
}

TEST(RestJobSubmission, SbatchTimeAndMemoryForms) {
  const std::vector<std::pair<std::string, std::int64_t>> times = {
      {"30", 30},           {"1:30", 2},   {"2:00:00", 120},
      {"1-00:00:00", 1440}, {"1-2", 1560}, {"0-00:00:01", 1}};
  for (const auto& [text, minutes] : times) {
    auto body = RestJobSubmission(JobWith({"--time=" + text}), {});
    ASSERT_TRUE(body) << text;
    EXPECT_EQ((*body)["job"]["time_limit"], minutes) << text;
  }
  const std::vector<std::pair<std::string, std::int64_t>> sizes = {
      {"512", 512}, {"100M", 100}, {"2G", 2048}, {"1500K", 2}, {"1T", 1048576}};
  for (const auto& [text, megabytes] : sizes) {
    auto body = RestJobSubmission(JobWith({"--mem=" + text}), {});
    ASSERT_TRUE(body) << text;
    EXPECT_EQ((*body)["job"]["memory_per_node"], megabytes) << text;
  }
}

TEST(WaitStatusExitCode, DecodesAsSacctPrints) {
  EXPECT_EQ(WaitStatusExitCode(0), "0:0");
  EXPECT_EQ(WaitStatusExitCode(768), "3:0");
  EXPECT_EQ(WaitStatusExitCode(1024), "4:0");
  EXPECT_EQ(WaitStatusExitCode(15), "0:15");
  EXPECT_EQ(WaitStatusExitCode(9), "0:9");
  EXPECT_EQ(WaitStatusExitCode(-1), "");
  EXPECT_EQ(ParseExitCode(WaitStatusExitCode(768)), 3);
  EXPECT_EQ(ParseExitCode(WaitStatusExitCode(15)), 143);
}

TEST(ParseRestJobs, KeepsTheWantedJobsWithDecodedExitCodesOnceFinished) {
  // The shape of GET /slurm/v0.0.38/jobs (most fields left out).
  const json answer = json::parse(R"({"errors":[],"jobs":[
      {"job_id":1,"job_state":"FAILED","state_reason":"NonZeroExitCode","nodes":"n1",
       "exit_code":768,"derived_exit_code":768,"restart_cnt":0},
      {"job_id":2,"job_state":"RUNNING","state_reason":"None","nodes":"n2","exit_code":0},
      {"job_id":3,"job_state":"CANCELLED","state_reason":"None","nodes":"n1","exit_code":15},
      {"job_id":4,"job_state":"PENDING","state_reason":"Priority","nodes":"","exit_code":0},
      {"job_id":"bad"}]})");
  const auto table = ParseRestJobs(answer, {"1", "2", "3"});
  ASSERT_EQ(table.jobs.size(), 3U);
  EXPECT_EQ(table.skipped_lines, 1U);
  const auto& failed = table.jobs.at("1");
  EXPECT_EQ(failed.phase, SlurmJobPhase::FAILED);
  EXPECT_EQ(failed.exit_code, "3:0");
  EXPECT_EQ(failed.reason, "NonZeroExitCode");
  EXPECT_EQ(failed.outcome().exit_code, 3);
  EXPECT_EQ(table.jobs.at("2").phase, SlurmJobPhase::RUNNING);
  EXPECT_EQ(table.jobs.at("2").exit_code, "") << "a running job's 0 means nothing";
  EXPECT_EQ(table.jobs.at("2").node_list, "n2");
  EXPECT_EQ(table.jobs.at("3").outcome().exit_code, 143);
  EXPECT_TRUE(table.jobs.at("3").outcome().cancelled);
}

TEST(ParseRestAccounting, TrustsSlurmdbsStateAndOnlyItsSignals) {
  // GET /slurmdb/v0.0.38/job/{id}: exit 3 is recorded as SUCCESS/0 (wrong), a kill as SIGNALED.
  const json answer = json::parse(R"({"errors":[],"jobs":[
      {"job_id":7,"state":{"current":"PREEMPTED","reason":"None"},"nodes":"n1",
       "exit_code":{"status":"SUCCESS","return_code":0}},
      {"job_id":7,"state":{"current":"FAILED","reason":"None"},"nodes":"n1",
       "exit_code":{"status":"SUCCESS","return_code":0},
       "steps":[{"step":{"name":"batch"},"exit_code":{"status":"SUCCESS","return_code":0}}]},
      {"job_id":8,"state":{"current":"CANCELLED","reason":"None"},"nodes":"n1",
       "exit_code":{"status":"SUCCESS","return_code":0},
       "steps":[{"exit_code":{"status":"SIGNALED","signal":{"signal_id":15}}}]},
      {"job_id":9,"state":{"current":"COMPLETED","reason":"None"},"nodes":"n2",
       "exit_code":{"status":"SUCCESS","return_code":0}}]})");
  const auto table = ParseRestAccounting(answer);
  ASSERT_EQ(table.jobs.size(), 3U);
  const auto& requeued = table.jobs.at("7");
  EXPECT_EQ(requeued.phase, SlurmJobPhase::FAILED);
  EXPECT_EQ(requeued.exit_code, "") << "slurmdb's exit code of a plain failure is not trusted";
  EXPECT_EQ(requeued.earlier_phases, std::vector<SlurmJobPhase>{SlurmJobPhase::PREEMPTED});
  EXPECT_EQ(table.jobs.at("8").exit_code, "0:15");
  EXPECT_EQ(table.jobs.at("9").exit_code, "0:0");
  EXPECT_EQ(table.jobs.at("9").outcome().exit_code, 0);
}

TEST(RestFailure, SlurmsRefusalsAreFinalTheRestIsWorthAnotherTry) {
  const Error partition = RestFailure({500, std::string(kBadPartition)}, "slurmrestd refused");
  EXPECT_EQ(partition.code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_NE(partition.message.find("Invalid partition name specified (error 2000)"),
            std::string::npos)
      << partition.message;

  const Error token = RestFailure({500, std::string(kBadToken)}, "listing");
  EXPECT_EQ(token.code, ErrorCode::TEMPORARILY_UNAVAILABLE);
  EXPECT_NE(token.message.find("token"), std::string::npos) << token.message;

  const Error unauthorized = RestFailure({401, "Authentication failure"}, "listing");
  EXPECT_EQ(unauthorized.code, ErrorCode::TEMPORARILY_UNAVAILABLE);
  EXPECT_NE(unauthorized.message.find("HTTP 401"), std::string::npos) << unauthorized.message;

  const Error busy = RestFailure(
      {500, R"({"errors":[{"error_number":1007,"error":"Unable to contact slurm controller"}]})"},
      "submitting");
  EXPECT_EQ(busy.code, ErrorCode::TEMPORARILY_UNAVAILABLE);
  const Error zero_bytes = RestFailure(
      {500,
       R"({"errors":[{"error_number":5005,"error":"Zero Bytes were transmitted or received"}]})"},
      "submitting");
  EXPECT_EQ(zero_bytes.code, ErrorCode::TEMPORARILY_UNAVAILABLE)
      << "what a bad token gave on submit";
  EXPECT_EQ(RestFailure({502, "<html>bad gateway</html>"}, "x").code,
            ErrorCode::TEMPORARILY_UNAVAILABLE);

  EXPECT_TRUE(HasRestError({500, std::string(kUnknownJob)}, 2017));
  EXPECT_FALSE(HasRestError({500, std::string(kBadPartition)}, 2017));
}

TEST(TokenFile, ReadsScontrolsOutputAndAgainWhenTheFileChanges) {
  TempDir dir;
  const fs::path file = dir.path() / "token";
  TokenFile token(file);
  auto missing = token.Token();
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find(file.string()), std::string::npos);

  std::ofstream(file) << "SLURM_JWT=eyJfirst.part.sig\n";
  EXPECT_EQ(token.Token().value(), "eyJfirst.part.sig");
  std::ofstream(file) << "eyJsecond.renewed.signature\n";  // another size: read again
  EXPECT_EQ(token.Token().value(), "eyJsecond.renewed.signature");

  std::ofstream(file) << "two words\n";
  auto bad = token.Token();
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message.find("two words"), std::string::npos) << "never the content";
}

/// slurmrestd in memory: answers the calls the controller makes and records them.
class FakeSlurmRest final : public RestTransport {
 public:
  struct Call {
    std::string method;
    std::string path;
    RestHeaders headers;
    std::string body;
  };

  Result<RestResponse> Send(std::string_view method, std::string_view path_and_query,
                            const RestHeaders& headers, std::string_view body) override {
    std::lock_guard lock(mutex_);
    calls_.push_back(
        {std::string(method), std::string(path_and_query), headers, std::string(body)});
    if (unreachable_ > 0) {
      --unreachable_;
      return Fail(Error::Unavailable("slurmrestd at http://x did not answer: Connection refused"));
    }
    const std::string path(path_and_query);
    if (method == "GET" && path == "/slurm/v0.0.38/ping") {
      return RestResponse{200, R"({"errors":[],"pings":[{"hostname":"vm","ping":"UP"}]})"};
    }
    if (method == "POST" && path == "/slurm/v0.0.38/job/submit") {
      if (!refusal_.empty()) return RestResponse{500, std::exchange(refusal_, "")};
      const std::string id = std::to_string(next_id_++);
      jobs_[id] = {{"job_id", std::stoi(id)}, {"job_state", "PENDING"}, {"exit_code", 0}};
      return RestResponse{200, json{{"errors", json::array()}, {"job_id", std::stoi(id)}}.dump()};
    }
    if (method == "GET" && path == "/slurm/v0.0.38/jobs") {
      json answer = {{"errors", json::array()}, {"jobs", json::array()}};
      for (const auto& [id, job] : jobs_) answer["jobs"].push_back(job);
      return RestResponse{200, answer.dump()};
    }
    if (method == "GET" && path.starts_with("/slurmdb/v0.0.38/job/")) {
      return RestResponse{200, std::string(kNothingInDb)};
    }
    if (method == "DELETE" && path.starts_with("/slurm/v0.0.38/job/")) {
      const std::string rest = path.substr(std::string_view("/slurm/v0.0.38/job/").size());
      const std::string id = rest.substr(0, rest.find('?'));
      if (!jobs_.contains(id)) return RestResponse{500, std::string(kUnknownJob)};
      if (rest.find('?') == std::string::npos) {
        jobs_[id]["job_state"] = "CANCELLED";
        jobs_[id]["exit_code"] = 15;
      }
      return RestResponse{200, R"({"errors":[]})"};
    }
    return RestResponse{404, "Unknown path"};
  }

  void Set(const std::string& id, const std::string& state, int wait_status = 0) {
    std::lock_guard lock(mutex_);
    jobs_[id]["job_state"] = state;
    jobs_[id]["exit_code"] = wait_status;
  }
  void Refuse(std::string_view answer) {
    std::lock_guard lock(mutex_);
    refusal_ = answer;
  }
  void Unreachable(int times) {
    std::lock_guard lock(mutex_);
    unreachable_ = times;
  }
  std::vector<Call> Calls(std::string_view method, std::string_view path_start = "") {
    std::lock_guard lock(mutex_);
    std::vector<Call> out;
    for (const auto& call : calls_) {
      if (call.method == method && call.path.starts_with(path_start)) out.push_back(call);
    }
    return out;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, json> jobs_;
  std::vector<Call> calls_;
  int next_id_ = 100;
  int unreachable_ = 0;
  std::string refusal_;
};

class RestSlurmExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_.path() / "token") << "SLURM_JWT=eyJtoken\n";
    controller_ = std::make_shared<RestSlurmController>(
        RestSlurmOptions{.user = "alice", .token_file = dir_.path() / "token"}, rest_);
  }
  void TearDown() override {
    if (executor_) executor_->Shutdown();
  }

  SlurmExecutor& Start() {
    SlurmExecutorOptions options;
    options.script.runner_binary = "/opt/mltf/bin/mltf";
    options.script.signal_steps = true;
    options.poll_interval = 10ms;
    options.kill_margin = 0ms;
    options.sbatch_retry_pause = 5ms;
    executor_ = std::make_unique<SlurmExecutor>(options, controller_);
    executor_->SetListener([this](ExecutorEvent event) { events_.Add(std::move(event)); });
    return *executor_;
  }

  AttemptRequest Attempt(const std::string& task_id) {
    const fs::path attempt_dir = dir_.path() / task_id / "attempt-1";
    fs::create_directories(attempt_dir);
    return AttemptRequest{.task_id = task_id,
                          .attempt = 1,
                          .user = "alice",
                          .attempt_file = attempt_dir / "attempt.json",
                          .task_dir = dir_.path() / task_id,
                          .grace = 50ms};
  }

  std::string JobOf(const std::string& task_id) {
    const fs::path id_file = dir_.path() / task_id / "attempt-1" / "slurm-job-id";
    for (int i = 0; i < 2000 && !fs::exists(id_file); ++i) std::this_thread::sleep_for(1ms);
    std::string id;
    std::ifstream(id_file) >> id;
    EXPECT_FALSE(id.empty()) << "no job for " << task_id;
    return id;
  }

  TempDir dir_;
  std::shared_ptr<FakeSlurmRest> rest_ = std::make_shared<FakeSlurmRest>();
  std::shared_ptr<RestSlurmController> controller_;
  std::unique_ptr<SlurmExecutor> executor_;
  EventLog events_;
};

TEST_F(RestSlurmExecutorTest, PingSendsTheUserAndTheToken) {
  ASSERT_TRUE(controller_->Ping());
  const auto calls = rest_->Calls("GET", "/slurm/v0.0.38/ping");
  ASSERT_EQ(calls.size(), 1U);
  EXPECT_EQ(calls[0].headers,
            (RestHeaders{{"X-SLURM-USER-NAME", "alice"}, {"X-SLURM-USER-TOKEN", "eyJtoken"}}));
}

TEST_F(RestSlurmExecutorTest, AJobEndsWithTheExitCodeOfItsWaitStatusWithoutSlurmdb) {
  auto& executor = Start();
  executor.Submit(Attempt("t1"));
  const std::string id = JobOf("t1");
  const auto submits = rest_->Calls("POST", "/slurm/v0.0.38/job/submit");
  ASSERT_EQ(submits.size(), 1U);
  const json body = json::parse(submits[0].body);
  EXPECT_EQ(body["job"]["name"], "mltf-t1");
  EXPECT_NE(body["script"].get<std::string>().find("exec "), std::string::npos);

  rest_->Set(id, "RUNNING");
  EXPECT_EQ(events_.WaitFor("t1", Kind::STARTED).executor_id, id);
  rest_->Set(id, "FAILED", 768);
  const ExecutorEvent end = events_.WaitFor("t1", Kind::EXITED);
  EXPECT_EQ(end.exit_code, 3);
  EXPECT_EQ(end.reason, "exit code 3");
  EXPECT_TRUE(rest_->Calls("GET", "/slurmdb/").empty()) << "slurmctld's record was final";
}

TEST_F(RestSlurmExecutorTest, OneListingCallPerPollFollowsEveryJob) {
  auto& executor = Start();
  for (int i = 0; i < 5; ++i) executor.Submit(Attempt("t" + std::to_string(i)));
  for (int i = 0; i < 5; ++i) JobOf("t" + std::to_string(i));
  for (int i = 0; i < 5000 && executor.live_jobs() < 5; ++i) std::this_thread::sleep_for(1ms);
  const auto before = rest_->Calls("GET", "/slurm/v0.0.38/jobs").size();
  std::this_thread::sleep_for(100ms);
  const auto listed = rest_->Calls("GET", "/slurm/v0.0.38/jobs").size() - before;
  EXPECT_GT(listed, 0U);
  EXPECT_LT(listed, 30U) << "about one call per 10-ms poll, not one per job";
  EXPECT_TRUE(rest_->Calls("GET", "/slurm/v0.0.38/job/").empty());
}

TEST_F(RestSlurmExecutorTest, CancelSignalsFirstThenDeletes) {
  auto& executor = Start();
  executor.Submit(Attempt("t1"));
  const std::string id = JobOf("t1");
  rest_->Set(id, "RUNNING");
  events_.WaitFor("t1", Kind::STARTED);
  executor.Cancel("t1", 1, "cancelled by alice");
  const ExecutorEvent end = events_.WaitFor("t1", Kind::EXITED);
  EXPECT_TRUE(end.cancelled);
  EXPECT_EQ(end.reason, "cancelled by alice");
  const auto deletes = rest_->Calls("DELETE");
  ASSERT_GE(deletes.size(), 2U);
  EXPECT_EQ(deletes[0].path, "/slurm/v0.0.38/job/" + id + "?signal=SIGTERM");
  EXPECT_EQ(deletes[1].path, "/slurm/v0.0.38/job/" + id);
}

TEST_F(RestSlurmExecutorTest, ABadPartitionIsAFinalRefusalInSlurmsWords) {
  rest_->Refuse(kBadPartition);
  Start().Submit(Attempt("t1"));
  const ExecutorEvent end = events_.WaitFor("t1", Kind::EXITED);
  EXPECT_TRUE(end.final);
  EXPECT_NE(end.reason.find("Invalid partition name specified"), std::string::npos) << end.reason;
  EXPECT_EQ(rest_->Calls("POST").size(), 1U) << "not retried";
}

TEST_F(RestSlurmExecutorTest, AnUnreachableSlurmrestdIsRetried) {
  rest_->Unreachable(2);
  Start().Submit(Attempt("t1"));
  EXPECT_FALSE(JobOf("t1").empty());
  EXPECT_EQ(rest_->Calls("POST").size(), 3U);
  EXPECT_FALSE(events_.Has("t1", Kind::EXITED));
}

TEST_F(RestSlurmExecutorTest, AJobSlurmctldForgotIsAskedOfSlurmdbAndWaitedFor) {
  // A reattached job that is no longer in slurmctld's memory, and not (yet) in slurmdb.
  Start().Reattach({{.request = Attempt("t1"), .executor_id = "555", .started = true}});
  for (int i = 0; i < 2000 && rest_->Calls("GET", "/slurmdb/v0.0.38/job/555").empty(); ++i) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_FALSE(rest_->Calls("GET", "/slurmdb/v0.0.38/job/555").empty());
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(events_.Has("t1", Kind::EXITED)) << "not in slurmdb yet is not lost";
}

TEST(CurlRestTransport, ConnectionRefusedIsTemporarilyUnavailable) {
  // Port 1 on loopback: nothing listens there.
  CurlRestTransport transport("http://127.0.0.1:1", 2s);
  auto answer =
      transport.Send("GET", "/slurm/v0.0.38/ping", {{"X-SLURM-USER-TOKEN", "secret"}}, "");
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code, ErrorCode::TEMPORARILY_UNAVAILABLE);
  EXPECT_NE(answer.error().message.find("did not answer"), std::string::npos);
  EXPECT_EQ(answer.error().message.find("secret"), std::string::npos);
}

}  // namespace
}  // namespace mltf::gateway::executors::slurm
