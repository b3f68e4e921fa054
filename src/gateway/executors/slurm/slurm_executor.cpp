// slurm_executor.cpp - attempts as SLURM batch jobs (see the header for the protocol).
#include "gateway/executors/slurm/slurm_executor.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "gateway/executors/attempt_description.hpp"

namespace mltf::gateway::executors::slurm {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

/// Written by the submitter beside the attempt file: the job id, for a restarted server.
constexpr std::string_view kJobIdFile = "slurm-job-id";
/// Written by the runner when the entry point starts (its process group id).
constexpr std::string_view kEntryPointStartedFile = "user.pgid";
constexpr std::string_view kBatchScriptFile = "job.sbatch";

/// sbatch attempts when slurmctld is briefly unreachable.
constexpr int kSbatchTries = 5;
/// How long a job squeue shows as ended may be missing from sacct before squeue's word counts:
/// sacct lags by well under a second, but accounting may be down.
constexpr std::chrono::seconds kSacctPatience{30};

fs::path AttemptDir(const AttemptRequest& request) { return request.attempt_file.parent_path(); }

Result<void> WriteFileAtomically(const fs::path& path, std::string_view content) {
  const fs::path temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << content;
    if (!out.flush()) {
      return Fail(Error::Internal(fmt::format("cannot write {}", temporary.string())));
    }
  }
  std::error_code ec;
  fs::rename(temporary, path, ec);
  if (ec) {
    return Fail(Error::Internal(fmt::format("cannot write {}: {}", path.string(), ec.message())));
  }
  return {};
}

std::string ReadJobIdFile(const fs::path& attempt_dir) {
  std::ifstream in(attempt_dir / kJobIdFile);
  std::string id;
  in >> id;
  return IsSlurmJobId(id) ? id : std::string();
}

bool EntryPointStarted(const AttemptRequest& request) {
  std::error_code ec;
  return fs::exists(AttemptDir(request) / kEntryPointStartedFile, ec);
}

}  // namespace

SlurmExecutor::SlurmExecutor(SlurmExecutorOptions options,
                             std::shared_ptr<SlurmController> controller)
    : options_(std::move(options)), controller_(std::move(controller)) {
  const int submitters = std::max(1, options_.submitters);
  for (int i = 0; i < submitters; ++i) submitters_.emplace_back([this] { SubmitLoop(); });
  poller_ = std::thread([this] { PollLoop(); });
}

SlurmExecutor::~SlurmExecutor() { Shutdown(); }

bool SlurmExecutor::IsAllowedPartition(const std::string& partition) const {
  return options_.allowed_partitions.empty() ||
         std::find(options_.allowed_partitions.begin(), options_.allowed_partitions.end(),
                   partition) != options_.allowed_partitions.end();
}

Result<void> SlurmExecutor::CheckSatisfiable(const scheduler::ResourceRequest& resources) const {
  if (!resources.partition.empty() && !IsAllowedPartition(resources.partition)) {
    return Fail(Error::InvalidParameter(
        fmt::format("partition '{}' is not offered here; the partitions are {}",
                    resources.partition, fmt::join(options_.allowed_partitions, ", "))));
  }
  // The script of a stand-in attempt: whatever a real one would refuse is refused now.
  const AttemptRequest probe{.task_id = "check",
                             .attempt = 1,
                             .attempt_file = "/check/attempt-1/attempt.json",
                             .task_dir = "/check"};
  MLTF_ASSIGN_OR_RETURN(job,
                        RenderBatchJob(probe, resources, resources.preemptible, options_.script));
  return controller_->CheckJob(job);
}

void SlurmExecutor::SetListener(Listener listener) {
  std::lock_guard lock(mutex_);
  listener_ = std::move(listener);
}

void SlurmExecutor::Submit(AttemptRequest request) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    to_submit_.push_back(std::move(request));
  }
  submit_ready_.notify_one();
}

void SlurmExecutor::Cancel(const std::string& task_id, int attempt, std::string reason) {
  std::optional<AttemptRequest> never_submitted;
  {
    std::lock_guard lock(mutex_);
    auto queued = std::find_if(to_submit_.begin(), to_submit_.end(), [&](const auto& request) {
      return request.task_id == task_id && request.attempt == attempt;
    });
    if (queued != to_submit_.end()) {
      never_submitted = std::move(*queued);
      to_submit_.erase(queued);
    } else if (auto submitting = submitting_.find({task_id, attempt});
               submitting != submitting_.end()) {
      submitting->second = reason;  // the submitter hands it on with the job
    } else {
      for (auto& [id, job] : jobs_) {
        if (job.request.task_id == task_id && job.request.attempt == attempt &&
            !job.cancel_reason) {
          job.cancel_reason = reason;
        }
      }
      wake_poller_ = true;
    }
  }
  if (never_submitted) {
    Report({.kind = ExecutorEvent::Kind::EXITED,
            .task_id = task_id,
            .attempt = attempt,
            .exit_code = 143,
            .reason = std::move(reason),
            .cancelled = true});
    return;
  }
  poll_wake_.notify_one();
}

