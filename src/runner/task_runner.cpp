// task_runner.cpp - `mltf run-task`: runs one attempt of a task (see the header for the
// protocol).
#include "runner/task_runner.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "client/http_client.hpp"
#include "client/tracking_client.hpp"
#include "common/ids.hpp"
#include "gateway/envs/env_builder.hpp"
#include "gateway/executors/attempt_description.hpp"
#include "gateway/projects/project_archive.hpp"
#include "runner/process/metric_patterns.hpp"
#include "runner/process/process_group.hpp"
#include "runner/runner_pool.hpp"

extern char** environ;  // NOLINT(readability-identifier-naming): POSIX's name

namespace mltf::runner {
namespace {

namespace fs = std::filesystem;
using gateway::executors::AttemptDescription;

/// Metrics go to the server at most this often (or when this many are waiting).
constexpr std::chrono::milliseconds kMetricFlushInterval{1000};
constexpr std::size_t kMetricFlushCount = 1000;

/// The task log: the entry point's output and the runner's own lines, appended.
class TaskLog {
 public:
  explicit TaskLog(const fs::path& path)
      : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) {}
  TaskLog(const TaskLog&) = delete;
  TaskLog& operator=(const TaskLog&) = delete;
  ~TaskLog() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] bool ok() const { return fd_ >= 0; }

  void Write(std::string_view bytes) {
    while (fd_ >= 0 && !bytes.empty()) {
      const ssize_t written = ::write(fd_, bytes.data(), bytes.size());
      if (written < 0 && errno == EINTR) continue;
      if (written <= 0) return;
      bytes.remove_prefix(static_cast<std::size_t>(written));
    }
  }
  /// A line of the runner's own, marked so it stands out from the task's output.
  void Note(std::string_view line) { Write(fmt::format("[mltf] {}\n", line)); }

 private:
  int fd_;
};

std::map<std::string, std::string> CurrentEnvironment() {
  std::map<std::string, std::string> out;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const auto equals = text.find('=');
    if (equals == std::string_view::npos) continue;
    out.emplace(std::string(text.substr(0, equals)), std::string(text.substr(equals + 1)));
  }
  return out;
}

std::string ReadSmallFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string HostName() {
  std::array<char, 256> name{};
  if (::gethostname(name.data(), name.size() - 1) != 0) return "unknown";
  return name.data();
}

/// Sends metric samples in batches; remembers only the first failure, so a server that went
/// away costs one log line, not one per sample.
class MetricSender {
 public:
  MetricSender(client::TrackingClient& tracking, std::string run_id, TaskLog& log)
      : tracking_(tracking), run_id_(std::move(run_id)), log_(log) {}

  void Add(const std::vector<MetricSample>& samples) {
    for (const auto& sample : samples) {
      pending_.push_back({.key = sample.key,
                          .value = sample.value,
                          .timestamp_ms = sample.timestamp_ms,
                          .step = sample.step});
    }
    if (pending_.size() >= kMetricFlushCount) Flush();
  }
  void FlushIfDue() {
    if (!pending_.empty() &&
        std::chrono::steady_clock::now() - last_flush_ >= kMetricFlushInterval) {
      Flush();
    }
  }
  void Flush() {
    last_flush_ = std::chrono::steady_clock::now();
    if (pending_.empty()) return;
    auto sent = tracking_.LogBatch(run_id_, pending_, {}, {});
    if (!sent && !failed_) {
      failed_ = true;
      log_.Note("cannot log metrics from the output: " + sent.error().message);
    }
    pending_.clear();
  }

 private:
  client::TrackingClient& tracking_;
  std::string run_id_;
  TaskLog& log_;
  std::vector<client::MetricValue> pending_;
  std::chrono::steady_clock::time_point last_flush_ = std::chrono::steady_clock::now();
  bool failed_ = false;
};

