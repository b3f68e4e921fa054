// gpu_metrics.hpp - reads the memory, utilisation and power of the attempt's GPUs from NVML,
// loaded at run time with dlopen (hosts without an NVIDIA driver read nothing).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mltf::runner {

/// One GPU at one moment; a value NVML could not give is empty.
struct GpuReading {
  int index = 0;  ///< NVML's index, the one CUDA_VISIBLE_DEVICES names
  std::optional<double> memory_used_bytes;
  std::optional<double> memory_total_bytes;
  std::optional<double> utilization_percent;
  std::optional<double> power_watts;
  std::optional<double> power_limit_watts;  ///< the enforced limit
};

/// The GPUs given to the attempt, read through NVML. NVML stays initialised while the reader
/// lives. Not thread-safe (one sampler thread uses it).
class GpuMetricsReader {
 public:
  /// Loads NVML from `nvml_library` and looks up the devices `indices` (none: NVML is not even
  /// loaded). Does not fail: without the library, one of its required symbols (nvmlInit_v2,
  /// nvmlShutdown, nvmlDeviceGetHandleByIndex_v2, nvmlDeviceGetMemoryInfo) or a working driver
  /// the reader reads nothing and status() says why; a device NVML does not know is left out.
  explicit GpuMetricsReader(const std::vector<int>& indices,
                            const std::string& nvml_library = "libnvidia-ml.so.1");
  ~GpuMetricsReader();
  GpuMetricsReader(GpuMetricsReader&& other) noexcept;
  GpuMetricsReader& operator=(GpuMetricsReader&& other) noexcept;
  GpuMetricsReader(const GpuMetricsReader&) = delete;
  GpuMetricsReader& operator=(const GpuMetricsReader&) = delete;

  /// One reading per device found, in the order given; values NVML refuses (a GPU without
  /// power readings, a driver error) are left empty. Does not fail.
  [[nodiscard]] std::vector<GpuReading> Read() const;

  /// E.g. "NVML (2 devices)", "no GPUs given", "no NVML: libnvidia-ml.so.1: cannot open ...".
  [[nodiscard]] const std::string& status() const { return status_; }

 private:
  struct Nvml;
  std::unique_ptr<Nvml> nvml_;  ///< null when NVML cannot be used
  std::string status_;
};

}  // namespace mltf::runner
