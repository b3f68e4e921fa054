// host_capacity_test.cpp - unit tests of host capacity detection.
#include "scheduler/host_capacity.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

namespace mltf::scheduler {
namespace {

TEST(HostCapacityTest, ReportsAffinityCpusMemoryAndDeclaredGpus) {
  auto declared = ParseDeclaredGpus("2");
  ASSERT_TRUE(declared.has_value());
  const HostCapacity host = DetectHost(GpuInventory::Detect(*declared));
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  EXPECT_EQ(host.cpus, CPU_COUNT(&set));
  EXPECT_GE(host.cpus, 1);
  EXPECT_LE(host.cpus, sysconf(_SC_NPROCESSORS_CONF));
  EXPECT_GT(host.memory_bytes, std::uint64_t{1} << 26U);  // any real host has 64 MiB
  EXPECT_EQ(host.gpus, *declared);
}

TEST(HostCapacityTest, NoGpusWithoutNvml) {
  const HostCapacity host = DetectHost(GpuInventory::Detect({}, "/nonexistent/libnvml.so"));
  EXPECT_TRUE(host.gpus.empty());
}

}  // namespace
}  // namespace mltf::scheduler
