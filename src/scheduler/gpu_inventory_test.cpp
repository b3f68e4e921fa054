// gpu_inventory_test.cpp - unit tests of GPU declarations and NVML degradation.
#include "scheduler/gpu_inventory.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mltf::scheduler {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(ParseDeclaredGpusTest, Count) {
  auto gpus = ParseDeclaredGpus("2");
  ASSERT_TRUE(gpus.has_value()) << gpus.error().message;
  EXPECT_EQ(*gpus, (std::vector<GpuDevice>{{0, "GPU-fake-0", "fake-gpu", 0},
                                           {1, "GPU-fake-1", "fake-gpu", 0}}));
}

TEST(ParseDeclaredGpusTest, NoneDeclared) {
  for (const char* spec : {"", "0"}) {
    auto gpus = ParseDeclaredGpus(spec);
    ASSERT_TRUE(gpus.has_value()) << spec;
    EXPECT_TRUE(gpus->empty()) << spec;
  }
}

TEST(ParseDeclaredGpusTest, IndexNamePairsSortedByIndex) {
  auto gpus = ParseDeclaredGpus("1:nvidia_a100,0:nvidia_a100,3:NVIDIA-H100.pcie,2");
  ASSERT_TRUE(gpus.has_value()) << gpus.error().message;
  EXPECT_EQ(*gpus, (std::vector<GpuDevice>{{0, "GPU-fake-0", "nvidia_a100", 0},
                                           {1, "GPU-fake-1", "nvidia_a100", 0},
                                           {2, "GPU-fake-2", "fake-gpu", 0},
                                           {3, "GPU-fake-3", "NVIDIA-H100.pcie", 0}}));
}

TEST(ParseDeclaredGpusTest, RefusesMalformed) {
  struct Case {
    const char* spec;
    const char* why;
  };
  const std::vector<Case> cases = {
      {"two", "not a GPU index or count"},
      {"-1", "not a GPU index or count"},
      {"65", "at most 64 GPUs"},
      {"0:a,0:b", "declared twice"},
      {"0:", "needs a name"},
      {"0:a b", "needs a name"},
      {"0:a;id", "needs a name"},
      {"0:a\n", "needs a name"},
      {"0:a,", "not a GPU index or count"},
      {":a", "not a GPU index or count"},
      {"x:a", "not a GPU index or count"},
      {"99999:a", "not a GPU index or count"},
  };
  for (const auto& test : cases) {
    auto gpus = ParseDeclaredGpus(test.spec);
    ASSERT_FALSE(gpus.has_value()) << test.spec;
    EXPECT_EQ(gpus.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
    EXPECT_THAT(gpus.error().message, HasSubstr(test.why)) << test.spec;
  }
}

TEST(GpuInventoryTest, DeclaredGpusWinOverNvml) {
  auto declared = ParseDeclaredGpus("1:a100,0:a100");
  ASSERT_TRUE(declared.has_value());
  const auto inventory = GpuInventory::Detect(*declared, "/nonexistent/libnvidia-ml.so.1");
  ASSERT_EQ(inventory.devices().size(), 2U);
  EXPECT_EQ(inventory.devices()[0].index, 0);
  EXPECT_EQ(inventory.devices()[1].index, 1);
  EXPECT_EQ(inventory.source(), "declared in config (2 devices)");
}

TEST(GpuInventoryTest, MissingLibraryGivesNoGpus) {
  const auto inventory = GpuInventory::Detect({}, "/nonexistent/libnvidia-ml.so.1");
  EXPECT_TRUE(inventory.devices().empty());
  EXPECT_THAT(inventory.source(), StartsWith("no NVML: "));
  EXPECT_THAT(inventory.source(), HasSubstr("/nonexistent/libnvidia-ml.so.1"));
}

TEST(GpuInventoryTest, LibraryWithoutNvmlSymbolsGivesNoGpus) {
  const auto inventory = GpuInventory::Detect({}, "libc.so.6");
  EXPECT_TRUE(inventory.devices().empty());
  EXPECT_EQ(inventory.source(), "no NVML: libc.so.6 has no symbol nvmlInit_v2");
}

TEST(GpuInventoryTest, EmptyLibraryNameDisablesDetection) {
  const auto inventory = GpuInventory::Detect({}, "");
  EXPECT_TRUE(inventory.devices().empty());
  EXPECT_THAT(inventory.source(), HasSubstr("disabled"));
}

// The default library: on this machine there may or may not be a driver; either way
// detection returns without crashing and says where its answer came from.
TEST(GpuInventoryTest, DefaultLibraryNeverCrashes) {
  const auto inventory = GpuInventory::Detect({});
  if (inventory.devices().empty()) {
    EXPECT_THAT(inventory.source(), StartsWith("no NVML: "));
  } else {
    EXPECT_THAT(inventory.source(), StartsWith("NVML ("));
    for (const auto& gpu : inventory.devices()) {
      EXPECT_FALSE(gpu.name.empty());
    }
  }
}

}  // namespace
}  // namespace mltf::scheduler
