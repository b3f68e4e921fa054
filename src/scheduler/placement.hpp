// placement.hpp - which queued tasks the local executor starts now, and on which GPUs.
//
// Pure decisions for one host: no clocks, threads or I/O. The scheduler's owner (one strand)
// keeps a HostResources and a FairShare, calls PlanStarts when something changes, charges
// usage as tasks run, and releases allocations when they end.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "scheduler/host_capacity.hpp"
#include "scheduler/resource_request.hpp"

namespace mltf::scheduler {

/// A task waiting to start.
struct QueuedTask {
  std::string task_id;
  std::string user;
  /// Higher starts first.
  int priority = 0;
  std::int64_t submit_time_ms = 0;
  ResourceRequest request;
};

/// What a started task holds until it ends.
struct Allocation {
  std::string task_id;
  int cpus = 0;
  std::uint64_t memory_bytes = 0;
  /// Device indices (GpuDevice::index), ascending; they become CUDA_VISIBLE_DEVICES.
  std::vector<int> gpu_indices;

  friend bool operator==(const Allocation&, const Allocation&) = default;
};

/// Per-user usage in weighted resource-seconds, decaying exponentially so that old usage
/// counts less: after one half-life a charge counts half. A GPU weighs as `gpu_weight` CPUs.
/// Not thread-safe: owned by the scheduler's strand.
class FairShare {
 public:
  /// One hour, as the default half-life.
  static constexpr std::int64_t kDefaultHalfLifeMs = 3'600'000;
  static constexpr double kDefaultGpuWeight = 8.0;

  /// A non-positive `half_life_ms` is treated as 1 ms (usage forgotten almost at once).
  explicit FairShare(double gpu_weight = kDefaultGpuWeight,
                     std::int64_t half_life_ms = kDefaultHalfLifeMs);

  /// The weight of holding `allocation` for one second: cpus + gpus * gpu_weight.
  double Weight(const Allocation& allocation) const;

  /// Adds `amount` resource-seconds to `user`'s usage at `now_ms`. Does not fail.
  void Charge(const std::string& user, double amount, std::int64_t now_ms);

  /// `user`'s decayed usage at `now_ms`; 0 for a user never charged. A `now_ms` before the
  /// last charge (a clock step back) does not decay. Does not fail.
  double Usage(const std::string& user, std::int64_t now_ms) const;

 private:
  struct Account {
    double usage = 0;
    std::int64_t as_of_ms = 0;
  };
  double Decayed(const Account& account, std::int64_t now_ms) const;

  double gpu_weight_;
  std::int64_t half_life_ms_;
  std::map<std::string, Account> accounts_;
};

/// The free resources of this host. CPUs and memory are counted; GPUs are exclusive and
/// handed out by device index. Not thread-safe: owned by the scheduler's strand.
class HostResources {
 public:
  /// Everything of `capacity` free.
  explicit HostResources(HostCapacity capacity);

  /// Whether `request` fits in what is free now. A request takes cpus * tasks_per_node CPUs,
  /// its memory (0: no reservation) and `gpus` free devices matching gpu_type. Never fits
  /// when nodes > 1. Does not fail.
  bool Fits(const ResourceRequest& request) const;

  /// Takes the resources of `request` for `task_id`: the lowest free GPU indices of the right
  /// type. Empty, and nothing taken, when it does not fit.
  std::optional<Allocation> Allocate(const std::string& task_id, const ResourceRequest& request);

  /// Gives back what Allocate took. Releasing twice is a programmer error (asserted); in
  /// release builds the counts are kept within the capacity.
  void Release(const Allocation& allocation);

  /// Whether `request` could ever run here, with the whole host free. Fails with
  /// INVALID_PARAMETER_VALUE saying what the host has: more than one node, more CPUs, memory
  /// or GPUs (of the asked type) than the host.
  Result<void> CheckSatisfiable(const ResourceRequest& request) const;

  int free_cpus() const { return free_cpus_; }
  std::uint64_t free_memory_bytes() const { return free_memory_bytes_; }
  /// Indices of the GPUs not allocated, ascending.
  std::vector<int> free_gpu_indices() const;
  const HostCapacity& capacity() const { return capacity_; }

 private:
  // Indices of free GPUs matching `gpu_type`, lowest first, at most `count` of them.
  std::vector<int> PickGpus(const std::string& gpu_type, int count) const;

  HostCapacity capacity_;
  int free_cpus_;
  std::uint64_t free_memory_bytes_;
  std::vector<bool> gpu_free_;  // parallel to capacity_.gpus
};

/// Decides which of `queue` start now and takes their resources from `free`. Order: priority
/// (higher first), then the user's fair-share usage at `now_ms` (lower first), then submit
/// time (earlier first), then task id. Walks that order starting whatever fits; once a task
/// does not fit, tasks of LOWER priority than it wait for this round so a big high-priority
/// task is not starved (tasks of the same priority may still backfill). Tasks that could never
/// fit this host (CheckSatisfiable fails) are skipped without blocking anyone; they should
/// have been refused at submission. Returns the allocations made, in start order.
std::vector<Allocation> PlanStarts(std::vector<QueuedTask> queue, HostResources& free,
                                   const FairShare& usage, std::int64_t now_ms);

}  // namespace mltf::scheduler
