// gpu_metrics.cpp - GPU readings through NVML (common/nvml.hpp). Protocol:
// nvmlDeviceGetHandleByIndex_v2 for each given device when the reader is made; per reading
// nvmlDeviceGetMemoryInfo and, when the library has them, nvmlDeviceGetUtilizationRates,
// nvmlDeviceGetPowerUsage and nvmlDeviceGetEnforcedPowerLimit.
#include "runner/gpu_metrics.hpp"

#include <fmt/format.h>

#include <utility>

#include "common/nvml.hpp"

namespace mltf::runner {
namespace {

constexpr double kMilliwattsPerWatt = 1000.0;

}  // namespace

/// The open library, its entry points and the given devices' handles. NVML is initialised for
/// as long as this exists.
struct GpuMetricsReader::Nvml {
  std::unique_ptr<nvml::Library> library;
  nvml::GetMemoryFn get_memory = nullptr;
  nvml::GetUtilizationFn get_utilization = nullptr;   // optional
  nvml::GetMilliwattsFn get_power = nullptr;          // optional
  nvml::GetMilliwattsFn get_power_limit = nullptr;    // optional
  std::vector<std::pair<int, nvml::Device>> devices;  // index, handle
};

GpuMetricsReader::GpuMetricsReader(const std::vector<int>& indices,
                                   const std::string& nvml_library) {
  if (indices.empty()) {
    status_ = "no GPUs given";
    return;
  }
  auto library = nvml::Library::Open(nvml_library,
                                     {"nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetMemoryInfo"});
  if (!library) {
    status_ = "no NVML: " + library.error().message;
    return;
  }
  auto state = std::make_unique<Nvml>();
  state->library = std::move(*library);
  const nvml::Library& opened = *state->library;
  const auto get_handle = opened.Function<nvml::GetHandleFn>("nvmlDeviceGetHandleByIndex_v2");
  state->get_memory = opened.Function<nvml::GetMemoryFn>("nvmlDeviceGetMemoryInfo");
  state->get_utilization = opened.Function<nvml::GetUtilizationFn>("nvmlDeviceGetUtilizationRates");
  state->get_power = opened.Function<nvml::GetMilliwattsFn>("nvmlDeviceGetPowerUsage");
  state->get_power_limit =
      opened.Function<nvml::GetMilliwattsFn>("nvmlDeviceGetEnforcedPowerLimit");
  std::string unknown;  // devices NVML does not know, for the status
  for (const int gpu_idx : indices) {
    nvml::Device handle = nullptr;
    if (gpu_idx < 0 || get_handle(static_cast<unsigned int>(gpu_idx), &handle) != nvml::kSuccess) {
      unknown += fmt::format(" {}", gpu_idx);
      continue;
    }
    state->devices.emplace_back(gpu_idx, handle);
  }
  status_ = fmt::format("NVML ({} devices{})", state->devices.size(),
                        unknown.empty() ? "" : "; unknown:" + unknown);
  nvml_ = std::move(state);
}

GpuMetricsReader::~GpuMetricsReader() = default;
GpuMetricsReader::GpuMetricsReader(GpuMetricsReader&& other) noexcept = default;
GpuMetricsReader& GpuMetricsReader::operator=(GpuMetricsReader&& other) noexcept = default;

std::vector<GpuReading> GpuMetricsReader::Read() const {
  std::vector<GpuReading> readings;
  if (nvml_ == nullptr) return readings;
  for (const auto& [gpu_idx, handle] : nvml_->devices) {
    GpuReading reading{.index = gpu_idx};
    nvml::Memory memory{};
    if (nvml_->get_memory(handle, &memory) == nvml::kSuccess && memory.total > 0) {
      reading.memory_used_bytes = static_cast<double>(memory.used);
      reading.memory_total_bytes = static_cast<double>(memory.total);
    }
    nvml::Utilization utilization{};
    if (nvml_->get_utilization != nullptr &&
        nvml_->get_utilization(handle, &utilization) == nvml::kSuccess) {
      reading.utilization_percent = utilization.gpu;
    }
    unsigned int milliwatts = 0;
    if (nvml_->get_power != nullptr && nvml_->get_power(handle, &milliwatts) == nvml::kSuccess) {
      reading.power_watts = milliwatts / kMilliwattsPerWatt;
      unsigned int limit_milliwatts = 0;
      if (nvml_->get_power_limit != nullptr &&
          nvml_->get_power_limit(handle, &limit_milliwatts) == nvml::kSuccess &&
          limit_milliwatts > 0) {
        reading.power_limit_watts = limit_milliwatts / kMilliwattsPerWatt;
      }
    }
    readings.push_back(reading);
  }
  return readings;
}

}  // namespace mltf::runner
