// server_command.cpp - start-up in dependency order, shutdown in reverse.
#include "cli/server_command.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "artifacts/api/artifacts_routes.hpp"
#include "artifacts/local_artifact_repository.hpp"
#include "auth/api_token_service.hpp"
#include "auth/identity_store.hpp"
#include "auth/permission_handlers.hpp"
#include "cli/access_assembly.hpp"
#include "cli/gateway_assembly.hpp"
#include "http/server.hpp"
#include "registry/api/registry_routes.hpp"
#include "registry/registry_service.hpp"
#include "registry/store/sql/sql_registry_store.hpp"
#include "tracking/api/tracking_routes.hpp"
#include "tracking/store/sql/sql_tracking_store.hpp"
#include "tracking/store/sqlite/sqlite_connection.hpp"
#include "tracking/tracking_service.hpp"
#include "version.hpp"

namespace mltf::cli {
namespace {

tracking::store::sqlite::Synchronous SynchronousOf(const std::string& name) {
  using tracking::store::sqlite::Synchronous;
  if (name == "off") return Synchronous::OFF;
  if (name == "normal") return Synchronous::NORMAL;
  return Synchronous::FULL;
}

}  // namespace

Result<std::unique_ptr<tracking::store::sql::Database>> OpenDatabase(
    const config::ServerConfig& config) {
  MLTF_ASSIGN_OR_RETURN(sqlite_path, config::SqlitePathOf(config.backend_store_uri));
  tracking::store::sqlite::SqliteOptions sqlite_options{sqlite_path, false,
                                                        SynchronousOf(config.sqlite_synchronous)};
  auto factory =
      [sqlite_options](
          bool read_only) -> Result<std::unique_ptr<tracking::store::sql::SqlConnection>> {
    auto options = sqlite_options;
    options.read_only = read_only;
    MLTF_ASSIGN_OR_RETURN(connection, tracking::store::sqlite::SqliteConnection::Open(options));
    return std::unique_ptr<tracking::store::sql::SqlConnection>(std::move(connection));
  };
  return tracking::store::sql::Database::Open(
      factory, {.max_readers = static_cast<int>(std::min<std::int64_t>(config.workers, 16))});
}

int RunServer(const config::ServerConfig& config) {
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) {
    spdlog::error("cannot create the data directory {}: {}", config.data_dir, ec.message());
    return 1;
  }
  auto sqlite_path = config::SqlitePathOf(config.backend_store_uri);
  if (!sqlite_path) {
    spdlog::error("{}", sqlite_path.error().message);
    return 2;
  }
  auto database = OpenDatabase(config);
  if (!database) {
    spdlog::error("cannot open the tracking store: {}", database.error().message);
    return 1;
  }
  // The registry shares the tracking store's Database (one file, one writer); the tracking
  // store owns it and outlives the registry store, which is destroyed first.
  tracking::store::sql::Database& shared_database = **database;
  auto store = tracking::store::sql::SqlTrackingStore::Open(std::move(*database),
                                                            config.default_artifact_root);
  if (!store) {
    spdlog::error("cannot open the tracking store: {}", store.error().message);
    return 1;
  }
  auto artifacts = artifacts::LocalArtifactRepository::Open(config.artifacts_destination);
  if (!artifacts) {
    spdlog::error("cannot open the artifact destination: {}", artifacts.error().message);
    return 1;
  }

  tracking::TrackingService tracking_service(**store);
  registry::store::sql::SqlRegistryStore registry_store(shared_database);
  registry::RegistryService registry_service(
      registry_store, [&tracking_service](const std::string& run_id) -> Result<std::string> {
        MLTF_ASSIGN_OR_RETURN(run, tracking_service.GetRun(run_id));
        return run.info.artifact_uri;
      });
  artifacts::api::ArtifactLocator locator(**artifacts);

  auth::IdentityStore identity_store(shared_database);
  auth::ApiTokenService api_tokens(identity_store);
  auth::PermissionStore permission_store(shared_database);
  // No policy in mode none: one local user may do everything, and no request pays for checks.
  std::optional<auth::AccessPolicy> access_policy;
  if (config.auth != "none") {
    access_policy.emplace(permission_store,
                          auth::ParsePermission(config.auth_default_permission)
                              .value_or(auth::Permission::NO_PERMISSIONS),
                          [&tracking_service](const std::string& run_id) -> Result<std::string> {
                            MLTF_ASSIGN_OR_RETURN(run, tracking_service.GetRun(run_id));
                            return run.info.experiment_id;
                          });
  }
  auth::AccessPolicy* policy = access_policy ? &*access_policy : nullptr;
  auto access = Access::Start(config, api_tokens);
  if (!access) {
    spdlog::error("cannot set up authentication: {}", access.error().message);
    return 1;
  }

  http::Router router;
  router.Add(http::Method::GET, "/health",
             [](http::Request&) { return http::Response::Text("OK"); });
  router.Add(http::Method::GET, "/version",
             [](http::Request&) { return http::Response::Text(std::string(kVersion)); });
  tracking::api::RegisterTrackingRoutes(router, tracking_service, policy);
  registry::api::RegisterRegistryRoutes(router, registry_service, policy);
  artifacts::api::RegisterArtifactRoutes(router, locator, **artifacts, tracking_service, policy);
  if (policy != nullptr) auth::RegisterPermissionRoutes(router, *policy);
  (*access)->RegisterRoutes(router);
  // What a client needs before it has a credential: is the server up, which version, and how
  // to log in (/api/config and its old name /.config, from Access::RegisterRoutes).
  for (const char* open : {"/health", "/version", "/api/config", "/.config"}) {
    router.AllowAnonymous(open);
  }

  http::ServerOptions options;
  options.host = config.host;
  options.port = static_cast<std::uint16_t>(config.port);
  options.io_threads = static_cast<int>(config.io_threads);
  options.worker_threads = static_cast<int>(config.workers);
  options.access_log = config.access_log;
  options.max_body_bytes = static_cast<std::uint64_t>(config.max_request_body_mb) * 1024 * 1024;
  options.authenticator = (*access)->authenticator();
  http::Server server(options, router);
  if (auto listening = server.Listen(); !listening) {
    spdlog::error("{}", listening.error().message);
    return 1;
  }
  // The gateway is built once the port is known: its runners report to this server.
  auto gateway = Gateway::Start(config, server.port(), shared_database, tracking_service,
                                (*access)->task_credentials(), policy, router);
  if (!gateway) {
    spdlog::error("cannot start the gateway: {}", gateway.error().message);
    return 1;
  }
  spdlog::info("mltf {} listening on http://{}:{} (store {}, artifacts {}, auth {})", kVersion,
               config.host, server.port(), *sqlite_path, config.artifacts_destination, config.auth);
  server.Run();
  (*gateway)->Stop();
  (*store)->Close();
  spdlog::info("stopped cleanly");
  return 0;
}

}  // namespace mltf::cli
