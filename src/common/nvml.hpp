// nvml.hpp - NVML, NVIDIA's management library, opened at run time with dlopen.
//
// MLTF must run on hosts without an NVIDIA driver, so it never links NVML: it opens the library
// when present and resolves the entry points it needs with dlsym, declared here as NVML's ABI
// (nvml.h) defines them. The scheduler lists the host's GPUs with it, the runner reads the
// memory, utilisation and power of its task's GPUs.
#pragma once

#include <initializer_list>
#include <memory>
#include <string>

#include "common/error.hpp"

namespace mltf::nvml {

// The parts of NVML's ABI MLTF uses: an opaque device handle, records, and int return codes
// where 0 is NVML_SUCCESS.
struct DeviceOpaque;
using Device = DeviceOpaque*;
struct Memory {
  unsigned long long total;  // NOLINT(google-runtime-int): NVML's ABI type
  unsigned long long free;   // NOLINT(google-runtime-int)
  unsigned long long used;   // NOLINT(google-runtime-int)
};
struct Utilization {
  unsigned int gpu;     // percent of time a kernel ran
  unsigned int memory;  // percent of time memory was read or written
};
using Return = int;
inline constexpr Return kSuccess = 0;
/// NVML_DEVICE_NAME_V2_BUFFER_SIZE and NVML_DEVICE_UUID_V2_BUFFER_SIZE.
inline constexpr unsigned int kStringBufferSize = 96;

using GetCountFn = Return (*)(unsigned int*);
using GetHandleFn = Return (*)(unsigned int, Device*);
using GetStringFn = Return (*)(Device, char*, unsigned int);
using GetMemoryFn = Return (*)(Device, Memory*);
using GetUtilizationFn = Return (*)(Device, Utilization*);
using GetMilliwattsFn = Return (*)(Device, unsigned int*);

/// An open, initialised NVML: nvmlInit_v2 has succeeded, and nvmlShutdown and dlclose follow
/// when it is destroyed. Its entry points may be called from any one thread at a time.
class Library {
 public:
  /// Opens `path` ("libnvidia-ml.so.1"), checks that it has nvmlInit_v2, nvmlShutdown and every
  /// symbol of `required`, and initialises NVML. Fails with TEMPORARILY_UNAVAILABLE saying why,
  /// e.g. "libnvidia-ml.so.1: cannot open shared object file: ...", "libc.so.6 has no symbol
  /// nvmlInit_v2", "nvmlInit_v2 failed: Driver Not Loaded (9)".
  static Result<std::unique_ptr<Library>> Open(const std::string& path,
                                               std::initializer_list<const char*> required);
  ~Library();
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;

  /// The entry point `name` as `Fn`; null when the library lacks it (an optional one).
  template <typename Fn>
  [[nodiscard]] Fn Function(const char* name) const {
    // POSIX guarantees that a dlsym result converts to a function pointer.
    return reinterpret_cast<Fn>(Symbol(name));
  }

  /// NVML's words for `code` with the code, e.g. "Driver Not Loaded (9)". Does not fail.
  [[nodiscard]] std::string ErrorText(Return code) const;

 private:
  explicit Library(void* handle) : handle_(handle) {}
  [[nodiscard]] void* Symbol(const char* name) const;

  void* handle_;
  bool initialised_ = false;
};

}  // namespace mltf::nvml
