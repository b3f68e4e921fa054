// gpu_inventory.cpp - GPU discovery through NVML, loaded at run time with dlopen.
//
// MLTF must run on hosts without an NVIDIA driver, so it does not link NVML: it opens the
// library if present, resolves the few entry points it needs with dlsym (declared here, as
// NVML's ABI defines them), and reads the devices. Protocol: nvmlInit_v2, then
// nvmlDeviceGetCount_v2 and per device GetHandleByIndex_v2, GetName, GetUUID, GetMemoryInfo,
// then nvmlShutdown; the library is closed again. Any failure degrades to "no GPUs".
#include "scheduler/gpu_inventory.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <set>
#include <string_view>

#include "scheduler/resource_request.hpp"

namespace mltf::scheduler {
namespace {

// The parts of NVML's ABI used here (nvml.h): an opaque device handle, the memory record,
// and int return codes where 0 is NVML_SUCCESS.
struct NvmlDeviceOpaque;
using NvmlDevice = NvmlDeviceOpaque*;
struct NvmlMemory {
  unsigned long long total;  // NOLINT(google-runtime-int): NVML's ABI type
  unsigned long long free;   // NOLINT(google-runtime-int)
  unsigned long long used;   // NOLINT(google-runtime-int)
};
using NvmlReturn = int;
constexpr NvmlReturn kNvmlSuccess = 0;
// NVML_DEVICE_NAME_V2_BUFFER_SIZE and NVML_DEVICE_UUID_V2_BUFFER_SIZE are 96.
constexpr unsigned int kNvmlBufferSize = 96;

using NvmlInitFn = NvmlReturn (*)();
using NvmlShutdownFn = NvmlReturn (*)();
using NvmlGetCountFn = NvmlReturn (*)(unsigned int*);
using NvmlGetHandleFn = NvmlReturn (*)(unsigned int, NvmlDevice*);
using NvmlGetStringFn = NvmlReturn (*)(NvmlDevice, char*, unsigned int);
using NvmlGetMemoryFn = NvmlReturn (*)(NvmlDevice, NvmlMemory*);
using NvmlErrorStringFn = const char* (*)(NvmlReturn);

// Closes the library on every path out of Detect.
class LibraryHandle {
 public:
  explicit LibraryHandle(void* handle) : handle_(handle) {}
  ~LibraryHandle() {
    if (handle_ != nullptr) {
      dlclose(handle_);
    }
  }
  LibraryHandle(const LibraryHandle&) = delete;
  LibraryHandle& operator=(const LibraryHandle&) = delete;
  LibraryHandle(LibraryHandle&&) = delete;
  LibraryHandle& operator=(LibraryHandle&&) = delete;

  void* get() const { return handle_; }

