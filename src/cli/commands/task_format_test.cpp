// task_format_test.cpp - durations, local times, the task table and details, with hostile
// field values.
#include "cli/commands/task_format.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

namespace mltf::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

class UtcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
  }
};

TEST(FormatDurationTest, Ranges) {
  EXPECT_EQ(FormatDuration(-1), "-");
  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(59999), "59s");
  EXPECT_EQ(FormatDuration(60000), "1m 00s");
  EXPECT_EQ(FormatDuration(187000), "3m 07s");
  EXPECT_EQ(FormatDuration(3600000 + 5LL * 60000), "1h 05m");
  EXPECT_EQ(FormatDuration(86400000LL * 3 + 4LL * 3600000), "3d 04h");
}

TEST(IsTerminalStateTest, OnlyFinalStates) {
  EXPECT_TRUE(IsTerminalState("SUCCEEDED"));
  EXPECT_TRUE(IsTerminalState("FAILED"));
  EXPECT_TRUE(IsTerminalState("CANCELLED"));
  EXPECT_FALSE(IsTerminalState("RUNNING"));
  EXPECT_FALSE(IsTerminalState(""));
}

TEST_F(UtcTest, LocalTimeUsesTheProcessTimeZone) {
  EXPECT_EQ(FormatLocalTime(1700000000000), "2023-11-14 22:13:20");
}

TEST(DisplayFieldTest, StringsNumbersAbsentAndControlCharacters) {
  const Json task = {{"a", "x"}, {"n", 3}, {"z", nullptr}, {"e", ""}, {"bad", "red\x1b[31m\n"}};
  EXPECT_EQ(DisplayField(task, "a"), "x");
  EXPECT_EQ(DisplayField(task, "n"), "3");
  EXPECT_EQ(DisplayField(task, "z"), "-");
  EXPECT_EQ(DisplayField(task, "e"), "-");
  EXPECT_EQ(DisplayField(task, "missing"), "-");
  EXPECT_EQ(DisplayField(task, "bad"), "red [31m ");
  EXPECT_EQ(DisplayField(Json::array(), "a"), "-");
}

TEST(TaskDurationTest, RunningFinishedAndNotStarted) {
  EXPECT_EQ(TaskDuration({{"started_at", 1000}, {"ended_at", 61000}}, 0), "1m 00s");
  EXPECT_EQ(TaskDuration({{"started_at", 1000}, {"ended_at", nullptr}}, 11000), "10s");
  EXPECT_EQ(TaskDuration({{"submitted_at", 1000}}, 11000), "-");
  EXPECT_EQ(TaskDuration({{"started_at", "soon"}}, 11000), "-");
  EXPECT_EQ(TaskDuration({{"started_at", 1e300}}, 11000), "-");
}

TEST_F(UtcTest, TableAlignsColumns) {
  const Json tasks = Json::array({{{"task_id", "t1"},
                                   {"state", "RUNNING"},
                                   {"user", "alice"},
                                   {"experiment_id", "1"},
                                   {"run_id", "r1"},
                                   {"entry_point", "main"},
                                   {"submitted_at", 1700000000000},
                                   {"started_at", 1700000000000}},
                                  {{"task_id", "task-two"}, {"state", "SUBMITTED"}},
                                  "not an object"});
  const std::string table = FormatTaskTable(tasks, 1700000065000);
  EXPECT_EQ(table,
            "TASK ID   STATE      USER   EXPERIMENT  RUN ID  ENTRY  SUBMITTED            DURATION\n"
            "t1        RUNNING    alice  1           r1      main   2023-11-14 22:13:20  1m 05s\n"
            "task-two  SUBMITTED  -      -           -       -      -                    -\n");
}

TEST(TaskTableTest, EmptyOrMalformedListGivesTheHeaderOnly) {
  EXPECT_THAT(FormatTaskTable(Json::array(), 0), HasSubstr("TASK ID"));
  EXPECT_EQ(FormatTaskTable(Json("x"), 0), FormatTaskTable(Json::array(), 0));
}

TEST_F(UtcTest, DetailsListAttemptsAndEvents) {
  const Json task = {
      {"task_id", "t1"},
      {"state", "FAILED"},
      {"reason", "exit code 3"},
      {"parameters", {{"alpha", "0.5"}}},
      {"attempts",
       {{{"attempt", 1}, {"state", "FAILED"}, {"exit_code", 3}, {"executor_id", "123"}}}},
      {"events",
       {{{"time", 1700000000000}, {"state", "SUBMITTED"}, {"reason", "submitted by alice"}}}}};
  const std::string details = FormatTaskDetails(task, 0);
  EXPECT_THAT(details, HasSubstr("Task:         t1\n"));
  EXPECT_THAT(details, HasSubstr("Reason:       exit code 3\n"));
  EXPECT_THAT(details, HasSubstr(R"(Parameters:   {"alpha":"0.5"})"));
  EXPECT_THAT(details, HasSubstr("Attempts:\n  #1 FAILED"));
  EXPECT_THAT(details, HasSubstr("exit 3 executor id 123"));
  EXPECT_THAT(details,
              HasSubstr("Events:\n  2023-11-14 22:13:20  SUBMITTED  submitted by alice\n"));
  EXPECT_THAT(FormatTaskDetails(Json{{"task_id", "t"}}, 0), Not(HasSubstr("Attempts")));
}

}  // namespace
}  // namespace mltf::cli
