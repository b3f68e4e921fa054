// access_policy.cpp - the permission rules over the permission store.
#include "auth/access_policy.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace mltf::auth {
namespace {

constexpr std::size_t kMaxRememberedRuns = 100000;
constexpr std::size_t kMaxRememberedResources = 100000;
constexpr std::chrono::seconds kRowsLifetime{2};

std::string CacheKey(ResourceKind kind, const std::string& resource) {
  return (kind == ResourceKind::EXPERIMENT ? "e:" : "m:") + resource;
}

std::string_view KindName(ResourceKind kind) {
  return kind == ResourceKind::EXPERIMENT ? "experiment" : "registered model";
}

Error Denied(Action action, ResourceKind kind, const std::string& resource) {
  return Error{ErrorCode::PERMISSION_DENIED,
               fmt::format("Permission denied: you may not {} {} '{}'", ActionName(action),
                           KindName(kind), resource)};
}

/// The rows' verdict for one principal set: the user's own row, else the best group row.
std::optional<Permission> FromRows(const std::vector<PermissionRow>& rows, const Identity& caller) {
  std::optional<Permission> best_group;
  for (const auto& row : rows) {
    if (row.principal_kind == PrincipalKind::USER) {
      if (row.principal == caller.user) return row.permission;
      continue;
    }
    if (std::find(caller.groups.begin(), caller.groups.end(), row.principal) !=
        caller.groups.end()) {
      best_group = std::max(best_group.value_or(Permission::NO_PERMISSIONS), row.permission);
    }
  }
  return best_group;
}

}  // namespace

AccessPolicy::AccessPolicy(PermissionStore& store, Permission default_permission,
                           RunExperiment run_experiment, Clock clock)
    : store_(store),
      default_permission_(default_permission),
      run_experiment_(std::move(run_experiment)),
      clock_(std::move(clock)) {}

Result<std::shared_ptr<const std::vector<PermissionRow>>> AccessPolicy::RowsOf(
    ResourceKind kind, const std::string& resource) {
  const std::string key = CacheKey(kind, resource);
  const auto now = clock_();
  {
    std::lock_guard lock(mutex_);
    if (auto found = rows_.find(key);
        found != rows_.end() && now - found->second.read_at < kRowsLifetime) {
      return found->second.rows;
    }
  }
  MLTF_ASSIGN_OR_RETURN(rows, store_.ForResource(kind, resource));
  auto shared = std::make_shared<const std::vector<PermissionRow>>(std::move(rows));
  std::lock_guard lock(mutex_);
  if (rows_.size() >= kMaxRememberedResources) rows_.clear();
  rows_[key] = CachedRows{shared, now};
  return shared;
}

void AccessPolicy::Forget(ResourceKind kind, const std::string& resource) {
  std::lock_guard lock(mutex_);
  rows_.erase(CacheKey(kind, resource));
}

Result<Permission> AccessPolicy::Effective(const Identity& caller, ResourceKind kind,
                                           const std::string& resource) {
  if (caller.admin) return Permission::MANAGE;
  if (caller.task) {
    const bool own = kind == ResourceKind::EXPERIMENT && resource == caller.task->experiment_id;
    return own ? Permission::EDIT : Permission::NO_PERMISSIONS;
  }
  MLTF_ASSIGN_OR_RETURN(rows, RowsOf(kind, resource));
  return FromRows(*rows, caller).value_or(default_permission_);
}

Result<void> AccessPolicy::CheckExperiment(const Identity& caller, const std::string& experiment_id,
                                           Action action) {
  MLTF_ASSIGN_OR_RETURN(permission, Effective(caller, ResourceKind::EXPERIMENT, experiment_id));
  if (!Grants(permission, action)) {
    return Fail(Denied(action, ResourceKind::EXPERIMENT, experiment_id));
  }
  return {};
}

Result<std::string> AccessPolicy::ExperimentOfRun(const std::string& run_id) {
  {
    std::lock_guard lock(mutex_);
    if (auto found = experiment_of_run_.find(run_id); found != experiment_of_run_.end()) {
      return found->second;
    }
  }
  MLTF_ASSIGN_OR_RETURN(experiment_id, run_experiment_(run_id));
  std::lock_guard lock(mutex_);
  if (experiment_of_run_.size() >= kMaxRememberedRuns) experiment_of_run_.clear();
  experiment_of_run_.emplace(run_id, experiment_id);
  return experiment_id;
}

Result<void> AccessPolicy::CheckRun(const Identity& caller, const std::string& run_id,
                                    Action action) {
  if (caller.admin) return {};
  MLTF_ASSIGN_OR_RETURN(experiment_id, ExperimentOfRun(run_id));
  MLTF_ASSIGN_OR_RETURN(permission, Effective(caller, ResourceKind::EXPERIMENT, experiment_id));
  if (!Grants(permission, action)) {
    return Fail(Error{
        ErrorCode::PERMISSION_DENIED,
        fmt::format("Permission denied: you may not {} run '{}'", ActionName(action), run_id)});
  }
  return {};
}

Result<void> AccessPolicy::CheckModel(const Identity& caller, const std::string& name,
                                      Action action) {
  MLTF_ASSIGN_OR_RETURN(permission, Effective(caller, ResourceKind::REGISTERED_MODEL, name));
  if (!Grants(permission, action))
    return Fail(Denied(action, ResourceKind::REGISTERED_MODEL, name));
  return {};
}

Result<void> AccessPolicy::CheckMayCreate(const Identity& caller) {
  if (caller.task) {
    return Fail(Error{ErrorCode::PERMISSION_DENIED,
                      "a task's own token cannot create experiments or registered models"});
  }
  return {};
}

Result<void> AccessPolicy::GrantCreator(const Identity& caller, ResourceKind kind,
                                        const std::string& resource) {
  MLTF_TRY(store_.Put(kind, {.resource = resource,
                             .principal_kind = PrincipalKind::USER,
                             .principal = caller.user,
                             .permission = Permission::MANAGE}));
  Forget(kind, resource);
  return {};
}

Result<std::optional<ReadableSet>> AccessPolicy::Readable(const Identity& caller,
                                                          ResourceKind kind) {
  if (caller.admin) return std::optional<ReadableSet>{};
  if (caller.task) {
    ReadableSet own;
    if (kind == ResourceKind::EXPERIMENT) own.listed.push_back(caller.task->experiment_id);
    return std::optional<ReadableSet>{std::move(own)};
  }
  MLTF_ASSIGN_OR_RETURN(rows, store_.ForPrincipals(kind, caller.user, caller.groups));
  std::map<std::string, std::vector<PermissionRow>> by_resource;
  for (auto& row : rows) by_resource[row.resource].push_back(std::move(row));
  // With a readable default, list the exceptions that hide; else the grants that show.
  const bool default_reads = Grants(default_permission_, Action::READ);
  ReadableSet readable{.only_listed = !default_reads};
  for (const auto& [resource, resource_rows] : by_resource) {
    const bool reads =
        Grants(FromRows(resource_rows, caller).value_or(default_permission_), Action::READ);
    if (reads != default_reads) readable.listed.push_back(resource);
  }
  return std::optional<ReadableSet>{std::move(readable)};
}

}  // namespace mltf::auth