void SlurmExecutor::Reattach(std::vector<RecordedAttempt> attempts) {
  for (auto& recorded : attempts) {
    std::string job_id = recorded.executor_id;
    if (!IsSlurmJobId(job_id)) job_id = ReadJobIdFile(AttemptDir(recorded.request));
    if (job_id.empty()) {
      // Never reached sbatch (or died before the id was written): submit it now.
      Submit(std::move(recorded.request));
      continue;
    }
    spdlog::info("slurm executor: following job {} of task {} attempt {} again", job_id,
                 recorded.request.task_id, recorded.request.attempt);
    std::lock_guard lock(mutex_);
    LiveJob job{.request = std::move(recorded.request), .job_id = job_id};
    job.started = recorded.started;
    jobs_.insert_or_assign(job_id, std::move(job));
  }
  {
    std::lock_guard lock(mutex_);
    wake_poller_ = true;
  }
  poll_wake_.notify_one();
}

void SlurmExecutor::Shutdown() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;  // idempotent: a second call finds the threads joined
  }
  submit_ready_.notify_all();
  poll_wake_.notify_all();
  for (auto& thread : submitters_) {
    if (thread.joinable() && thread.get_id() != std::this_thread::get_id()) thread.join();
  }
  if (poller_.joinable() && poller_.get_id() != std::this_thread::get_id()) poller_.join();
}

std::size_t SlurmExecutor::live_jobs() const {
  std::lock_guard lock(mutex_);
  return jobs_.size();
}

void SlurmExecutor::Report(ExecutorEvent event) {
  Listener listener;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    listener = listener_;
  }
  if (!listener) return;
  try {
    listener(std::move(event));
  } catch (const std::exception& error) {
    spdlog::error("slurm executor: the listener failed: {}", error.what());
  }
}

// ---- submission ---------------------------------------------------------------------------

void SlurmExecutor::SubmitLoop() {
  while (true) {
    AttemptRequest request;
    {
      std::unique_lock lock(mutex_);
      submit_ready_.wait(lock, [this] { return stopping_ || !to_submit_.empty(); });
      if (stopping_) return;
      request = std::move(to_submit_.front());
      to_submit_.pop_front();
      submitting_.emplace(std::pair(request.task_id, request.attempt), std::nullopt);
    }
    SubmitOne(std::move(request));
  }
}

void SlurmExecutor::SubmitOne(AttemptRequest request) {
  const auto key = std::pair(request.task_id, request.attempt);
  auto refuse = [&](std::string reason) {
    {
      std::lock_guard lock(mutex_);
      submitting_.erase(key);
    }
    Report({.kind = ExecutorEvent::Kind::EXITED,
            .task_id = request.task_id,
            .attempt = request.attempt,
            .exit_code = 1,
            .reason = std::move(reason),
            .final = true});
  };

  auto batch_job =
      RenderBatchJob(request, request.resources, request.resources.preemptible, options_.script);
  if (!batch_job) return refuse(batch_job.error().message);
  if (auto checked = controller_->CheckJob(*batch_job); !checked) {
    return refuse(checked.error().message);
  }
  const fs::path script_path = AttemptDir(request) / kBatchScriptFile;
  if (auto written = WriteFileAtomically(script_path, batch_job->script); !written) {
    return refuse(written.error().message);
  }

  std::string job_id;
  for (int attempt = 1; job_id.empty(); ++attempt) {
    auto submitted = controller_->Submit(*batch_job, script_path);
    if (submitted) {
      job_id = std::move(*submitted);
      break;
    }
    const Error& error = submitted.error();
    if (attempt >= kSbatchTries || error.code != ErrorCode::TEMPORARILY_UNAVAILABLE) {
      return refuse(error.message);
    }
    spdlog::warn("slurm executor: submitting task {} failed ({}); trying again", request.task_id,
                 error.message);
    std::unique_lock lock(mutex_);
    const auto pause = options_.sbatch_retry_pause * (1 << (attempt - 1));
    if (poll_wake_.wait_for(lock, pause, [this] { return stopping_; })) {
      return;
    }
  }
  // The id is on disk before anyone can lose it: a restarted server reads it back.
  if (auto written = WriteFileAtomically(AttemptDir(request) / kJobIdFile, job_id + "\n");
      !written) {
    spdlog::warn("slurm executor: {}", written.error().message);
  }
  spdlog::info("slurm executor: task {} attempt {} is job {}", request.task_id, request.attempt,
               job_id);
  {
    std::lock_guard lock(mutex_);
    auto submitting = submitting_.find(key);
    std::optional<std::string> cancel_reason;
    if (submitting != submitting_.end()) {
      cancel_reason = std::move(submitting->second);
      submitting_.erase(submitting);
    }
    LiveJob job{.request = std::move(request), .job_id = job_id};
    job.cancel_reason = std::move(cancel_reason);
    wake_poller_ = wake_poller_ || job.cancel_reason.has_value();
    jobs_.insert_or_assign(job_id, std::move(job));
  }
  poll_wake_.notify_one();
}

