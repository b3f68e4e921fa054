// server_command.hpp - `mltf server`: wires configuration, stores, services and routes.
#pragma once

#include "config/config.hpp"

namespace mltf::cli {

/// Runs the server until SIGINT/SIGTERM. Returns the process exit code.
int RunServer(const config::ServerConfig& config);

}  // namespace mltf::cli
