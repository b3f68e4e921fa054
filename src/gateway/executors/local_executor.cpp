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
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/ids.hpp"
#include "gateway/executors/attempt_description.hpp"

namespace mltf::gateway::executors {
namespace {

namespace fs = std::filesystem;

/// Lines of runners and of the runner pool that carry an event (runner/runner_pool.hpp).
constexpr std::string_view kProtocolPrefix = "@mltf ";
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
  const std::int64_t now = NowMillis();
  Running running{
      .request = std::move(request), .allocation = std::move(allocation), .started_ms = now};
  if (running.request.resources.time_seconds) {
    running.deadline_ms = now + *running.request.resources.time_seconds * 1000;
  }
  const std::map<std::string, std::string> variables = {
      {"CUDA_VISIBLE_DEVICES", GpuList(running.allocation.gpu_indices)},
      {"MLTF_GPUS", GpuList(running.allocation.gpu_indices)},
      {"MLTF_CPUS", std::to_string(running.allocation.cpus)},
      {"MLTF_TASK_ID", running.request.task_id}};
  const bool started = options_.runner_pool ? RequestFromPool(running, variables)
                                            : ExecuteRunner(running, variables);
  if (!started) {
    resources_.Release(running.allocation);
    return;
  }
  const std::string key = KeyOf(running.request.task_id, running.request.attempt);
  const bool known_pid = running.pid > 0;
  ExecutorEvent event{.kind = ExecutorEvent::Kind::STARTED,
                      .task_id = running.request.task_id,
                      .attempt = running.request.attempt,
                      .executor_id = std::to_string(running.pid),
                      .gpus = running.allocation.gpu_indices};
  running_.emplace(key, std::move(running));
  // A runner of the pool is reported once the pool says which pid it has.
  if (known_pid) Report(std::move(event));
}

bool LocalExecutor::ExecuteRunner(Running& running,
                                  const std::map<std::string, std::string>& variables) {
  runner::ProcessSpec spec;
  spec.argv = options_.runner_command;
  spec.argv.push_back("--attempt-file");
  spec.argv.push_back(running.request.attempt_file.string());
  spec.environment = options_.base_environment;
  for (const auto& [name, value] : variables) spec.environment[name] = value;
  spec.working_directory = running.request.task_dir;
  auto process = runner::ProcessGroup::Start(spec);
  if (!process) {
    Report({.kind = ExecutorEvent::Kind::EXITED,
            .task_id = running.request.task_id,
            .attempt = running.request.attempt,
            .exit_code = 127,
            .reason = "cannot start the task runner: " + process.error().message,
            .final = true});
    return false;
  }
  running.pid = process->pid();
  // glibc 2.36's <sys/pidfd.h> lacks extern "C", so the system call is made directly.
  running.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, running.pid, 0));
  running.process = std::move(*process);
  spdlog::info("executor: started task_id={} attempt={} pid={} gpus=[{}] cpus={}",
               running.request.task_id, running.request.attempt, running.pid,
               GpuList(running.allocation.gpu_indices), running.allocation.cpus);
  return true;
}

Result<void> LocalExecutor::StartPool() {
  runner::ProcessSpec spec;
  spec.argv = options_.runner_command;
  spec.argv.push_back("--serve");
  spec.environment = options_.base_environment;
  spec.input_pipe = true;
  MLTF_ASSIGN_OR_RETURN(pool, runner::ProcessGroup::Start(spec));
  pool_pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pool.pid(), 0));
  spdlog::info("executor: runner pool started pid={}", pool.pid());
  pool_ = std::move(pool);
  return {};
}

bool LocalExecutor::RequestFromPool(const Running& running,
                                    const std::map<std::string, std::string>& variables) {
  if (!pool_) {
    if (auto started = StartPool(); !started) {
      Report({.kind = ExecutorEvent::Kind::EXITED,
              .task_id = running.request.task_id,
              .attempt = running.request.attempt,
              .exit_code = 127,
              .reason = "cannot start the runner pool: " + started.error().message,
              .final = true});
      return false;
    }
  }
  const std::string line = nlohmann::json{{"attempt_file", running.request.attempt_file.string()},
                                          {"environment", variables}}
                               .dump() +
                           "\n";
  // The pool reads its input all the time; a request is far below the pipe's buffer.
  std::string_view rest = line;
  while (!rest.empty()) {
    const ssize_t written = ::write(pool_->input_fd(), rest.data(), rest.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) {
      Report({.kind = ExecutorEvent::Kind::EXITED,
              .task_id = running.request.task_id,
              .attempt = running.request.attempt,
              .reason = "the runner pool stopped taking requests"});
      return false;
    }
    rest.remove_prefix(static_cast<std::size_t>(written));
  }
  return true;
}

void LocalExecutor::Signal(Running& running, int sig) {
  if (running.process) {
    running.process->Signal(sig);
  } else if (running.pid > 0) {
    ::kill(-running.pid, sig);
  }
  // A runner the pool has not reported yet is signalled when it is (OnProtocolLine).
}

