// gpu_inventory.hpp - the GPUs of this host: declared by the operator or read from NVML.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/error.hpp"

namespace mltf::scheduler {

/// One GPU of this host.
struct GpuDevice {
  /// The index CUDA_VISIBLE_DEVICES names it by.
  int index = 0;
  std::string uuid;
  /// The model, e.g. "NVIDIA A100-SXM4-80GB" (NVML) or "nvidia_a100" (declared).
  std::string name;
  /// Total memory; 0 when unknown (declared GPUs).
  std::uint64_t memory_bytes = 0;

  friend bool operator==(const GpuDevice&, const GpuDevice&) = default;
};

/// Most GPUs a declaration may name.
inline constexpr int kMaxDeclaredGpus = 64;

/// Parses the operator's GPU declaration: a count ("2": fake GPUs 0 and 1) or a comma list of
/// "index:name" ("0:nvidia_a100,1:nvidia_a100"). Names default to "fake-gpu", uuids are
/// "GPU-fake-<index>"; "" and "0" declare none. Fails with INVALID_PARAMETER_VALUE on a
/// malformed entry, a repeated index, or more than 64 GPUs.
Result<std::vector<GpuDevice>> ParseDeclaredGpus(const std::string& spec);

/// The GPUs this host has, found once at start-up. Detection never fails: without a driver
/// the inventory is empty and source() says why. Immutable after construction.
class GpuInventory {
 public:
  /// Uses `declared` when it is not empty (hosts without drivers, tests); otherwise loads
  /// NVML from `nvml_library` with dlopen and lists its devices. An empty `nvml_library`
  /// disables detection. Any failure (no library, a library without NVML's symbols, an NVML
  /// error) gives an empty inventory whose source() says what went wrong. Does not fail.
  static GpuInventory Detect(const std::vector<GpuDevice>& declared,
                             const std::string& nvml_library = "libnvidia-ml.so.1");

  /// The devices, in index order. Does not fail.
  const std::vector<GpuDevice>& devices() const { return devices_; }

  /// Where the devices came from, or why there are none, e.g. "NVML (2 devices)",
  /// "declared in config (2 devices)", "no NVML: libnvidia-ml.so.1: cannot open...".
  const std::string& source() const { return source_; }

 private:
  GpuInventory(std::vector<GpuDevice> devices, std::string source)
      : devices_(std::move(devices)), source_(std::move(source)) {}

  std::vector<GpuDevice> devices_;
  std::string source_;
};

}  // namespace mltf::scheduler
