// admin_commands.hpp - `mltf admin`: the operator's commands for users and API tokens. They
// work on the server's database directly (on the server's host, beside a running server), the
// way `mlflow db upgrade` does, so the first admin exists before anyone can call the server.
//
//   mltf admin user add NAME [--admin] [--group G]...
//   mltf admin user list
//   mltf admin token create --user NAME [--name TEXT] [--expires 90d|12h|never]
//   mltf admin token list --user NAME
//   mltf admin token revoke TOKEN_ID
//
// Each takes the server's --config, --data-dir and --backend-store-uri to find the database.
// `token create` prints the token alone on stdout (for `export MLTF_TOKEN=$(...)`), and what
// it is on stderr; the token is shown this once and never stored.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace CLI {  // NOLINT(readability-identifier-naming)
class App;
}  // namespace CLI

namespace mltf::cli {

/// Where CLI11 stores the admin subcommands' flags; create it, pass it on, and keep it alive
/// until RunAdminCommands() returned.
struct AdminCommandState {
  std::string config_file;
  std::string data_dir;
  std::string backend_store_uri;
  std::string user;
  bool admin = false;
  std::vector<std::string> groups;
  std::string token_name = "api";
  std::string expires = "90d";
  std::string token_id;

  CLI::App* user_add = nullptr;
  CLI::App* user_list = nullptr;
  CLI::App* token_create = nullptr;
  CLI::App* token_list = nullptr;
  CLI::App* token_revoke = nullptr;
};

void AddAdminCommands(CLI::App& app, AdminCommandState& state);

/// Runs the admin subcommand that was parsed and returns its exit code (0 done, 1 refused or
/// failed, 2 usage error); nullopt when none was parsed.
std::optional<int> RunAdminCommands(const AdminCommandState& state);

/// Parses a token lifetime: "<n>s", "<n>m", "<n>h", "<n>d" (n > 0, at most ten years), or
/// "never" (nullopt inside). Fails with INVALID_PARAMETER_VALUE.
struct Lifetime {
  std::optional<std::int64_t> milliseconds;
};
std::optional<Lifetime> ParseLifetime(const std::string& text);

}  // namespace mltf::cli