// ---- polling ------------------------------------------------------------------------------

void SlurmExecutor::PollLoop() {
  while (true) {
    {
      std::unique_lock lock(mutex_);
      poll_wake_.wait_for(lock, options_.poll_interval,
                          [this] { return stopping_ || wake_poller_; });
      if (stopping_) return;
      wake_poller_ = false;
    }
    try {
      PollOnce();
    } catch (const std::exception& error) {
      spdlog::error("slurm executor: polling failed: {}", error.what());
    }
  }
}

void SlurmExecutor::SendCancels() {
  struct Order {
    std::string job_id;
    bool signal_first = false;  // SIGTERM to the batch shell; the hard scancel comes later
  };
  std::vector<Order> orders;
  const auto now = Clock::now();
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, job] : jobs_) {
      if (!job.cancel_reason) continue;
      if (!job.cancel_sent) {
        // A job that never ran has nothing to checkpoint.
        const bool signal_first = job.last_phase == SlurmJobPhase::RUNNING;
        orders.push_back({id, signal_first});
        job.cancel_sent = true;
        if (signal_first) job.kill_at = now + job.request.grace + options_.kill_margin;
      } else if (job.kill_at && now >= *job.kill_at) {
        orders.push_back({id, false});
        job.kill_at.reset();
      }
    }
  }
  for (const auto& order : orders) {
    auto sent = order.signal_first ? controller_->Terminate(order.job_id)
                                   : controller_->Cancel(order.job_id);
    if (!sent) {
      // Usually "already completing": the poll will see the end.
      spdlog::info("slurm executor: {} of job {}: {}", order.signal_first ? "SIGTERM" : "cancel",
                   order.job_id, sent.error().message);
    }
  }
}

void SlurmExecutor::PollOnce() {
  SendCancels();
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, job] : jobs_) ids.push_back(id);
  }
  if (ids.empty()) return;

  auto queue = controller_->Queue(ids);
  if (!queue) {
    // slurmctld is away: nothing can be concluded from this poll.
    spdlog::warn("slurm executor: {}", queue.error().message);
    return;
  }
  const SlurmJobTable& queued = *queue;

  // What squeue says about the jobs still in the queue.
  std::vector<ExecutorEvent> events;
  std::vector<std::string> to_account;
  const auto now = Clock::now();
  {
    std::lock_guard lock(mutex_);
    for (const auto& id : ids) {
      auto job = jobs_.find(id);
      if (job == jobs_.end()) continue;
      LiveJob& live = job->second;
      const auto record = queued.jobs.find(id);
      // PREEMPTED and REQUEUED are a requeue under way, not an end: handled below.
      const bool ended = record != queued.jobs.end() && record->second.outcome().finished &&
                         !record->second.outcome().requeued;
      if (ended && !record->second.exit_code.empty()) {
        // An exit code from slurmctld itself: as good as accounting's record.
        events.push_back(EndEvent(live, record->second));
        jobs_.erase(job);
        continue;
      }
      if (record == queued.jobs.end() || ended) {
        if (record != queued.jobs.end() && !live.ended_in_queue_since) {
          live.ended_in_queue_since = now;
        }
        to_account.push_back(id);
        continue;
      }
      live.missing_since.reset();
      const SlurmJobPhase phase = record->second.phase;
      live.last_phase = phase;
      if (live.started && (phase == SlurmJobPhase::PENDING || phase == SlurmJobPhase::REQUEUED ||
                           phase == SlurmJobPhase::PREEMPTED)) {
        events.push_back(Requeue(live));
        continue;
      }
      if (phase != SlurmJobPhase::RUNNING) continue;
      if (!live.started) {
        live.started = true;
        events.push_back({.kind = ExecutorEvent::Kind::STARTED,
                          .task_id = live.request.task_id,
                          .attempt = live.request.attempt,
                          .executor_id = id});
      }
      if (!live.running && EntryPointStarted(live.request)) {
        live.running = true;
        events.push_back({.kind = ExecutorEvent::Kind::RUNNING,
                          .task_id = live.request.task_id,
                          .attempt = live.request.attempt,
                          .executor_id = id});
      }
    }
  }
  for (auto& event : events) Report(std::move(event));
  if (to_account.empty()) return;

  // One sacct call for every job that left the queue.
  auto accounting = controller_->Accounting(to_account);
  SlurmJobTable accounted;
  if (accounting) {
    accounted = std::move(*accounting);
  } else {
    spdlog::warn("slurm executor: {}", accounting.error().message);
  }
  events.clear();
  {
    std::lock_guard lock(mutex_);
    for (const auto& id : to_account) {
      auto job = jobs_.find(id);
      if (job == jobs_.end()) continue;
      LiveJob& live = job->second;
      const SlurmJobRecord* final_record = nullptr;
      if (auto record = accounted.jobs.find(id);
          record != accounted.jobs.end() && record->second.outcome().finished) {
        final_record = &record->second;
      } else if (auto in_queue = queued.jobs.find(id);
                 in_queue != queued.jobs.end() && live.ended_in_queue_since &&
                 now - *live.ended_in_queue_since >= kSacctPatience) {
        final_record = &in_queue->second;  // accounting is late or off: squeue's word
      }
      if (final_record != nullptr) {
        events.push_back(EndEvent(live, *final_record));
        jobs_.erase(job);
        continue;
      }
      if (accounted.jobs.contains(id) || queued.jobs.contains(id)) continue;  // sacct lags
      if (!live.missing_since) live.missing_since = now;
      if (now - *live.missing_since >= options_.lost_after) {
        events.push_back({.kind = ExecutorEvent::Kind::EXITED,
                          .task_id = live.request.task_id,
                          .attempt = live.request.attempt,
                          .executor_id = id,
                          .reason = fmt::format("SLURM job {} vanished: neither squeue nor sacct "
                                                "has known it for {} s",
                                                id, options_.lost_after.count() / 1000)});
        jobs_.erase(job);
      }
    }
  }
  for (auto& event : events) Report(std::move(event));
}

