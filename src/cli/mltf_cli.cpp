// mltf_cli.cpp - the `mltf` command line: subcommands and their flags.
#include "cli/mltf_cli.hpp"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/admin_commands.hpp"
#include "cli/commands/login_commands.hpp"
#include "cli/commands/task_commands.hpp"
#include "cli/server_command.hpp"
#include "config/config.hpp"
#include "runner/runner_pool.hpp"
#include "runner/task_runner.hpp"
#include "version.hpp"

namespace mltf::cli {

int Main(int argc, char** argv) {
  CLI::App app{"MLTF: the control plane of a machine-learning training facility"};
  app.require_subcommand(1);

  auto* version = app.add_subcommand("version", "Print the version");

  auto* server = app.add_subcommand("server", "Run the tracking server");
  std::string config_file;
  server->add_option("--config", config_file, "YAML configuration file")->envname("MLTF_CONFIG");
  config::FlagValues flags;
  std::map<std::string, std::string> raw;
  for (const auto& name : config::ServerSettingNames()) {
    server->add_option("--" + name, raw[name], "see docs/config.md");
  }

  auto* run_task = app.add_subcommand(
      "run-task", "Run one attempt of a task (started by an executor, not by hand)");
  std::string attempt_file;
  auto* attempt_option =
      run_task->add_option("--attempt-file", attempt_file, "the attempt's description");
  bool serve_attempts = false;
  run_task
      ->add_flag("--serve", serve_attempts,
                 "serve attempt requests on stdin, one forked runner each (the local "
                 "executor's runner pool)")
      ->excludes(attempt_option);

  TaskCommandState tasks;
  AddTaskCommands(app, tasks);
  LoginCommandState login;
  AddLoginCommands(app, login);
  AdminCommandState admin;
  AddAdminCommands(app, admin);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }

  if (version->parsed()) {
    std::cout << "mltf " << kVersion << "\n";
    return 0;
  }
  if (run_task->parsed()) {
    if (serve_attempts) return runner::ServeAttempts(runner::RunTask);
    if (attempt_file.empty()) {
      std::cerr << "mltf run-task: give --attempt-file or --serve\n";
      return 2;
    }
    return runner::RunTask(attempt_file);
  }
  if (auto code = RunTaskCommands(tasks)) return *code;
  if (auto code = RunLoginCommands(login)) return *code;
  if (auto code = RunAdminCommands(admin)) return *code;
  for (const auto& name : config::ServerSettingNames()) {
    if (server->count("--" + name) > 0) flags[name] = raw[name];
  }
  auto config = config::LoadServerConfig(config_file, flags);
  if (!config) {
    std::cerr << "mltf server: " << config.error().message << "\n";
    return 2;
  }
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(config->log_level));
  return RunServer(*config);
}

}  // namespace mltf::cli
