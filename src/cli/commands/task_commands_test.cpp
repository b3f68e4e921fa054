// task_commands_test.cpp - the task subcommands end to end: flags parsed by CLI11, usage
// errors, and the requests and output against the scripted local server of the client tests.
#include "cli/commands/task_commands.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <random>
#include <sstream>

#include "client/test_server.hpp"

namespace mltf::cli {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Json = nlohmann::json;
using client::testing::TestServer;

struct Outcome {
  std::optional<int> exit_code;
  std::string out;
  std::string err;
};

Outcome RunMltf(std::vector<std::string> args) {
  CLI::App app{"test"};
  TaskCommandState state;
  AddTaskCommands(app, state);
  args.insert(args.begin(), "mltf");
  std::vector<const char*> argv;
  argv.reserve(args.size());
  for (const auto& arg : args) argv.push_back(arg.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
  std::ostringstream out;
  std::ostringstream err;
  Outcome outcome;
  outcome.exit_code = RunTaskCommands(state, out, err);
  outcome.out = out.str();
  outcome.err = err.str();
  return outcome;
}

TEST(TaskCommandsParseTest, SubmitFlagsLandInTheState) {
  CLI::App app{"test"};
  TaskCommandState state;
  AddTaskCommands(app, state);
  std::vector<const char*> argv = {
      "mltf",      "submit",   "proj",       "-e", "train",         "-P", "a=1",
      "-P",        "b=x=y",    "--priority", "3",  "--max-retries", "1",  "--metric-pattern",
      "loss=(.*)", "--follow", "--json"};
  app.parse(static_cast<int>(argv.size()), argv.data());
  EXPECT_TRUE(state.submit_command->parsed());
  EXPECT_EQ(state.submit.dir, "proj");
  EXPECT_EQ(state.submit.entry_point, "train");
  EXPECT_EQ(state.submit.parameters, (std::vector<std::string>{"a=1", "b=x=y"}));
  EXPECT_EQ(state.submit.priority, 3);
  EXPECT_EQ(state.submit.max_retries, 1);
  EXPECT_EQ(state.submit.metric_patterns, std::vector<std::string>{"loss=(.*)"});
  EXPECT_TRUE(state.submit.follow);
  EXPECT_TRUE(state.json);
}

TEST(TaskCommandsParseTest, ExperimentNameAndIdExcludeEachOther) {
  CLI::App app{"test"};
  TaskCommandState state;
  AddTaskCommands(app, state);
  std::vector<const char*> argv = {"mltf", "submit",          "--experiment-name",
                                   "a",    "--experiment-id", "1"};
  EXPECT_THROW(app.parse(static_cast<int>(argv.size()), argv.data()), CLI::ParseError);
}

TEST(TaskCommandsParseTest, UnknownEnvManagerIsAParseError) {
  CLI::App app{"test"};
  TaskCommandState state;
  AddTaskCommands(app, state);
  std::vector<const char*> argv = {"mltf", "submit", "--env-manager", "conda"};
  EXPECT_THROW(app.parse(static_cast<int>(argv.size()), argv.data()), CLI::ParseError);
}

TEST(TaskCommandsTest, NoTaskCommandParsedGivesNothing) {
  CLI::App app{"test"};
  app.add_subcommand("version");
  TaskCommandState state;
  AddTaskCommands(app, state);
  std::vector<const char*> argv = {"mltf", "version"};
  app.parse(static_cast<int>(argv.size()), argv.data());
  EXPECT_EQ(RunTaskCommands(state), std::nullopt);
}

// Answers of the scripted server.
Json Ok(const Json& body) { return Json{{"body", body}}; }
Json Refused(int status, const std::string& code, const std::string& message) {
  return Json{{"status", status}, {"body", {{"error_code", code}, {"message", message}}}};
}
Json TaskAnswer(const Json& task) { return Ok(Json{{"task", task}}); }
Json LogAnswer(const std::string& body, int offset, const std::string& state) {
  return {{"body", body},
          {"headers",
           {{"Content-Type", "text/plain"},
            {"X-MLTF-Log-Offset", std::to_string(offset)},
            {"X-MLTF-Task-State", state}}}};
}
Json Routes(const std::vector<std::pair<std::string, std::vector<Json>>>& routes) {
  Json out = Json::object();
  for (const auto& [route, answers] : routes) out[route] = answers;
  return out;
}
Json ProjectAnswer(const std::string& sha256) {
  return Ok(Json{{"project", {{"sha256", sha256}}}});
}

class ProjectDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device random;
    dir_ = fs::temp_directory_path() / ("mltf-commands-test-" + std::to_string(random()));
    fs::create_directories(dir_);
    std::ofstream(dir_ / "MLproject")
        << "name: demo\nentry_points:\n  main:\n    command: python train.py\n";
    std::ofstream(dir_ / "train.py") << "print('hi')\n";
    std::ofstream(dir_ / "gateway_config.json")
        << R"({"partition": "batch_gpu", "ENV_MANAGER": null})";
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(ProjectDirTest, BadParameterIsAUsageError) {
  auto outcome =
      RunMltf({"submit", dir_.string(), "-P", "alpha", "--server", "http://127.0.0.1:1"});
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_THAT(outcome.err, HasSubstr("mltf submit: -P expects key=value"));
}

TEST_F(ProjectDirTest, MissingDirectoryIsAUsageError) {
  auto outcome = RunMltf({"submit", (dir_ / "missing").string()});
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_THAT(outcome.err, HasSubstr("is not a project directory"));
}

TEST_F(ProjectDirTest, BadServerIsAUsageError) {
  auto outcome = RunMltf({"submit", dir_.string(), "--server", "ftp://host"});
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_THAT(outcome.err, HasSubstr("--server"));
}

TEST_F(ProjectDirTest, SubmitUploadsTheProjectThenTheSpec) {
  TestServer server(
      Routes({{"POST /api/mltf/v1/projects", {ProjectAnswer("abc123")}},
              {"POST /api/mltf/v1/tasks",
               {TaskAnswer({{"task_id", "t1"}, {"state", "SUBMITTED"}, {"run_id", "r1"}})}}}));
  auto outcome = RunMltf({"submit", dir_.string(), "--server", server.url(), "-P", "alpha=0.5",
                          "--resources-json", R"({"gpus": 1})", "--experiment-name", "demo"});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_EQ(outcome.out, "Submitted task t1 (state SUBMITTED, run r1)\n");
  const auto requests = server.Requests();
  ASSERT_EQ(requests.size(), 2U);
  EXPECT_EQ(requests[0]["path"], "/api/mltf/v1/projects");
  EXPECT_EQ(requests[0]["headers"]["content-type"], "application/gzip");
  EXPECT_GT(requests[0]["size"].get<int>(), 20);
  const auto spec = Json::parse(requests[1]["body"].get<std::string>());
  EXPECT_EQ(spec, (Json{{"project", "abc123"},
                        {"entry_point", "main"},
                        {"parameters", {{"alpha", "0.5"}}},
                        {"experiment_name", "demo"},
                        {"resources", {{"partition", "batch_gpu"}, {"gpus", 1}}}}));
}

TEST_F(ProjectDirTest, SubmitJsonPrintsTheTask) {
  TestServer server(Routes({{"POST /api/mltf/v1/projects", {ProjectAnswer("abc")}},
                            {"POST /api/mltf/v1/tasks", {TaskAnswer({{"task_id", "t1"}})}}}));
  auto outcome = RunMltf({"submit", dir_.string(), "--server", server.url(), "--json"});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_EQ(Json::parse(outcome.out), (Json{{"task", {{"task_id", "t1"}}}}));
}

TEST_F(ProjectDirTest, SubmitRefusedByTheServerExitsOne) {
  TestServer server(Routes({{"POST /api/mltf/v1/projects",
                             {Refused(400, "INVALID_PARAMETER_VALUE", "bad entry ../x")}}}));
  auto outcome = RunMltf({"submit", dir_.string(), "--server", server.url()});
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_THAT(outcome.err, HasSubstr("mltf submit: bad entry ../x"));
}

TEST_F(ProjectDirTest, SubmitFollowExitsByTheFinalState) {
  for (const auto& [final_state, expected] :
       std::vector<std::pair<std::string, int>>{{"SUCCEEDED", 0}, {"FAILED", 1}}) {
    TestServer server(
        Routes({{"POST /api/mltf/v1/projects", {ProjectAnswer("abc")}},
                {"POST /api/mltf/v1/tasks", {TaskAnswer({{"task_id", "t1"}})}},
                {"GET /api/mltf/v1/tasks/t1/logs",
                 {LogAnswer("epoch 1\n", 8, "RUNNING"), LogAnswer("done\n", 13, final_state),
                  LogAnswer("", 13, final_state)}}}));
    auto outcome = RunMltf({"submit", dir_.string(), "--server", server.url(), "--follow"});
    EXPECT_EQ(outcome.exit_code, expected) << outcome.err;
    EXPECT_THAT(outcome.out, HasSubstr("epoch 1\ndone\n"));
    const auto requests = server.Requests();
    ASSERT_EQ(requests.size(), 5U);
    EXPECT_EQ(requests[2]["path"], "/api/mltf/v1/tasks/t1/logs?offset=0&wait_ms=10000");
    EXPECT_EQ(requests[3]["path"], "/api/mltf/v1/tasks/t1/logs?offset=8&wait_ms=10000");
    EXPECT_EQ(requests[4]["path"], "/api/mltf/v1/tasks/t1/logs?offset=13&wait_ms=10000");
  }
}

TEST(TaskCommandsTest, LogsEncodesTheTaskId) {
  TestServer server(Routes({{"GET /api/mltf/v1/tasks/t%201/logs",
                             {LogAnswer("abc", 3, "RUNNING"), LogAnswer("", 3, "RUNNING")}}}));
  auto outcome = RunMltf({"logs", "t 1", "--server", server.url()});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_EQ(outcome.out, "abc");
  EXPECT_EQ(server.Requests()[0]["path"], "/api/mltf/v1/tasks/t%201/logs?offset=0");
}

TEST(TaskCommandsTest, LogsPrintsEveryPage) {
  TestServer server(Routes({{"GET /api/mltf/v1/tasks/t1/logs",
                             {LogAnswer("abc", 3, "RUNNING"), LogAnswer("def", 6, "RUNNING"),
                              LogAnswer("", 6, "RUNNING")}}}));
  auto outcome = RunMltf({"logs", "t1", "--server", server.url()});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_EQ(outcome.out, "abcdef");
  EXPECT_EQ(server.Requests()[1]["path"], "/api/mltf/v1/tasks/t1/logs?offset=3");
}

TEST(TaskCommandsTest, LogsFollowOfACancelledTaskExitsOne) {
  TestServer server(
      Routes({{"GET /api/mltf/v1/tasks/t1/logs",
               {LogAnswer("all\n", 4, "CANCELLED"), LogAnswer("", 4, "CANCELLED")}}}));
  auto outcome = RunMltf({"logs", "-f", "t1", "--server", server.url()});
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_EQ(outcome.out, "all\n");
  EXPECT_THAT(outcome.err, HasSubstr("CANCELLED"));
}

TEST(TaskCommandsTest, LogsFollowAsksForTheStateWhenTheHeaderIsMissing) {
  TestServer server(Routes(
      {{"GET /api/mltf/v1/tasks/t1/logs", {Ok("")}},
       {"GET /api/mltf/v1/tasks/t1", {TaskAnswer({{"task_id", "t1"}, {"state", "SUCCEEDED"}})}}}));
  auto outcome = RunMltf({"logs", "-f", "t1", "--server", server.url()});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
}

TEST(TaskCommandsTest, TasksAllPagesFollowsTokens) {
  const Json page1 = {{"tasks", Json::array({Json{{"task_id", "t2"}}})},
                      {"next_page_token", "p 2"}};
  const Json page2 = {{"tasks", Json::array({Json{{"task_id", "t1"}}})}};
  TestServer server(Routes({{"GET /api/mltf/v1/tasks", {Ok(page1), Ok(page2)}}}));
  auto outcome = RunMltf({"tasks", "--server", server.url(), "--state", "RUNNING", "--state",
                          "QUEUED", "--user", "alice", "--all-pages", "--json"});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_EQ(Json::parse(outcome.out),
            (Json{{"tasks", Json::array({Json{{"task_id", "t2"}}, Json{{"task_id", "t1"}}})}}));
  const auto requests = server.Requests();
  ASSERT_EQ(requests.size(), 2U);
  EXPECT_EQ(requests[0]["path"], "/api/mltf/v1/tasks?state=RUNNING&state=QUEUED&user=alice");
  EXPECT_EQ(requests[1]["path"],
            "/api/mltf/v1/tasks?state=RUNNING&state=QUEUED&user=alice&page_token=p%202");
}

TEST(TaskCommandsTest, TasksTableAndMorePagesHint) {
  const Json page = {{"tasks", Json::array({Json{{"task_id", "t2"}, {"state", "QUEUED"}}})},
                     {"next_page_token", "p2"}};
  TestServer server(Routes({{"GET /api/mltf/v1/tasks", {Ok(page)}}}));
  auto outcome = RunMltf({"tasks", "--server", server.url(), "--max-results", "1"});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_THAT(outcome.out, HasSubstr("TASK ID"));
  EXPECT_THAT(outcome.out, HasSubstr("t2       QUEUED"));
  EXPECT_THAT(outcome.err, HasSubstr("--all-pages"));
  EXPECT_EQ(server.Requests()[0]["path"], "/api/mltf/v1/tasks?max_results=1");
}

TEST(TaskCommandsTest, ShowOfAnUnknownTaskExitsOne) {
  TestServer server(Routes({{"GET /api/mltf/v1/tasks/nope",
                             {Refused(404, "RESOURCE_DOES_NOT_EXIST", "No task with id nope")}}}));
  auto outcome = RunMltf({"show", "nope", "--server", server.url()});
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_EQ(outcome.err, "mltf show: No task with id nope\n");
}

TEST(TaskCommandsTest, ShowPrintsDetails) {
  TestServer server(Routes(
      {{"GET /api/mltf/v1/tasks/t1", {TaskAnswer({{"task_id", "t1"}, {"state", "RUNNING"}})}}}));
  auto outcome = RunMltf({"show", "t1", "--server", server.url()});
  ASSERT_EQ(outcome.exit_code, 0);
  EXPECT_THAT(outcome.out, HasSubstr("State:        RUNNING"));
}

TEST(TaskCommandsTest, CancelAndReproduce) {
  TestServer server(
      Routes({{"POST /api/mltf/v1/tasks/t1/cancel",
               {TaskAnswer({{"task_id", "t1"}, {"state", "CANCELLED"}})}},
              {"POST /api/mltf/v1/tasks/t1/reproduce", {TaskAnswer({{"task_id", "t9"}})}}}));
  auto cancelled = RunMltf({"cancel", "t1", "--server", server.url()});
  ASSERT_EQ(cancelled.exit_code, 0) << cancelled.err;
  EXPECT_EQ(cancelled.out, "Task t1 CANCELLED\n");
  auto reproduced = RunMltf({"reproduce", "t1", "--server", server.url()});
  ASSERT_EQ(reproduced.exit_code, 0) << reproduced.err;
  EXPECT_EQ(reproduced.out, "t9\n");
}

TEST(TaskCommandsTest, CancellingAFinishedTaskExitsOne) {
  TestServer server(Routes({{"POST /api/mltf/v1/tasks/t1/cancel",
                             {Refused(400, "INVALID_STATE", "Task t1 is already SUCCEEDED")}}}));
  auto outcome = RunMltf({"cancel", "t1", "--server", server.url()});
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_THAT(outcome.err, HasSubstr("already SUCCEEDED"));
}

TEST(TaskCommandsTest, AnswerWithoutTaskIsAnError) {
  TestServer server(Routes({{"GET /api/mltf/v1/tasks/t1", {Ok(Json{{"tasks", 1}})}}}));
  auto outcome = RunMltf({"show", "t1", "--server", server.url()});
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_THAT(outcome.err, HasSubstr("no `task` object"));
}

TEST(TaskCommandsTest, UnreachableServerSaysHowToPointAtOne) {
  const std::string url = "http://127.0.0.1:" + std::to_string(client::testing::UnusedPort());
  auto outcome = RunMltf({"show", "t1", "--server", url});
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_THAT(outcome.err, HasSubstr("mltf show: cannot reach the MLTF server at " + url));
  EXPECT_THAT(outcome.err, HasSubstr("MLTF_SERVER"));
}

TEST(TaskCommandsTest, EmptyTaskIdIsAUsageError) {
  auto outcome = RunMltf({"show", "", "--server", "http://127.0.0.1:1"});
  EXPECT_EQ(outcome.exit_code, 2);
}

}  // namespace
}  // namespace mltf::cli
