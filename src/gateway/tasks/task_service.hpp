// task_service.hpp - the rules of training tasks: submission, the lifecycle, runs kept in step.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "common/error.hpp"
#include "gateway/executors/attempt_description.hpp"
#include "gateway/executors/executor.hpp"
#include "gateway/projects/project_store.hpp"
#include "gateway/tasks/task.hpp"
#include "gateway/tasks/task_credentials.hpp"
#include "gateway/tasks/task_store.hpp"
#include "tracking/tracking_service.hpp"

namespace mltf::gateway::tasks {

struct TaskServiceOptions {
  std::filesystem::path tasks_root;  ///< `<data>/tasks`: one directory per task
  std::string tracking_uri;          ///< how runners reach this server
  envs::EnvironmentOptions environment_settings;
  std::chrono::milliseconds cancel_grace{10000};
  std::int64_t system_metrics_interval_ms = 10000;  ///< the runners' sampling; 0: off
  /// Gives every attempt a token of its own; null when the server authenticates nobody. Must
  /// outlive the service.
  TaskCredentials* credentials = nullptr;
};

/// Accepts tasks, keeps each one's event log and MLflow run in step, and drives attempts
/// through the executor.
///
/// Every change of a task goes through Record(): under one lock, the event is checked against
/// the task's state (Changes), the new state computed (Apply), and both queued for the store,
/// after the run updates the change implies (so they commit in order with it); the other side
/// effects (starting the next attempt, stopping one) run on the service's own thread once the
/// event is durable. So a transition is always persisted
/// before it is acted on, and a restart that replays the log and reconciles with the executor
/// (Start) picks up where the last server stopped. Thread-safe.
class TaskService {
 public:
  TaskService(TaskStore& store, projects::ProjectStore& projects,
              tracking::TrackingService& tracking, executors::Executor& executor,
              TaskServiceOptions options);
  ~TaskService();
  TaskService(const TaskService&) = delete;
  TaskService& operator=(const TaskService&) = delete;

  /// Starts the effects thread, listens to the executor, and reconciles every unfinished task
  /// with it. Fails if the stored tasks cannot be read.
  Result<void> Start();
  /// Runs the effects already queued, stops the effects thread, and waits for the events already
  /// handed to the store; later events are stored but not acted on (the next start reconciles).
  /// Idempotent; shut the executor down first, so that no event arrives meanwhile.
  void Stop();

  /// Decides whether the submitter may put the task's run into an experiment (`created`: the
  /// submission just created it, by name); its error refuses the submission. Empty: anyone may.
  using ExperimentAdmission =
      std::function<Result<void>(const std::string& experiment_id, bool created)>;

  /// Checks `spec` against its project, the executor and the tracking store, creates or attaches
  /// the run, stores the task and hands its first attempt to the executor. Fails with
  /// INVALID_PARAMETER_VALUE (bad entry point, parameters, resources, environment) or
  /// RESOURCE_DOES_NOT_EXIST (project, experiment or run), or with what `admit` answers, and
  /// then stores nothing (but an experiment it created by name).
  Result<Task> Submit(TaskSpec spec, const std::string& user,
                      const ExperimentAdmission& admit = {});
  Result<Task> Get(const std::string& task_id, bool with_events);
  Result<TaskPage> List(const TaskQuery& query);
  /// Asks the executor to stop the task; CANCELLED follows once it stopped. RESOURCE_CONFLICT
  /// for a task that already ended.
  Result<Task> Cancel(const std::string& task_id, const std::string& reason);
  /// Submits the spec of `task_id` again, unchanged but for a new run.
  Result<Task> Reproduce(const std::string& task_id, const std::string& user,
                         const ExperimentAdmission& admit = {});

  /// Whether the task is known and has not ended yet. Does not fail.
  bool IsLive(const std::string& task_id);

  /// The task's log file (it may not exist yet).
  [[nodiscard]] std::filesystem::path LogPath(const std::string& task_id) const;

 private:
  /// What the service keeps of an unfinished task.
  struct LiveTask {
    Task task;
    int cancels_sent = 0;  ///< attempts already told to stop
  };

  /// Appends `event` if it changes the task, then schedules the effects of the new state.
  void Record(const std::string& task_id, const TaskEvent& event);
  /// Runs on the effects thread after the event committed.
  void ActOn(const std::string& task_id, const TaskEvent& event, const Task& task);
  void OnExecutorEvent(executors::ExecutorEvent event);
  /// Writes the attempt file and hands the attempt to the executor.
  Result<void> LaunchAttempt(const Task& task, int attempt);
  Result<executors::AttemptRequest> PrepareAttempt(const Task& task, int attempt);
  /// Queues the run updates an event implies: RUNNING (and what was given) when an attempt
  /// started, the end when the task ended. Never blocks; called under `mutex_`.
  void KeepRunInStep(const Task& task, const TaskEvent& event);
  void CloseRun(const Task& task);
  void Post(std::function<void()> effect);
  void EffectsLoop(const std::stop_token& stop);

  /// The experiment's id, and whether it was created now.
  Result<std::pair<std::string, bool>> ResolveExperiment(const TaskSpec& spec);

  TaskStore& store_;
  projects::ProjectStore& projects_;
  tracking::TrackingService& tracking_;
  executors::Executor& executor_;
  TaskServiceOptions options_;

  std::mutex mutex_;
  std::map<std::string, LiveTask> live_;  // guarded by mutex_

  // Appends queued in the store whose callbacks have not run yet: Stop() waits for them, since
  // each callback calls back into the service.
  std::mutex pending_mutex_;
  std::condition_variable pending_done_;
  int pending_appends_ = 0;  // guarded by pending_mutex_

  std::mutex effects_mutex_;
  std::condition_variable_any effects_ready_;
  std::deque<std::function<void()>> effects_;  // guarded by effects_mutex_
  bool stopping_ = false;                      // guarded by effects_mutex_
  std::jthread effects_thread_;
};

}  // namespace mltf::gateway::tasks
