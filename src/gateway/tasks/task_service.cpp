// task_service.cpp - the rules of training tasks: submission, the lifecycle, runs kept in step.
#include "gateway/tasks/task_service.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <future>

#include "common/ids.hpp"
#include "gateway/tasks/task_json.hpp"
#include "runner/process/metric_patterns.hpp"
#include "scheduler/resource_request.hpp"

namespace mltf::gateway::tasks {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using projects::EnvironmentKind;

/// MLflow's env_manager for a project: as asked, or what the project's environment implies.
/// Environments this facility cannot build yet are refused with what to do instead.
Result<std::string> ChooseEnvManager(const std::string& asked,
                                     const projects::EnvironmentSpec& environment) {
  if (asked == "conda") {
    return Fail(Error::InvalidParameter(
        "env_manager 'conda' is not available on this facility yet: the operator has no conda "
        "configured (it comes with container support). Use a python_env.yaml with "
        "env_manager=virtualenv, or env_manager=local to run in the host's Python"));
  }
  if (asked == "local") return asked;
  switch (environment.kind) {
    case EnvironmentKind::CONDA_ENV:
      return Fail(Error::InvalidParameter(fmt::format(
          "this project asks for a conda environment ({}), which this facility cannot build yet: "
          "the operator must configure conda (planned with container support). Add a "
          "python_env.yaml, or submit with env_manager=local to run in the host's Python",
          environment.file)));
    case EnvironmentKind::DOCKER_ENV:
      return Fail(Error::InvalidParameter(fmt::format(
          "this project asks for a container (docker_env image '{}'), and this facility has no "
          "container runtime configured yet: the operator must set one up (planned). Submit "
          "with env_manager=local to run in the host's Python instead",
          environment.image)));
    case EnvironmentKind::PYTHON_ENV:
      return std::string("virtualenv");
    case EnvironmentKind::NONE:
      return asked.empty() ? std::string("local") : asked;
  }
  return std::string("local");
}

tracking::RunStatus RunStatusOf(TaskStateName state) {
  switch (state) {
    case TaskStateName::SUCCEEDED:
      return tracking::RunStatus::FINISHED;
    case TaskStateName::CANCELLED:
      return tracking::RunStatus::KILLED;
    case TaskStateName::FAILED:
      return tracking::RunStatus::FAILED;
    case TaskStateName::STARTING:
    case TaskStateName::RUNNING:
      return tracking::RunStatus::RUNNING;
    default:
      return tracking::RunStatus::SCHEDULED;
  }
}

/// A callback for a run update the service does not wait for: a failure is logged, and the task
/// goes on (its own state is in its event log).
template <typename T>
Callback<T> WarnOnFailure(std::string what, std::string run_id) {
  return [what = std::move(what), run_id = std::move(run_id)](Result<T> outcome) {
    if (!outcome) {
      spdlog::warn("gateway: cannot {} run_id={}: {}", what, run_id, outcome.error().message);
    }
  };
}

/// What the executor is asked for: the spec's resources, and whether it may be preempted.
Result<scheduler::ResourceRequest> ResourcesOf(const TaskSpec& spec) {
  MLTF_ASSIGN_OR_RETURN(resources,
                        scheduler::ParseResourceRequest(json::parse(spec.resources_json)));
  resources.preemptible = spec.preemptible;
  return resources;
}

fs::path AttemptDir(const fs::path& task_dir, int attempt) {
  return task_dir / fmt::format("attempt-{}", attempt);
}

}  // namespace

TaskService::TaskService(TaskStore& store, projects::ProjectStore& projects,
                         tracking::TrackingService& tracking, executors::Executor& executor,
                         TaskServiceOptions options)
    : store_(store),
      projects_(projects),
      tracking_(tracking),
      executor_(executor),
      options_(std::move(options)) {}

TaskService::~TaskService() { Stop(); }

