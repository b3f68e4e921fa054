// task_commands.hpp - the task subcommands of `mltf`: submit, tasks, show, logs, cancel,
// reproduce. They talk to a running server over the gateway API (docs/gateway-api.md).
//
// Use from the main command line (two calls, nothing else):
//
//   CLI::App app{...};
//   mltf::cli::TaskCommandState tasks;         // must outlive app.parse()
//   mltf::cli::AddTaskCommands(app, tasks);
//   app.parse(argc, argv);                     // the caller handles CLI::ParseError
//   if (auto code = mltf::cli::RunTaskCommands(tasks)) return *code;
//
// Exit codes: 0 success (for `submit --follow` and `logs -f`: the task SUCCEEDED), 1 the
// server refused or could not be reached or the followed task did not succeed, 2 a usage
// error found after parsing (bad -P, unreadable backend config, bad --server). Errors go to
// stderr as "mltf <command>: <message>".
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands/task_spec.hpp"

// CLI11's own namespace, forward-declared to keep CLI11 out of this header.
namespace CLI {  // NOLINT(readability-identifier-naming)
class App;
}  // namespace CLI

namespace mltf::cli {

/// Where CLI11 stores the task subcommands' flags. Callers only create it and pass it on;
/// its fields are filled by parsing and read by RunTaskCommands().
struct TaskCommandState {
  // Common to every task subcommand.
  std::string server;  ///< --server; empty: MLTF_SERVER, MLFLOW_TRACKING_URI, default.
  bool json = false;   ///< --json: machine-readable output.
  // submit
  SubmitFlags submit;
  // tasks
  std::vector<std::string> states;
  std::string user;
  std::string experiment_id;
  std::int64_t max_results = 0;  ///< 0: the server's default.
  bool all_pages = false;
  // show, logs, cancel, reproduce
  std::string task_id;
  bool follow = false;  ///< logs -f

  // The registered subcommands, to tell which one was parsed.
  CLI::App* submit_command = nullptr;
  CLI::App* tasks_command = nullptr;
  CLI::App* show_command = nullptr;
  CLI::App* logs_command = nullptr;
  CLI::App* cancel_command = nullptr;
  CLI::App* reproduce_command = nullptr;
};

/// Registers submit, tasks, show, logs, cancel and reproduce on `app`, storing their flags in
/// `state`. Does not fail.
void AddTaskCommands(CLI::App& app, TaskCommandState& state);

/// Runs the task subcommand that was parsed and returns its exit code; std::nullopt when none
/// of them was parsed. Prints its output on stdout and errors on stderr.
std::optional<int> RunTaskCommands(const TaskCommandState& state);

/// As above, writing to `out` and `err` instead of stdout and stderr (for tests).
std::optional<int> RunTaskCommands(const TaskCommandState& state, std::ostream& out,
                                   std::ostream& err);

}  // namespace mltf::cli
