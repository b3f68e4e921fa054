// slurm_executor.hpp - runs attempts as SLURM batch jobs: sbatch to start, one batched squeue
// (and sacct once a job has left the queue) per poll to follow them all, scancel to stop. The
// same through slurmrestd: SlurmController (slurm_controller.hpp) is the seam, and the names
// below are those of the programs.
//
// Protocol: Submit() queues the attempt for a submitter thread, which writes the batch script
// (RenderBatchJob) beside the attempt file, runs `sbatch`, and records the job id in the
// attempt directory (`slurm-job-id`) before anything else, so a restarted server finds the job
// even if the service never heard of it. One poller thread follows every live job with ONE
// `squeue` call per poll, whatever their number: RUNNING reports STARTED; the runner's
// `user.pgid` file in the attempt directory (written when the entry point starts) reports
// RUNNING. Once a job has left the queue or reached a final state, ONE `sacct` call for all such
// jobs gives the final state and exit code; "not in sacct yet" is retried, never taken as lost
// (sacct lags slurmctld). The runner's result file, when there is one, gives the reason in the
// user's words where SLURM's state does not say more (exit code 3 is "exit code 3", a failed
// environment build is that). Without accounting (sacct unusable) squeue's final state and the
// result file are used. A queue row that carries an exit code (slurmrestd's do) is final as it
// stands: accounting is asked only for jobs slurmctld no longer shows. A job that is in neither for
// `lost_after` is reported without an exit code (LOST).
//
// Cancel: a queued job is `scancel`ed at once. A running one gets SIGTERM in its batch shell
// first (`scancel --batch --signal=TERM`: the runner forwards it to the entry point, which may
// checkpoint), and `scancel` after the grace period. A job cancelled behind the service's back
// (a bare `scancel`) ends CANCELLED, reported as cancelled.
//
// Requeue: a job that ran and is pending again, or whose sacct rows show an earlier PREEMPTED or
// REQUEUED attempt, was requeued by SLURM (preemption): the attempt is reported EXITED with
// `requeued` set, and the same job goes on as the next attempt (the runner sees
// SLURM_RESTART_COUNT and moves to that attempt's directory).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gateway/executors/executor.hpp"
#include "gateway/executors/slurm/batch_script.hpp"
#include "gateway/executors/slurm/job_table.hpp"
#include "gateway/executors/slurm/slurm_controller.hpp"

namespace mltf::gateway::executors::slurm {

struct SlurmExecutorOptions {
  BatchScriptOptions script;
  /// Partitions tasks may ask for; empty allows any (SLURM itself refuses unknown ones).
  std::vector<std::string> allowed_partitions;
  /// How often the live jobs are polled (one squeue call each time).
  std::chrono::milliseconds poll_interval{2000};
  /// sbatch calls in flight at once: a burst of submissions is bound by slurmctld's RPC latency.
  int submitters = 4;
  /// A job in neither squeue nor sacct for this long is reported lost.
  std::chrono::milliseconds lost_after{std::chrono::minutes(10)};
  /// The pause before sbatch is tried again when slurmctld was unreachable (doubled each time).
  std::chrono::milliseconds sbatch_retry_pause{1000};
  /// Extra time, after the grace period, before a cancelled job is killed with `scancel`.
  std::chrono::milliseconds kill_margin{2000};
};

class SlurmExecutor final : public Executor {
 public:
  /// `options.script.signal_steps` must suit `controller` (slurmrestd needs it); its CheckJob
  /// refuses the jobs otherwise.
  SlurmExecutor(SlurmExecutorOptions options, std::shared_ptr<SlurmController> controller);
  ~SlurmExecutor() override;
  SlurmExecutor(const SlurmExecutor&) = delete;
  SlurmExecutor& operator=(const SlurmExecutor&) = delete;

  [[nodiscard]] std::string_view name() const override { return "slurm"; }
  /// Renders a batch job for `resources` (and checks the partition and that the controller can
  /// pass it on), so everything the script would refuse is refused at submission, with the same
  /// words.
  Result<void> CheckSatisfiable(const scheduler::ResourceRequest& resources) const override;
  void SetListener(Listener listener) override;
  void Submit(AttemptRequest request) override;
  void Cancel(const std::string& task_id, int attempt, std::string reason) override;
  void Reattach(std::vector<RecordedAttempt> attempts) override;
  void Shutdown() override;

  /// The jobs being followed (submitted, not yet ended).
  [[nodiscard]] std::size_t live_jobs() const;

 private:
  /// A job the poller follows.
  struct LiveJob {
    AttemptRequest request;
    std::string job_id;
    bool started = false;  ///< STARTED reported
    bool running = false;  ///< RUNNING reported
    /// The last phase squeue showed.
    SlurmJobPhase last_phase = SlurmJobPhase::PENDING;
    /// Set by Cancel(); the first scancel has been sent; when the hard one is due.
    std::optional<std::string> cancel_reason;
    bool cancel_sent = false;
    std::optional<std::chrono::steady_clock::time_point> kill_at;
    /// Since when squeue shows the job ended (sacct is asked for its final record).
    std::optional<std::chrono::steady_clock::time_point> ended_in_queue_since;
    /// Since when the job is in neither squeue nor sacct.
    std::optional<std::chrono::steady_clock::time_point> missing_since;
  };

  void SubmitLoop();
  void SubmitOne(AttemptRequest request);
  void PollLoop();
  void PollOnce();
  /// Runs the scancel calls that are due: the first one of each cancelled job, and the hard
  /// one once a job's grace period is over.
  void SendCancels();
  /// Reports `event` unless shut down; never called under mutex_.
  void Report(ExecutorEvent event);
  /// Moves `job` on to the next attempt after SLURM requeued it; returns the EXITED event (with
  /// `requeued`) of the attempt that ended.
  ExecutorEvent Requeue(LiveJob& job);
  /// The EXITED event of `job`, whose final record is `record`.
  [[nodiscard]] ExecutorEvent EndEvent(const LiveJob& job, const SlurmJobRecord& record) const;
  [[nodiscard]] bool IsAllowedPartition(const std::string& partition) const;

  SlurmExecutorOptions options_;
  std::shared_ptr<SlurmController> controller_;

  mutable std::mutex mutex_;
  std::condition_variable submit_ready_;
  std::condition_variable poll_wake_;
  bool stopping_ = false;
  bool wake_poller_ = false;
  Listener listener_;
  std::deque<AttemptRequest> to_submit_;
  /// Attempts being submitted (sbatch in flight), by task id and attempt.
  std::map<std::pair<std::string, int>, std::optional<std::string>> submitting_;
  /// Live jobs by SLURM job id.
  std::map<std::string, LiveJob> jobs_;
  std::vector<std::thread> submitters_;
  std::thread poller_;
};

}  // namespace mltf::gateway::executors::slurm
