// placement_test.cpp - unit tests of fair share, host resources and the start plan.
#include "scheduler/placement.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mltf::scheduler {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr std::uint64_t kGiB = std::uint64_t{1} << 30U;
constexpr std::int64_t kHourMs = 3'600'000;

HostCapacity Host(int cpus, std::uint64_t memory, const std::string& gpus) {
  auto devices = ParseDeclaredGpus(gpus);
  EXPECT_TRUE(devices.has_value()) << gpus;
  return HostCapacity{cpus, memory, devices ? *devices : std::vector<GpuDevice>{}};
}

ResourceRequest Ask(int cpus, int gpus = 0, std::uint64_t memory = 0,
                    const std::string& gpu_type = "") {
  ResourceRequest request;
  request.cpus = cpus;
  request.gpus = gpus;
  request.memory_bytes = memory;
  request.gpu_type = gpu_type;
  return request;
}

QueuedTask Task(const std::string& id, const std::string& user, int priority,
                std::int64_t submitted, ResourceRequest request) {
  return QueuedTask{id, user, priority, submitted, std::move(request)};
}

std::vector<std::string> Ids(const std::vector<Allocation>& allocations) {
  std::vector<std::string> ids;
  ids.reserve(allocations.size());
  for (const auto& allocation : allocations) {
    ids.push_back(allocation.task_id);
  }
  return ids;
}

TEST(FairShareTest, UnknownUserHasNoUsage) {
  const FairShare share;
  EXPECT_EQ(share.Usage("nobody", 0), 0.0);
}

TEST(FairShareTest, DecayHalvesAfterOneHalfLife) {
  FairShare share;
  share.Charge("ann", 100.0, 0);
  EXPECT_DOUBLE_EQ(share.Usage("ann", 0), 100.0);
  EXPECT_DOUBLE_EQ(share.Usage("ann", kHourMs), 50.0);
  EXPECT_DOUBLE_EQ(share.Usage("ann", 2 * kHourMs), 25.0);
  share.Charge("ann", 50.0, kHourMs);
  EXPECT_DOUBLE_EQ(share.Usage("ann", kHourMs), 100.0);
  EXPECT_DOUBLE_EQ(share.Usage("ann", 2 * kHourMs), 50.0);
  EXPECT_EQ(share.Usage("bob", kHourMs), 0.0);
}

