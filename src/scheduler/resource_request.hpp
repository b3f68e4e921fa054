// resource_request.hpp - what a task asks for (cpus, memory, gpus, time, SLURM options).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/error.hpp"

namespace mltf::scheduler {

/// Bounds checked by ParseResourceRequest.
inline constexpr int kMaxCpus = 4096;
inline constexpr int kMaxNodes = 10000;
inline constexpr int kMaxGpus = 64;
inline constexpr int kMaxTasksPerNode = 4096;
inline constexpr std::uint64_t kMaxMemoryBytes = std::uint64_t{64} << 40U;  // 64 TiB

/// The resources of one task, normalised from the executor-neutral keys of the task spec and
/// the keys of the facility's SLURM configs (slurm_config.json, mltf_config.json,
/// gateway_config.json). Every string in it has passed the safety checks of
/// ParseResourceRequest, so an executor may put it in a batch script (quoted where it is a
/// free-form value: environment values, sbatch-script-file).
struct ResourceRequest {
  /// CPUs per task (SLURM's cpus-per-task).
  int cpus = 1;
  /// Memory per node in bytes (SLURM's --mem); 0 means "not asked", i.e. no reservation.
  std::uint64_t memory_bytes = 0;
  /// GPUs per node.
  int gpus = 0;
  /// GPU model wanted ("a100", "nvidia_rtx_a6000"); empty for any.
  std::string gpu_type;
  int nodes = 1;
  int tasks_per_node = 1;
  /// Wall-clock limit in seconds; empty for none (not asked, or "UNLIMITED").
  std::optional<std::int64_t> time_seconds;
  std::string partition;
  std::string account;
  bool exclusive = false;
  /// May be preempted and requeued (SLURM: --requeue and a checkpoint signal before the end).
  /// Not a resource key: the task service copies the task's `preemptible` here.
  bool preemptible = false;
  /// Environment modules to load, in order.
  std::vector<std::string> modules;
  /// Variables to export into the task, in order: (name, value).
  std::vector<std::pair<std::string, std::string>> environment;
  /// Names of variables of the submitting environment to pass through.
  std::vector<std::string> exports;
  std::string job_name;
  std::string output;
  std::string mail_user;
  std::string mail_type;
  std::string sbatch_script_file;
  /// Keys accepted but not modelled above, as strings: "gres" holds the non-GPU entries of a
  /// gres list ("shard:2"), "debug" the (ignored) debug flag as JSON text.
  std::map<std::string, std::string> other;

  friend bool operator==(const ResourceRequest&, const ResourceRequest&) = default;
};

/// Parses a `resources` object (or a facility config file's JSON) into a ResourceRequest.
/// Accepts the executor-neutral keys (cpus, memory, gpus, gpu_type, nodes, tasks_per_node,
/// time) and the facility's SLURM keys as-is (account, partition, mem, time, gres,
/// gpus_per_node, nodes, ntasks, ntasks-per-node, cpus-per-task, exclusive, job-name/job_name,
/// output, mail-user, mail-type, modules, environment, exports, sbatch-script-file, debug).
/// The keys MLflow injects into backend_config (ENV_MANAGER, SYNCHRONOUS, DOCKER_ARGS,
/// STORAGE_DIR, build_image, docker_auth) and the gateway client's url and auth_token are
/// dropped. Fails with INVALID_PARAMETER_VALUE, saying which key and why, on an unknown key,
/// a malformed or out-of-range value, conflicting keys (gpus: 1 with gres: gpu:2), or a string
/// that is unsafe to put in a batch script.
Result<ResourceRequest> ParseResourceRequest(const nlohmann::json& object);

/// The request as JSON with executor-neutral keys (and the SLURM-only ones that have no
/// neutral name). ParseResourceRequest accepts it and gives back an equal request. Does not
/// fail.
nlohmann::json ToJson(const ResourceRequest& request);

/// One line for people and logs, e.g. "2 cpus, 4 GiB, 1 gpu (a100), 1:00:00". Does not fail.
std::string DescribeResources(const ResourceRequest& request);

/// Parses a SLURM memory size: a bare number is MB, or a number with a K/M/G/T suffix
/// (case-insensitive, optionally followed by B or iB; powers of 1024). Fails with
/// INVALID_PARAMETER_VALUE naming `key` on anything else or a size above 64 TiB.
Result<std::uint64_t> ParseMemory(const nlohmann::json& value, std::string_view key);

/// Parses a time limit: seconds as a JSON number or a digits-only string, or SLURM's
/// "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM", "D-HH:MM:SS"; "UNLIMITED" and "infinite" give
/// an empty optional. Fails with INVALID_PARAMETER_VALUE naming `key` otherwise, or if the
/// limit is not positive.
Result<std::optional<std::int64_t>> ParseTimeLimit(const nlohmann::json& value,
                                                   std::string_view key);

/// "H:MM:SS", or "D-HH:MM:SS" from one day on: SLURM's spelling of a limit. Does not fail.
std::string FormatTimeLimit(std::int64_t seconds);

/// Whether a GPU called `device_name` ("NVIDIA A100-SXM4-80GB", "nvidia_a100") is of
/// `gpu_type` ("a100", "nvidia_a100"): both are lower-cased and split into words at every
/// character that is not a letter or digit, and the type's words must appear, consecutively,
/// among the device's. An empty type matches every device. Does not fail.
bool GpuTypeMatches(std::string_view device_name, std::string_view gpu_type);

}  // namespace mltf::scheduler
