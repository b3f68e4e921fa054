// local_executor.hpp - runs attempts as child processes of the server, on this host's CPUs,
// memory and GPUs, in the order of the local scheduler.
#pragma once

#include <chrono>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gateway/executors/executor.hpp"
#include "runner/process/process_group.hpp"
#include "scheduler/host_capacity.hpp"
#include "scheduler/placement.hpp"

namespace mltf::gateway::executors {

struct LocalExecutorOptions {
  scheduler::HostCapacity capacity;
  /// The command that runs an attempt; `--attempt-file <path>` is appended.
  std::vector<std::string> runner_command;
  /// The runner's environment (the server's PATH, HOME, locale...); the executor adds
  /// CUDA_VISIBLE_DEVICES and MLTF_GPUS.
  std::map<std::string, std::string> base_environment;
  /// After the grace period of a stop, how long the runner has before the executor kills it.
  std::chrono::milliseconds kill_margin{5000};
  /// Start runners from one long-lived `run-task --serve` (runner_command + "--serve") that
  /// forks a child per attempt, instead of executing runner_command per attempt: an attempt
  /// then costs no loading of the binary and its libraries (see runner/runner_pool.hpp).
  bool runner_pool = false;
};

/// The `local` executor.
///
/// Protocol: Submit() queues an attempt; the executor's thread orders the queue (priority, fair
/// share, submission time), starts what fits with `mltf run-task` as a child in its own process
/// group, and binds the allocated GPUs through CUDA_VISIBLE_DEVICES. It watches each runner
/// (pidfd) and its stdout, where the runner announces "@mltf running". The walltime is enforced:
/// at the limit the runner gets SIGTERM (it forwards it to the user's processes and waits their
/// grace), and after grace + margin SIGKILL for its group and the user's. Cancel() does the same
/// for a running attempt and drops a queued one. When a runner ends, its resources are freed and
/// its result file (or its own exit status) reported. Shutdown() stops the runners the same way
/// and joins the thread.
///
/// Runners die with the server (the child gets SIGKILL when its parent dies), so after a restart
/// a started attempt is reported lost (and its leftover processes killed); a queued one is queued
/// again. With a runner pool, the pool is the server's child and the runners the pool's; the
/// pool reports each runner's start and exit on its stdout, and if it dies its runners die with
/// it and are reported lost.
class LocalExecutor final : public Executor {
 public:
  explicit LocalExecutor(LocalExecutorOptions options);
  ~LocalExecutor() override;
  LocalExecutor(const LocalExecutor&) = delete;
  LocalExecutor& operator=(const LocalExecutor&) = delete;

  [[nodiscard]] std::string_view name() const override { return "local"; }
  Result<void> CheckSatisfiable(const scheduler::ResourceRequest& resources) const override;
  void SetListener(Listener listener) override;
  void Submit(AttemptRequest request) override;
  void Cancel(const std::string& task_id, int attempt, std::string reason) override;
  void Reattach(std::vector<RecordedAttempt> attempts) override;
  void Shutdown() override;

 private:
  struct Running {
    AttemptRequest request;
    scheduler::Allocation allocation;
    /// The runner, when it was executed by this executor; empty for a runner of the pool.
    std::optional<runner::ProcessGroup> process;
    pid_t pid = -1;  ///< the runner's pid and process group; -1 until the pool reported it
    int pidfd = -1;
    std::string pending_output;  ///< an unfinished line of the runner's stdout
    std::int64_t started_ms = 0;
    std::optional<std::int64_t> deadline_ms;  ///< the walltime
    std::optional<std::int64_t> kill_at_ms;   ///< after a stop: grace + margin
    bool cancelled = false;
    bool walltime_exceeded = false;
    std::string stop_reason;
  };
  struct CancelOrder {
    std::string task_id;
    int attempt;
    std::string reason;
  };

  void Loop(const std::stop_token& stop);
  void TakeOrders();
  void StartWhatFits();
  void Start(AttemptRequest request, scheduler::Allocation allocation);
  /// Executes the runner for `running` (runner_pool off); false if it could not start.
  bool ExecuteRunner(Running& running, const std::map<std::string, std::string>& variables);
  /// Asks the pool for a runner (runner_pool on), starting the pool if needed.
  bool RequestFromPool(const Running& running, const std::map<std::string, std::string>& variables);
  Result<void> StartPool();
  /// Reads the pool's stdout and acts on its lines; false once the pool's output ended.
  void ReadPoolOutput();
  /// The pool died: its runners died with it.
  void LosePool(const std::string& why);
  void Signal(Running& running, int sig);
  void Stop(Running& running, std::string reason);
  void ReadOutput(Running& running);
  /// A runner executed by this executor ended (its pidfd is readable).
  void ReapRunner(const std::string& key);
  /// Reports the end of `key` and frees what it held.
  void Finish(const std::string& key, const runner::ExitStatus& status);
  /// Handles one "@mltf {json}" line of a runner or the pool.
  void OnProtocolLine(std::string_view json_text);
  void CheckTimers();
  /// At shutdown: SIGTERM to every runner, their grace period, then SIGKILL for what is left.
  void ShutDownRunners();
  void Report(ExecutorEvent event);
  void Wake();

  LocalExecutorOptions options_;
  scheduler::HostResources resources_;  // the loop thread's only
  scheduler::FairShare fair_share_;     // the loop thread's only
  Listener listener_;

  std::mutex mutex_;
  std::vector<AttemptRequest> submitted_;  // guarded by mutex_
  std::vector<CancelOrder> cancels_;       // guarded by mutex_
  bool shutting_down_ = false;             // guarded by mutex_

  // The loop thread's only.
  std::vector<AttemptRequest> waiting_;
  std::map<std::string, Running> running_;  // by "task_id/attempt"
  std::optional<runner::ProcessGroup> pool_;
  int pool_pidfd_ = -1;
  std::string pool_output_;  ///< an unfinished line of the pool's stdout

  int wake_fd_ = -1;
  std::jthread thread_;
};

}  // namespace mltf::gateway::executors