Result<void> TaskService::Start() {
  executor_.SetListener(
      [this](executors::ExecutorEvent event) { OnExecutorEvent(std::move(event)); });
  effects_thread_ = std::jthread([this](const std::stop_token& stop) { EffectsLoop(stop); });

  MLTF_ASSIGN_OR_RETURN(unfinished, store_.LoadUnfinished());
  std::vector<executors::RecordedAttempt> recorded;
  std::vector<std::string> to_queue;
  {
    std::lock_guard lock(mutex_);
    for (auto& task : unfinished) {
      task.events.clear();
      live_[task.task_id] = LiveTask{.task = task};
    }
  }
  for (const auto& task : unfinished) {
    const TaskState& state = task.state;
    if (state.state == TaskStateName::SUBMITTED || state.state == TaskStateName::STAGING) {
      to_queue.push_back(task.task_id);
      continue;
    }
    const Attempt* attempt = state.current();
    if (attempt == nullptr) continue;
    const bool started = state.state != TaskStateName::QUEUED;
    // The attempt file is written again: the same description, for the executor to take back.
    auto request = PrepareAttempt(task, attempt->number);
    if (!request) {
      Record(task.task_id, TaskEvent{.kind = TaskEvent::Kind::LOST,
                                     .time_ms = NowMillis(),
                                     .attempt = attempt->number,
                                     .reason = request.error().message,
                                     .final = true});
      continue;
    }
    recorded.push_back(executors::RecordedAttempt{
        .request = std::move(*request), .executor_id = attempt->executor_id, .started = started});
    spdlog::info("gateway: reconciling task_id={} attempt={} state={}", task.task_id,
                 attempt->number, TaskStateNameText(state.state));
  }
  executor_.Reattach(std::move(recorded));
  for (const auto& task_id : to_queue) {
    Record(task_id,
           TaskEvent{.kind = TaskEvent::Kind::QUEUED, .time_ms = NowMillis(), .attempt = 1});
  }
  return {};
}

