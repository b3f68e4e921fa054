// registry_routes.hpp - registers MLflow's model registry endpoints (ModelRegistryService).
#pragma once

#include "http/router.hpp"
#include "registry/registry_service.hpp"

namespace mltf::registry::api {

/// Adds the 21 registry endpoints under /api/2.0/mlflow and /ajax-api/2.0/mlflow. `service` must
/// outlive the router. Does not fail.
void RegisterRegistryRoutes(http::Router& router, RegistryService& service);

}  // namespace mltf::registry::api
