// permissions.cpp - names of permissions and actions.
#include "auth/permissions.hpp"

namespace mltf::auth {

std::string_view PermissionName(Permission permission) {
  switch (permission) {
    case Permission::NO_PERMISSIONS:
      return "NO_PERMISSIONS";
    case Permission::READ:
      return "READ";
    case Permission::EDIT:
      return "EDIT";
    case Permission::MANAGE:
      return "MANAGE";
  }
  return "NO_PERMISSIONS";
}

std::optional<Permission> ParsePermission(std::string_view name) {
  for (Permission permission :
       {Permission::NO_PERMISSIONS, Permission::READ, Permission::EDIT, Permission::MANAGE}) {
    if (name == PermissionName(permission)) return permission;
  }
  return std::nullopt;
}

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::READ:
      return "read";
    case Action::UPDATE:
      return "update";
    case Action::DELETE:
      return "delete";
    case Action::MANAGE:
      return "manage";
  }
  return "use";
}

}  // namespace mltf::auth
