// task_commands.cpp - the task subcommands over the gateway API: flags (CLI11), requests
// (HttpClient), and output for people (tables) or programs (--json).
#include "cli/commands/task_commands.hpp"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <random>
#include <set>
#include <thread>

#include "cli/commands/progress.hpp"
#include "cli/commands/task_format.hpp"
#include "client/http_client.hpp"
#include "client/server_address.hpp"
#include "gateway/projects/project_archive.hpp"

namespace mltf::cli {
namespace {

namespace fs = std::filesystem;
using client::HttpClient;
using client::PercentEncode;
using nlohmann::json;

constexpr int kServerExit = 1;
constexpr int kUsageExit = 2;
constexpr const char* kTasksPath = "/api/mltf/v1/tasks";
// How long one long poll of `logs -f` may wait on the server, and the client's limit above it.
constexpr int kLogWaitMs = 10000;
constexpr auto kLogRequestTimeout = std::chrono::seconds(60);
// Connection failures tolerated in a row while following (a server restart), and the pause.
constexpr int kFollowRetries = 5;
constexpr auto kFollowRetryPause = std::chrono::seconds(2);
// `tasks --all-pages` stops after this many pages, in case a server repeats its tokens.
constexpr int kMaxPages = 10000;

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Dump(const json& value) {
  return value.dump(2, ' ', false, json::error_handler_t::replace);
}

/// One run of one command: its name for messages, the output streams and the server.
class Command {
 public:
  Command(std::string name, const TaskCommandState& state, std::ostream& out, std::ostream& err)
      : name_(std::move(name)), state_(state), out_(out), err_(err) {}

  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }
  const TaskCommandState& state() const { return state_; }

  int Usage(const std::string& message) {
    err_ << "mltf " << name_ << ": " << message << "\n";
    return kUsageExit;
  }
  int Failed(const Error& error) {
    err_ << "mltf " << name_ << ": " << error.message << "\n";
    return kServerExit;
  }

  /// Connects lazily: resolves the server and credential; a bad address is a usage error, a
  /// credential that cannot be read or refreshed a failure (both return false).
  bool Connect(int& exit_code) {
    if (name_ != "submit" && name_ != "tasks" && state_.task_id.empty()) {
      exit_code = Usage("the task id must not be empty");
      return false;
    }
    auto server = client::ResolveServer(state_.server);
    if (!server) {
      exit_code = Usage(server.error().message);
      return false;
    }
    auto token = client::ResolveToken(*server);
    if (!token) {
      exit_code = Failed(token.error());
      return false;
    }
    http_.emplace(*server, std::move(*token));
    return true;
  }
  HttpClient& http() { return *http_; }

  /// A request answered with JSON, or the server's error.
  Result<json> Call(Result<client::HttpResponse> response) {
    if (!response) return Fail(std::move(response).error());
    return client::ParseJsonResponse(*response);
  }

  /// The `task` object of an answer, or an error when the server sent none.
  static Result<json> TaskOf(const json& answer) {
    const auto it = answer.find("task");
    if (it == answer.end() || !it->is_object()) {
      return Fail(Error::Internal("the server's answer has no `task` object"));
    }
    return *it;
  }

