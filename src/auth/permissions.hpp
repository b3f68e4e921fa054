// permissions.hpp - what a principal may do with an experiment or a registered model, as
// MLflow's auth app has it: READ reads; EDIT also updates (logs to runs, sets tags, creates
// runs and model versions); MANAGE also deletes and grants; NO_PERMISSIONS nothing.
#pragma once

#include <optional>
#include <string_view>

namespace mltf::auth {

enum class Permission { NO_PERMISSIONS, READ, EDIT, MANAGE };

/// What a request wants to do with a resource.
enum class Action { READ, UPDATE, DELETE, MANAGE };

[[nodiscard]] constexpr bool Grants(Permission permission, Action action) {
  switch (action) {
    case Action::READ:
      return permission != Permission::NO_PERMISSIONS;
    case Action::UPDATE:
      return permission == Permission::EDIT || permission == Permission::MANAGE;
    case Action::DELETE:
    case Action::MANAGE:
      return permission == Permission::MANAGE;
  }
  return false;
}

[[nodiscard]] std::string_view PermissionName(Permission permission);
/// "READ", "EDIT", "MANAGE" or "NO_PERMISSIONS"; nullopt otherwise.
[[nodiscard]] std::optional<Permission> ParsePermission(std::string_view name);
[[nodiscard]] std::string_view ActionName(Action action);

}  // namespace mltf::auth
