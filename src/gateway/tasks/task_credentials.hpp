// task_credentials.hpp - the seam through which the task service gets each attempt a credential
// of its own (never its owner's), and takes it back when the task ends.
#pragma once

#include <chrono>
#include <string>

#include "common/error.hpp"
#include "gateway/tasks/task.hpp"

namespace mltf::gateway::tasks {

class TaskCredentials {
 public:
  virtual ~TaskCredentials() = default;
  /// A token that acts for the task's owner on the task's run and experiment only, valid for a
  /// while unless renewed. Thread-safe.
  virtual Result<std::string> Issue(const Task& task, const std::string& experiment_id) = 0;
  /// Revokes every credential of the task; failures are logged, not returned (the tokens
  /// expire anyway). Thread-safe.
  virtual void Revoke(const std::string& task_id) = 0;
  /// How often a runner must renew its token to keep it alive.
  [[nodiscard]] virtual std::chrono::milliseconds renew_interval() const = 0;
};

}  // namespace mltf::gateway::tasks