/// Runs the entry point to its end, following signals; returns how it ended.
ExitStatus Supervise(ProcessGroup& process, int signal_fd, std::chrono::milliseconds grace,
                     TaskLog& log, MetricLineMatcher& matcher, MetricSender& metrics) {
  LineReader lines([&](std::string_view line) { metrics.Add(matcher.Match(line, NowMillis())); });
  std::optional<std::chrono::steady_clock::time_point> kill_at;
  std::array<char, 65536> buffer{};
  bool output_open = true;
  while (true) {
    std::array<pollfd, 2> fds{
        {{.fd = signal_fd, .events = POLLIN, .revents = 0},
         {.fd = output_open ? process.output_fd() : -1, .events = POLLIN, .revents = 0}}};
    int timeout_ms = static_cast<int>(kMetricFlushInterval.count());
    if (kill_at) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          *kill_at - std::chrono::steady_clock::now());
      timeout_ms = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, timeout_ms));
    }
    if (!output_open) timeout_ms = std::min(timeout_ms, 50);  // only the exit is left to see
    ::poll(fds.data(), fds.size(), timeout_ms);

    if ((fds[0].revents & POLLIN) != 0) {
      signalfd_siginfo info{};
      while (::read(signal_fd, &info, sizeof info) == sizeof info) {
        if (!kill_at) {
          log.Note(fmt::format("received {}; stopping the entry point (grace {} ms)",
                               strsignal(static_cast<int>(info.ssi_signo)), grace.count()));
          process.Signal(SIGTERM);
          kill_at = std::chrono::steady_clock::now() + grace;
        }
      }
    }
    if (output_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      while (true) {
        const ssize_t got = ::read(process.output_fd(), buffer.data(), buffer.size());
        if (got > 0) {
          const std::string_view bytes(buffer.data(), static_cast<std::size_t>(got));
          log.Write(bytes);
          if (!matcher.empty()) lines.Feed(bytes);
          continue;
        }
        if (got == 0) {
          output_open = false;
          lines.Finish();
        }
        break;
      }
    }
    if (kill_at && std::chrono::steady_clock::now() >= *kill_at) {
      log.Note("the entry point did not stop within its grace period; killing it");
      process.Signal(SIGKILL);
      kill_at = std::chrono::steady_clock::now() + std::chrono::hours(1);
    }
    metrics.FlushIfDue();
    if (!output_open) {
      if (auto status = process.TryWait()) return *status;
    }
  }
}

int Finish(const AttemptDescription& attempt, TaskLog& log, int exit_code,
           const std::string& reason) {
  log.Note(fmt::format("attempt {} ended: {}", attempt.attempt, reason));
  auto written = gateway::executors::WriteAttemptResult(attempt.result_file,
                                                        {.exit_code = exit_code, .reason = reason});
  if (!written) std::cerr << "mltf run-task: " << written.error().message << "\n";
  return exit_code;
}

/// Uploads the attempt's output directory at the run's artifact root.
void UploadOutputs(client::TrackingClient& tracking, const AttemptDescription& attempt,
                   TaskLog& log) {
  std::error_code ec;
  if (fs::exists(attempt.output_dir, ec) && !fs::is_empty(attempt.output_dir, ec)) {
    if (auto uploaded = tracking.UploadDirectory(attempt.artifact_uri, attempt.output_dir, "");
        !uploaded) {
      log.Note("cannot upload MLTF_OUTPUT_DIR: " + uploaded.error().message);
    }
  }
}

/// The environment's resolved lock (`pip freeze`), for reproducibility.
void UploadLock(client::TrackingClient& tracking, const AttemptDescription& attempt,
                const std::string& lock, TaskLog& log) {
  if (lock.empty()) return;
  const fs::path lock_file = attempt.result_file.parent_path() / "pip-freeze.txt";
  std::ofstream(lock_file) << lock;
  if (auto uploaded = tracking.UploadArtifact(attempt.artifact_uri, lock_file,
                                              "mltf/environment/pip-freeze.txt");
      !uploaded) {
    log.Note("cannot upload the environment lock: " + uploaded.error().message);
  }
}

/// Uploads the task log; called last, so it holds everything the attempt wrote.
void UploadLog(client::TrackingClient& tracking, const AttemptDescription& attempt) {
  if (auto uploaded =
          tracking.UploadArtifact(attempt.artifact_uri, attempt.log_file, "mltf/task.log");
      !uploaded) {
    std::cerr << "mltf run-task: cannot upload the task log: " << uploaded.error().message << "\n";
  }
}

}  // namespace