void LocalExecutor::Stop(Running& running, std::string reason) {
  running.stop_reason = std::move(reason);
  running.kill_at_ms = NowMillis() + running.request.grace.count() + options_.kill_margin.count();
  Signal(running, SIGTERM);
}

void LocalExecutor::OnProtocolLine(std::string_view json_text) {
  const auto message = nlohmann::json::parse(json_text, nullptr, false);
  if (!message.is_object()) return;
  const std::string event = message.value("event", "");
  const std::string attempt_file = message.value("attempt_file", "");
  auto by_attempt = [&]() {
    return std::find_if(running_.begin(), running_.end(), [&](const auto& entry) {
      return entry.second.request.attempt_file.string() == attempt_file;
    });
  };
  if (event == "running") {
    if (auto found = by_attempt(); found != running_.end()) {
      Report({.kind = ExecutorEvent::Kind::RUNNING,
              .task_id = found->second.request.task_id,
              .attempt = found->second.request.attempt});
    }
  } else if (event == "started") {
    auto found = by_attempt();
    if (found == running_.end()) return;
    Running& running = found->second;
    running.pid = message.value("pid", -1);
    spdlog::info("executor: started task_id={} attempt={} pid={} gpus=[{}] cpus={} (pool)",
                 running.request.task_id, running.request.attempt, running.pid,
                 GpuList(running.allocation.gpu_indices), running.allocation.cpus);
    Report({.kind = ExecutorEvent::Kind::STARTED,
            .task_id = running.request.task_id,
            .attempt = running.request.attempt,
            .executor_id = std::to_string(running.pid),
            .gpus = running.allocation.gpu_indices});
    if (running.kill_at_ms) Signal(running, SIGTERM);  // stopped before the pool answered
  } else if (event == "exited") {
    const pid_t pid = message.value("pid", -1);
    auto found = std::find_if(running_.begin(), running_.end(), [&](const auto& entry) {
      return !entry.second.process && entry.second.pid == pid;
    });
    if (found == running_.end()) return;
    runner::ExitStatus status{.exit_code = message.value("exit_code", 1)};
    if (const int signal = message.value("signal", 0); signal != 0) status.signal = signal;
    Finish(found->first, status);
  } else if (event == "failed") {
    if (auto found = by_attempt(); found != running_.end()) {
      Finish(found->first, {.exit_code = 127});
    }
  }
}

void LocalExecutor::ReadOutput(Running& running) {
  std::array<char, 8192> buffer{};
  while (running.process) {
    const ssize_t got = ::read(running.process->output_fd(), buffer.data(), buffer.size());
    if (got <= 0) {
      if (got == 0) running.process->CloseOutput();
      return;
    }
    running.pending_output.append(buffer.data(), static_cast<std::size_t>(got));
    std::size_t newline = 0;
    while ((newline = running.pending_output.find('\n')) != std::string::npos) {
      const std::string line = running.pending_output.substr(0, newline);
      running.pending_output.erase(0, newline + 1);
      if (line.starts_with(kProtocolPrefix)) {
        OnProtocolLine(std::string_view(line).substr(kProtocolPrefix.size()));
      } else {
        spdlog::info("runner task_id={}: {}", running.request.task_id, line);
      }
    }
    // A runner printing without newlines must not grow this buffer without bound.
    if (running.pending_output.size() > 65536) running.pending_output.clear();
  }
}

void LocalExecutor::ReadPoolOutput() {
  std::array<char, 8192> buffer{};
  while (pool_) {
    const ssize_t got = ::read(pool_->output_fd(), buffer.data(), buffer.size());
    if (got <= 0) return;
    pool_output_.append(buffer.data(), static_cast<std::size_t>(got));
    std::size_t newline = 0;
    while ((newline = pool_output_.find('\n')) != std::string::npos) {
      const std::string line = pool_output_.substr(0, newline);
      pool_output_.erase(0, newline + 1);
      if (line.starts_with(kProtocolPrefix)) {
        OnProtocolLine(std::string_view(line).substr(kProtocolPrefix.size()));
      } else {
        spdlog::info("runner pool: {}", line);
      }
    }
    if (pool_output_.size() > 65536) pool_output_.clear();
  }
}

void LocalExecutor::LosePool(const std::string& why) {
  ReadPoolOutput();  // exits reported before it died still count
  spdlog::error("executor: the runner pool stopped ({}); its runners stopped with it", why);
  std::vector<std::string> lost;
  for (const auto& [key, running] : running_) {
    if (!running.process) lost.push_back(key);
  }
  for (const auto& key : lost) {
    Running& running = running_.at(key);
    KillLeftovers(running.request);
    resources_.Release(running.allocation);
    Report({.kind = ExecutorEvent::Kind::EXITED,
            .task_id = running.request.task_id,
            .attempt = running.request.attempt,
            .executor_id = std::to_string(running.pid),
            .reason = "the runner pool stopped (" + why + ")",
            .cancelled = running.cancelled});
    running_.erase(key);
  }
  if (pool_pidfd_ >= 0) ::close(pool_pidfd_);
  pool_pidfd_ = -1;
  pool_.reset();
  pool_output_.clear();
}

