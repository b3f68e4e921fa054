// gateway_routes.hpp - the gateway's HTTP API: /api/mltf/v1 (projects, tasks, logs) and the
// existing MLTF client's /api/job family.
#pragma once

#include <functional>
#include <string>

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
  /// Who is calling. Until authentication lands (with its modes), the server's one local user.
  std::function<std::string(const http::Request&)> caller;
  /// The executor's name and what it has, for /healthz.
  std::string executor_status_json = "{}";
};

/// Registers every gateway route on `router` (docs/gateway-api.md).
void RegisterGatewayRoutes(http::Router& router, GatewayApi& api);

}  // namespace mltf::gateway::api
