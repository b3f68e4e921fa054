// request_access.hpp - per-endpoint access rules for the JSON APIs (tracking, registry), checked
// after the message is parsed and before the handler runs, as MLflow's auth app does with its
// before-request validators.
#pragma once

#include <string_view>

#include "auth/access_policy.hpp"
#include "http/json_endpoint.hpp"

namespace mltf::auth {

/// What a request names, and how its access is decided.
enum class Target {
  ANY_CALLER,     ///< every authenticated caller (the handler itself filters, e.g. searches)
  CREATOR,        ///< creates an experiment or a registered model: a personal credential
  EXPERIMENT_ID,  ///< `field` holds an experiment id ("0" when absent, as MLflow defaults)
  RUN_ID,         ///< `run_id` (or the older `run_uuid`) names a run
  MODEL_NAME,     ///< `field` holds a registered model's name
};

struct AccessRule {
  Target target = Target::ANY_CALLER;
  Action action = Action::READ;
  std::string_view field = {};
};

/// The request's caller. INTERNAL_ERROR when the server authenticated nobody (a route with a
/// policy must not be anonymous).
Result<const Identity*> CallerOf(const http::Request& request);

/// Checks `rule` for the request. A missing field passes: the handler refuses it with MLflow's
/// own error.
Result<void> CheckRequest(AccessPolicy& policy, const AccessRule& rule,
                          const http::RequestMessage& message, const http::Request& request);

// Checks for handlers that decide inside (searches, bulk reads, what a lookup found). Each is a
// no-op without a policy (auth mode none).

Result<void> CheckExperimentAccess(AccessPolicy* policy, const http::Request& request,
                                   const std::string& experiment_id, Action action);
Result<void> CheckRunAccess(AccessPolicy* policy, const http::Request& request,
                            const std::string& run_id, Action action);
Result<void> CheckModelAccess(AccessPolicy* policy, const http::Request& request,
                              const std::string& name, Action action);
/// The ids among `experiment_ids` the caller may read, in their order.
Result<std::vector<std::string>> ReadableExperimentIds(AccessPolicy* policy,
                                                       const http::Request& request,
                                                       std::vector<std::string> experiment_ids);
/// What the caller may read of `kind`, for a search to filter by; nullopt: everything.
Result<std::optional<ReadableSet>> ReadableOf(AccessPolicy* policy, const http::Request& request,
                                              ResourceKind kind);
/// Gives the caller MANAGE on what it just created.
Result<void> GrantToCreator(AccessPolicy* policy, const http::Request& request, ResourceKind kind,
                            const std::string& resource);

/// Registers `handler` behind `rule` under /api/2.0 and /ajax-api/2.0 (http::AddApiRoute): the
/// one way the JSON APIs add a checked route.
void AddGuardedRoute(http::Router& router, AccessPolicy* policy, http::Method method,
                     std::string_view path, AccessRule rule, http::JsonHandler handler);

/// `handler` behind `rule`; `handler` itself when there is no policy (auth mode none).
http::JsonHandler Guarded(AccessPolicy* policy, AccessRule rule, http::JsonHandler handler);
http::AsyncJsonHandler Guarded(AccessPolicy* policy, AccessRule rule,
                               http::AsyncJsonHandler handler);

}  // namespace mltf::auth
