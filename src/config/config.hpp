// config.hpp - the server's configuration: defaults, then a YAML file, then MLTF_* environment
// variables, then command-line flags.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace mltf::config {

struct ServerConfig {
  std::string host = "127.0.0.1";
  std::int64_t port = 5000;
  std::string data_dir = "./mltf-data";
  /// `sqlite:///relative.db`, `sqlite:////absolute.db` or a plain path; default
  /// `<data_dir>/mltf.db`.
  std::string backend_store_uri;
  std::string default_artifact_root = "mlflow-artifacts:/";
  /// Where `mlflow-artifacts:/` URIs are stored; default `<data_dir>/artifacts`.
  std::string artifacts_destination;
  std::int64_t io_threads = 2;
  std::int64_t workers = 32;
  bool access_log = true;
  /// off | normal | full: how SQLite flushes commits (see docs/config.md).
  std::string sqlite_synchronous = "full";
  std::int64_t max_request_body_mb = 64;
  std::string log_level = "info";

  // The gateway (docs/config.md, "Tasks").
  /// How task runners reach this server; default http://<host>:<port> (127.0.0.1 for 0.0.0.0).
  std::string public_url;
  /// Who owns tasks while authentication is off; default the server's own user name.
  std::string local_user;
  /// Who may call: "none" (everyone is the local user), "tokens" (API tokens the server
  /// issues) or "oidc" (the OpenID provider's JWTs, and the server's own tokens).
  std::string auth = "none";
  std::string auth_admins;  ///< comma-separated users with every right
  std::string auth_admin_group;
  /// What a user may do with an experiment or registered model they have no row for.
  std::string auth_default_permission = "NO_PERMISSIONS";
  std::string oidc_issuer;
  std::string oidc_audience;
  std::string oidc_client_id;  ///< advertised at /api/config for `mltf login`
  std::string oidc_user_claim = "sub";
  std::string oidc_groups_claim = "groups";
  /// A task's own token lives this long unless its runner renews it.
  std::int64_t task_token_lifetime_seconds = 3600;
  /// The local executor's capacity: 0 detects this host's CPUs / memory.
  std::int64_t local_cpus = 0;
  std::int64_t local_memory_mb = 0;
  /// GPUs: empty detects them with NVML; "none", a count ("2") or "0:a100,1:a100" declares them.
  std::string local_gpus;
  /// How long a stopped task may take to exit before it is killed.
  std::int64_t cancel_grace_seconds = 10;
  /// How often task runners log system metrics (CPU, memory, disk, network, GPUs); 0: never.
  std::int64_t system_metrics_interval_ms = 10000;
  std::int64_t max_project_mb = 1024;
  /// A project may unpack to at most this much (archive bombs are refused).
  std::int64_t max_project_unpacked_mb = 4096;
  /// How virtualenvs are built: interpreter and the site's package index.
  std::string python = "python3";
  std::string pip_index_url;
  std::string pip_find_links;  ///< comma-separated
  bool pip_no_index = false;
  bool venv_system_site_packages = false;

  // Where tasks run (docs/config.md, "Executors").
  /// local | slurm
  std::string executor = "local";
  /// The directory of sbatch, squeue, sacct and scancel; empty finds them in PATH.
  std::string slurm_bin_dir;
  /// The `mltf` binary the batch jobs run, on a filesystem the nodes share; default this one.
  std::string slurm_runner_binary;
  std::int64_t slurm_poll_ms = 2000;
  /// Comma-separated: options for every batch script ("--qos=normal,--partition=batch").
  std::string slurm_sbatch_options;
  /// Comma-separated: the partitions tasks may ask for; empty allows any.
  std::string slurm_partitions;
  /// Comma-separated NAME=VALUE: exported in every batch script (NCCL_SOCKET_IFNAME=ib0, ...).
  std::string slurm_environment;
  /// Preemptible tasks get SIGUSR1 this long before preemption or their time limit.
  std::int64_t slurm_preempt_grace_seconds = 60;
  /// slurmrestd's URL ("http://host:6820"): jobs are submitted and followed through its REST
  /// API (v0.0.38) instead of SLURM's programs; empty uses the programs.
  std::string slurm_rest_url;
  /// The SLURM user slurmrestd runs the jobs as; the token must be this user's.
  std::string slurm_rest_user;
  /// A file holding that user's JWT (`scontrol token` output); read again when it changes.
  std::string slurm_rest_token_file;
};

/// One setting as given on the command line: `key` is the flag's name without dashes.
using FlagValues = std::map<std::string, std::string>;

/// Builds the configuration from (lowest to highest) defaults, the YAML file `config_file` (if
/// not empty), `MLTF_<KEY>` environment variables and `flags`. Reports every problem at once,
/// as one INVALID_PARAMETER_VALUE error with a line per problem.
Result<ServerConfig> LoadServerConfig(const std::string& config_file, const FlagValues& flags);

/// The names of all settings, as flags (`--data-dir`) use them.
std::vector<std::string> ServerSettingNames();

/// The SQLite file of a `sqlite:` URI or plain path; fails for other schemes.
Result<std::string> SqlitePathOf(const std::string& backend_store_uri);

}  // namespace mltf::config
