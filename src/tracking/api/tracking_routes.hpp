// tracking_routes.hpp - registers MLflow's tracking endpoints (experiments, runs, metrics).
#pragma once

#include "http/router.hpp"
#include "tracking/tracking_service.hpp"

namespace mltf::tracking::api {

/// Adds every tracking endpoint under /api/2.0/mlflow and /ajax-api/2.0/mlflow. `service` must
/// outlive the router.
void RegisterExperimentRoutes(http::Router& router, TrackingService& service);
void RegisterRunRoutes(http::Router& router, TrackingService& service);
void RegisterMetricRoutes(http::Router& router, TrackingService& service);

inline void RegisterTrackingRoutes(http::Router& router, TrackingService& service) {
  RegisterExperimentRoutes(router, service);
  RegisterRunRoutes(router, service);
  RegisterMetricRoutes(router, service);
}

}  // namespace mltf::tracking::api
