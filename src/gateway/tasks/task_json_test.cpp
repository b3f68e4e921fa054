// task_json_test.cpp - the task spec as clients send it, and events as the store keeps them.
#include "gateway/tasks/task_json.hpp"

#include <gtest/gtest.h>

namespace mltf::gateway::tasks {
namespace {

using nlohmann::json;

const std::string kProject(64, 'a');

TEST(ParseTaskSpec, MinimalSpecGetsDefaults) {
  auto spec = ParseTaskSpec(json{{"project", kProject}});
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->entry_point, "main");
  EXPECT_EQ(spec->priority, 0);
  EXPECT_EQ(spec->max_retries, 0);
  EXPECT_EQ(spec->resources_json, "{}");
  EXPECT_EQ(spec->metric_patterns_json, "[]");
}

TEST(ParseTaskSpec, FullSpec) {
  json body = {{"project", kProject},
               {"entry_point", "train"},
               {"parameters", {{"alpha", 0.5}, {"epochs", 3}, {"name", "x y"}, {"flag", true}}},
               {"experiment_name", "demo"},
               {"run_name", "r1"},
               {"tags", {{"team", "hep"}}},
               {"resources", {{"gres", "gpu:1"}, {"mem", "4G"}}},
               {"env_manager", "virtualenv"},
               {"priority", 5},
               {"max_retries", "2"},
               {"preemptible", true},
               {"metric_patterns", json::array({"default"})},
               {"seed", 42}};
  auto spec = ParseTaskSpec(body);
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->parameters.at("alpha"), "0.5");
  EXPECT_EQ(spec->parameters.at("epochs"), "3");
  EXPECT_EQ(spec->parameters.at("flag"), "True");
  EXPECT_EQ(spec->experiment_name, "demo");
  EXPECT_EQ(spec->max_retries, 2);
  EXPECT_EQ(spec->seed, 42);
  EXPECT_EQ(json::parse(spec->resources_json)["gres"], "gpu:1");

  // Stored and read back: the same spec.
  auto again = ParseTaskSpec(SpecToJson(*spec));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(SpecToJson(*again), SpecToJson(*spec));
}

TEST(ParseTaskSpec, RefusesBadInputNamingTheField) {
  struct Case {
    json body;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {json::array(), "JSON object"},
      {json::object(), "missing 'project'"},
      {{{"project", "abc"}}, "'project' must be"},
      {{{"project", std::string(64, 'G')}}, "'project' must be"},
      {{{"project", kProject}, {"surprise", 1}}, "unknown field 'surprise'"},
      {{{"project", kProject}, {"parameters", "a=b"}}, "'parameters' must be an object"},
      {{{"project", kProject}, {"parameters", {{"a", json::array()}}}}, "parameters.a"},
      {{{"project", kProject}, {"experiment_id", "1"}, {"experiment_name", "x"}}, "not both"},
      {{{"project", kProject}, {"run_id", "xyz"}}, "'run_id'"},
      {{{"project", kProject}, {"priority", 100000}}, "'priority' must be between"},
      {{{"project", kProject}, {"priority", "high"}}, "'priority' must be an integer"},
      {{{"project", kProject}, {"max_retries", -1}}, "'max_retries'"},
      {{{"project", kProject}, {"env_manager", "docker"}}, "'env_manager'"},
      {{{"project", kProject}, {"resources", "gpu:1"}}, "'resources' must be an object"},
      {{{"project", kProject}, {"metric_patterns", "loss"}}, "'metric_patterns' must be a list"},
      {{{"project", kProject}, {"entry_point", ""}}, "'entry_point'"},
      {{{"project", kProject}, {"preemptible", "yes"}}, "'preemptible'"},
      {{{"project", kProject}, {"run_name", std::string(300, 'x')}}, "'run_name' is longer"},
  };
  for (const auto& test : cases) {
    auto spec = ParseTaskSpec(test.body);
    ASSERT_FALSE(spec) << test.body.dump();
    EXPECT_EQ(spec.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
    EXPECT_NE(spec.error().message.find(test.expected), std::string::npos)
        << test.body.dump() << " -> " << spec.error().message;
  }
}

TEST(EventJson, RoundTripsEveryField) {
  TaskEvent event{.kind = TaskEvent::Kind::EXITED,
                  .time_ms = 1234,
                  .attempt = 2,
                  .exit_code = 3,
                  .reason = "exit code 3",
                  .executor_id = "99",
                  .gpus = {0, 1},
                  .cancelled = true,
                  .final = true};
  auto back = EventFromStored("EXITED", 1234, EventDataToJson(event).dump());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->attempt, 2);
  EXPECT_EQ(back->exit_code, 3);
  EXPECT_EQ(back->reason, "exit code 3");
  EXPECT_EQ(back->executor_id, "99");
  EXPECT_EQ(back->gpus, (std::vector<int>{0, 1}));
  EXPECT_TRUE(back->cancelled);
  EXPECT_TRUE(back->final);
  EXPECT_FALSE(EventFromStored("NOPE", 1, "{}"));
  EXPECT_FALSE(EventFromStored("EXITED", 1, "not json"));
}

TEST(TaskJson, DetailedViewHasAttemptsAndEvents) {
  Task task;
  task.task_id = "t1";
  task.spec.project = kProject;
  task.events = {{.kind = TaskEvent::Kind::SUBMITTED, .time_ms = 1},
                 {.kind = TaskEvent::Kind::QUEUED, .time_ms = 2, .attempt = 1}};
  task.state = Replay(0, task.events);
  json brief = TaskToJson(task, false);
  EXPECT_EQ(brief["state"], "QUEUED");
  EXPECT_FALSE(brief.contains("events"));
  EXPECT_FALSE(brief.contains("ended_at"));
  json full = TaskToJson(task, true);
  ASSERT_EQ(full["events"].size(), 2U);
  EXPECT_EQ(full["events"][1]["event"], "QUEUED");
  ASSERT_EQ(full["attempts"].size(), 1U);
  EXPECT_EQ(full["attempts"][0]["state"], "QUEUED");
}

}  // namespace
}  // namespace mltf::gateway::tasks