ExecutorEvent SlurmExecutor::Requeue(LiveJob& job) {
  ExecutorEvent event{.kind = ExecutorEvent::Kind::EXITED,
                      .task_id = job.request.task_id,
                      .attempt = job.request.attempt,
                      .executor_id = job.job_id,
                      .reason = fmt::format("was preempted; SLURM requeued job {}", job.job_id),
                      .requeued = true};
  // The same job runs on as the next attempt; its runner moves to that attempt's directory
  // (SLURM_RESTART_COUNT), which gets the job id for a restarted server.
  ++job.request.attempt;
  const fs::path next_dir =
      AttemptDir(job.request).parent_path() / fmt::format("attempt-{}", job.request.attempt);
  job.request.attempt_file = next_dir / job.request.attempt_file.filename();
  std::error_code ec;
  fs::create_directories(next_dir, ec);
  if (auto written = WriteFileAtomically(next_dir / kJobIdFile, job.job_id + "\n"); !written) {
    spdlog::warn("slurm executor: {}", written.error().message);
  }
  job.started = false;
  job.running = false;
  spdlog::info("slurm executor: job {} (task {}) was requeued; it is attempt {} now", job.job_id,
               job.request.task_id, job.request.attempt);
  return event;
}

ExecutorEvent SlurmExecutor::EndEvent(const LiveJob& job, const SlurmJobRecord& record) const {
  JobOutcome outcome = record.outcome();
  ExecutorEvent event{.kind = ExecutorEvent::Kind::EXITED,
                      .task_id = job.request.task_id,
                      .attempt = job.request.attempt,
                      .executor_id = job.job_id,
                      .exit_code = outcome.exit_code,
                      .reason = outcome.reason,
                      .cancelled = outcome.cancelled,
                      .final = outcome.final};
  const bool plain_exit =
      record.phase == SlurmJobPhase::COMPLETED || record.phase == SlurmJobPhase::FAILED;
  if (auto result = ReadAttemptResult(AttemptDir(job.request) / "result.json");
      result && plain_exit) {
    // The runner's words say more than SLURM's ("cannot prepare the environment: ...").
    // squeue knows no exit codes; the runner's stands in then.
    if (record.exit_code.empty() || result->exit_code == event.exit_code) {
      event.exit_code = result->exit_code;
      event.reason = result->reason;
    }
  }
  if (job.cancel_reason) {
    event.cancelled = true;
    event.reason = *job.cancel_reason;
  } else if (outcome.cancelled) {
    event.reason = fmt::format("cancelled in SLURM ({}; job {})", record.state, job.job_id);
  }
  if (!event.exit_code) event.exit_code = 1;
  return event;
}

}  // namespace mltf::gateway::executors::slurm