void TaskService::Stop() {
  {
    std::lock_guard lock(effects_mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  // The effects already queued run (one may append an event), then no callback of the store may
  // still be on its way to this service.
  effects_ready_.notify_all();
  if (effects_thread_.joinable()) {
    effects_thread_.request_stop();
    effects_thread_.join();
  }
  std::unique_lock lock(pending_mutex_);
  pending_done_.wait(lock, [this] { return pending_appends_ == 0; });
}

Result<std::pair<std::string, bool>> TaskService::ResolveExperiment(const TaskSpec& spec) {
  if (!spec.experiment_name.empty()) {
    auto found = tracking_.GetExperimentByName(spec.experiment_name);
    if (found) {
      if (found->lifecycle_stage != tracking::LifecycleStage::ACTIVE) {
        return Fail(Error::InvalidParameter(fmt::format(
            "experiment '{}' is deleted: restore it or choose another", spec.experiment_name)));
      }
      return std::pair{found->experiment_id, false};
    }
    if (found.error().code != ErrorCode::RESOURCE_DOES_NOT_EXIST) return Fail(found.error());
    auto created = tracking_.CreateExperiment(spec.experiment_name, std::nullopt, {});
    if (created) return std::pair{*created, true};
    // Another submission created it meanwhile.
    if (created.error().code == ErrorCode::RESOURCE_ALREADY_EXISTS) {
      MLTF_ASSIGN_OR_RETURN(again, tracking_.GetExperimentByName(spec.experiment_name));
      return std::pair{again.experiment_id, false};
    }
    return Fail(created.error());
  }
  const std::string id = spec.experiment_id.empty() ? "0" : spec.experiment_id;
  MLTF_ASSIGN_OR_RETURN(experiment, tracking_.GetExperiment(id));
  if (experiment.lifecycle_stage != tracking::LifecycleStage::ACTIVE) {
    return Fail(Error::InvalidParameter(
        fmt::format("experiment {} is deleted: restore it or choose another", id)));
  }
  return std::pair{experiment.experiment_id, false};
}

Result<Task> TaskService::Submit(TaskSpec spec, const std::string& user,
                                 const ExperimentAdmission& admit) {
  MLTF_ASSIGN_OR_RETURN(project, projects_.Get(spec.project));
  MLTF_ASSIGN_OR_RETURN(
      entry_point, projects::FindEntryPoint(project->project, spec.entry_point, project->files));
  MLTF_ASSIGN_OR_RETURN(rendered, projects::RenderCommand(entry_point, spec.parameters));
  MLTF_ASSIGN_OR_RETURN(resources, ResourcesOf(spec));
  MLTF_TRY(executor_.CheckSatisfiable(resources));
  MLTF_ASSIGN_OR_RETURN(env_manager,
                        ChooseEnvManager(spec.env_manager, project->project.environment));
  spec.env_manager = env_manager;
  MLTF_TRY(runner::MetricLineMatcher::Parse(json::parse(spec.metric_patterns_json)));

  Task task;
  task.task_id = NewRunId();
  task.user = user;
  task.command = rendered.command;
  task.executor = std::string(executor_.name());

  // The run: the one given (as `mlflow run` and the MLTF client create it first), or a new one.
  std::string artifact_uri;
  if (!spec.run_id.empty()) {
    MLTF_ASSIGN_OR_RETURN(run, tracking_.GetRun(spec.run_id));
    if (run.info.lifecycle_stage != tracking::LifecycleStage::ACTIVE) {
      return Fail(Error::InvalidParameter(fmt::format("run {} is deleted", spec.run_id)));
    }
    if (!spec.experiment_id.empty() && spec.experiment_id != run.info.experiment_id) {
      return Fail(Error::InvalidParameter(fmt::format("run {} belongs to experiment {}, not {}",
                                                      spec.run_id, run.info.experiment_id,
                                                      spec.experiment_id)));
    }
    if (admit) MLTF_TRY(admit(run.info.experiment_id, false));
    spec.experiment_id = run.info.experiment_id;
    spec.experiment_name.clear();
    task.run_id = spec.run_id;
  } else {
    MLTF_ASSIGN_OR_RETURN(resolved, ResolveExperiment(spec));
    const auto& [experiment_id, created] = resolved;
    if (admit) MLTF_TRY(admit(experiment_id, created));
    spec.experiment_id = experiment_id;
    spec.experiment_name.clear();
    tracking::CreateRunRequest create{.experiment_id = experiment_id,
                                      .user_id = user,
                                      .run_name = spec.run_name,
                                      .start_time = std::nullopt,
                                      .tags = {}};
    MLTF_ASSIGN_OR_RETURN(run, tracking_.CreateRun(std::move(create)));
    task.run_id = run.info.run_id;
  }

  std::vector<tracking::Tag> tags = {
      {"mlflow.user", user},
      {"mlflow.source.name", "mltf-project:" + spec.project},
      {"mlflow.source.type", "PROJECT"},
      {"mlflow.project.entryPoint", spec.entry_point},
      {"mlflow.project.env", env_manager},
      {"mlflow.project.backend", "mltf"},
      {"mltf.task_id", task.task_id},
      {"mltf.project_sha256", spec.project},
      {"mltf.command", rendered.command},
      {"mltf.executor", task.executor},
      {"mltf.resources", scheduler::ToJson(resources).dump()},
  };
  if (!spec.run_name.empty()) tags.push_back({"mlflow.runName", spec.run_name});
  if (spec.seed) tags.push_back({"mltf.seed", std::to_string(*spec.seed)});
  for (const auto& [key, value] : spec.tags) tags.push_back({key, value});
  std::vector<tracking::Param> params;
  for (const auto& [key, value] : rendered.parameters) params.push_back({key, value});
  // The run's tags and params, its SCHEDULED status and the task itself are queued together, so
  // the store's group commit writes them in one transaction: one flush, not three.
  std::promise<Result<void>> logged;
  std::promise<Result<tracking::RunInfo>> scheduled;
  tracking_.LogBatchAsync(task.run_id, {}, std::move(params), std::move(tags),
                          [&logged](Result<void> result) { logged.set_value(std::move(result)); });
  tracking_.UpdateRunAsync(
      task.run_id,
      {.status = tracking::RunStatus::SCHEDULED,
       .end_time = std::nullopt,
       .run_name = std::nullopt},
      [&scheduled](Result<tracking::RunInfo> result) { scheduled.set_value(std::move(result)); });

  task.spec = std::move(spec);
  const std::int64_t now = NowMillis();
  const std::vector<TaskEvent> first = {{.kind = TaskEvent::Kind::SUBMITTED, .time_ms = now}};
  task.state = Replay(task.spec.max_retries, first);
  auto created = store_.Create(task, first);
  // Both callbacks hold references to this frame: wait for both before returning.
  auto logged_result = logged.get_future().get();
  auto scheduled_result = scheduled.get_future().get();
  MLTF_TRY(logged_result);
  MLTF_TRY(scheduled_result);
  MLTF_TRY(created);
  {
    std::lock_guard lock(mutex_);
    live_[task.task_id] = LiveTask{.task = task};
  }
  spdlog::info("gateway: submitted task_id={} user={} run_id={} command={}", task.task_id, user,
               task.run_id, task.command);
  Record(task.task_id, {.kind = TaskEvent::Kind::QUEUED, .time_ms = now, .attempt = 1});
  {
    std::lock_guard lock(mutex_);
    if (auto found = live_.find(task.task_id); found != live_.end()) {
      task.state = found->second.task.state;
    }
  }
  return task;
}

Result<Task> TaskService::Get(const std::string& task_id, bool with_events) {
  MLTF_ASSIGN_OR_RETURN(task, store_.Get(task_id, with_events));
  // The log in the store may lag the state by a commit; the live state is the newest.
  std::lock_guard lock(mutex_);
  if (auto found = live_.find(task_id); found != live_.end()) task.state = found->second.task.state;
  return task;
}

Result<TaskPage> TaskService::List(const TaskQuery& query) { return store_.List(query); }

Result<Task> TaskService::Cancel(const std::string& task_id, const std::string& reason) {
  bool live = false;
  {
    std::lock_guard lock(mutex_);
    live = live_.contains(task_id);
  }
  if (!live) {
    MLTF_ASSIGN_OR_RETURN(task, store_.Get(task_id, false));
    // A conflict with the task's state, not a server fault (MLflow's INVALID_STATE is a 500).
    return Fail(Error{
        ErrorCode::RESOURCE_CONFLICT,
        fmt::format("Task {} already ended ({})", task_id, TaskStateNameText(task.state.state))});
  }
  Record(task_id, {.kind = TaskEvent::Kind::CANCEL_REQUESTED,
                   .time_ms = NowMillis(),
                   .reason = reason.empty() ? "cancelled by the user" : reason});
  return Get(task_id, false);
}

Result<Task> TaskService::Reproduce(const std::string& task_id, const std::string& user,
                                    const ExperimentAdmission& admit) {
  MLTF_ASSIGN_OR_RETURN(original, store_.Get(task_id, false));
  TaskSpec spec = original.spec;
  spec.run_id.clear();  // a new run; everything else as before
  spec.tags["mltf.reproduces"] = task_id;
  return Submit(std::move(spec), user, admit);
}

bool TaskService::IsLive(const std::string& task_id) {
  std::lock_guard lock(mutex_);
  return live_.contains(task_id);
}

fs::path TaskService::LogPath(const std::string& task_id) const {
  return options_.tasks_root / task_id / "task.log";
}

void TaskService::Record(const std::string& task_id, const TaskEvent& event) {
  std::lock_guard lock(mutex_);
  auto found = live_.find(task_id);
  if (found == live_.end()) return;
  Task& task = found->second.task;
  if (!Changes(task.state, event)) return;
  task.state = Apply(std::move(task.state), event);
  Task snapshot = task;
  const TaskState state = task.state;
  if (IsTerminal(task.state.state)) live_.erase(found);
  // Run updates are queued here, under the lock and before the event: the store commits them in
  // this order, so a fast task's run cannot be marked RUNNING after it was closed, and whoever
  // reads the task as ended reads its run as ended too.
  KeepRunInStep(snapshot, event);
  {
    std::lock_guard pending(pending_mutex_);
    ++pending_appends_;
  }
  // Appended under the lock, so the log's order is the order the states were computed in.
  store_.Append(task_id, event, state,
                [this, task_id, event, snapshot = std::move(snapshot)](Result<void> stored) {
                  if (stored) {
                    Post([this, task_id, event, snapshot] { ActOn(task_id, event, snapshot); });
                  } else {
                    spdlog::error("gateway: cannot store an event task_id={} event={}: {}", task_id,
                                  TaskEventKindText(event.kind), stored.error().message);
                  }
                  // The last use of the service: notified under the lock, so Stop() cannot
                  // return before this callback let go of it.
                  std::lock_guard pending(pending_mutex_);
                  --pending_appends_;
                  pending_done_.notify_all();
                });
}

void TaskService::ActOn(const std::string& task_id, const TaskEvent& event, const Task& task) {
  const TaskState& state = task.state;
  spdlog::info("gateway: task_id={} event={} state={} attempt={}{}", task_id,
               TaskEventKindText(event.kind), TaskStateNameText(state.state),
               state.attempt_number(), event.reason.empty() ? "" : " reason=" + event.reason);
  if (IsTerminal(state.state) && options_.credentials != nullptr) {
    options_.credentials->Revoke(task_id);  // the task's code must not outlive it with a key
    return;
  }
  if (state.state == TaskStateName::QUEUED &&
      (event.kind == TaskEvent::Kind::QUEUED || event.kind == TaskEvent::Kind::EXITED ||
       event.kind == TaskEvent::Kind::LOST)) {
    // The first attempt, or a retry.
    if (auto launched = LaunchAttempt(task, state.attempt_number()); !launched) {
      Record(task_id, {.kind = TaskEvent::Kind::LOST,
                       .time_ms = NowMillis(),
                       .attempt = state.attempt_number(),
                       .reason = launched.error().message,
                       .final = true});
    }
    return;
  }
  if (event.kind == TaskEvent::Kind::CANCEL_REQUESTED && IsActive(state.state)) {
    executor_.Cancel(task_id, state.attempt_number(), event.reason);
    return;
  }
}

void TaskService::KeepRunInStep(const Task& task, const TaskEvent& event) {
  if (IsTerminal(task.state.state)) {
    CloseRun(task);
    return;
  }
  if (event.kind != TaskEvent::Kind::STARTED) return;
  // What the attempt was given, beside what was asked (mltf.resources).
  std::string gpus;
  for (int gpu : event.gpus) gpus += (gpus.empty() ? "" : ",") + std::to_string(gpu);
  std::vector<tracking::Tag> given = {{"mltf.attempt", std::to_string(event.attempt)},
                                      {"mltf.executor_id", event.executor_id},
                                      {"mltf.gpus", gpus}};
  tracking_.LogBatchAsync(task.run_id, {}, {}, std::move(given),
                          WarnOnFailure<void>("tag", task.run_id));
  tracking_.UpdateRunAsync(
      task.run_id,
      {.status = tracking::RunStatus::RUNNING, .end_time = std::nullopt, .run_name = std::nullopt},
      WarnOnFailure<tracking::RunInfo>("mark RUNNING", task.run_id));
}

void TaskService::CloseRun(const Task& task) {
  // Queued without waiting (the store's FIFO keeps the order).
  const TaskState& state = task.state;
  std::vector<tracking::Tag> tags = {
      {"mltf.task_state", std::string(TaskStateNameText(state.state))}};
  if (state.exit_code) tags.push_back({"mltf.exit_code", std::to_string(*state.exit_code)});
  if (!state.reason.empty()) tags.push_back({"mltf.reason", state.reason.substr(0, 5000)});
  tracking_.LogBatchAsync(task.run_id, {}, {}, std::move(tags),
                          WarnOnFailure<void>("tag", task.run_id));
  tracking_.UpdateRunAsync(task.run_id,
                           {.status = RunStatusOf(state.state),
                            .end_time = state.ended_at.value_or(NowMillis()),
                            .run_name = std::nullopt},
                           WarnOnFailure<tracking::RunInfo>("end", task.run_id));
}

void TaskService::OnExecutorEvent(executors::ExecutorEvent event) {
  TaskEvent recorded{.time_ms = NowMillis(),
                     .attempt = event.attempt,
                     .exit_code = event.exit_code,
                     .reason = std::move(event.reason),
                     .executor_id = std::move(event.executor_id),
                     .gpus = std::move(event.gpus),
                     .cancelled = event.cancelled,
                     .final = event.final};
  if (event.kind == executors::ExecutorEvent::Kind::STARTED) {
    recorded.kind = TaskEvent::Kind::STARTED;
  } else if (event.kind == executors::ExecutorEvent::Kind::RUNNING) {
    recorded.kind = TaskEvent::Kind::RUNNING;
  } else if (event.requeued) {
    recorded.kind = TaskEvent::Kind::REQUEUED;
  } else {
    // An attempt that ended without an exit status (its runner vanished) is lost.
    recorded.kind = event.exit_code ? TaskEvent::Kind::EXITED : TaskEvent::Kind::LOST;
  }
  Record(event.task_id, recorded);
}

Result<executors::AttemptRequest> TaskService::PrepareAttempt(const Task& task, int attempt) {
  const fs::path task_dir = options_.tasks_root / task.task_id;
  const fs::path attempt_dir = AttemptDir(task_dir, attempt);
  std::error_code ec;
  fs::create_directories(attempt_dir, ec);
  if (!ec) fs::create_directories(task_dir / "checkpoints", ec);
  if (ec) {
    return Fail(Error::Internal(
        fmt::format("cannot create the task directory {}: {}", task_dir.string(), ec.message())));
  }
  MLTF_ASSIGN_OR_RETURN(project, projects_.Get(task.spec.project));
  MLTF_ASSIGN_OR_RETURN(run, tracking_.GetRun(task.run_id));
  MLTF_ASSIGN_OR_RETURN(resources, ResourcesOf(task.spec));

  executors::AttemptDescription description;
  description.task_id = task.task_id;
  description.attempt = attempt;
  description.run_id = task.run_id;
  description.experiment_id = run.info.experiment_id;
  description.artifact_uri = run.info.artifact_uri;
  description.tracking_uri = options_.tracking_uri;
  description.project_archive = project->archive;
  description.command = task.command;
  description.env_manager = task.spec.env_manager;
  if (project->project.environment.kind == EnvironmentKind::PYTHON_ENV) {
    description.python_env_file = project->project.environment.file;
  }
  description.environment_settings = options_.environment_settings;
  description.metric_patterns = json::parse(task.spec.metric_patterns_json);
  description.seed = task.spec.seed;
  description.environment = resources.environment;
  description.work_dir = attempt_dir / "work";
  description.output_dir = attempt_dir / "output";
  description.checkpoint_dir = task_dir / "checkpoints";
  description.log_file = task_dir / "task.log";
  description.result_file = attempt_dir / "result.json";
  description.grace_ms = options_.cancel_grace.count();
  description.system_metrics_interval_ms = options_.system_metrics_interval_ms;
  if (options_.credentials != nullptr) {
    MLTF_ASSIGN_OR_RETURN(token, options_.credentials->Issue(task, run.info.experiment_id));
    description.tracking_token = std::move(token);
    description.token_renew_ms = options_.credentials->renew_interval().count();
  }
  description.nodes = resources.nodes;
  description.tasks_per_node = resources.tasks_per_node;
  const fs::path attempt_file = attempt_dir / "attempt.json";
  MLTF_TRY(executors::WriteAttemptFile(attempt_file, description));

  return executors::AttemptRequest{.task_id = task.task_id,
                                   .attempt = attempt,
                                   .user = task.user,
                                   .priority = task.spec.priority,
                                   .submitted_at_ms = task.state.submitted_at,
                                   .resources = std::move(resources),
                                   .attempt_file = attempt_file,
                                   .task_dir = task_dir,
                                   .grace = options_.cancel_grace};
}

Result<void> TaskService::LaunchAttempt(const Task& task, int attempt) {
  MLTF_ASSIGN_OR_RETURN(request, PrepareAttempt(task, attempt));
  executor_.Submit(std::move(request));
  return {};
}

void TaskService::Post(std::function<void()> effect) {
  {
    std::lock_guard lock(effects_mutex_);
    if (stopping_) return;
    effects_.push_back(std::move(effect));
  }
  effects_ready_.notify_one();
}

void TaskService::EffectsLoop(const std::stop_token& stop) {
  while (true) {
    std::function<void()> effect;
    {
      std::unique_lock lock(effects_mutex_);
      effects_ready_.wait(lock, stop, [this] { return !effects_.empty(); });
      if (effects_.empty()) return;  // stopping
      effect = std::move(effects_.front());
      effects_.pop_front();
    }
    try {
      effect();
    } catch (const std::exception& error) {
      spdlog::error("gateway: a task effect failed: {}", error.what());
    } catch (...) {
      spdlog::error("gateway: a task effect failed");
    }
  }
}

}  // namespace mltf::gateway::tasks
