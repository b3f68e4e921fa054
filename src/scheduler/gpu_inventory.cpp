// gpu_inventory.cpp - the host's GPUs: declared in the configuration, or read through NVML
// (common/nvml.hpp). Protocol: nvmlDeviceGetCount_v2 and per device GetHandleByIndex_v2,
// GetName, GetUUID and GetMemoryInfo; any failure degrades to "no GPUs".
#include "scheduler/gpu_inventory.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <set>
#include <string_view>

#include "common/nvml.hpp"
#include "scheduler/resource_request.hpp"

namespace mltf::scheduler {
namespace {

// A C string from a fixed NVML buffer, which is NUL-terminated on success; stop at the end
// of the buffer regardless.
std::string FromBuffer(const std::array<char, nvml::kStringBufferSize>& buffer) {
  const auto end = std::find(buffer.begin(), buffer.end(), '\0');
  return {buffer.begin(), end};
}

// Reads the devices; fills `why` and returns nothing on failure.
std::vector<GpuDevice> ReadDevices(const nvml::Library& library, std::string& why) {
  const auto get_count = library.Function<nvml::GetCountFn>("nvmlDeviceGetCount_v2");
  const auto get_handle = library.Function<nvml::GetHandleFn>("nvmlDeviceGetHandleByIndex_v2");
  const auto get_name = library.Function<nvml::GetStringFn>("nvmlDeviceGetName");
  const auto get_uuid = library.Function<nvml::GetStringFn>("nvmlDeviceGetUUID");
  const auto get_memory = library.Function<nvml::GetMemoryFn>("nvmlDeviceGetMemoryInfo");
  unsigned int count = 0;
  if (const nvml::Return code = get_count(&count); code != nvml::kSuccess) {
    why = "nvmlDeviceGetCount_v2 failed: " + library.ErrorText(code);
    return {};
  }
  count = std::min(count, static_cast<unsigned int>(kMaxDeclaredGpus));
  std::vector<GpuDevice> devices;
  for (unsigned int gpu_idx = 0; gpu_idx < count; ++gpu_idx) {
    nvml::Device handle = nullptr;
    std::array<char, nvml::kStringBufferSize> name{};
    std::array<char, nvml::kStringBufferSize> uuid{};
    nvml::Memory memory{};
    nvml::Return code = get_handle(gpu_idx, &handle);
    if (code == nvml::kSuccess) {
      code = get_name(handle, name.data(), nvml::kStringBufferSize);
    }
    if (code == nvml::kSuccess) {
      code = get_uuid(handle, uuid.data(), nvml::kStringBufferSize);
    }
    if (code == nvml::kSuccess) {
      code = get_memory(handle, &memory);
    }
    if (code != nvml::kSuccess) {
      why = fmt::format("reading GPU {} failed: {}", gpu_idx, library.ErrorText(code));
      return {};
    }
    devices.push_back(GpuDevice{static_cast<int>(gpu_idx), FromBuffer(uuid), FromBuffer(name),
                                static_cast<std::uint64_t>(memory.total)});
  }
  return devices;
}

bool IsNameChar(char chr) {
  return (chr >= 'a' && chr <= 'z') || (chr >= 'A' && chr <= 'Z') || (chr >= '0' && chr <= '9') ||
         chr == '_' || chr == '-' || chr == '.';
}

Result<int> ParseIndex(std::string_view text, const std::string& spec) {
  constexpr std::size_t kMaxDigits = 4;
  if (text.empty() || text.size() > kMaxDigits ||
      !std::all_of(text.begin(), text.end(), [](char chr) { return chr >= '0' && chr <= '9'; })) {
    return Fail(Error::InvalidParameter(
        fmt::format("Invalid GPU declaration '{}': '{}' is not a GPU index or count; write a "
                    "count (\"2\") or index:name pairs (\"0:nvidia_a100,1:nvidia_a100\")",
                    spec, text)));
  }
  int number = 0;
  for (const char chr : text) {
    number = number * 10 + (chr - '0');
  }
  return number;
}

}  // namespace

Result<std::vector<GpuDevice>> ParseDeclaredGpus(const std::string& spec) {
  constexpr std::size_t kMaxSpecLength = 4096;
  if (spec.size() > kMaxSpecLength) {
    return Fail(Error::InvalidParameter("Invalid GPU declaration: longer than 4096 characters"));
  }
  std::vector<GpuDevice> devices;
  if (spec.empty()) {
    return devices;
  }
  if (spec.find(':') == std::string::npos && spec.find(',') == std::string::npos) {
    MLTF_ASSIGN_OR_RETURN(count, ParseIndex(spec, spec));
    if (count > kMaxDeclaredGpus) {
      return Fail(Error::InvalidParameter(
          fmt::format("Invalid GPU declaration '{}': at most {} GPUs", spec, kMaxDeclaredGpus)));
    }
    for (int gpu_idx = 0; gpu_idx < count; ++gpu_idx) {
      devices.push_back(GpuDevice{gpu_idx, fmt::format("GPU-fake-{}", gpu_idx), "fake-gpu", 0});
    }
    return devices;
  }
  std::set<int> seen;
  std::size_t start = 0;
  while (start <= spec.size()) {
    std::size_t end = spec.find(',', start);
    if (end == std::string::npos) {
      end = spec.size();
    }
    const std::string_view entry = std::string_view(spec).substr(start, end - start);
    start = end + 1;
    const std::size_t colon = entry.find(':');
    MLTF_ASSIGN_OR_RETURN(index, ParseIndex(entry.substr(0, colon), spec));
    std::string name = "fake-gpu";
    if (colon != std::string_view::npos) {
      name = std::string(entry.substr(colon + 1));
      if (name.empty() || !std::all_of(name.begin(), name.end(), IsNameChar)) {
        return Fail(Error::InvalidParameter(
            fmt::format("Invalid GPU declaration '{}': GPU {} needs a name of letters, digits, "
                        "'_', '-' and '.'",
                        spec, index)));
      }
    }
    if (!seen.insert(index).second) {
      return Fail(Error::InvalidParameter(
          fmt::format("Invalid GPU declaration '{}': GPU {} is declared twice", spec, index)));
    }
    if (seen.size() > static_cast<std::size_t>(kMaxDeclaredGpus)) {
      return Fail(Error::InvalidParameter(
          fmt::format("Invalid GPU declaration '{}': at most {} GPUs", spec, kMaxDeclaredGpus)));
    }
    devices.push_back(GpuDevice{index, fmt::format("GPU-fake-{}", index), std::move(name), 0});
  }
  std::sort(devices.begin(), devices.end(),
            [](const GpuDevice& lhs, const GpuDevice& rhs) { return lhs.index < rhs.index; });
  return devices;
}

GpuInventory GpuInventory::Detect(const std::vector<GpuDevice>& declared,
                                  const std::string& nvml_library) {
  if (!declared.empty()) {
    std::vector<GpuDevice> devices = declared;
    std::sort(devices.begin(), devices.end(),
              [](const GpuDevice& lhs, const GpuDevice& rhs) { return lhs.index < rhs.index; });
    return {std::move(devices), fmt::format("declared in config ({} devices)", declared.size())};
  }
  if (nvml_library.empty()) {
    return {{}, "no NVML: GPU detection disabled"};
  }
  auto library = nvml::Library::Open(
      nvml_library, {"nvmlDeviceGetCount_v2", "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetName",
                     "nvmlDeviceGetUUID", "nvmlDeviceGetMemoryInfo"});
  if (!library) {
    return {{}, "no NVML: " + library.error().message};
  }
  std::string why;
  std::vector<GpuDevice> devices = ReadDevices(**library, why);
  if (!why.empty()) {
    return {{}, "no NVML: " + why};
  }
  std::string source = fmt::format("NVML ({} devices)", devices.size());
  return {std::move(devices), std::move(source)};
}

}  // namespace mltf::scheduler
