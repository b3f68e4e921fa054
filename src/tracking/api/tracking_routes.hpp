// tracking_routes.hpp - registers MLflow's tracking endpoints (experiments, runs, metrics).
#pragma once

#include "auth/access_policy.hpp"
#include "http/router.hpp"
#include "tracking/tracking_service.hpp"

namespace mltf::tracking::api {

/// Adds every tracking endpoint under /api/2.0/mlflow and /ajax-api/2.0/mlflow. `service` must
/// outlive the router. With a `policy` (auth on), every endpoint checks the caller's permission
/// before it acts, and searches see only what the caller may read; without one, nothing is
/// checked (auth mode none: one local user). The policy must outlive the router.
void RegisterExperimentRoutes(http::Router& router, TrackingService& service,
                              auth::AccessPolicy* policy);
void RegisterRunRoutes(http::Router& router, TrackingService& service, auth::AccessPolicy* policy);
void RegisterMetricRoutes(http::Router& router, TrackingService& service,
                          auth::AccessPolicy* policy);

inline void RegisterTrackingRoutes(http::Router& router, TrackingService& service,
                                   auth::AccessPolicy* policy = nullptr) {
  RegisterExperimentRoutes(router, service, policy);
  RegisterRunRoutes(router, service, policy);
  RegisterMetricRoutes(router, service, policy);
}

}  // namespace mltf::tracking::api
