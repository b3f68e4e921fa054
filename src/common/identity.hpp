// identity.hpp - who sent a request, as the server's authenticator established it. Handlers and
// services decide what the caller may do from it; stores never see it.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace mltf {

/// The reach of a task's own token (the runner's, and the user's code's inside the task): it
/// acts for the task's owner, but only on the task's experiment and the runs in it.
struct TaskScope {
  std::string task_id;
  std::string experiment_id;
  std::string run_id;  ///< the task's own run
};

struct Identity {
  /// The user's stable name: the local user, an API token's user, or the OpenID provider's
  /// configured claim (`sub` by default; never a display name).
  std::string user;
  std::vector<std::string> groups;
  /// Admins see and manage everything (experiments, models, every user's tasks).
  bool admin = false;
  /// Set when the credential was a task's own token.
  std::optional<TaskScope> task;
};

}  // namespace mltf
