// system_metrics.cpp - samples this node's system metrics and reports them to the run (see the
// header for the protocol and the sources).
#include "runner/system_metrics.hpp"

#include <fmt/format.h>
#include <sys/statvfs.h>

#include <charconv>
#include <cmath>
#include <exception>
#include <fstream>
#include <sstream>
#include <utility>

#include "common/ids.hpp"

namespace mltf::runner {
namespace {

/// MLflow reports sizes in megabytes of 10^6 bytes.
constexpr double kBytesPerMegabyte = 1e6;
constexpr std::uint64_t kBytesPerKibibyte = 1024;
/// A hung server must not hold the last sample (and with it the attempt's end) for long.
constexpr std::chrono::seconds kSendTimeout{10};

/// MLflow rounds each averaged value to one decimal.
double RoundToTenth(double value) { return std::round(value * 10) / 10; }

double Percent(double part, double whole) { return whole > 0 ? part / whole * 100 : 0; }

/// The words of `text` separated by spaces or tabs.
std::vector<std::string_view> Words(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t start = text.find_first_not_of(" \t", pos);
    if (start == std::string_view::npos) break;
    std::size_t end = text.find_first_of(" \t", start);
    if (end == std::string_view::npos) end = text.size();
    words.push_back(text.substr(start, end - start));
    pos = end;
  }
  return words;
}

std::optional<std::uint64_t> ParseCount(std::string_view word) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(word.data(), word.data() + word.size(), value);
  if (error != std::errc() || end != word.data() + word.size()) return std::nullopt;
  return value;
}

/// Calls `on_line` with each line of `text` (without its newline).
template <typename OnLine>
void ForEachLine(std::string_view text, OnLine on_line) {
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    on_line(text.substr(0, newline));
    if (newline == std::string_view::npos) break;
    text.remove_prefix(newline + 1);
  }
}

/// Used and available bytes of the filesystem holding `path`, as `df` counts them: used blocks
/// are all but the free ones, available ones are those an unprivileged user may take.
struct DiskUsage {
  double used_bytes = 0;
  double available_bytes = 0;
};
std::optional<DiskUsage> DiskUsageOf(const std::filesystem::path& path) {
  struct statvfs stats {};
  if (::statvfs(path.c_str(), &stats) != 0) return std::nullopt;
  const auto block = static_cast<double>(stats.f_frsize);
  return DiskUsage{.used_bytes = static_cast<double>(stats.f_blocks - stats.f_bfree) * block,
                   .available_bytes = static_cast<double>(stats.f_bavail) * block};
}

}  // namespace

std::optional<CpuTimes> ParseProcStat(std::string_view text) {
  std::optional<CpuTimes> times;
  ForEachLine(text, [&times](std::string_view line) {
    const auto words = Words(line);
    if (times || words.empty() || words[0] != "cpu") return;
    // user nice system idle iowait irq softirq steal [guest guest_nice]; guest time is counted
    // in user already, so the sum stops at steal.
    constexpr std::size_t kIdle = 4;
    constexpr std::size_t kIowait = 5;
    constexpr std::size_t kSteal = 8;
    constexpr std::size_t kFewestWords = 5;  // "cpu" and user to idle
    if (words.size() < kFewestWords) return;
    CpuTimes parsed;
    std::uint64_t idle = 0;
    for (std::size_t word_idx = 1; word_idx < words.size() && word_idx <= kSteal; ++word_idx) {
      const auto ticks = ParseCount(words[word_idx]);
      if (!ticks) return;
      parsed.total += *ticks;
      if (word_idx == kIdle || word_idx == kIowait) idle += *ticks;
    }
    parsed.busy = parsed.total - idle;
    times = parsed;
  });
  return times;
}

double CpuUtilizationPercent(const CpuTimes& before, const CpuTimes& after) {
  if (after.total <= before.total || after.busy < before.busy) return 0;
  const auto busy = static_cast<double>(after.busy - before.busy);
  const auto total = static_cast<double>(after.total - before.total);
  return std::min(100.0, Percent(busy, total));
}

