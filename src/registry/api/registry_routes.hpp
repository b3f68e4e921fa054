// registry_routes.hpp - registers MLflow's model registry endpoints (ModelRegistryService).
#pragma once

#include "auth/access_policy.hpp"
#include "http/router.hpp"
#include "registry/registry_service.hpp"

namespace mltf::registry::api {

/// Adds the 21 registry endpoints under /api/2.0/mlflow and /ajax-api/2.0/mlflow. `service` must
/// outlive the router. With a `policy` (auth on), each checks the caller's permission on the
/// registered model it names, creators get MANAGE, grants follow renames and die with deletes,
/// and searches see only readable models. Does not fail.
void RegisterRegistryRoutes(http::Router& router, RegistryService& service,
                            auth::AccessPolicy* policy = nullptr);

}  // namespace mltf::registry::api
