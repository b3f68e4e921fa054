// placement.cpp - fair share, free-resource accounting and the start plan of the local
// executor.
#include "scheduler/placement.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <tuple>
#include <utility>

namespace mltf::scheduler {
namespace {

std::uint64_t TotalCpus(const ResourceRequest& request) {
  return static_cast<std::uint64_t>(request.cpus) *
         static_cast<std::uint64_t>(request.tasks_per_node);
}

std::string GpuNames(const std::vector<GpuDevice>& gpus) {
  std::string names;
  for (const auto& gpu : gpus) {
    names += names.empty() ? "" : ", ";
    names += fmt::format("{}: {}", gpu.index, gpu.name);
  }
  return names;
}

}  // namespace

FairShare::FairShare(double gpu_weight, std::int64_t half_life_ms)
    : gpu_weight_(gpu_weight), half_life_ms_(half_life_ms > 0 ? half_life_ms : 1) {}

double FairShare::Weight(const Allocation& allocation) const {
  return allocation.cpus + gpu_weight_ * static_cast<double>(allocation.gpu_indices.size());
}

double FairShare::Decayed(const Account& account, std::int64_t now_ms) const {
  if (now_ms <= account.as_of_ms) {
    return account.usage;
  }
  const double half_lives =
      static_cast<double>(now_ms - account.as_of_ms) / static_cast<double>(half_life_ms_);
  return account.usage * std::exp2(-half_lives);
}

void FairShare::Charge(const std::string& user, double amount, std::int64_t now_ms) {
  Account& account = accounts_[user];
  account.usage = Decayed(account, now_ms) + amount;
  account.as_of_ms = std::max(account.as_of_ms, now_ms);
}

double FairShare::Usage(const std::string& user, std::int64_t now_ms) const {
  const auto found = accounts_.find(user);
  return found == accounts_.end() ? 0.0 : Decayed(found->second, now_ms);
}

HostResources::HostResources(HostCapacity capacity)
    : capacity_(std::move(capacity)),
      free_cpus_(capacity_.cpus),
      free_memory_bytes_(capacity_.memory_bytes),
      gpu_free_(capacity_.gpus.size(), true) {}

std::vector<int> HostResources::PickGpus(const std::string& gpu_type, int count) const {
  std::vector<std::pair<int, std::size_t>> candidates;  // (device index, slot)
  for (std::size_t slot = 0; slot < capacity_.gpus.size(); ++slot) {
    if (gpu_free_[slot] && GpuTypeMatches(capacity_.gpus[slot].name, gpu_type)) {
      candidates.emplace_back(capacity_.gpus[slot].index, slot);
    }
  }
  std::sort(candidates.begin(), candidates.end());
  std::vector<int> picked;
  for (const auto& candidate : candidates) {
    if (static_cast<int>(picked.size()) == count) {
      break;
    }
    picked.push_back(candidate.first);
  }
  return picked;
}

bool HostResources::Fits(const ResourceRequest& request) const {
  return request.nodes == 1 && TotalCpus(request) <= static_cast<std::uint64_t>(free_cpus_) &&
         request.memory_bytes <= free_memory_bytes_ &&
         static_cast<int>(PickGpus(request.gpu_type, request.gpus).size()) == request.gpus;
}

std::optional<Allocation> HostResources::Allocate(const std::string& task_id,
                                                  const ResourceRequest& request) {
  if (!Fits(request)) {
    return std::nullopt;
  }
  Allocation allocation{task_id, static_cast<int>(TotalCpus(request)), request.memory_bytes,
                        PickGpus(request.gpu_type, request.gpus)};
  free_cpus_ -= allocation.cpus;
  free_memory_bytes_ -= allocation.memory_bytes;
  for (const int index : allocation.gpu_indices) {
    for (std::size_t slot = 0; slot < capacity_.gpus.size(); ++slot) {
      if (capacity_.gpus[slot].index == index) {
        gpu_free_[slot] = false;
      }
    }
  }
  return allocation;
}

void HostResources::Release(const Allocation& allocation) {
  assert(free_cpus_ + allocation.cpus <= capacity_.cpus);
  assert(free_memory_bytes_ + allocation.memory_bytes <= capacity_.memory_bytes);
  free_cpus_ = std::min(capacity_.cpus, free_cpus_ + allocation.cpus);
  free_memory_bytes_ =
      std::min(capacity_.memory_bytes, free_memory_bytes_ + allocation.memory_bytes);
  for (const int index : allocation.gpu_indices) {
    for (std::size_t slot = 0; slot < capacity_.gpus.size(); ++slot) {
      if (capacity_.gpus[slot].index == index) {
        assert(!gpu_free_[slot]);
        gpu_free_[slot] = true;
      }
    }
  }
}

std::vector<int> HostResources::free_gpu_indices() const { return PickGpus("", kMaxGpus); }

Result<void> HostResources::CheckSatisfiable(const ResourceRequest& request) const {
  if (request.nodes > 1) {
    return Fail(Error::InvalidParameter(
        fmt::format("The task asks for {} nodes; the local executor runs tasks on one host. "
                    "Ask for nodes: 1 or submit to a SLURM executor",
                    request.nodes)));
  }
  if (TotalCpus(request) > static_cast<std::uint64_t>(capacity_.cpus)) {
    return Fail(Error::InvalidParameter(
        fmt::format("The task asks for {} cpus ({} per task x {} tasks); this host has {}",
                    TotalCpus(request), request.cpus, request.tasks_per_node, capacity_.cpus)));
  }
  if (request.memory_bytes > capacity_.memory_bytes) {
    return Fail(Error::InvalidParameter(
        fmt::format("The task asks for {} MiB of memory; this host has {} MiB",
                    request.memory_bytes >> 20U, capacity_.memory_bytes >> 20U)));
  }
  const auto matching = std::count_if(
      capacity_.gpus.begin(), capacity_.gpus.end(),
      [&](const GpuDevice& gpu) { return GpuTypeMatches(gpu.name, request.gpu_type); });
  if (request.gpus > matching) {
    const std::string has =
        capacity_.gpus.empty()
            ? "no GPUs"
            : fmt::format("{} GPU(s): {}", capacity_.gpus.size(), GpuNames(capacity_.gpus));
    if (request.gpu_type.empty()) {
      return Fail(Error::InvalidParameter(
          fmt::format("The task asks for {} GPU(s); this host has {}", request.gpus, has)));
    }
    return Fail(Error::InvalidParameter(
        fmt::format("The task asks for {} GPU(s) of type '{}'; this host has {} of that type "
                    "and {}",
                    request.gpus, request.gpu_type, matching, has)));
  }
  return {};
}

std::vector<Allocation> PlanStarts(std::vector<QueuedTask> queue, HostResources& free,
                                   const FairShare& usage, std::int64_t now_ms) {
  std::map<std::string, double> user_usage;
  for (const auto& task : queue) {
    user_usage.try_emplace(task.user, usage.Usage(task.user, now_ms));
  }
  std::sort(queue.begin(), queue.end(), [&](const QueuedTask& lhs, const QueuedTask& rhs) {
    return std::forward_as_tuple(rhs.priority, user_usage.at(lhs.user), lhs.submit_time_ms,
                                 lhs.task_id) <
           std::forward_as_tuple(lhs.priority, user_usage.at(rhs.user), rhs.submit_time_ms,
                                 rhs.task_id);
  });
  std::vector<Allocation> started;
  std::optional<int> blocked_below;  // priority of the first task that did not fit
  for (const auto& task : queue) {
    if (blocked_below && task.priority < *blocked_below) {
      break;  // sorted by priority: every later task is lower too
    }
    if (!free.CheckSatisfiable(task.request)) {
      continue;
    }
    if (auto allocation = free.Allocate(task.task_id, task.request)) {
      started.push_back(std::move(*allocation));
    } else if (!blocked_below) {
      blocked_below = task.priority;
    }
  }
  return started;
}

}  // namespace mltf::scheduler
