// task_state_test.cpp - the transition function, event by event, with literal logs.
#include <gtest/gtest.h>

#include "gateway/tasks/task.hpp"

namespace mltf::gateway::tasks {
namespace {

using Kind = TaskEvent::Kind;

TaskEvent Event(Kind kind, std::int64_t time, int attempt = 0) {
  return TaskEvent{.kind = kind, .time_ms = time, .attempt = attempt};
}

TaskEvent Exited(std::int64_t time, int attempt, int code, std::string reason = "") {
  TaskEvent event = Event(Kind::EXITED, time, attempt);
  event.exit_code = code;
  event.reason = std::move(reason);
  return event;
}

std::vector<TaskEvent> StartedLog() {
  return {Event(Kind::SUBMITTED, 100), Event(Kind::QUEUED, 101, 1), Event(Kind::STARTED, 110, 1),
          Event(Kind::RUNNING, 120, 1)};
}

TEST(TaskState, HappyPathEndsSucceeded) {
  auto events = StartedLog();
  events.push_back(Exited(200, 1, 0));
  TaskState state = Replay(0, events);
  EXPECT_EQ(state.state, TaskStateName::SUCCEEDED);
  EXPECT_EQ(state.submitted_at, 100);
  EXPECT_EQ(state.started_at, 110);
  EXPECT_EQ(state.ended_at, 200);
  EXPECT_EQ(state.exit_code, 0);
  ASSERT_EQ(state.attempts.size(), 1U);
  EXPECT_EQ(state.attempts[0].state, TaskStateName::SUCCEEDED);
}

TEST(TaskState, EachStepOfTheLifecycle) {
  TaskState state;
  state = Apply(state, Event(Kind::SUBMITTED, 1));
  EXPECT_EQ(state.state, TaskStateName::SUBMITTED);
  state = Apply(state, Event(Kind::QUEUED, 2, 1));
  EXPECT_EQ(state.state, TaskStateName::QUEUED);
  EXPECT_EQ(state.attempt_number(), 1);
  TaskEvent started = Event(Kind::STARTED, 3, 1);
  started.executor_id = "4242";
  started.gpus = {1};
  state = Apply(state, started);
  EXPECT_EQ(state.state, TaskStateName::STARTING);
  EXPECT_EQ(state.attempts[0].executor_id, "4242");
  EXPECT_EQ(state.attempts[0].gpus, std::vector<int>{1});
  state = Apply(state, Event(Kind::RUNNING, 4, 1));
  EXPECT_EQ(state.state, TaskStateName::RUNNING);
  EXPECT_EQ(state.attempts[0].gpus, std::vector<int>{1});
}

TEST(TaskState, FailureWithoutRetriesIsFinal) {
  auto events = StartedLog();
  events.push_back(Exited(200, 1, 3, "exit code 3"));
  TaskState state = Replay(0, events);
  EXPECT_EQ(state.state, TaskStateName::FAILED);
  EXPECT_EQ(state.exit_code, 3);
  EXPECT_EQ(state.reason, "exit code 3");
}

TEST(TaskState, FailureWithRetriesLeftQueuesTheNextAttempt) {
  auto events = StartedLog();
  events.push_back(Exited(200, 1, 1, "exit code 1"));
  TaskState state = Replay(2, events);
  EXPECT_EQ(state.state, TaskStateName::QUEUED);
  ASSERT_EQ(state.attempts.size(), 2U);
  EXPECT_EQ(state.attempts[0].state, TaskStateName::FAILED);
  EXPECT_EQ(state.attempts[1].number, 2);
  EXPECT_EQ(state.attempts[1].state, TaskStateName::QUEUED);
  EXPECT_FALSE(state.ended_at.has_value());

  // Attempt 2 fails too, attempt 3 succeeds.
  events.push_back(Event(Kind::STARTED, 210, 2));
  events.push_back(Exited(220, 2, 1, "exit code 1"));
  events.push_back(Event(Kind::STARTED, 230, 3));
  events.push_back(Exited(240, 3, 0));
  state = Replay(2, events);
  EXPECT_EQ(state.state, TaskStateName::SUCCEEDED);
  EXPECT_EQ(state.attempt_number(), 3);
}

TEST(TaskState, RetriesRunOut) {
  std::vector<TaskEvent> events = {Event(Kind::SUBMITTED, 1), Event(Kind::QUEUED, 2, 1),
                                   Exited(3, 1, 1), Exited(4, 2, 1)};
  TaskState state = Replay(1, events);
  EXPECT_EQ(state.state, TaskStateName::FAILED);
  EXPECT_EQ(state.attempt_number(), 2);
}

TEST(TaskState, AFinalFailureIsNotRetried) {
  auto events = StartedLog();
  TaskEvent walltime = Exited(200, 1, 143, "walltime exceeded");
  walltime.final = true;
  events.push_back(walltime);
  TaskState state = Replay(5, events);
  EXPECT_EQ(state.state, TaskStateName::FAILED);
  EXPECT_EQ(state.reason, "walltime exceeded");
}

TEST(TaskState, LostAttemptIsRetriedOrFailed) {
  auto events = StartedLog();
  TaskEvent lost = Event(Kind::LOST, 300, 1);
  lost.reason = "the server stopped while the attempt ran";
  events.push_back(lost);
  EXPECT_EQ(Replay(0, events).state, TaskStateName::FAILED);
  EXPECT_EQ(Replay(0, events).reason, "the server stopped while the attempt ran");
  EXPECT_EQ(Replay(1, events).state, TaskStateName::QUEUED);
}

TEST(TaskState, ARequeueByTheExecutorIsANewAttemptButNotARetry) {
  auto events = StartedLog();
  TaskEvent requeued = Event(Kind::REQUEUED, 150, 1);
  requeued.reason = "was preempted; SLURM requeued job 7";
  events.push_back(requeued);
  TaskState state = Replay(0, events);  // no retries allowed, and still it goes on
  EXPECT_EQ(state.state, TaskStateName::QUEUED);
  ASSERT_EQ(state.attempts.size(), 2U);
  EXPECT_EQ(state.attempts[0].reason, "was preempted; SLURM requeued job 7");
  EXPECT_EQ(state.reason, "attempt 1 was preempted; SLURM requeued job 7");
  events.push_back(Event(Kind::STARTED, 160, 2));
  events.push_back(Exited(170, 2, 0));
  state = Replay(0, events);
  EXPECT_EQ(state.state, TaskStateName::SUCCEEDED);
  EXPECT_EQ(state.started_at, 110);

  // Cancelled while it was being requeued: it ends there.
  events = StartedLog();
  events.push_back(Event(Kind::CANCEL_REQUESTED, 140));
  events.push_back(requeued);
  EXPECT_EQ(Replay(0, events).state, TaskStateName::CANCELLED);
}

TEST(TaskState, CancelBeforeQueueingIsImmediate) {
  TaskState state = Replay(0, {Event(Kind::SUBMITTED, 1), Event(Kind::CANCEL_REQUESTED, 2)});
  EXPECT_EQ(state.state, TaskStateName::CANCELLED);
  EXPECT_EQ(state.ended_at, 2);
}

TEST(TaskState, CancelOfARunningTaskWaitsForItsExit) {
  auto events = StartedLog();
  events.push_back(Event(Kind::CANCEL_REQUESTED, 150));
  TaskState state = Replay(3, events);
  EXPECT_EQ(state.state, TaskStateName::RUNNING);
  EXPECT_TRUE(state.cancel_requested);
  // The runner was stopped with SIGTERM: a non-zero exit, but cancelled, and never retried.
  events.push_back(Exited(160, 1, 143, "terminated"));
  state = Replay(3, events);
  EXPECT_EQ(state.state, TaskStateName::CANCELLED);
  EXPECT_EQ(state.attempts[0].state, TaskStateName::CANCELLED);
}

TEST(TaskState, EventsThatDoNotApplyChangeNothing) {
  auto events = StartedLog();
  TaskState running = Replay(0, events);
  // A report for another attempt, a second SUBMITTED, a second QUEUED.
  EXPECT_FALSE(Changes(running, Exited(1, 2, 0)));
  EXPECT_FALSE(Changes(running, Event(Kind::SUBMITTED, 1)));
  EXPECT_FALSE(Changes(running, Event(Kind::QUEUED, 1, 1)));
  EXPECT_EQ(Apply(running, Exited(1, 2, 0)).state, TaskStateName::RUNNING);

  events.push_back(Exited(200, 1, 0));
  TaskState done = Replay(0, events);
  for (Kind kind : {Kind::QUEUED, Kind::STARTED, Kind::RUNNING, Kind::EXITED, Kind::LOST,
                    Kind::CANCEL_REQUESTED}) {
    EXPECT_FALSE(Changes(done, Event(kind, 300, 1))) << TaskEventKindText(kind);
    EXPECT_EQ(Apply(done, Event(kind, 300, 1)).state, TaskStateName::SUCCEEDED);
  }
}

TEST(TaskState, RunningWithoutStartedStillRecordsTheStart) {
  TaskState state =
      Replay(0, {Event(Kind::SUBMITTED, 1), Event(Kind::QUEUED, 2, 1), Event(Kind::RUNNING, 5, 1)});
  EXPECT_EQ(state.state, TaskStateName::RUNNING);
  EXPECT_EQ(state.started_at, 5);
}

TEST(TaskState, NamesRoundTrip) {
  for (auto state : {TaskStateName::SUBMITTED, TaskStateName::STAGING, TaskStateName::QUEUED,
                     TaskStateName::STARTING, TaskStateName::RUNNING, TaskStateName::SUCCEEDED,
                     TaskStateName::FAILED, TaskStateName::CANCELLED}) {
    EXPECT_EQ(ParseTaskStateName(TaskStateNameText(state)), state);
  }
  EXPECT_FALSE(ParseTaskStateName("running").has_value());
  EXPECT_EQ(ParseTaskEventKind("CANCEL_REQUESTED"), Kind::CANCEL_REQUESTED);
  EXPECT_FALSE(ParseTaskEventKind("nope").has_value());
}

}  // namespace
}  // namespace mltf::gateway::tasks
