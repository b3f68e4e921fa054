// system_metrics.hpp - the runner's system metrics: CPU, memory, disk, network and GPUs of this
// node, sampled while the entry point runs and logged to the task's run under the names MLflow's
// SystemMetricsMonitor uses, so that MLflow's UI shows them in its "System metrics" tab.
//
// Protocol: the sampler records its baselines (CPU times, network counters) when it is made;
// the reporter's thread then takes a sample every interval and sends it (log-batch), and when
// stopped takes one last sample, sends it and ends. Sources: /proc/stat, /proc/meminfo,
// /proc/net/dev (all interfaces but lo), statvfs of the work directory and NVML (gpu_metrics).
// Each sample reads a few small files and makes a few NVML calls; nothing is spawned.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "client/tracking_client.hpp"
#include "common/error.hpp"
#include "gateway/executors/attempt_description.hpp"
#include "runner/gpu_metrics.hpp"

namespace mltf::runner {

/// Time the CPUs spent since boot, from /proc/stat's "cpu" line, in clock ticks.
struct CpuTimes {
  std::uint64_t busy = 0;   ///< all but idle and iowait
  std::uint64_t total = 0;  ///< user to steal (guest time is already in user)
};
/// Parses the summary "cpu" line of /proc/stat. Empty when it is missing or has fewer than the
/// four fields every kernel writes. Does not fail.
std::optional<CpuTimes> ParseProcStat(std::string_view text);
/// The busy share of the CPU time that passed between two readings, in percent; 0 when no time
/// passed or the counters went backwards. Does not fail.
double CpuUtilizationPercent(const CpuTimes& before, const CpuTimes& after);

struct MemoryUsage {
  std::uint64_t total_bytes = 0;
  std::uint64_t available_bytes = 0;  ///< MemAvailable (kernels before 3.14: free + caches)
};
/// Parses /proc/meminfo. Empty without MemTotal or anything to tell what is available. Does not
/// fail.
std::optional<MemoryUsage> ParseMemInfo(std::string_view text);

struct NetworkTotals {
  std::uint64_t received_bytes = 0;
  std::uint64_t transmitted_bytes = 0;
};
/// Sums the received and transmitted bytes of /proc/net/dev over every interface but the
/// loopback (lo). Empty when no interface line parses. Does not fail.
std::optional<NetworkTotals> ParseNetDev(std::string_view text);

/// The MLflow name of system metric `name`: "system/<name>", or "system/<node_id>/<name>" when
/// `node_id` is not empty (MLflow's node id for multi-node training). Does not fail.
std::string SystemMetricKey(std::string_view node_id, std::string_view name);
/// The node id of node `node_rank` of `nodes`: "node<k>" when the attempt has several nodes,
/// else "" (names without a node id). Does not fail.
std::string SystemMetricsNodeId(int node_rank, int nodes);
/// The GPU indices of CUDA_VISIBLE_DEVICES ("0,2"); entries that are no index (UUIDs, MIG
/// devices) are left out. Does not fail.
std::vector<int> VisibleGpuIndices(std::string_view cuda_visible_devices);

/// Where a sampler reads from.
struct SystemMetricsSources {
  std::filesystem::path proc_root = "/proc";
  std::filesystem::path disk_path;  ///< a path on the filesystem to report; empty: none
  std::vector<int> gpu_indices;     ///< the GPUs to read (NVML indices); empty: none
  std::string nvml_library = "libnvidia-ml.so.1";
};

/// Takes samples of this node's system metrics, named and scaled as MLflow's
/// SystemMetricsMonitor does (megabytes of 10^6 bytes, percentages, values rounded to 0.1 but
/// network totals). Not thread-safe.
class SystemMetricsSampler {
 public:
  /// Records the baselines the first sample is measured from and loads NVML when GPUs are
  /// given. Does not fail: a source that cannot be read gives no metrics.
  SystemMetricsSampler(SystemMetricsSources sources, std::string node_id);

  /// Every metric that could be read now, at `timestamp_ms` and this sample's step (0 for the
  /// first, then one more each call). CPU utilisation is over the time since the previous
  /// sample (or the sampler's start); network totals count from the sampler's start. Does not
  /// fail.
  std::vector<client::MetricValue> Sample(std::int64_t timestamp_ms);

  /// Whether GPUs are read, or why not (GpuMetricsReader::status()). Does not fail.
  [[nodiscard]] const std::string& gpu_status() const { return gpus_.status(); }

 private:
  [[nodiscard]] std::string ReadProcFile(std::string_view name) const;

  SystemMetricsSources sources_;
  std::string node_id_;
  GpuMetricsReader gpus_;
  std::optional<CpuTimes> last_cpu_;
  std::optional<NetworkTotals> network_start_;
  std::int64_t next_step_ = 0;
};

/// Runs a sampler on a thread of its own: a sample every interval, handed to `send`, and one
/// last sample when stopped. Only the first failed send goes to `note`, so a server that went
/// away costs one line; later samples are still tried. Thread-safe.
class SystemMetricsReporter {
 public:
  using Send = std::function<Result<void>(const std::vector<client::MetricValue>&)>;
  using Note = std::function<void(const std::string&)>;

  /// Starts the thread. Does not fail.
  SystemMetricsReporter(SystemMetricsSampler sampler, std::chrono::milliseconds interval, Send send,
                        Note note);
  /// Stops as Stop() does.
  ~SystemMetricsReporter();
  SystemMetricsReporter(const SystemMetricsReporter&) = delete;
  SystemMetricsReporter& operator=(const SystemMetricsReporter&) = delete;

  /// Wakes the thread at once, lets it send its last sample and waits for it. Idempotent. Does
  /// not fail.
  void Stop();

 private:
  void Loop(const std::stop_token& stop);
  void SendSample();

  SystemMetricsSampler sampler_;  // the thread's alone
  std::chrono::milliseconds interval_;
  Send send_;
  Note note_;
  bool failed_ = false;  // the thread's alone
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::jthread thread_;  // last: starts after everything it uses exists
};

/// Starts reporting this node's system metrics to the attempt's run every
/// `attempt.system_metrics_interval_ms` (nullptr when that is 0: off), with a tracking client
/// of its own. `node_rank` of `nodes` names the node; `cuda_visible_devices` are the GPUs the
/// runner gave the entry point; `note` gets the first failure to send and what GPUs are read.
/// Does not fail.
std::unique_ptr<SystemMetricsReporter> StartSystemMetrics(
    const gateway::executors::AttemptDescription& attempt, int node_rank, int nodes,
    std::string_view cuda_visible_devices, const SystemMetricsReporter::Note& note);

}  // namespace mltf::runner
