// gateway_assembly.hpp - the gateway's parts, built from the configuration in dependency order.
#pragma once

#include <memory>
#include <string>

#include "common/error.hpp"
#include "config/config.hpp"
#include "gateway/api/gateway_routes.hpp"
#include "gateway/api/log_follower.hpp"
#include "gateway/executors/executor.hpp"
#include "gateway/projects/project_store.hpp"
#include "gateway/tasks/sql_task_store.hpp"
#include "gateway/tasks/task_service.hpp"
#include "http/router.hpp"
#include "tracking/store/sql/database.hpp"
#include "tracking/tracking_service.hpp"

namespace mltf::cli {

/// Projects, the task store and service, the executor (local or SLURM) and the log follower.
/// Members are declared in dependency order, so they are destroyed in reverse.
class Gateway {
 public:
  /// Builds every part, reconciles the stored tasks, and registers the routes on `router`.
  /// `port` is the one the server listens on (for the runners' tracking URI); `credentials`
  /// gives attempts their own tokens and `policy` decides who may submit into which experiment
  /// (both null when the server authenticates nobody).
  static Result<std::unique_ptr<Gateway>> Start(const config::ServerConfig& config,
                                                std::uint16_t port,
                                                tracking::store::sql::Database& database,
                                                tracking::TrackingService& tracking,
                                                gateway::tasks::TaskCredentials* credentials,
                                                auth::AccessPolicy* policy, http::Router& router);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  /// Stops answering log followers, the task service and the executor (its runners get SIGTERM
  /// and their grace period). Call once the HTTP server stopped taking requests.
  void Stop();

 private:
  Gateway() = default;

  std::unique_ptr<gateway::projects::ProjectStore> projects_;
  std::unique_ptr<gateway::executors::Executor> executor_;
  std::unique_ptr<gateway::tasks::SqlTaskStore> task_store_;
  std::unique_ptr<gateway::tasks::TaskService> tasks_;
  std::unique_ptr<gateway::api::LogFollower> logs_;
  std::unique_ptr<gateway::api::GatewayApi> api_;
};

}  // namespace mltf::cli
