// host_capacity.cpp - reads the CPU affinity and physical memory of this host.
#include "scheduler/host_capacity.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>

namespace mltf::scheduler {
namespace {

int CountCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int count = CPU_COUNT(&set);
    if (count > 0) {
      return count;
    }
  }
  // More CPUs than a cpu_set_t holds (EINVAL), or no affinity support: count the online ones.
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<int>(std::min<long>(online, 1L << 20)) : 1;
}

std::uint64_t PhysicalMemory() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) {
    return 0;
  }
  return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page_size);
}

}  // namespace

HostCapacity DetectHost(const GpuInventory& gpus) {
  return HostCapacity{CountCpus(), PhysicalMemory(), gpus.devices()};
}

}  // namespace mltf::scheduler