 private:
  void* handle_;
};

template <typename Fn>
Fn Symbol(void* library, const char* name) {
  // POSIX guarantees that a dlsym result converts to a function pointer.
  return reinterpret_cast<Fn>(dlsym(library, name));
}

std::string NvmlError(NvmlErrorStringFn error_string, NvmlReturn code) {
  if (error_string != nullptr) {
    const char* text = error_string(code);
    if (text != nullptr) {
      return fmt::format("{} ({})", text, code);
    }
  }
  return fmt::format("error {}", code);
}

// A C string from a fixed NVML buffer, which is NUL-terminated on success; stop at the end
// of the buffer regardless.
std::string FromBuffer(const std::array<char, kNvmlBufferSize>& buffer) {
  const auto end = std::find(buffer.begin(), buffer.end(), '\0');
  return {buffer.begin(), end};
}

struct NvmlApi {
  NvmlInitFn init = nullptr;
  NvmlShutdownFn shutdown = nullptr;
  NvmlGetCountFn get_count = nullptr;
  NvmlGetHandleFn get_handle = nullptr;
  NvmlGetStringFn get_name = nullptr;
  NvmlGetStringFn get_uuid = nullptr;
  NvmlGetMemoryFn get_memory = nullptr;
  NvmlErrorStringFn error_string = nullptr;
};

// Resolves every entry point, or names the first one missing.
std::string Resolve(void* library, NvmlApi& api) {
  api.init = Symbol<NvmlInitFn>(library, "nvmlInit_v2");
  api.shutdown = Symbol<NvmlShutdownFn>(library, "nvmlShutdown");
  api.get_count = Symbol<NvmlGetCountFn>(library, "nvmlDeviceGetCount_v2");
  api.get_handle = Symbol<NvmlGetHandleFn>(library, "nvmlDeviceGetHandleByIndex_v2");
  api.get_name = Symbol<NvmlGetStringFn>(library, "nvmlDeviceGetName");
  api.get_uuid = Symbol<NvmlGetStringFn>(library, "nvmlDeviceGetUUID");
  api.get_memory = Symbol<NvmlGetMemoryFn>(library, "nvmlDeviceGetMemoryInfo");
  api.error_string = Symbol<NvmlErrorStringFn>(library, "nvmlErrorString");  // optional
  const std::pair<const void*, std::string_view> required[] = {
      {reinterpret_cast<const void*>(api.init), "nvmlInit_v2"},
      {reinterpret_cast<const void*>(api.shutdown), "nvmlShutdown"},
      {reinterpret_cast<const void*>(api.get_count), "nvmlDeviceGetCount_v2"},
      {reinterpret_cast<const void*>(api.get_handle), "nvmlDeviceGetHandleByIndex_v2"},
      {reinterpret_cast<const void*>(api.get_name), "nvmlDeviceGetName"},
      {reinterpret_cast<const void*>(api.get_uuid), "nvmlDeviceGetUUID"},
      {reinterpret_cast<const void*>(api.get_memory), "nvmlDeviceGetMemoryInfo"}};
  for (const auto& [address, name] : required) {
    if (address == nullptr) {
      return std::string(name);
    }
  }
  return "";
}

// Reads the devices after a successful nvmlInit; fills `why` and returns nothing on failure.
std::vector<GpuDevice> ReadDevices(const NvmlApi& api, std::string& why) {
  unsigned int count = 0;
  if (const NvmlReturn code = api.get_count(&count); code != kNvmlSuccess) {
    why = "nvmlDeviceGetCount_v2 failed: " + NvmlError(api.error_string, code);
    return {};
  }
  count = std::min(count, static_cast<unsigned int>(kMaxDeclaredGpus));
  std::vector<GpuDevice> devices;
  for (unsigned int gpu_idx = 0; gpu_idx < count; ++gpu_idx) {
    NvmlDevice handle = nullptr;
    std::array<char, kNvmlBufferSize> name{};
    std::array<char, kNvmlBufferSize> uuid{};
    NvmlMemory memory{};
    NvmlReturn code = api.get_handle(gpu_idx, &handle);
    if (code == kNvmlSuccess) {
      code = api.get_name(handle, name.data(), kNvmlBufferSize);
    }
    if (code == kNvmlSuccess) {
      code = api.get_uuid(handle, uuid.data(), kNvmlBufferSize);
    }
    if (code == kNvmlSuccess) {
      code = api.get_memory(handle, &memory);
    }
    if (code != kNvmlSuccess) {
      why = fmt::format("reading GPU {} failed: {}", gpu_idx, NvmlError(api.error_string, code));
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
                                  std::string nvml_library) {
  if (!declared.empty()) {
    std::vector<GpuDevice> devices = declared;
    std::sort(devices.begin(), devices.end(),
              [](const GpuDevice& lhs, const GpuDevice& rhs) { return lhs.index < rhs.index; });
    return {std::move(devices), fmt::format("declared in config ({} devices)", declared.size())};
  }
  if (nvml_library.empty()) {
    return {{}, "no NVML: GPU detection disabled"};
  }
  dlerror();  // clear any earlier error
  const LibraryHandle library(dlopen(nvml_library.c_str(), RTLD_NOW | RTLD_LOCAL));
  if (library.get() == nullptr) {
    const char* error = dlerror();
    return {{}, fmt::format("no NVML: {}", error != nullptr ? error : nvml_library)};
  }
  NvmlApi api;
  if (const std::string missing = Resolve(library.get(), api); !missing.empty()) {
    return {{}, fmt::format("no NVML: {} has no symbol {}", nvml_library, missing)};
  }
  if (const NvmlReturn code = api.init(); code != kNvmlSuccess) {
    return {{}, fmt::format("no NVML: nvmlInit_v2 failed: {}", NvmlError(api.error_string, code))};
  }
  std::string why;
  std::vector<GpuDevice> devices = ReadDevices(api, why);
  api.shutdown();
  if (!why.empty()) {
    return {{}, "no NVML: " + why};
  }
  std::string source = fmt::format("NVML ({} devices)", devices.size());
  return {std::move(devices), std::move(source)};
}

}  // namespace mltf::scheduler