void LocalExecutor::ReapRunner(const std::string& key) {
  auto found = running_.find(key);
  if (found == running_.end() || !found->second.process) return;
  ReadOutput(found->second);
  if (auto status = found->second.process->TryWait()) Finish(key, *status);
}

void LocalExecutor::Finish(const std::string& key, const runner::ExitStatus& status) {
  auto found = running_.find(key);
  if (found == running_.end()) return;
  Running& running = found->second;
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
                      .executor_id = std::to_string(running.pid),
                      .cancelled = running.cancelled};
  auto result =
      ReadAttemptResult(fs::path(running.request.attempt_file).parent_path() / "result.json");
  if (result) {
    event.exit_code = result->exit_code;
    event.reason = result->reason;
  } else {
    event.exit_code = status.exit_code;
    event.reason = "the task runner ended without a result: " + status.Describe();
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
      Signal(running, SIGKILL);
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
  std::vector<std::string> keys;  // parallel to fds: the runner each descriptor belongs to
  while (!stop.stop_requested()) {
    try {
      TakeOrders();
      StartWhatFits();
      CheckTimers();

      fds.assign(1, pollfd{.fd = wake_fd_, .events = POLLIN, .revents = 0});
      keys.assign(1, "");
      if (pool_) {
        fds.push_back({.fd = pool_->output_fd(), .events = POLLIN, .revents = 0});
        keys.emplace_back("");
        fds.push_back({.fd = pool_pidfd_, .events = POLLIN, .revents = 0});
        keys.emplace_back("");
      }
      std::int64_t next_timer = NowMillis() + kTickMs;
      for (auto& [key, running] : running_) {
        if (running.process) {
          fds.push_back({.fd = running.pidfd, .events = POLLIN, .revents = 0});
          keys.push_back(key);
          if (running.process->output_fd() >= 0) {
            fds.push_back({.fd = running.process->output_fd(), .events = POLLIN, .revents = 0});
            keys.push_back(key);
          }
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
      std::size_t first_runner = 1;
      if (pool_) {
        first_runner = 3;
        if (fds[1].revents != 0) ReadPoolOutput();
        if (fds[2].revents != 0) LosePool("it exited");
      }
      std::vector<std::string> exited;
      for (std::size_t index = first_runner; index < fds.size(); ++index) {
        if (fds[index].revents == 0) continue;
        auto found = running_.find(keys[index]);
        if (found == running_.end() || !found->second.process) continue;
        if (fds[index].fd == found->second.pidfd) {
          exited.push_back(keys[index]);
        } else {
          ReadOutput(found->second);
        }
      }
      // Without a pidfd (an old kernel), an exit is noticed on the next tick.
      for (auto& [key, running] : running_) {
        if (running.process && running.pidfd < 0) exited.push_back(key);
      }
      for (const auto& key : exited) ReapRunner(key);
    } catch (const std::exception& error) {
      spdlog::error("executor: the local executor's loop failed: {}", error.what());
    }
  }
  ShutDownRunners();
}

void LocalExecutor::ShutDownRunners() {
  // Every runner gets SIGTERM (it forwards it, so the tasks can checkpoint) and the grace period;
  // the next start reconciles what they were doing.
  std::chrono::milliseconds longest{0};
  for (auto& [key, running] : running_) {
    Signal(running, SIGTERM);
    longest = std::max(longest, running.request.grace + options_.kill_margin);
  }
  const auto deadline = std::chrono::steady_clock::now() + longest;
  while (!running_.empty() && std::chrono::steady_clock::now() < deadline) {
    std::vector<std::string> ended;
    for (auto& [key, running] : running_) {
      if (running.process && running.process->TryWait()) ended.push_back(key);
    }
    for (const auto& key : ended) {
      if (running_.at(key).pidfd >= 0) ::close(running_.at(key).pidfd);
      KillLeftovers(running_.at(key).request);
      running_.erase(key);
    }
    if (pool_) {
      // The pool reports its runners' exits; read them without acting on them.
      std::array<char, 8192> buffer{};
      while (::read(pool_->output_fd(), buffer.data(), buffer.size()) > 0) {
      }
      std::vector<std::string> gone;
      for (auto& [key, running] : running_) {
        if (!running.process && (running.pid <= 0 || ::kill(running.pid, 0) != 0)) {
          gone.push_back(key);
        }
      }
      for (const auto& key : gone) {
        KillLeftovers(running_.at(key).request);
        running_.erase(key);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (auto& [key, running] : running_) {
    Signal(running, SIGKILL);
    KillLeftovers(running.request);
    if (running.pidfd >= 0) ::close(running.pidfd);
  }
  running_.clear();
  if (pool_) {
    pool_->CloseInput();
    pool_->Terminate(std::chrono::seconds(1));
    if (pool_pidfd_ >= 0) ::close(pool_pidfd_);
    pool_.reset();
  }
}

}  // namespace mltf::gateway::executors
