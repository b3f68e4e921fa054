// access_policy.hpp - what a caller may do with experiments, their runs and registered models.
//
// The rules, in order:
//   1. Admins may do everything.
//   2. A task's own token reaches only its task's experiment and that experiment's runs, at
//      most with EDIT (it logs, it never deletes or grants), and no registered model.
//   3. Otherwise the caller's own row on the resource decides; without one, the best of the rows
//      of the caller's groups; without any, the operator's default permission.
// Runs follow their experiment. Creating an experiment or a registered model needs only a
// personal credential, and the creator gets MANAGE on it.
//
// Checks run on every request, often on an I/O thread: a resource's rows are kept in memory for
// two seconds after they were read, and a run's experiment for good (it never changes). A change
// made through this server is seen at once (Forget); one made through another server sharing
// the database, within those two seconds.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth/permission_store.hpp"
#include "auth/permissions.hpp"
#include "common/error.hpp"
#include "common/identity.hpp"

namespace mltf::auth {

/// What a caller may read among the resources of one kind, for searches that must filter before
/// they query (so that pages stay full and nothing leaks): the listed resources only, or every
/// resource but the listed ones.
struct ReadableSet {
  bool only_listed = true;
  std::vector<std::string> listed;
};

class AccessPolicy {
 public:
  /// The experiment of a run; RESOURCE_DOES_NOT_EXIST for an unknown run.
  using RunExperiment = std::function<Result<std::string>(const std::string& run_id)>;

  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  AccessPolicy(PermissionStore& store, Permission default_permission, RunExperiment run_experiment,
               Clock clock = std::chrono::steady_clock::now);

  /// PERMISSION_DENIED (naming the action and the resource, never other principals' rights)
  /// unless the caller may. Errors of the store pass through.
  Result<void> CheckExperiment(const Identity& caller, const std::string& experiment_id,
                               Action action);
  /// As CheckExperiment for the run's experiment; an unknown run is RESOURCE_DOES_NOT_EXIST.
  Result<void> CheckRun(const Identity& caller, const std::string& run_id, Action action);
  Result<void> CheckModel(const Identity& caller, const std::string& name, Action action);
  /// PERMISSION_DENIED for a task's own token, which creates no experiments or models.
  static Result<void> CheckMayCreate(const Identity& caller);
  /// Gives the creator MANAGE on what it just created (admins too: they may stop being admins).
  Result<void> GrantCreator(const Identity& caller, ResourceKind kind, const std::string& resource);

  /// The caller's permission on the resource, by the rules above.
  Result<Permission> Effective(const Identity& caller, ResourceKind kind,
                               const std::string& resource);
  /// What the caller may read, or nullopt when everything (admins).
  Result<std::optional<ReadableSet>> Readable(const Identity& caller, ResourceKind kind);

  [[nodiscard]] Permission default_permission() const { return default_permission_; }
  /// For changes of the rows; call Forget() after each.
  PermissionStore& store() { return store_; }
  /// Drops what is remembered of the resource's rows, after they changed.
  void Forget(ResourceKind kind, const std::string& resource);

 private:
  Result<std::string> ExperimentOfRun(const std::string& run_id);
  /// The resource's rows, from memory when read less than two seconds ago.
  Result<std::shared_ptr<const std::vector<PermissionRow>>> RowsOf(ResourceKind kind,
                                                                   const std::string& resource);

  struct CachedRows {
    std::shared_ptr<const std::vector<PermissionRow>> rows;
    std::chrono::steady_clock::time_point read_at;
  };

  PermissionStore& store_;
  Permission default_permission_;
  RunExperiment run_experiment_;
  Clock clock_;
  std::mutex mutex_;
  /// Runs never change experiment: their experiment is remembered (bounded; emptied when full).
  std::unordered_map<std::string, std::string> experiment_of_run_;
  /// By kind ("e:" or "m:") and resource (bounded; emptied when full).
  std::unordered_map<std::string, CachedRows> rows_;
};

}  // namespace mltf::auth
