// executor.hpp - the seam between the task service and whatever starts `mltf run-task`.
//
// Protocol: the service Submit()s an attempt; the executor queues it (its own scheduler, or
// SLURM's), starts the runner when it may, and reports through its listener: STARTED once the
// runner is up, EXITED once it ended (with its exit code and why). Cancel() of a queued attempt
// reports EXITED (cancelled) at once; of a running one, it signals the runner, waits the grace
// period, then kills. After a restart the service hands back what it stored with Reattach(); the
// executor reports what became of each attempt. An executor may requeue an attempt itself (SLURM
// preemption): it reports EXITED with `requeued`, then STARTED for attempt + 1. Shutdown() stops
// reporting.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "scheduler/resource_request.hpp"

namespace mltf::gateway::executors {

/// One attempt of a task, as the executor needs it.
struct AttemptRequest {
  std::string task_id;
  int attempt = 1;
  std::string user;
  int priority = 0;
  std::int64_t submitted_at_ms = 0;
  scheduler::ResourceRequest resources;
  /// The attempt's description for the runner (`mltf run-task --attempt-file`), already written.
  std::filesystem::path attempt_file;
  /// Where the runner's own output goes if it cannot write the task log.
  std::filesystem::path task_dir;
  /// How long a cancelled attempt may take to stop before it is killed.
  std::chrono::milliseconds grace{10000};
};

/// What an executor reports about an attempt.
struct ExecutorEvent {
  enum class Kind {
    STARTED,  ///< the runner is up (it prepares the project and the environment)
    RUNNING,  ///< the runner started the entry point
    EXITED,   ///< the attempt ended; without an exit code, it vanished (LOST)
  };
  Kind kind = Kind::STARTED;
  std::string task_id;
  int attempt = 0;
  std::string executor_id;  ///< e.g. the runner's pid, or a SLURM job id
  std::vector<int> gpus;    ///< for STARTED: the GPUs bound to the attempt
  std::optional<int> exit_code;
  std::string reason;      ///< for EXITED: why, in words ("exit code 3", "walltime ...")
  bool cancelled = false;  ///< stopped by Cancel()
  bool final = false;      ///< must not be retried (e.g. the walltime was exceeded)
  /// For EXITED: the executor itself runs the task on as attempt + 1 (SLURM requeued the job
  /// after a preemption); the service must not submit that attempt.
  bool requeued = false;
};

/// An attempt the service believes is with the executor, handed back after a restart.
struct RecordedAttempt {
  AttemptRequest request;
  std::string executor_id;  ///< empty if it never started
  bool started = false;
};

class Executor {
 public:
  using Listener = std::function<void(ExecutorEvent)>;
  virtual ~Executor() = default;

  /// "local", "slurm", ... as recorded on the task.
  [[nodiscard]] virtual std::string_view name() const = 0;
  /// Whether `resources` can ever be granted here; the error says what is available.
  virtual Result<void> CheckSatisfiable(const scheduler::ResourceRequest& resources) const = 0;
  /// Sets where events go; call once, before anything else.
  virtual void SetListener(Listener listener) = 0;
  /// Queues an attempt. Never blocks on the attempt itself; reports through the listener.
  virtual void Submit(AttemptRequest request) = 0;
  /// Stops an attempt (queued or running) and reports it EXITED with `cancelled` set. Unknown
  /// attempts are ignored. `reason` is reported back.
  virtual void Cancel(const std::string& task_id, int attempt, std::string reason) = 0;
  /// Takes back attempts recorded before a restart and reports what became of them.
  virtual void Reattach(std::vector<RecordedAttempt> attempts) = 0;
  /// Stops every thread; no more events are reported. Running attempts are left as they are
  /// (the next start reconciles them). Idempotent.
  virtual void Shutdown() = 0;
};

}  // namespace mltf::gateway::executors
