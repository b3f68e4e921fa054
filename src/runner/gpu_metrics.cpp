// gpu_metrics.cpp - GPU readings through NVML, loaded at run time with dlopen.
//
// As scheduler/gpu_inventory.cpp does for discovery, the runner does not link NVML: it opens the
// library if present and resolves the entry points it needs with dlsym (declared here as NVML's
// ABI defines them). Protocol: nvmlInit_v2 and nvmlDeviceGetHandleByIndex_v2 for each given
// device when the reader is made; per reading nvmlDeviceGetMemoryInfo and, when the library has
// them, nvmlDeviceGetUtilizationRates, nvmlDeviceGetPowerUsage and
// nvmlDeviceGetEnforcedPowerLimit; nvmlShutdown and dlclose when the reader goes.
#include "runner/gpu_metrics.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

#include <utility>

namespace mltf::runner {
namespace {

// The parts of NVML's ABI used here (nvml.h); int return codes where 0 is NVML_SUCCESS.
struct NvmlDeviceOpaque;
using NvmlDevice = NvmlDeviceOpaque*;
struct NvmlMemory {
  unsigned long long total;  // NOLINT(google-runtime-int): NVML's ABI type
  unsigned long long free;   // NOLINT(google-runtime-int)
  unsigned long long used;   // NOLINT(google-runtime-int)
};
struct NvmlUtilization {
  unsigned int gpu;     // percent of time a kernel ran
  unsigned int memory;  // percent of time memory was read or written
};
using NvmlReturn = int;
constexpr NvmlReturn kNvmlSuccess = 0;

using NvmlInitFn = NvmlReturn (*)();
using NvmlShutdownFn = NvmlReturn (*)();
using NvmlGetHandleFn = NvmlReturn (*)(unsigned int, NvmlDevice*);
using NvmlGetMemoryFn = NvmlReturn (*)(NvmlDevice, NvmlMemory*);
using NvmlGetUtilizationFn = NvmlReturn (*)(NvmlDevice, NvmlUtilization*);
using NvmlGetMilliwattsFn = NvmlReturn (*)(NvmlDevice, unsigned int*);
using NvmlErrorStringFn = const char* (*)(NvmlReturn);

template <typename Fn>
Fn Symbol(void* library, const char* name) {
  // POSIX guarantees that a dlsym result converts to a function pointer.
  return reinterpret_cast<Fn>(dlsym(library, name));
}

constexpr double kMilliwattsPerWatt = 1000.0;

}  // namespace

/// The open library, its entry points and the given devices' handles. NVML is initialised for
/// as long as this exists.
struct GpuMetricsReader::Nvml {
  void* library = nullptr;
  NvmlShutdownFn shutdown = nullptr;
  NvmlGetMemoryFn get_memory = nullptr;
  NvmlGetUtilizationFn get_utilization = nullptr;  // optional
  NvmlGetMilliwattsFn get_power = nullptr;         // optional
  NvmlGetMilliwattsFn get_power_limit = nullptr;   // optional
  bool initialised = false;
  std::vector<std::pair<int, NvmlDevice>> devices;  // index, handle

