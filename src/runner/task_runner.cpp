// task_runner.cpp - `mltf run-task`: runs one attempt of a task (see the header for the
// protocol).
#include "runner/task_runner.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
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
#include <string>
#include <vector>

#include "client/http_client.hpp"
#include "client/tracking_client.hpp"
#include "common/ids.hpp"
#include "gateway/envs/env_builder.hpp"
#include "gateway/executors/attempt_description.hpp"
#include "gateway/projects/project_archive.hpp"
#include "runner/distributed.hpp"
#include "runner/process/metric_patterns.hpp"
#include "runner/process/process_group.hpp"
#include "runner/runner_pool.hpp"
#include "runner/system_metrics.hpp"
#include "runner/token_keeper.hpp"

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

/// One copy of the entry point (a rank): its process group and its output, read in lines.
struct RankProcess {
  int rank = 0;  ///< global
  ProcessGroup process;
  LineReader lines;
  bool reads_lines = false;  ///< whether `lines` has anything to do (marking or metrics)
  bool output_open = true;
  std::optional<ExitStatus> status;
};

/// How the ranks of this node ended: the first failing rank's status, else the first rank's.
struct NodeOutcome {
  int rank = 0;
  ExitStatus status;
};

/// Runs the ranks to their end, following signals: SIGTERM and SIGINT stop them all (SIGTERM,
/// then SIGKILL after the grace period), SIGUSR1 is passed on as a checkpoint request, and the
/// first rank that fails has the others stopped the same way (as torchrun does).
/// With `mark_ranks` the ranks' line readers put marked lines into `marked_lines`, which go to
/// the log after each read; otherwise output goes to the log as it comes and the line readers
/// only look for metrics.
NodeOutcome Supervise(std::vector<RankProcess>& ranks, int signal_fd,
                      std::chrono::milliseconds grace, TaskLog& log, MetricSender& metrics,
                      bool mark_ranks, std::string& marked_lines) {
  const auto write_marked = [&] {
    log.Write(marked_lines);
    marked_lines.clear();
  };
  const auto signal_all = [&ranks](int sig) {
    for (auto& rank : ranks) rank.process.Signal(sig);
  };
  std::optional<std::chrono::steady_clock::time_point> kill_at;
  const auto stop_all = [&](const std::string& why) {
    if (kill_at) return;
    log.Note(fmt::format("{}; stopping the entry point (grace {} ms)", why, grace.count()));
    signal_all(SIGTERM);
    kill_at = std::chrono::steady_clock::now() + grace;
  };
  std::optional<std::size_t> first_failure;
  std::array<char, 65536> buffer{};
  std::vector<pollfd> fds(ranks.size() + 1);
  while (true) {
    fds[0] = {.fd = signal_fd, .events = POLLIN, .revents = 0};
    bool exit_pending = false;  // output ended, exit not seen yet
    for (std::size_t idx = 0; idx < ranks.size(); ++idx) {
      const auto& rank = ranks[idx];
      fds[idx + 1] = {
          .fd = rank.output_open ? rank.process.output_fd() : -1, .events = POLLIN, .revents = 0};
      exit_pending = exit_pending || (!rank.output_open && !rank.status);
    }
    int timeout_ms = static_cast<int>(kMetricFlushInterval.count());
    if (kill_at) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          *kill_at - std::chrono::steady_clock::now());
      timeout_ms = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, timeout_ms));
    }
    if (exit_pending) timeout_ms = std::min(timeout_ms, 50);  // only the exit is left to see
    ::poll(fds.data(), fds.size(), timeout_ms);

    if ((fds[0].revents & POLLIN) != 0) {
      signalfd_siginfo info{};
      while (::read(signal_fd, &info, sizeof info) == sizeof info) {
        const int sig = static_cast<int>(info.ssi_signo);
        if (sig == SIGUSR1) {
          log.Note("received SIGUSR1: checkpoint requested");
          signal_all(SIGUSR1);
        } else {
          stop_all(fmt::format("received {}", strsignal(sig)));
        }
      }
    }
    for (std::size_t idx = 0; idx < ranks.size(); ++idx) {
      auto& rank = ranks[idx];
      if (!rank.output_open || (fds[idx + 1].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        continue;
      }
      while (true) {
        const ssize_t got = ::read(rank.process.output_fd(), buffer.data(), buffer.size());
        if (got > 0) {
          const std::string_view bytes(buffer.data(), static_cast<std::size_t>(got));
          if (!mark_ranks) log.Write(bytes);
          if (rank.reads_lines) rank.lines.Feed(bytes);
          if (mark_ranks) write_marked();
          continue;
        }
        if (got == 0) {
          rank.output_open = false;
          rank.lines.Finish();
          if (mark_ranks) write_marked();
        }
        break;
      }
    }
    if (kill_at && std::chrono::steady_clock::now() >= *kill_at) {
      log.Note("the entry point did not stop within its grace period; killing it");
      signal_all(SIGKILL);
      kill_at = std::chrono::steady_clock::now() + std::chrono::hours(1);
    }
    metrics.FlushIfDue();
    bool all_ended = true;
    for (std::size_t idx = 0; idx < ranks.size(); ++idx) {
      auto& rank = ranks[idx];
      if (!rank.output_open && !rank.status) rank.status = rank.process.TryWait();
      all_ended = all_ended && rank.status.has_value();
      if (rank.status && !rank.status->Succeeded() && !first_failure) {
        first_failure = idx;
        if (ranks.size() > 1) {
          stop_all(fmt::format("rank {} ended with {}", rank.rank, rank.status->Describe()));
        }
      }
    }
    if (all_ended) {
      const auto& outcome = ranks[first_failure.value_or(0)];
      return {.rank = outcome.rank, .status = *outcome.status};
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

/// Uploads the task log (this node's); called last, so it holds everything the attempt wrote.
void UploadLog(client::TrackingClient& tracking, const AttemptDescription& attempt, int node_rank) {
  if (auto uploaded = tracking.UploadArtifact(attempt.artifact_uri, attempt.log_file,
                                              NodeLogArtifactPath(node_rank));
      !uploaded) {
    std::cerr << "mltf run-task: cannot upload the task log: " << uploaded.error().message << "\n";
  }
}

/// A port nobody listens on now, for a one-node rendezvous: the kernel's pick for port 0.
/// Another process may take it before the rank binds it; torchrun picks its port the same way.
/// Without a usable loopback (a network namespace whose lo is down) it is torchrun's default
/// port: a task that does not use torch.distributed must not fail for want of a port.
Result<int> FreeLocalPort() {
  constexpr int kTorchrunDefaultPort = 29500;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return kTorchrunDefaultPort;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  const bool picked =
      ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  return picked ? static_cast<int>(ntohs(address.sin_port)) : kTorchrunDefaultPort;
}

}  // namespace

std::vector<std::string> EntryPointArgv(const std::string& command) {
  // SIGUSR1 goes to the whole group as a checkpoint request, but the shell stays as the
  // group's leader (dash forks even the last command) and would die of it, taking the group
  // with it. A trapped signal is reset to its default in the programs the shell starts, so
  // they may handle it (Python, bash traps) or, unaware, end by it as they would under SLURM.
  return {"/bin/sh", "-c", "trap : USR1; " + command};
}

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
  const auto runner_environment = CurrentEnvironment();
  auto layout = ComputeLayout(*described, runner_environment, FreeLocalPort);
  if (!layout) {
    std::cerr << "mltf run-task: " << layout.error().message << "\n";
    return 2;
  }
  const int node_rank = layout->node_rank;
  const int restart_count = SlurmRestartCount(runner_environment);
  const AttemptDescription attempt =
      NodeAttempt(RestartedAttempt(*described, restart_count), node_rank);
  TaskLog log(attempt.log_file);
  if (!log.ok()) {
    std::cerr << "mltf run-task: cannot open the task log " << attempt.log_file << ": "
              << std::strerror(errno) << "\n";
  }
  if (restart_count > 0) {
    log.Note(fmt::format("requeued by SLURM (restart {}): this is attempt {}", restart_count,
                         attempt.attempt));
  }
  log.Note(fmt::format("task {} attempt {} on {} (runner pid {})", attempt.task_id, attempt.attempt,
                       HostName(), ::getpid()));
  if (layout->world_size > 1) {
    log.Note(fmt::format("node {} of {}, ranks {} to {} of {}, master {}:{}", node_rank,
                         layout->nodes, layout->GlobalRank(0),
                         layout->GlobalRank(layout->tasks_per_node - 1), layout->world_size,
                         layout->master_addr, layout->master_port));
  }
  client::TrackingClient tracking(client::HttpClient(attempt.tracking_uri, attempt.tracking_token));
  // Alive from here to the last upload: building the environment alone may take longer than
  // the token's first life.
  TokenKeeper token_keeper(attempt.tracking_uri, attempt.tracking_token,
                           std::chrono::milliseconds(attempt.token_renew_ms),
                           [&log](const std::string& text) { log.Note(text); });

  // The project snapshot, fresh for every attempt (and every node).
  std::error_code ec;
  fs::create_directories(attempt.result_file.parent_path(), ec);
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
    UploadLog(tracking, attempt, node_rank);
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
    UploadLog(tracking, attempt, node_rank);
    return code;
  }
  log.Note(fmt::format("environment {} {} ({})", prepared->manager, prepared->key,
                       prepared->reused ? "reused" : "built"));
  // The entry point's environment: the runner's, the venv's, then MLflow's and ours.
  auto environment = prepared->ApplyTo(runner_environment);
  for (const auto& [name, value] : attempt.environment) environment[name] = value;
  environment["MLFLOW_TRACKING_URI"] = attempt.tracking_uri;
  // The task's own token, never its owner's: MLflow's client sends it as a bearer token.
  environment.erase("MLFLOW_TRACKING_TOKEN");
  if (!attempt.tracking_token.empty()) {
    environment["MLFLOW_TRACKING_TOKEN"] = attempt.tracking_token;
  }
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
    UploadLog(tracking, attempt, node_rank);
    return code;
  }
  MetricSender metrics(tracking, attempt.run_id, log);
  log.Note("running: " + attempt.command);
  // With several ranks every line is marked with its rank; whole lines, so that ranks writing
  // at once do not mix within a line. Metrics come from global rank 0 only.
  const bool mark_ranks = layout->world_size > 1;
  std::string marked_lines;  // a read's lines, written to the log at once
  std::vector<RankProcess> ranks;
  for (int local_rank = 0; local_rank < layout->tasks_per_node; ++local_rank) {
    const int rank = layout->GlobalRank(local_rank);
    auto rank_environment = environment;
    for (auto& [name, value] : RankEnvironment(*layout, local_rank)) {
      rank_environment[name] = std::move(value);
    }
    auto process = ProcessGroup::Start({.argv = EntryPointArgv(attempt.command),
                                        .environment = rank_environment,
                                        .working_directory = attempt.work_dir,
                                        .merge_stderr = true});
    if (!process) {
      for (auto& started : ranks) started.process.Terminate(std::chrono::milliseconds(0));
      const int code = Finish(attempt, log, 127, process.error().message);
      UploadLog(tracking, attempt, node_rank);
      return code;
    }
    const bool matches_metrics = rank == 0 && !matcher->empty();
    LineReader lines([&, rank, matches_metrics](std::string_view line) {
      if (mark_ranks) marked_lines += fmt::format("[rank {}] {}\n", rank, line);
      if (matches_metrics) metrics.Add(matcher->Match(line, NowMillis()));
    });
    ranks.push_back({.rank = rank,
                     .process = std::move(*process),
                     .lines = std::move(lines),
                     .reads_lines = mark_ranks || matches_metrics});
  }
  if (node_rank == 0) {
    std::ofstream pgids(attempt.result_file.parent_path() / "user.pgid");
    for (const auto& rank : ranks) pgids << rank.process.pid() << "\n";
  }
  std::cout << RunningAnnouncement(attempt_file) + "\n"
            << std::flush;  // one write: the pipe may be shared
  // After the announcement: loading NVML may take a while.
  auto system_metrics =
      StartSystemMetrics(attempt, node_rank, layout->nodes, environment["CUDA_VISIBLE_DEVICES"],
                         [&log](const std::string& line) { log.Note(line); });
  // Recorded while the entry point runs, not before: it is not on the path to RUNNING.
  if (node_rank == 0) UploadLock(tracking, attempt, prepared->resolved_lock, log);

  const NodeOutcome outcome =
      Supervise(ranks, signal_fd, std::chrono::milliseconds(attempt.grace_ms), log, metrics,
                mark_ranks, marked_lines);
  if (system_metrics) system_metrics->Stop();  // with a last sample
  metrics.Flush();
  if (node_rank == 0) UploadOutputs(tracking, attempt, log);
  const std::string reason =
      mark_ranks ? fmt::format("rank {}: {}", outcome.rank, outcome.status.Describe())
                 : outcome.status.Describe();
  const int code = Finish(attempt, log, outcome.status.exit_code, reason);
  UploadLog(tracking, attempt, node_rank);
  if (signal_fd >= 0) ::close(signal_fd);
  return code;
}

}  // namespace mltf::runner