int RunTask(const fs::path& attempt_file) {
  // Signals are read from a signalfd, so they must not be delivered the usual way.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);
  ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  const int signal_fd = ::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);

  auto described = gateway::executors::ReadAttemptFile(attempt_file);
  if (!described) {
    std::cerr << "mltf run-task: " << described.error().message << "\n";
    return 2;
  }
  const AttemptDescription& attempt = *described;
  TaskLog log(attempt.log_file);
  if (!log.ok()) {
    std::cerr << "mltf run-task: cannot open the task log " << attempt.log_file << ": "
              << std::strerror(errno) << "\n";
  }
  log.Note(fmt::format("task {} attempt {} on {} (runner pid {})", attempt.task_id, attempt.attempt,
                       HostName(), ::getpid()));
  client::TrackingClient tracking(client::HttpClient(attempt.tracking_uri));

  // The project snapshot, fresh for every attempt.
  std::error_code ec;
  fs::remove_all(attempt.work_dir, ec);
  fs::create_directories(attempt.work_dir, ec);
  fs::create_directories(attempt.output_dir, ec);
  fs::create_directories(attempt.checkpoint_dir, ec);
  // The archive passed the server's checks when it was uploaded; its size limit is the
  // operator's, so the runner re-checks every rule but that one.
  gateway::projects::ArchiveLimits limits;
  limits.max_unpacked_bytes = UINT64_MAX;
  if (auto unpacked =
          gateway::projects::ExtractArchive(attempt.project_archive, attempt.work_dir, limits);
      !unpacked) {
    const int code =
        Finish(attempt, log, 1, "cannot unpack the project: " + unpacked.error().message);
    UploadLog(tracking, attempt);
    return code;
  }

  // The environment, built once per distinct spec and reused.
  gateway::envs::EnvironmentRequest env_request{
      .env_manager = attempt.env_manager,
      .python_env_yaml = attempt.python_env_file.empty()
                             ? std::string()
                             : ReadSmallFile(attempt.work_dir / attempt.python_env_file),
      .project_dir = attempt.work_dir,
      .environment_kind = attempt.python_env_file.empty() ? "" : "python_env"};
  auto builder = gateway::envs::MakeEnvBuilder(attempt.env_manager, attempt.environment_settings);
  Result<gateway::envs::PreparedEnvironment> prepared =
      builder ? (*builder)->Prepare(env_request,
                                    [&log](std::string_view line) {
                                      log.Write(fmt::format("[mltf env] {}\n", line));
                                    })
              : Result<gateway::envs::PreparedEnvironment>(Fail(builder.error()));
  if (!prepared) {
    const int code =
        Finish(attempt, log, 1, "cannot prepare the environment: " + prepared.error().message);
    UploadLog(tracking, attempt);
    return code;
  }
  log.Note(fmt::format("environment {} {} ({})", prepared->manager, prepared->key,
                       prepared->reused ? "reused" : "built"));
  // The entry point's environment: the runner's, the venv's, then MLflow's and ours.
  auto environment = prepared->ApplyTo(CurrentEnvironment());
  for (const auto& [name, value] : attempt.environment) environment[name] = value;
  environment["MLFLOW_TRACKING_URI"] = attempt.tracking_uri;
  environment["MLFLOW_RUN_ID"] = attempt.run_id;
  environment["MLFLOW_EXPERIMENT_ID"] = attempt.experiment_id;
  environment["MLTF_TASK_ID"] = attempt.task_id;
  environment["MLTF_ATTEMPT"] = std::to_string(attempt.attempt);
  environment["MLTF_OUTPUT_DIR"] = attempt.output_dir.string();
  environment["MLTF_CHECKPOINT_DIR"] = attempt.checkpoint_dir.string();
  if (!environment.contains("CUDA_VISIBLE_DEVICES")) environment["CUDA_VISIBLE_DEVICES"] = "";
  if (attempt.seed) environment["MLTF_SEED"] = std::to_string(*attempt.seed);
  environment["PYTHONUNBUFFERED"] = "1";  // so output reaches the log as it is printed

  auto matcher = MetricLineMatcher::Parse(attempt.metric_patterns);
  if (!matcher) {
    const int code = Finish(attempt, log, 1, matcher.error().message);
    UploadLog(tracking, attempt);
    return code;
  }
  log.Note("running: " + attempt.command);
  auto process = ProcessGroup::Start({.argv = {"/bin/sh", "-c", attempt.command},
                                      .environment = environment,
                                      .working_directory = attempt.work_dir,
                                      .merge_stderr = true});
  if (!process) {
    const int code = Finish(attempt, log, 127, process.error().message);
    UploadLog(tracking, attempt);
    return code;
  }
  std::ofstream(attempt.result_file.parent_path() / "user.pgid") << process->pid() << "\n";
  std::cout << RunningAnnouncement(attempt_file) + "\n"
            << std::flush;  // one write: the pipe may be shared
  // Recorded while the entry point runs, not before: it is not on the path to RUNNING.
  UploadLock(tracking, attempt, prepared->resolved_lock, log);

  MetricSender metrics(tracking, attempt.run_id, log);
  const ExitStatus status = Supervise(
      *process, signal_fd, std::chrono::milliseconds(attempt.grace_ms), log, *matcher, metrics);
  metrics.Flush();
  UploadOutputs(tracking, attempt, log);
  const int code = Finish(attempt, log, status.exit_code, status.Describe());
  UploadLog(tracking, attempt);
  if (signal_fd >= 0) ::close(signal_fd);
  return code;
}

}  // namespace mltf::runner