TEST(FairShareTest, ConfigurableHalfLifeAndClockStepBack) {
  FairShare share(8.0, 1000);
  share.Charge("ann", 8.0, 10'000);
  EXPECT_DOUBLE_EQ(share.Usage("ann", 13'000), 1.0);
  EXPECT_DOUBLE_EQ(share.Usage("ann", 5'000), 8.0);  // before the charge: no decay
}

TEST(FairShareTest, GpuWeighsAsConfiguredCpus) {
  EXPECT_DOUBLE_EQ(FairShare().Weight(Allocation{"t", 2, 0, {0, 1}}), 18.0);
  EXPECT_DOUBLE_EQ(FairShare(4.0).Weight(Allocation{"t", 2, 0, {0}}), 6.0);
  EXPECT_DOUBLE_EQ(FairShare(4.0).Weight(Allocation{"t", 3, 0, {}}), 3.0);
}

TEST(HostResourcesTest, TwoGpusThreeOneGpuTasks) {
  HostResources free(Host(16, 64 * kGiB, "2"));
  const std::vector<QueuedTask> queue = {Task("a", "ann", 0, 1, Ask(1, 1)),
                                         Task("b", "ann", 0, 2, Ask(1, 1)),
                                         Task("c", "ann", 0, 3, Ask(1, 1))};
  const FairShare share;
  const auto started = PlanStarts(queue, free, share, 0);
  ASSERT_EQ(started.size(), 2U);
  EXPECT_EQ(started[0], (Allocation{"a", 1, 0, {0}}));
  EXPECT_EQ(started[1], (Allocation{"b", 1, 0, {1}}));
  EXPECT_THAT(free.free_gpu_indices(), IsEmpty());
  EXPECT_EQ(free.free_cpus(), 14);

  const std::vector<QueuedTask> waiting = {queue[2]};
  EXPECT_THAT(PlanStarts(waiting, free, share, 0), IsEmpty());
  free.Release(started[0]);
  EXPECT_THAT(free.free_gpu_indices(), ElementsAre(0));
  const auto later = PlanStarts(waiting, free, share, 0);
  ASSERT_EQ(later.size(), 1U);
  EXPECT_EQ(later[0], (Allocation{"c", 1, 0, {0}}));
}

TEST(HostResourcesTest, GpusOfTheAskedTypeLowestIndexFirst) {
  HostResources free(Host(8, 0, "0:nvidia_h100,1:nvidia_a100,2:nvidia_h100,3:nvidia_a100"));
  const auto a100 = free.Allocate("x", Ask(1, 1, 0, "a100"));
  ASSERT_TRUE(a100.has_value());
  EXPECT_THAT(a100->gpu_indices, ElementsAre(1));
  const auto two_h100 = free.Allocate("y", Ask(1, 2, 0, "h100"));
  ASSERT_TRUE(two_h100.has_value());
  EXPECT_THAT(two_h100->gpu_indices, ElementsAre(0, 2));
  EXPECT_FALSE(free.Fits(Ask(1, 1, 0, "h100")));
  EXPECT_FALSE(free.Allocate("z", Ask(1, 2, 0, "a100")).has_value());
  EXPECT_TRUE(free.Fits(Ask(1, 1)));
  EXPECT_THAT(free.free_gpu_indices(), ElementsAre(3));
  free.Release(*two_h100);
  EXPECT_THAT(free.free_gpu_indices(), ElementsAre(0, 2, 3));
}

TEST(HostResourcesTest, CpuAndMemoryFit) {
  HostResources free(Host(4, 8 * kGiB, "0"));
  EXPECT_TRUE(free.Fits(Ask(4)));
  EXPECT_FALSE(free.Fits(Ask(5)));
  EXPECT_TRUE(free.Fits(Ask(1, 0, 8 * kGiB)));
  EXPECT_FALSE(free.Fits(Ask(1, 0, 8 * kGiB + 1)));
  EXPECT_FALSE(free.Fits(Ask(1, 1)));

  ResourceRequest two_tasks = Ask(2);
  two_tasks.tasks_per_node = 2;  // 4 cpus in all
  const auto first = free.Allocate("a", Ask(1, 0, 6 * kGiB));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(free.free_memory_bytes(), 2 * kGiB);
  EXPECT_FALSE(free.Fits(two_tasks));
  EXPECT_FALSE(free.Fits(Ask(1, 0, 3 * kGiB)));
  EXPECT_TRUE(free.Fits(Ask(3, 0, 0)));  // memory 0: no reservation
  const auto second = free.Allocate("b", Ask(3, 0, 2 * kGiB));
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(free.free_cpus(), 0);
  EXPECT_FALSE(free.Fits(Ask(1)));
  EXPECT_FALSE(free.Allocate("c", Ask(1)).has_value());
  free.Release(*first);
  free.Release(*second);
  EXPECT_EQ(free.free_cpus(), 4);
  EXPECT_EQ(free.free_memory_bytes(), 8 * kGiB);
  const auto both = free.Allocate("d", two_tasks);
  ASSERT_TRUE(both.has_value());
  EXPECT_EQ(both->cpus, 4);
}

TEST(HostResourcesTest, CheckSatisfiableSaysWhatTheHostHas) {
  const HostResources free(Host(8, 16 * kGiB, "0:nvidia_a100,1:nvidia_a100"));
  EXPECT_TRUE(free.CheckSatisfiable(Ask(8, 2, 16 * kGiB, "a100")).has_value());

  ResourceRequest multi_node = Ask(1);
  multi_node.nodes = 2;
  EXPECT_FALSE(free.Fits(multi_node));
  struct Case {
    ResourceRequest request;
    const char* why;
  };
  ResourceRequest many_tasks = Ask(4);
  many_tasks.tasks_per_node = 3;
  const std::vector<Case> cases = {
      {multi_node, "asks for 2 nodes; the local executor runs tasks on one host"},
      {Ask(9), "asks for 9 cpus (9 per task x 1 tasks); this host has 8"},
      {many_tasks, "asks for 12 cpus (4 per task x 3 tasks); this host has 8"},
      {Ask(1, 0, 17 * kGiB), "asks for 17408 MiB of memory; this host has 16384 MiB"},
      {Ask(1, 3), "asks for 3 GPU(s); this host has 2 GPU(s): 0: nvidia_a100, 1: nvidia_a100"},
      {Ask(1, 1, 0, "h100"), "of type 'h100'; this host has 0 of that type and 2 GPU(s)"},
  };
  for (const auto& test : cases) {
    auto result = free.CheckSatisfiable(test.request);
    ASSERT_FALSE(result.has_value()) << test.why;
    EXPECT_EQ(result.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
    EXPECT_THAT(result.error().message, HasSubstr(test.why));
  }
  const HostResources no_gpus(Host(8, 16 * kGiB, ""));
  auto result = no_gpus.CheckSatisfiable(Ask(1, 1));
  ASSERT_FALSE(result.has_value());
  EXPECT_THAT(result.error().message, HasSubstr("this host has no GPUs"));
}

TEST(PlanStartsTest, HigherPriorityFirst) {
  HostResources free(Host(2, 0, "0"));
  const std::vector<QueuedTask> queue = {Task("low", "ann", 0, 1, Ask(1)),
                                         Task("high", "bob", 5, 3, Ask(1)),
                                         Task("mid", "cat", 2, 2, Ask(1))};
  EXPECT_THAT(Ids(PlanStarts(queue, free, FairShare(), 0)), ElementsAre("high", "mid"));
}

TEST(PlanStartsTest, FairShareOrdersEqualPriorities) {
  FairShare share;
  share.Charge("heavy", 1000.0, 0);
  share.Charge("light", 10.0, 0);
  HostResources free(Host(1, 0, "0"));
  const std::vector<QueuedTask> queue = {Task("h", "heavy", 0, 1, Ask(1)),
                                         Task("l", "light", 0, 2, Ask(1)),
                                         Task("n", "new", 1, 3, Ask(1))};
  // "new" has higher priority; among equals, the lighter user goes first despite submitting
  // later.
  HostResources roomy(Host(3, 0, "0"));
  EXPECT_THAT(Ids(PlanStarts(queue, roomy, share, 0)), ElementsAre("n", "l", "h"));
  const std::vector<QueuedTask> equals = {queue[0], queue[1]};
  EXPECT_THAT(Ids(PlanStarts(equals, free, share, 0)), ElementsAre("l"));
}

TEST(PlanStartsTest, SubmitTimeThenIdBreakTies) {
  HostResources free(Host(3, 0, "0"));
  const std::vector<QueuedTask> queue = {
      Task("z", "ann", 0, 5, Ask(1)), Task("b", "ann", 0, 4, Ask(1)),
      Task("a", "ann", 0, 4, Ask(1)), Task("late", "ann", 0, 9, Ask(1))};
  EXPECT_THAT(Ids(PlanStarts(queue, free, FairShare(), 0)), ElementsAre("a", "b", "z"));
}

TEST(PlanStartsTest, BigHighPriorityTaskIsNotStarvedByLowerOnes) {
  HostResources free(Host(4, 0, "0"));
  const auto running = free.Allocate("running", Ask(2));
  ASSERT_TRUE(running.has_value());
  const std::vector<QueuedTask> queue = {Task("big", "ann", 5, 1, Ask(4)),
                                         Task("small-low", "bob", 1, 0, Ask(1)),
                                         Task("small-same", "cat", 5, 2, Ask(1))};
  // big does not fit; small-same (same priority) may backfill, small-low may not.
  EXPECT_THAT(Ids(PlanStarts(queue, free, FairShare(), 0)), ElementsAre("small-same"));
  EXPECT_EQ(free.free_cpus(), 1);
}

TEST(PlanStartsTest, UnsatisfiableTaskDoesNotBlockOthers) {
  HostResources free(Host(4, 0, "0"));
  ResourceRequest two_nodes = Ask(1);
  two_nodes.nodes = 2;
  const std::vector<QueuedTask> queue = {Task("never", "ann", 9, 0, two_nodes),
                                         Task("gpu", "ann", 9, 0, Ask(1, 1)),
                                         Task("ok", "bob", 0, 1, Ask(1))};
  EXPECT_THAT(Ids(PlanStarts(queue, free, FairShare(), 0)), ElementsAre("ok"));
}

TEST(PlanStartsTest, EmptyQueueStartsNothing) {
  HostResources free(Host(4, 0, "1"));
  EXPECT_THAT(PlanStarts({}, free, FairShare(), 0), IsEmpty());
  EXPECT_EQ(free.free_cpus(), 4);
}

}  // namespace
}  // namespace mltf::scheduler
