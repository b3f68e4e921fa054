// gateway_assembly.cpp - the gateway's parts, built from the configuration in dependency order.
#include "cli/gateway_assembly.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "cli/access_assembly.hpp"
#include "gateway/executors/local_executor.hpp"
#include "gateway/executors/slurm/slurm_executor.hpp"
#include "gateway/executors/slurm/slurm_rest.hpp"
#include "scheduler/gpu_inventory.hpp"
#include "scheduler/host_capacity.hpp"

namespace mltf::cli {
namespace {

namespace fs = std::filesystem;

/// What runners inherit from the server: enough to find programs and write files, nothing else.
std::map<std::string, std::string> RunnerEnvironment() {
  std::map<std::string, std::string> environment;
  for (const char* name :
       {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SHELL"}) {
    if (const char* value = std::getenv(name); value != nullptr) environment[name] = value;
  }
  if (!environment.contains("PATH")) environment["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  return environment;
}

std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

Result<scheduler::HostCapacity> LocalCapacity(const config::ServerConfig& config) {
  std::vector<scheduler::GpuDevice> declared;
  std::string nvml = "libnvidia-ml.so.1";
  if (config.local_gpus == "none" || config.local_gpus == "0") {
    nvml.clear();  // declared: no GPUs, and no detection either
  } else if (!config.local_gpus.empty()) {
    MLTF_ASSIGN_OR_RETURN(gpus, scheduler::ParseDeclaredGpus(config.local_gpus));
    declared = std::move(gpus);
  }
  const auto inventory = scheduler::GpuInventory::Detect(declared, nvml);
  auto capacity = scheduler::DetectHost(inventory);
  if (config.local_cpus > 0) capacity.cpus = static_cast<int>(config.local_cpus);
  if (config.local_memory_mb > 0) {
    capacity.memory_bytes = static_cast<std::uint64_t>(config.local_memory_mb) << 20;
  }
  spdlog::info("gateway: local executor with {} cpus, {} MiB, {} gpus ({})", capacity.cpus,
               capacity.memory_bytes >> 20, capacity.gpus.size(), inventory.source());
  return capacity;
}

/// The executor the operator chose, and what /api/config says of it.
struct ChosenExecutor {
  std::unique_ptr<gateway::executors::Executor> executor;
  nlohmann::json status;
};

Result<ChosenExecutor> LocalExecutorFor(const config::ServerConfig& config, const fs::path& self) {
  MLTF_ASSIGN_OR_RETURN(capacity, LocalCapacity(config));
  nlohmann::json gpus = nlohmann::json::array();
  for (const auto& gpu : capacity.gpus) {
    gpus.push_back({{"index", gpu.index}, {"name", gpu.name}, {"uuid", gpu.uuid}});
  }
  nlohmann::json status = {
      {"local",
       {{"cpus", capacity.cpus}, {"memory_mb", capacity.memory_bytes >> 20}, {"gpus", gpus}}}};
  gateway::executors::LocalExecutorOptions options{.capacity = std::move(capacity),
                                                   .runner_command = {self.string(), "run-task"},
                                                   .base_environment = RunnerEnvironment(),
                                                   .runner_pool = true};
  return ChosenExecutor{std::make_unique<gateway::executors::LocalExecutor>(options),
                        std::move(status)};
}

Result<std::map<std::string, std::string>> ParseAssignments(const std::string& text) {
  std::map<std::string, std::string> assignments;
  for (const auto& item : SplitCommas(text)) {
    const auto equals = item.find('=');
    if (equals == std::string::npos || equals == 0) {
      return Fail(
          Error::InvalidParameter(fmt::format("slurm-environment: '{}' is not NAME=VALUE", item)));
    }
    assignments[item.substr(0, equals)] = item.substr(equals + 1);
  }
  return assignments;
}

Result<ChosenExecutor> SlurmExecutorFor(const config::ServerConfig& config, const fs::path& self) {
  namespace slurm = gateway::executors::slurm;
  slurm::SlurmExecutorOptions options;
  options.script.runner_binary =
      config.slurm_runner_binary.empty() ? self : fs::path(config.slurm_runner_binary);
  options.script.operator_sbatch_options = SplitCommas(config.slurm_sbatch_options);
  MLTF_ASSIGN_OR_RETURN(environment, ParseAssignments(config.slurm_environment));
  options.script.nccl_environment = std::move(environment);
  options.script.preempt_grace = std::chrono::seconds(config.slurm_preempt_grace_seconds);
  options.allowed_partitions = SplitCommas(config.slurm_partitions);
  options.poll_interval = std::chrono::milliseconds(config.slurm_poll_ms);

  constexpr std::chrono::seconds kSlurmCallTimeout{60};
  std::shared_ptr<slurm::SlurmController> controller;
  if (!config.slurm_rest_url.empty()) {
    if (config.slurm_rest_user.empty() || config.slurm_rest_token_file.empty()) {
      return Fail(Error::InvalidParameter(
          "slurm-rest-url needs slurm-rest-user and slurm-rest-token-file (that user's JWT)"));
    }
    // slurmrestd cannot ask for a signal to the batch shell, only to the job's steps.
    options.script.signal_steps = true;
    // The API needs the job's environment given (it cannot load the user's login one, as
    // `sbatch --export=NONE` does): this server's PATH and locale, nothing else of it.
    slurm::RestSlurmOptions rest_options{.user = config.slurm_rest_user,
                                         .token_file = config.slurm_rest_token_file};
    for (const auto& [name, value] : RunnerEnvironment()) {
      if (name == "PATH" || name == "LANG" || name == "LC_ALL" || name == "TZ") {
        rest_options.job_environment[name] = value;
      }
    }
    auto rest = std::make_shared<slurm::RestSlurmController>(
        std::move(rest_options),
        std::make_shared<slurm::CurlRestTransport>(config.slurm_rest_url, kSlurmCallTimeout));
    if (auto ping = rest->Ping(); !ping) {
      return Fail(Error::InvalidParameter("the SLURM executor cannot use slurmrestd: " +
                                          ping.error().message));
    }
    controller = std::move(rest);
  } else {
    // SLURM's programs get what they need to find the cluster, not the server's secrets.
    std::map<std::string, std::string> command_environment = RunnerEnvironment();
    if (const char* conf = std::getenv("SLURM_CONF"); conf != nullptr) {
      command_environment["SLURM_CONF"] = conf;
    }
    controller = std::make_shared<slurm::CommandSlurmController>(
        std::make_shared<slurm::ProcessSlurmCommands>(
            config.slurm_bin_dir, std::move(command_environment), kSlurmCallTimeout));
  }
  nlohmann::json status = {{"slurm",
                            {{"partitions", options.allowed_partitions},
                             {"poll_ms", config.slurm_poll_ms},
                             {"runner_binary", options.script.runner_binary.string()},
                             {"via", controller->name()}}}};
  auto executor = std::make_unique<slurm::SlurmExecutor>(options, controller);
  // A batch script for the smallest request: the operator's options are checked now, not at
  // every task.
  if (auto checked = executor->CheckSatisfiable({}); !checked) {
    return Fail(
        Error::InvalidParameter("the SLURM executor's settings: " + checked.error().message));
  }
  spdlog::info("gateway: SLURM executor through {}; jobs run {}, polled every {} ms",
               controller->name(), options.script.runner_binary.string(), config.slurm_poll_ms);
  return ChosenExecutor{std::move(executor), std::move(status)};
}

}  // namespace

Result<std::unique_ptr<Gateway>> Gateway::Start(const config::ServerConfig& config,
                                                std::uint16_t port,
                                                tracking::store::sql::Database& database,
                                                tracking::TrackingService& tracking,
                                                gateway::tasks::TaskCredentials* credentials,
                                                auth::AccessPolicy* policy, http::Router& router) {
  std::unique_ptr<Gateway> gateway(new Gateway());
  const fs::path data_dir = fs::absolute(config.data_dir).lexically_normal();
  gateway::projects::ArchiveLimits limits;
  limits.max_unpacked_bytes = static_cast<std::uint64_t>(config.max_project_unpacked_mb) << 20;
  MLTF_ASSIGN_OR_RETURN(projects, gateway::projects::ProjectStore::Open(
                                      data_dir / "projects", limits,
                                      static_cast<std::uint64_t>(config.max_project_mb) << 20));
  gateway->projects_ = std::move(projects);

  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return Fail(Error::Internal("cannot find the mltf binary: " + ec.message()));
  MLTF_ASSIGN_OR_RETURN(chosen, config.executor == "slurm" ? SlurmExecutorFor(config, self)
                                                           : LocalExecutorFor(config, self));
  gateway->executor_ = std::move(chosen.executor);
  const std::string executor_status = chosen.status.dump();

  gateway->task_store_ = std::make_unique<gateway::tasks::SqlTaskStore>(database);
  std::string public_url = config.public_url;
  if (public_url.empty()) {
    const std::string host =
        config.host == "0.0.0.0" || config.host == "::" ? "127.0.0.1" : config.host;
    public_url = fmt::format("http://{}:{}", host, port);
  }
  gateway::tasks::TaskServiceOptions options{
      .tasks_root = data_dir / "tasks",
      .tracking_uri = public_url,
      .environment_settings = {.envs_root = data_dir / "envs",
                               .python = config.python,
                               .pip_index_url = config.pip_index_url,
                               .pip_find_links = SplitCommas(config.pip_find_links),
                               .pip_no_index = config.pip_no_index,
                               .system_site_packages = config.venv_system_site_packages},
      .cancel_grace = std::chrono::seconds(config.cancel_grace_seconds),
      .system_metrics_interval_ms = config.system_metrics_interval_ms,
      .credentials = credentials};
  gateway->tasks_ = std::make_unique<gateway::tasks::TaskService>(
      *gateway->task_store_, *gateway->projects_, tracking, *gateway->executor_, options);
  MLTF_TRY(gateway->tasks_->Start());

  gateway->logs_ = std::make_unique<gateway::api::LogFollower>();
  const std::string local_user = LocalUser(config);
  gateway->api_ = std::make_unique<gateway::api::GatewayApi>(
      gateway::api::GatewayApi{.tasks = *gateway->tasks_,
                               .projects = *gateway->projects_,
                               .logs = *gateway->logs_,
                               .local_caller = {.user = local_user, .admin = true},
                               .policy = policy,
                               .executor_status_json = executor_status});
  gateway::api::RegisterGatewayRoutes(router, *gateway->api_);
  spdlog::info("gateway: tasks run as {} and report to {}", local_user, public_url);
  return gateway;
}

Gateway::~Gateway() { Stop(); }

void Gateway::Stop() {
  if (logs_) logs_->Close();
  if (executor_) executor_->Shutdown();
  if (tasks_) tasks_->Stop();
}

}  // namespace mltf::cli
