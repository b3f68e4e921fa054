// local_executor.cpp - runs attempts as child processes of the server (see the header for the
// protocol).
#include "gateway/executors/local_executor.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <fstream>

#include "common/ids.hpp"
#include "gateway/executors/attempt_description.hpp"

namespace mltf::gateway::executors {
namespace {

namespace fs = std::filesystem;

/// The line a runner prints on its stdout once the entry point runs.
constexpr std::string_view kRunningAnnouncement = "@mltf running";
/// How often the loop looks at timers when nothing else wakes it.
constexpr int kTickMs = 1000;

std::string KeyOf(const std::string& task_id, int attempt) {
  return fmt::format("{}/{}", task_id, attempt);
}

std::string GpuList(const std::vector<int>& gpus) {
  std::string list;
  for (int gpu : gpus) {
    if (!list.empty()) list += ',';
    list += std::to_string(gpu);
  }
  return list;
}

/// The user's process group the runner recorded, if it did.
std::optional<pid_t> RecordedUserGroup(const fs::path& attempt_file) {
  std::ifstream in(attempt_file.parent_path() / "user.pgid");
  long pgid = 0;
  if (in >> pgid && pgid > 1) return static_cast<pid_t>(pgid);
  return std::nullopt;
}

/// Whether `pid` still runs this task: its environment names the task (a recycled pid would
/// belong to someone else).
bool BelongsToTask(pid_t pid, const std::string& task_id) {
  std::ifstream in(fmt::format("/proc/{}/environ", pid), std::ios::binary);
  if (!in) return false;
  const std::string environ((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string wanted = "MLTF_TASK_ID=" + task_id;
  std::size_t start = 0;
  while (start < environ.size()) {
    const std::size_t end = environ.find('\0', start);
    const std::string_view entry(environ.data() + start,
                                 (end == std::string::npos ? environ.size() : end) - start);
    if (entry == wanted) return true;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return false;
}

/// Kills what is left of an attempt's user processes after its runner is gone.
void KillLeftovers(const AttemptRequest& request) {
  auto pgid = RecordedUserGroup(request.attempt_file);
  if (pgid && BelongsToTask(*pgid, request.task_id)) {
    spdlog::warn("executor: killing leftover processes task_id={} pgid={}", request.task_id, *pgid);
    ::kill(-*pgid, SIGKILL);
  }
}

}  // namespace

LocalExecutor::LocalExecutor(LocalExecutorOptions options)
    : options_(std::move(options)), resources_(options_.capacity) {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  thread_ = std::jthread([this](const std::stop_token& stop) { Loop(stop); });
}

LocalExecutor::~LocalExecutor() {
  Shutdown();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

Result<void> LocalExecutor::CheckSatisfiable(const scheduler::ResourceRequest& resources) const {
  // The capacity never changes, so a fresh view answers "could this ever fit".
  return scheduler::HostResources(options_.capacity).CheckSatisfiable(resources);
}

void LocalExecutor::SetListener(Listener listener) {
  std::lock_guard lock(mutex_);
  listener_ = std::move(listener);
}

void LocalExecutor::Submit(AttemptRequest request) {
  {
    std::lock_guard lock(mutex_);
    submitted_.push_back(std::move(request));
  }
  Wake();
}

void LocalExecutor::Cancel(const std::string& task_id, int attempt, std::string reason) {
  {
    std::lock_guard lock(mutex_);
    cancels_.push_back({task_id, attempt, std::move(reason)});
  }
  Wake();
}

void LocalExecutor::Reattach(std::vector<RecordedAttempt> attempts) {
  for (auto& recorded : attempts) {
    if (!recorded.started) {
      Submit(std::move(recorded.request));
      continue;
    }
    // Runners die with the server that started them: this attempt is gone.
    KillLeftovers(recorded.request);
    Report({.kind = ExecutorEvent::Kind::EXITED,
            .task_id = recorded.request.task_id,
            .attempt = recorded.request.attempt,
            .executor_id = recorded.executor_id,
            .reason = fmt::format("the server stopped while attempt {} was running (runner pid {})",
                                  recorded.request.attempt, recorded.executor_id)});
  }
}

void LocalExecutor::Shutdown() {
  {
    std::lock_guard lock(mutex_);
    if (shutting_down_) return;
    shutting_down_ = true;
  }
  if (thread_.joinable()) {
    thread_.request_stop();
    Wake();
    thread_.join();
  }
}

void LocalExecutor::Wake() {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto ignored = ::write(wake_fd_, &one, sizeof one);
}

void LocalExecutor::Report(ExecutorEvent event) {
  Listener listener;
  {
    std::lock_guard lock(mutex_);
    listener = listener_;
  }
  if (!listener) return;
  try {
    listener(std::move(event));
  } catch (const std::exception& error) {
    spdlog::error("executor: the listener failed: {}", error.what());
  }
}

void LocalExecutor::TakeOrders() {
  std::vector<AttemptRequest> submitted;
  std::vector<CancelOrder> cancels;
  {
    std::lock_guard lock(mutex_);
    submitted.swap(submitted_);
    cancels.swap(cancels_);
  }
  for (auto& request : submitted) waiting_.push_back(std::move(request));
  for (auto& order : cancels) {
    auto queued = std::find_if(waiting_.begin(), waiting_.end(), [&](const AttemptRequest& r) {
      return r.task_id == order.task_id && r.attempt == order.attempt;
    });
    if (queued != waiting_.end()) {
      waiting_.erase(queued);
      Report({.kind = ExecutorEvent::Kind::EXITED,
              .task_id = order.task_id,
              .attempt = order.attempt,
              .exit_code = 0,
              .reason = order.reason,
              .cancelled = true});
      continue;
    }
    auto running = running_.find(KeyOf(order.task_id, order.attempt));
    if (running != running_.end() && !running->second.kill_at_ms) {
      running->second.cancelled = true;
      Stop(running->second, order.reason);
    }
  }
}

void LocalExecutor::StartWhatFits() {
  if (waiting_.empty()) return;
  std::vector<scheduler::QueuedTask> queue;
  queue.reserve(waiting_.size());
  for (const auto& request : waiting_) {
    queue.push_back({.task_id = KeyOf(request.task_id, request.attempt),
                     .user = request.user,
                     .priority = request.priority,
                     .submit_time_ms = request.submitted_at_ms,
                     .request = request.resources});
  }
  auto allocations = scheduler::PlanStarts(std::move(queue), resources_, fair_share_, NowMillis());
  for (auto& allocation : allocations) {
    auto found = std::find_if(waiting_.begin(), waiting_.end(), [&](const AttemptRequest& r) {
      return KeyOf(r.task_id, r.attempt) == allocation.task_id;
    });
    if (found == waiting_.end()) {
      resources_.Release(allocation);
      continue;
    }
    AttemptRequest request = std::move(*found);
    waiting_.erase(found);
    Start(std::move(request), std::move(allocation));
  }
}

void LocalExecutor::Start(AttemptRequest request, scheduler::Allocation allocation) {
  runner::ProcessSpec spec;
  spec.argv = options_.runner_command;
  spec.argv.push_back("--attempt-file");
  spec.argv.push_back(request.attempt_file.string());
  spec.environment = options_.base_environment;
  spec.environment["CUDA_VISIBLE_DEVICES"] = GpuList(allocation.gpu_indices);
  spec.environment["MLTF_GPUS"] = GpuList(allocation.gpu_indices);
  spec.environment["MLTF_CPUS"] = std::to_string(allocation.cpus);
  spec.environment["MLTF_TASK_ID"] = request.task_id;
  spec.working_directory = request.task_dir;
  spec.merge_stderr = true;

  auto process = runner::ProcessGroup::Start(spec);
  if (!process) {
    resources_.Release(allocation);
    Report({.kind = ExecutorEvent::Kind::EXITED,
            .task_id = request.task_id,
            .attempt = request.attempt,
            .exit_code = 127,
            .reason = "cannot start the task runner: " + process.error().message,
            .final = true});
    return;
  }
  // glibc 2.36's <sys/pidfd.h> lacks extern "C", so the system call is made directly.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, process->pid(), 0));
  const std::int64_t now = NowMillis();
  Running running{.request = request,
                  .allocation = allocation,
                  .process = std::move(*process),
                  .pidfd = pidfd,
                  .started_ms = now};
  if (request.resources.time_seconds) {
    running.deadline_ms = now + *request.resources.time_seconds * 1000;
  }
  const std::string executor_id = std::to_string(running.process.pid());
  spdlog::info("executor: started task_id={} attempt={} pid={} gpus=[{}] cpus={}", request.task_id,
               request.attempt, executor_id, GpuList(allocation.gpu_indices), allocation.cpus);
  running_.emplace(KeyOf(request.task_id, request.attempt), std::move(running));
  Report({.kind = ExecutorEvent::Kind::STARTED,
          .task_id = request.task_id,
          .attempt = request.attempt,
          .executor_id = executor_id,
          .gpus = allocation.gpu_indices});
}

void LocalExecutor::Stop(Running& running, std::string reason) {
  running.stop_reason = std::move(reason);
  running.kill_at_ms = NowMillis() + running.request.grace.count() + options_.kill_margin.count();
  running.process.Signal(SIGTERM);
}

void LocalExecutor::ReadOutput(Running& running) {
  std::array<char, 8192> buffer{};
  while (true) {
    const ssize_t got = ::read(running.process.output_fd(), buffer.data(), buffer.size());
    if (got <= 0) {
      if (got == 0) running.process.CloseOutput();
      return;
    }
    running.pending_output.append(buffer.data(), static_cast<std::size_t>(got));
    std::size_t newline = 0;
    while ((newline = running.pending_output.find('\n')) != std::string::npos) {
      const std::string line = running.pending_output.substr(0, newline);
      running.pending_output.erase(0, newline + 1);
      if (line == kRunningAnnouncement) {
        Report({.kind = ExecutorEvent::Kind::RUNNING,
                .task_id = running.request.task_id,
                .attempt = running.request.attempt});
      } else {
        spdlog::info("runner task_id={}: {}", running.request.task_id, line);
      }
    }
    // A runner printing without newlines must not grow this buffer without bound.
    if (running.pending_output.size() > 65536) running.pending_output.clear();
  }
}

void LocalExecutor::Finish(const std::string& key) {
  auto found = running_.find(key);
  if (found == running_.end()) return;
  Running& running = found->second;
  ReadOutput(running);
  auto status = running.process.TryWait();
  if (!status) return;
  if (running.pidfd >= 0) ::close(running.pidfd);
  resources_.Release(running.allocation);
  const double seconds = static_cast<double>(NowMillis() - running.started_ms) / 1000.0;
  fair_share_.Charge(running.request.user,
                     seconds * (running.allocation.cpus +
                                8.0 * static_cast<double>(running.allocation.gpu_indices.size())),
                     NowMillis());
  KillLeftovers(running.request);

  ExecutorEvent event{.kind = ExecutorEvent::Kind::EXITED,
                      .task_id = running.request.task_id,
                      .attempt = running.request.attempt,
                      .executor_id = std::to_string(running.process.pid()),
                      .cancelled = running.cancelled};
  auto result =
      ReadAttemptResult(fs::path(running.request.attempt_file).parent_path() / "result.json");
  if (result) {
    event.exit_code = result->exit_code;
    event.reason = result->reason;
  } else {
    event.exit_code = status->exit_code;
    event.reason = "the task runner ended without a result: " + status->Describe();
  }
  if (running.walltime_exceeded) {
    event.final = true;
    event.reason = fmt::format("walltime exceeded (limit {} s)",
                               running.request.resources.time_seconds.value_or(0));
    if (event.exit_code == 0) event.exit_code = 124;  // as timeout(1) reports it
  } else if (running.cancelled) {
    event.reason = running.stop_reason;
  }
  spdlog::info("executor: ended task_id={} attempt={} exit_code={} reason={}",
               running.request.task_id, running.request.attempt, event.exit_code.value_or(-1),
               event.reason);
  running_.erase(found);
  Report(std::move(event));
}

void LocalExecutor::CheckTimers() {
  const std::int64_t now = NowMillis();
  for (auto& [key, running] : running_) {
    if (running.kill_at_ms && now >= *running.kill_at_ms) {
      spdlog::warn("executor: task_id={} did not stop within its grace period; killing it",
                   running.request.task_id);
      running.process.Signal(SIGKILL);
      if (auto pgid = RecordedUserGroup(running.request.attempt_file)) ::kill(-*pgid, SIGKILL);
      running.kill_at_ms = now + options_.kill_margin.count();
      continue;
    }
    if (running.deadline_ms && now >= *running.deadline_ms && !running.kill_at_ms) {
      running.walltime_exceeded = true;
      Stop(running, "walltime exceeded");
    }
  }
}

void LocalExecutor::Loop(const std::stop_token& stop) {
  std::vector<pollfd> fds;
  std::vector<std::string> keys;  // parallel to fds after the first entry
  while (!stop.stop_requested()) {
    try {
      TakeOrders();
      StartWhatFits();
      CheckTimers();

      fds.assign(1, pollfd{.fd = wake_fd_, .events = POLLIN, .revents = 0});
      keys.clear();
      std::int64_t next_timer = NowMillis() + kTickMs;
      for (auto& [key, running] : running_) {
        fds.push_back({.fd = running.pidfd, .events = POLLIN, .revents = 0});
        keys.push_back(key);
        if (running.process.output_fd() >= 0) {
          fds.push_back({.fd = running.process.output_fd(), .events = POLLIN, .revents = 0});
          keys.push_back(key);
        }
        if (running.deadline_ms) next_timer = std::min(next_timer, *running.deadline_ms);
        if (running.kill_at_ms) next_timer = std::min(next_timer, *running.kill_at_ms);
      }
      const int timeout =
          static_cast<int>(std::clamp<std::int64_t>(next_timer - NowMillis(), 0, kTickMs));
      if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) {
        spdlog::error("executor: poll failed: {}", std::strerror(errno));
      }
      if ((fds[0].revents & POLLIN) != 0) {
        std::uint64_t count = 0;
        [[maybe_unused]] auto ignored = ::read(wake_fd_, &count, sizeof count);
      }
      std::vector<std::string> exited;
      for (std::size_t index = 1; index < fds.size(); ++index) {
        if (fds[index].revents == 0) continue;
        auto found = running_.find(keys[index - 1]);
        if (found == running_.end()) continue;
        if (fds[index].fd == found->second.pidfd) {
          exited.push_back(keys[index - 1]);
        } else {
          ReadOutput(found->second);
        }
      }
      // Without a pidfd (an old kernel), an exit is noticed on the next tick.
      for (auto& [key, running] : running_) {
        if (running.pidfd < 0) exited.push_back(key);
      }
      for (const auto& key : exited) Finish(key);
    } catch (const std::exception& error) {
      spdlog::error("executor: the local executor's loop failed: {}", error.what());
    }
  }
  // Shutting down: stop every runner so it can checkpoint, then leave; the next start
  // reconciles what they were doing.
  for (auto& [key, running] : running_) running.process.Signal(SIGTERM);
  for (auto& [key, running] : running_) {
    running.process.Terminate(running.request.grace + options_.kill_margin);
    if (running.pidfd >= 0) ::close(running.pidfd);
    KillLeftovers(running.request);
  }
  running_.clear();
}

}  // namespace mltf::gateway::executors
