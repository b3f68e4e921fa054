// host_capacity.hpp - what this host offers to the local executor: cpus, memory, GPUs.
#pragma once

#include <cstdint>
#include <vector>

#include "scheduler/gpu_inventory.hpp"

namespace mltf::scheduler {

/// The resources of this host that tasks may use.
struct HostCapacity {
  int cpus = 1;
  std::uint64_t memory_bytes = 0;
  std::vector<GpuDevice> gpus;
};

/// The CPUs this process may run on (sched_getaffinity, so a cpuset or `taskset` is
/// respected), the physical memory (sysconf pages), and the GPUs of `gpus`. Cgroup memory
/// limits are not read. Does not fail: a failing call falls back to the online CPU count,
/// and at least one CPU is reported.
HostCapacity DetectHost(const GpuInventory& gpus);

}  // namespace mltf::scheduler
