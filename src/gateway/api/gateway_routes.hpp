// gateway_routes.hpp - the gateway's HTTP API: /api/mltf/v1 (projects, tasks, logs) and the
// existing MLTF client's /api/job family.
#pragma once

#include <functional>
#include <string>

#include "auth/access_policy.hpp"
#include "common/identity.hpp"
#include "gateway/api/log_follower.hpp"
#include "gateway/projects/project_store.hpp"
#include "gateway/tasks/task_service.hpp"
#include "http/router.hpp"

namespace mltf::gateway::api {

/// What the gateway's handlers work with. Outlives the router's use of it.
struct GatewayApi {
  tasks::TaskService& tasks;
  projects::ProjectStore& projects;
  LogFollower& logs;
  /// Who calls when the server authenticates nobody (a request without a caller).
  Identity local_caller;
  /// Decides who may put tasks into which experiment; null in auth mode none.
  auth::AccessPolicy* policy = nullptr;
  /// The executor's name and what it has, for /healthz.
  std::string executor_status_json = "{}";
};

/// Registers every gateway route on `router` (docs/gateway-api.md).
void RegisterGatewayRoutes(http::Router& router, GatewayApi& api);

}  // namespace mltf::gateway::api
