// event_log_for_tests.hpp - for executor tests: collects an executor's events and waits for
// them.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "gateway/executors/executor.hpp"

namespace mltf::gateway::executors {

/// Collects the executor's events and waits for them.
class EventLog {
 public:
  void Add(ExecutorEvent event) {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
    changed_.notify_all();
  }
  /// Waits until an event of `kind` for `task_id` arrived; fails the test after `timeout`.
  ExecutorEvent WaitFor(const std::string& task_id, ExecutorEvent::Kind kind,
                        std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::unique_lock lock(mutex_);
    ExecutorEvent found;
    const bool arrived = changed_.wait_for(lock, timeout, [&] {
      for (const auto& event : events_) {
        if (event.task_id == task_id && event.kind == kind) {
          found = event;
          return true;
        }
      }
      return false;
    });
    EXPECT_TRUE(arrived) << "no event for " << task_id;
    return found;
  }
  bool Has(const std::string& task_id, ExecutorEvent::Kind kind) {
    std::lock_guard lock(mutex_);
    return std::any_of(events_.begin(), events_.end(), [&](const ExecutorEvent& event) {
      return event.task_id == task_id && event.kind == kind;
    });
  }
  std::vector<ExecutorEvent> All() {
    std::lock_guard lock(mutex_);
    return events_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<ExecutorEvent> events_;
};

}  // namespace mltf::gateway::executors