std::optional<MemoryUsage> ParseMemInfo(std::string_view text) {
  std::optional<std::uint64_t> total;
  std::optional<std::uint64_t> available;
  std::uint64_t free_and_caches = 0;  // what older kernels without MemAvailable leave
  bool has_free = false;
  ForEachLine(text, [&](std::string_view line) {
    const auto words = Words(line);
    if (words.size() < 2) return;
    const auto kibibytes = ParseCount(words[1]);
    if (!kibibytes) return;
    const std::uint64_t bytes = *kibibytes * kBytesPerKibibyte;
    if (words[0] == "MemTotal:") total = bytes;
    if (words[0] == "MemAvailable:") available = bytes;
    if (words[0] == "MemFree:") has_free = true;
    if (words[0] == "MemFree:" || words[0] == "Buffers:" || words[0] == "Cached:") {
      free_and_caches += bytes;
    }
  });
  if (!total || (!available && !has_free)) return std::nullopt;
  return MemoryUsage{.total_bytes = *total,
                     .available_bytes = std::min(*total, available.value_or(free_and_caches))};
}

std::optional<NetworkTotals> ParseNetDev(std::string_view text) {
  std::optional<NetworkTotals> totals;
  ForEachLine(text, [&totals](std::string_view line) {
    // "  eth0: rx_bytes rx_packets ... (8 receive fields) tx_bytes ..."; the two header lines
    // have no colon before their fields.
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return;
    const auto name = Words(line.substr(0, colon));
    const auto fields = Words(line.substr(colon + 1));
    constexpr std::size_t kTransmitBytes = 8;
    if (name.size() != 1 || fields.size() <= kTransmitBytes) return;
    const auto received = ParseCount(fields[0]);
    const auto transmitted = ParseCount(fields[kTransmitBytes]);
    if (!received || !transmitted) return;
    if (!totals) totals = NetworkTotals{};
    if (name[0] == "lo") return;
    totals->received_bytes += *received;
    totals->transmitted_bytes += *transmitted;
  });
  return totals;
}

std::string SystemMetricKey(std::string_view node_id, std::string_view name) {
  return node_id.empty() ? fmt::format("system/{}", name)
                         : fmt::format("system/{}/{}", node_id, name);
}

std::string SystemMetricsNodeId(int node_rank, int nodes) {
  return nodes > 1 ? fmt::format("node{}", node_rank) : std::string();
}

std::vector<int> VisibleGpuIndices(std::string_view cuda_visible_devices) {
  std::vector<int> indices;
  std::size_t start = 0;
  while (start <= cuda_visible_devices.size()) {
    std::size_t end = cuda_visible_devices.find(',', start);
    if (end == std::string_view::npos) end = cuda_visible_devices.size();
    const auto words = Words(cuda_visible_devices.substr(start, end - start));
    int index = 0;
    if (words.size() == 1) {
      const auto [last, error] =
          std::from_chars(words[0].data(), words[0].data() + words[0].size(), index);
      if (error == std::errc() && last == words[0].data() + words[0].size() && index >= 0) {
        indices.push_back(index);
      }
    }
    start = end + 1;
  }
  return indices;
}

SystemMetricsSampler::SystemMetricsSampler(SystemMetricsSources sources, std::string node_id)
    : sources_(std::move(sources)),
      node_id_(std::move(node_id)),
      gpus_(sources_.gpu_indices, sources_.nvml_library),
      last_cpu_(ParseProcStat(ReadProcFile("stat"))),
      network_start_(ParseNetDev(ReadProcFile("net/dev"))) {}