 private:
  std::string name_;
  const TaskCommandState& state_;
  std::ostream& out_;
  std::ostream& err_;
  std::optional<HttpClient> http_;
};

std::string TaskPath(const std::string& task_id, std::string_view suffix = {}) {
  return fmt::format("{}/{}{}", kTasksPath, PercentEncode(task_id), suffix);
}

std::string StringField(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Follows the log of `task_id` with long polls until the task has ended and its log is read
// to the end. Returns 0 if it SUCCEEDED, 1 otherwise.
int FollowLogs(Command& command, const std::string& task_id) {
  command.http().SetTimeout(kLogRequestTimeout);
  std::uint64_t offset = 0;
  int failures = 0;
  std::string state;
  for (;;) {
    const auto started = std::chrono::steady_clock::now();
    auto response = command.http().Get(
        fmt::format("{}?offset={}&wait_ms={}", TaskPath(task_id, "/logs"), offset, kLogWaitMs));
    if (!response) {
      if (response.error().code == ErrorCode::TEMPORARILY_UNAVAILABLE &&
          ++failures <= kFollowRetries) {
        std::this_thread::sleep_for(kFollowRetryPause);
        continue;
      }
      return command.Failed(response.error());
    }
    if (response->status < 200 || response->status >= 300) {
      auto error = client::ParseJsonResponse(*response);
      return command.Failed(error ? Error::Internal("unexpected answer") : error.error());
    }
    failures = 0;
    const std::string& body = response->body;
    command.out() << body << std::flush;
    std::uint64_t next = offset + body.size();
    if (const auto header = response->Header("x-mltf-log-offset")) {
      std::uint64_t parsed = 0;
      const auto [end, ec] =
          std::from_chars(header->data(), header->data() + header->size(), parsed);
      if (ec == std::errc() && end == header->data() + header->size() && parsed >= offset) {
        next = parsed;
      }
    }
    offset = next;
    state = response->Header("x-mltf-task-state").value_or("");
    if (body.empty() && state.empty()) {
      // An older server without the state header: ask for the task.
      auto task = command.Call(command.http().Get(TaskPath(task_id)));
      if (!task) return command.Failed(task.error());
      auto object = Command::TaskOf(*task);
      if (!object) return command.Failed(object.error());
      state = StringField(*object, "state");
    }
    if (body.empty() && IsTerminalState(state)) break;
    // A server that ignores wait_ms answers at once: do not spin.
    if (body.empty() && std::chrono::steady_clock::now() - started < std::chrono::seconds(1)) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
  command.err() << fmt::format("Task {} {}\n", task_id, state);
  return state == "SUCCEEDED" ? 0 : kServerExit;
}

int RunSubmit(Command& command) {
  const auto& flags = command.state().submit;
  std::error_code ec;
  const fs::path dir = flags.dir.empty() ? fs::path(".") : fs::path(flags.dir);
  if (!fs::is_directory(dir, ec)) {
    return command.Usage(fmt::format("{} is not a project directory", dir.string()));
  }
  auto config = LoadBackendConfig(dir, flags.backend_config_file);
  if (!config) return command.Usage(config.error().message);
  auto resources = BuildResources(*config, flags.resources_json);
  if (!resources) return command.Usage(resources.error().message);
  // Checks every flag before the (possibly long) packing and upload.
  if (auto spec = BuildTaskSpec(flags, "", *resources); !spec) {
    return command.Usage(spec.error().message);
  }
  int exit_code = 0;
  if (!command.Connect(exit_code)) return exit_code;

  const fs::path temp_dir = fs::temp_directory_path(ec);
  if (ec) {
    return command.Usage(fmt::format(
        "no directory for the temporary archive ({}); set TMPDIR to a writable directory",
        ec.message()));
  }
  std::random_device random;
  const fs::path archive =
      temp_dir / fmt::format("mltf-submit-{:08x}{:08x}.tar.gz", random(), random());
  struct RemoveOnExit {
    const fs::path& path;
    ~RemoveOnExit() {
      std::error_code ignored;
      fs::remove(path, ignored);
    }
  } remove_archive{archive};

  const bool terminal = StderrIsTerminal();
  ProgressReporter packing("Packing", command.err(), terminal);
  gateway::projects::PackOptions pack_options;
  pack_options.progress = [&packing](std::uint64_t done, std::uint64_t total) {
    packing.Update(done, total);
  };
  auto packed = gateway::projects::PackDirectory(dir, archive, pack_options);
  if (!packed) return command.Failed(packed.error());
  packing.Finish(packed->bytes);

  const auto archive_size = fs::file_size(archive, ec);
  if (!terminal) {
    command.err() << fmt::format("Uploading {} files ({} compressed) to {}\n", packed->files,
                                 FormatMegabytes(ec ? 0 : archive_size),
                                 client::RedactUrl(command.http().base_url()));
  }
  ProgressReporter uploading("Uploading", command.err(), terminal);
  auto uploaded = command.Call(command.http().UploadFile(
      "POST", "/api/mltf/v1/projects", archive, "application/gzip",
      [&uploading](std::uint64_t sent, std::uint64_t total) { uploading.Update(sent, total); }));
  if (!uploaded) return command.Failed(uploaded.error());
  uploading.Finish(ec ? 0 : archive_size);
  std::string sha256;
  if (const auto project = uploaded->find("project");
      project != uploaded->end() && project->is_object()) {
    sha256 = StringField(*project, "sha256");
  }
  if (sha256.empty()) sha256 = packed->sha256;

  auto spec = BuildTaskSpec(flags, sha256, *resources);
  if (!spec) return command.Usage(spec.error().message);
  auto answer = command.Call(command.http().PostJson(kTasksPath, *spec));
  if (!answer) return command.Failed(answer.error());
  auto task = Command::TaskOf(*answer);
  if (!task) return command.Failed(task.error());
  const std::string task_id = StringField(*task, "task_id");
  if (command.state().json) {
    command.out() << Dump(json{{"task", *task}}) << "\n" << std::flush;
  } else {
    command.out() << fmt::format("Submitted task {} (state {}, run {})\n",
                                 DisplayField(*task, "task_id"), DisplayField(*task, "state"),
                                 DisplayField(*task, "run_id"))
                  << std::flush;
  }
  if (!flags.follow) return 0;
  if (task_id.empty()) return command.Failed(Error::Internal("the server's task has no task_id"));
  return FollowLogs(command, task_id);
}

int RunTasks(Command& command) {
  const auto& state = command.state();
  int exit_code = 0;
  if (!command.Connect(exit_code)) return exit_code;
  if (state.max_results < 0) return command.Usage("--max-results must be positive");
  std::string query;
  auto add = [&query](std::string_view key, const std::string& value) {
    if (value.empty()) return;
    query += fmt::format("{}{}={}", query.empty() ? "?" : "&", key, PercentEncode(value));
  };
  for (const auto& wanted : state.states) add("state", wanted);
  add("user", state.user);
  add("experiment_id", state.experiment_id);
  if (state.max_results > 0) add("max_results", std::to_string(state.max_results));

  json tasks = json::array();
  std::string token;
  std::set<std::string> seen_tokens;
  for (int page = 0; page < kMaxPages; ++page) {
    std::string path = std::string(kTasksPath) + query;
    if (!token.empty()) {
      path += fmt::format("{}page_token={}", query.empty() ? "?" : "&", PercentEncode(token));
    }
    auto answer = command.Call(command.http().Get(path));
    if (!answer) return command.Failed(answer.error());
    if (const auto it = answer->find("tasks"); it != answer->end() && it->is_array()) {
      for (auto& task : *it) tasks.push_back(std::move(task));
    }
    token = StringField(*answer, "next_page_token");
    if (!state.all_pages || token.empty() || !seen_tokens.insert(token).second) break;
  }
  if (state.json) {
    json out = {{"tasks", tasks}};
    if (!token.empty() && !state.all_pages) out["next_page_token"] = token;
    command.out() << Dump(out) << "\n";
    return 0;
  }
  command.out() << FormatTaskTable(tasks, NowMs());
  if (!token.empty() && !state.all_pages) {
    command.err() << "(more tasks: add --all-pages or --max-results N)\n";
  }
  return 0;
}

int RunShow(Command& command) {
  int exit_code = 0;
  if (!command.Connect(exit_code)) return exit_code;
  auto answer = command.Call(command.http().Get(TaskPath(command.state().task_id)));
  if (!answer) return command.Failed(answer.error());
  auto task = Command::TaskOf(*answer);
  if (!task) return command.Failed(task.error());
  command.out() << (command.state().json ? Dump(*answer) + "\n"
                                         : FormatTaskDetails(*task, NowMs()));
  return 0;
}

int RunLogs(Command& command) {
  int exit_code = 0;
  if (!command.Connect(exit_code)) return exit_code;
  const auto& task_id = command.state().task_id;
  if (command.state().follow) return FollowLogs(command, task_id);
  std::uint64_t offset = 0;
  for (;;) {
    auto response =
        command.http().Get(fmt::format("{}?offset={}", TaskPath(task_id, "/logs"), offset));
    if (!response) return command.Failed(response.error());
    if (response->status < 200 || response->status >= 300) {
      auto error = client::ParseJsonResponse(*response);
      return command.Failed(error ? Error::Internal("unexpected answer") : error.error());
    }
    command.out() << response->body;
    if (response->body.empty()) break;
    std::uint64_t next = offset + response->body.size();
    if (const auto header = response->Header("x-mltf-log-offset")) {
      std::uint64_t parsed = 0;
      const auto [end, ec] =
          std::from_chars(header->data(), header->data() + header->size(), parsed);
      if (ec == std::errc() && end == header->data() + header->size() && parsed > offset) {
        next = parsed;
      }
    }
    offset = next;
  }
  command.out() << std::flush;
  return 0;
}

int RunCancelOrReproduce(Command& command, std::string_view action) {
  int exit_code = 0;
  if (!command.Connect(exit_code)) return exit_code;
  auto answer = command.Call(command.http().PostJson(
      TaskPath(command.state().task_id, "/" + std::string(action)), json::object()));
  if (!answer) return command.Failed(answer.error());
  auto task = Command::TaskOf(*answer);
  if (!task) return command.Failed(task.error());
  if (command.state().json) {
    command.out() << Dump(*answer) << "\n";
  } else if (action == "reproduce") {
    command.out() << DisplayField(*task, "task_id") << "\n";
  } else {
    command.out() << fmt::format("Task {} {}\n", DisplayField(*task, "task_id"),
                                 DisplayField(*task, "state"));
  }
  return 0;
}

void AddCommonFlags(CLI::App* command, TaskCommandState& state) {
  command->add_option("--server", state.server,
                      "Server URL (default: $MLTF_SERVER, $MLFLOW_TRACKING_URI, "
                      "http://127.0.0.1:5000)");
  command->add_flag("--json", state.json, "Print machine-readable JSON");
}

}  // namespace

void AddTaskCommands(CLI::App& app, TaskCommandState& state) {
  auto& flags = state.submit;
  auto* submit = app.add_subcommand("submit", "Pack a project directory and submit it as a task");
  AddCommonFlags(submit, state);
  submit->add_option("dir", flags.dir, "Project directory (default: .)");
  submit->add_option("-e,--entry-point", flags.entry_point, "MLproject entry point")
      ->default_str("main");
  submit->add_option("-P,--param", flags.parameters, "Parameter key=value (repeatable)")
      ->allow_extra_args(false);
  submit->add_option("--backend-config", flags.backend_config_file,
                     "JSON resource file (default: gateway_config.json or slurm_config.json in "
                     "DIR)");
  submit->add_option("--resources-json", flags.resources_json,
                     "JSON object of resources, over the backend config");
  auto* name = submit->add_option("--experiment-name", flags.experiment_name,
                                  "Experiment name (created if missing)");
  auto* id = submit->add_option("--experiment-id", flags.experiment_id, "Experiment id");
  name->excludes(id);
  submit->add_option("--run-name", flags.run_name, "Name of the MLflow run");
  submit->add_option("--env-manager", flags.env_manager, "local or virtualenv")
      ->check(CLI::IsMember({"local", "virtualenv"}));
  submit->add_option_function<std::int64_t>(
      "--priority", [&flags](const std::int64_t& value) { flags.priority = value; },
      "Priority, higher first (default 0)");
  submit->add_option_function<std::int64_t>(
      "--max-retries", [&flags](const std::int64_t& value) { flags.max_retries = value; },
      "Retries of a failed attempt (default 0)");
  submit->add_flag("--preemptible", flags.preemptible,
                   "May be preempted and requeued; SIGUSR1 asks the code to checkpoint first");
  submit
      ->add_option("--metric-pattern", flags.metric_patterns,
                   "Regex turning output lines into metrics (repeatable)")
      ->allow_extra_args(false);
  submit->add_flag("--follow", flags.follow, "Follow the log; exit 0 only if the task succeeds");
  state.submit_command = submit;

  auto* tasks = app.add_subcommand("tasks", "List tasks, newest first");
  AddCommonFlags(tasks, state);
  tasks->add_option("--state", state.states, "Only tasks in this state (repeatable)")
      ->allow_extra_args(false);
  tasks->add_option("--user", state.user, "Only tasks of this user");
  tasks->add_option("--experiment-id", state.experiment_id, "Only tasks of this experiment");
  tasks->add_option("--max-results", state.max_results, "Tasks per page");
  tasks->add_flag("--all-pages", state.all_pages, "Fetch every page");
  state.tasks_command = tasks;

  auto* show = app.add_subcommand("show", "Show a task, its attempts and events");
  AddCommonFlags(show, state);
  show->add_option("task_id", state.task_id, "Task id")->required();
  state.show_command = show;

  auto* logs = app.add_subcommand("logs", "Print the log of a task");
  AddCommonFlags(logs, state);
  logs->add_option("task_id", state.task_id, "Task id")->required();
  logs->add_flag("-f,--follow", state.follow,
                 "Follow until the task ends; exit 0 only if it succeeded");
  state.logs_command = logs;

  auto* cancel = app.add_subcommand("cancel", "Cancel a task");
  AddCommonFlags(cancel, state);
  cancel->add_option("task_id", state.task_id, "Task id")->required();
  state.cancel_command = cancel;

  auto* reproduce = app.add_subcommand("reproduce", "Submit the identical task again");
  AddCommonFlags(reproduce, state);
  reproduce->add_option("task_id", state.task_id, "Task id")->required();
  state.reproduce_command = reproduce;
}

std::optional<int> RunTaskCommands(const TaskCommandState& state) {
  return RunTaskCommands(state, std::cout, std::cerr);
}

std::optional<int> RunTaskCommands(const TaskCommandState& state, std::ostream& out,
                                   std::ostream& err) {
  auto parsed = [](const CLI::App* command) { return command != nullptr && command->parsed(); };
  try {
    if (parsed(state.submit_command)) {
      Command command("submit", state, out, err);
      return RunSubmit(command);
    }
    if (parsed(state.tasks_command)) {
      Command command("tasks", state, out, err);
      return RunTasks(command);
    }
    if (parsed(state.show_command)) {
      Command command("show", state, out, err);
      return RunShow(command);
    }
    if (parsed(state.logs_command)) {
      Command command("logs", state, out, err);
      return RunLogs(command);
    }
    if (parsed(state.cancel_command)) {
      Command command("cancel", state, out, err);
      return RunCancelOrReproduce(command, "cancel");
    }
    if (parsed(state.reproduce_command)) {
      Command command("reproduce", state, out, err);
      return RunCancelOrReproduce(command, "reproduce");
    }
  } catch (const std::exception& error) {
    err << "mltf: unexpected error: " << error.what() << "\n";
    return kServerExit;
  }
  return std::nullopt;
}

}  // namespace mltf::cli
