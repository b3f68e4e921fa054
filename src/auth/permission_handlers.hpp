// permission_handlers.hpp - MLflow's auth-app endpoints for permissions, for experiments and
// registered models:
//   POST   /api/2.0/mlflow/experiments/permissions/create  {experiment_id, username, permission}
//   GET    /api/2.0/mlflow/experiments/permissions/get     ?experiment_id=&username=
//   PATCH  /api/2.0/mlflow/experiments/permissions/update  {experiment_id, username, permission}
//   DELETE /api/2.0/mlflow/experiments/permissions/delete  {experiment_id, username}
// and the same under /registered-models/permissions/ with `name`. Besides `username`, a
// request may name `group_name` (an MLTF extension: groups come from the OpenID provider or the
// users' records). Each needs MANAGE on the resource.
#pragma once

#include "auth/access_policy.hpp"
#include "http/router.hpp"

namespace mltf::auth {

/// Registers the endpoints above (also under /ajax-api/2.0). `policy` must outlive the router.
void RegisterPermissionRoutes(http::Router& router, AccessPolicy& policy);

}  // namespace mltf::auth
