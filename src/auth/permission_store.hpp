// permission_store.hpp - the permission rows of experiments and registered models (schema
// version 4): one per resource and principal, a principal being a user or a group.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "auth/permissions.hpp"
#include "common/error.hpp"
#include "tracking/store/sql/database.hpp"

namespace mltf::auth {

/// The two kinds of resource that carry permissions.
enum class ResourceKind { EXPERIMENT, REGISTERED_MODEL };

enum class PrincipalKind { USER, GROUP };

struct PermissionRow {
  std::string resource;  ///< the experiment id, or the registered model's name
  PrincipalKind principal_kind = PrincipalKind::USER;
  std::string principal;
  Permission permission = Permission::NO_PERMISSIONS;
};

/// Thread-safe. The database must outlive the store.
class PermissionStore {
 public:
  explicit PermissionStore(tracking::store::sql::Database& database) : database_(database) {}

  /// Fails with RESOURCE_ALREADY_EXISTS when the principal has a row for the resource.
  Result<void> Create(ResourceKind kind, const PermissionRow& row);
  /// Creates the row or replaces its permission.
  Result<void> Put(ResourceKind kind, const PermissionRow& row);
  /// Fails with RESOURCE_DOES_NOT_EXIST when there is no such row.
  Result<void> Update(ResourceKind kind, const PermissionRow& row);
  /// Fails with RESOURCE_DOES_NOT_EXIST when there is no such row.
  Result<void> Delete(ResourceKind kind, const std::string& resource, PrincipalKind principal_kind,
                      const std::string& principal);
  /// Every row of the resource.
  Result<std::vector<PermissionRow>> ForResource(ResourceKind kind, const std::string& resource);
  /// Every row naming `user` or one of `groups`, over all resources of the kind.
  Result<std::vector<PermissionRow>> ForPrincipals(ResourceKind kind, const std::string& user,
                                                   const std::vector<std::string>& groups);
  /// Moves a registered model's rows to its new name (rename).
  Result<void> RenameModel(const std::string& from, const std::string& to);
  /// Removes every row of a resource (a registered model deleted for good).
  Result<void> DeleteResource(ResourceKind kind, const std::string& resource);

 private:
  tracking::store::sql::Database& database_;
};

}  // namespace mltf::auth
