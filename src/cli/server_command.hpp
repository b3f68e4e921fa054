// server_command.hpp - `mltf server`: wires configuration, stores, services and routes.
#pragma once

#include <memory>

#include "common/error.hpp"
#include "config/config.hpp"
#include "tracking/store/sql/database.hpp"

namespace mltf::cli {

/// Runs the server until SIGINT/SIGTERM. Returns the process exit code.
int RunServer(const config::ServerConfig& config);

/// Opens (and migrates) the configured database, as the server does; for the admin commands
/// too, which may run beside a running server (SQLite in WAL mode takes both).
Result<std::unique_ptr<tracking::store::sql::Database>> OpenDatabase(
    const config::ServerConfig& config);

}  // namespace mltf::cli