std::string SystemMetricsSampler::ReadProcFile(std::string_view name) const {
  std::ifstream in(sources_.proc_root / name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<client::MetricValue> SystemMetricsSampler::Sample(std::int64_t timestamp_ms) {
  std::vector<client::MetricValue> metrics;
  const std::int64_t step = next_step_++;
  const auto add = [&](std::string_view name, double value) {
    metrics.push_back({.key = SystemMetricKey(node_id_, name),
                       .value = value,
                       .timestamp_ms = timestamp_ms,
                       .step = step});
  };

  if (const auto cpu = ParseProcStat(ReadProcFile("stat"))) {
    if (last_cpu_) {
      add("cpu_utilization_percentage", RoundToTenth(CpuUtilizationPercent(*last_cpu_, *cpu)));
    }
    last_cpu_ = cpu;
  }
  if (const auto memory = ParseMemInfo(ReadProcFile("meminfo"))) {
    const auto used = static_cast<double>(memory->total_bytes - memory->available_bytes);
    add("system_memory_usage_megabytes", RoundToTenth(used / kBytesPerMegabyte));
    add("system_memory_usage_percentage",
        RoundToTenth(Percent(used, static_cast<double>(memory->total_bytes))));
  }
  if (const auto disk =
          sources_.disk_path.empty() ? std::nullopt : DiskUsageOf(sources_.disk_path)) {
    add("disk_usage_percentage",
        RoundToTenth(Percent(disk->used_bytes, disk->used_bytes + disk->available_bytes)));
    add("disk_usage_megabytes", RoundToTenth(disk->used_bytes / kBytesPerMegabyte));
    add("disk_available_megabytes", RoundToTenth(disk->available_bytes / kBytesPerMegabyte));
  }
  if (const auto network = ParseNetDev(ReadProcFile("net/dev")); network && network_start_) {
    // Counters fall when an interface goes away; the total then stays at 0, not negative.
    const auto since_start = [](std::uint64_t now, std::uint64_t start) {
      return now > start ? static_cast<double>(now - start) / kBytesPerMegabyte : 0.0;
    };
    add("network_receive_megabytes",
        since_start(network->received_bytes, network_start_->received_bytes));
    add("network_transmit_megabytes",
        since_start(network->transmitted_bytes, network_start_->transmitted_bytes));
  }
  for (const GpuReading& gpu : gpus_.Read()) {
    const auto name = [&gpu](std::string_view what) {
      return fmt::format("gpu_{}_{}", gpu.index, what);
    };
    if (gpu.memory_used_bytes && gpu.memory_total_bytes) {
      add(name("memory_usage_percentage"),
          RoundToTenth(Percent(*gpu.memory_used_bytes, *gpu.memory_total_bytes)));
      add(name("memory_usage_megabytes"), RoundToTenth(*gpu.memory_used_bytes / kBytesPerMegabyte));
    }
    if (gpu.utilization_percent) add(name("utilization_percentage"), *gpu.utilization_percent);
    if (gpu.power_watts && gpu.power_limit_watts) {
      add(name("power_usage_watts"), RoundToTenth(*gpu.power_watts));
      add(name("power_usage_percentage"),
          RoundToTenth(Percent(*gpu.power_watts, *gpu.power_limit_watts)));
    }
  }
  return metrics;
}

SystemMetricsReporter::SystemMetricsReporter(SystemMetricsSampler sampler,
                                             std::chrono::milliseconds interval, Send send,
                                             Note note)
    : sampler_(std::move(sampler)),
      interval_(interval),
      send_(std::move(send)),
      note_(std::move(note)),
      thread_([this](const std::stop_token& stop) { Loop(stop); }) {}

SystemMetricsReporter::~SystemMetricsReporter() { Stop(); }

void SystemMetricsReporter::Stop() {
  thread_.request_stop();  // wakes the wait below at once
  if (thread_.joinable()) thread_.join();
}

void SystemMetricsReporter::Loop(const std::stop_token& stop) {
  try {
    while (true) {
      {
        std::unique_lock lock(mutex_);
        // Nothing but the stop request ends the wait early: the predicate never holds.
        wake_.wait_for(lock, stop, interval_, [] { return false; });
      }
      SendSample();  // the last one, too, when stopped
      if (stop.stop_requested()) return;
    }
  } catch (const std::exception& error) {
    if (!failed_) note_(fmt::format("system metrics stopped: {}", error.what()));
  } catch (...) {
    if (!failed_) note_("system metrics stopped: unknown error");
  }
}

void SystemMetricsReporter::SendSample() {
  const auto sample = sampler_.Sample(NowMillis());
  if (sample.empty()) return;
  if (auto sent = send_(sample); !sent && !failed_) {
    failed_ = true;
    note_("cannot log system metrics: " + sent.error().message);
  }
}

std::unique_ptr<SystemMetricsReporter> StartSystemMetrics(
    const gateway::executors::AttemptDescription& attempt, int node_rank, int nodes,
    std::string_view cuda_visible_devices, const SystemMetricsReporter::Note& note) {
  if (attempt.system_metrics_interval_ms <= 0) return nullptr;
  SystemMetricsSampler sampler(
      {.disk_path = attempt.work_dir, .gpu_indices = VisibleGpuIndices(cuda_visible_devices)},
      SystemMetricsNodeId(node_rank, nodes));
  note(fmt::format("system metrics every {} ms (GPUs: {})", attempt.system_metrics_interval_ms,
                   sampler.gpu_status()));
  // TrackingClient is not thread-safe: the reporter's thread gets one of its own.
  auto tracking = std::make_shared<client::TrackingClient>(
      client::HttpClient(attempt.tracking_uri, attempt.tracking_token));
  tracking->http().SetTimeout(kSendTimeout);
  auto send = [tracking, run_id = attempt.run_id](const std::vector<client::MetricValue>& sample) {
    return tracking->LogBatch(run_id, sample, {}, {});
  };
  return std::make_unique<SystemMetricsReporter>(
      std::move(sampler), std::chrono::milliseconds(attempt.system_metrics_interval_ms),
      std::move(send), note);
}

}  // namespace mltf::runner