  Nvml() = default;
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;
  Nvml(Nvml&&) = delete;
  Nvml& operator=(Nvml&&) = delete;
  ~Nvml() {
    if (initialised) shutdown();
    if (library != nullptr) dlclose(library);
  }
};

GpuMetricsReader::GpuMetricsReader(const std::vector<int>& indices,
                                   const std::string& nvml_library) {
  if (indices.empty()) {
    status_ = "no GPUs given";
    return;
  }
  auto nvml = std::make_unique<Nvml>();
  dlerror();  // clear any earlier error
  nvml->library = dlopen(nvml_library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (nvml->library == nullptr) {
    const char* error = dlerror();
    status_ = fmt::format("no NVML: {}", error != nullptr ? error : nvml_library);
    return;
  }
  const auto init = Symbol<NvmlInitFn>(nvml->library, "nvmlInit_v2");
  const auto get_handle = Symbol<NvmlGetHandleFn>(nvml->library, "nvmlDeviceGetHandleByIndex_v2");
  const auto error_string = Symbol<NvmlErrorStringFn>(nvml->library, "nvmlErrorString");
  nvml->shutdown = Symbol<NvmlShutdownFn>(nvml->library, "nvmlShutdown");
  nvml->get_memory = Symbol<NvmlGetMemoryFn>(nvml->library, "nvmlDeviceGetMemoryInfo");
  nvml->get_utilization =
      Symbol<NvmlGetUtilizationFn>(nvml->library, "nvmlDeviceGetUtilizationRates");
  nvml->get_power = Symbol<NvmlGetMilliwattsFn>(nvml->library, "nvmlDeviceGetPowerUsage");
  nvml->get_power_limit =
      Symbol<NvmlGetMilliwattsFn>(nvml->library, "nvmlDeviceGetEnforcedPowerLimit");
  const std::pair<bool, const char*> required[] = {
      {init != nullptr, "nvmlInit_v2"},
      {nvml->shutdown != nullptr, "nvmlShutdown"},
      {get_handle != nullptr, "nvmlDeviceGetHandleByIndex_v2"},
      {nvml->get_memory != nullptr, "nvmlDeviceGetMemoryInfo"}};
  for (const auto& [present, name] : required) {
    if (!present) {
      status_ = fmt::format("no NVML: {} has no symbol {}", nvml_library, name);
      return;
    }
  }
  const auto describe = [error_string](NvmlReturn code) {
    const char* text = error_string != nullptr ? error_string(code) : nullptr;
    return text != nullptr ? fmt::format("{} ({})", text, code) : fmt::format("error {}", code);
  };
  if (const NvmlReturn code = init(); code != kNvmlSuccess) {
    status_ = "no NVML: nvmlInit_v2 failed: " + describe(code);
    return;
  }
  nvml->initialised = true;
  std::string unknown;  // devices NVML does not know, for the status
  for (const int gpu_idx : indices) {
    NvmlDevice handle = nullptr;
    if (gpu_idx < 0 || get_handle(static_cast<unsigned int>(gpu_idx), &handle) != kNvmlSuccess) {
      unknown += fmt::format(" {}", gpu_idx);
      continue;
    }
    nvml->devices.emplace_back(gpu_idx, handle);
  }
  status_ = fmt::format("NVML ({} devices{})", nvml->devices.size(),
                        unknown.empty() ? "" : "; unknown:" + unknown);
  nvml_ = std::move(nvml);
}

GpuMetricsReader::~GpuMetricsReader() = default;
GpuMetricsReader::GpuMetricsReader(GpuMetricsReader&& other) noexcept = default;
GpuMetricsReader& GpuMetricsReader::operator=(GpuMetricsReader&& other) noexcept = default;

std::vector<GpuReading> GpuMetricsReader::Read() const {
  std::vector<GpuReading> readings;
  if (nvml_ == nullptr) return readings;
  for (const auto& [gpu_idx, handle] : nvml_->devices) {
    GpuReading reading{.index = gpu_idx};
    NvmlMemory memory{};
    if (nvml_->get_memory(handle, &memory) == kNvmlSuccess && memory.total > 0) {
      reading.memory_used_bytes = static_cast<double>(memory.used);
      reading.memory_total_bytes = static_cast<double>(memory.total);
    }
    NvmlUtilization utilization{};
    if (nvml_->get_utilization != nullptr &&
        nvml_->get_utilization(handle, &utilization) == kNvmlSuccess) {
      reading.utilization_percent = utilization.gpu;
    }
    unsigned int milliwatts = 0;
    if (nvml_->get_power != nullptr && nvml_->get_power(handle, &milliwatts) == kNvmlSuccess) {
      reading.power_watts = milliwatts / kMilliwattsPerWatt;
      unsigned int limit_milliwatts = 0;
      if (nvml_->get_power_limit != nullptr &&
          nvml_->get_power_limit(handle, &limit_milliwatts) == kNvmlSuccess &&
          limit_milliwatts > 0) {
        reading.power_limit_watts = limit_milliwatts / kMilliwattsPerWatt;
      }
    }
    readings.push_back(reading);
  }
  return readings;
}

}  // namespace mltf::runner
