// login_commands.hpp - the login subcommands of `mltf`: login, logout, auth-status and
// `token env`. They read the server's auth mode at GET /api/config, run the OAuth device flow
// against the provider it names (client/device_login.hpp), check who the server sees at
// GET /api/mltf/v1/whoami, and keep the result in the user's credential file
// (client/stored_login.hpp), from which every other subcommand takes its token.
//
// Use from the main command line, as the task subcommands:
//
//   mltf::cli::LoginCommandState login;        // must outlive app.parse()
//   mltf::cli::AddLoginCommands(app, login);
//   app.parse(argc, argv);
//   if (auto code = mltf::cli::RunLoginCommands(login)) return *code;
//
// Exit codes: 0 success (also "needs no login" and logging out when not logged in), 1 the
// server or provider refused or could not be reached, or auth-status / token env found no
// usable credential, 2 a usage error found after parsing (bad --server, empty --with-token,
// device login asked of a server in mode tokens). Errors go to stderr as
// "mltf <command>: <message>"; no output or message ever contains a token, except the one line
// of `token env`, which exists to print it.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>

#include "client/device_login.hpp"

// CLI11's own namespace, forward-declared to keep CLI11 out of this header.
namespace CLI {  // NOLINT(readability-identifier-naming)
class App;
}  // namespace CLI

namespace mltf::cli {

/// Where CLI11 stores the login subcommands' flags; filled by parsing, read by
/// RunLoginCommands().
struct LoginCommandState {
  std::string server;       ///< --server; empty: MLTF_SERVER, MLFLOW_TRACKING_URI, default.
  bool with_token = false;  ///< login --with-token: read an API token from stdin.

  // The registered subcommands, to tell which one was parsed.
  CLI::App* login_command = nullptr;
  CLI::App* logout_command = nullptr;
  CLI::App* auth_status_command = nullptr;
  CLI::App* token_env_command = nullptr;
};

/// Registers login, logout, auth-status and `token env` on `app`. Does not fail.
void AddLoginCommands(CLI::App& app, LoginCommandState& state);

/// Runs the login subcommand that was parsed and returns its exit code; std::nullopt when
/// none of them was parsed. Reads stdin (--with-token), writes stdout and stderr.
std::optional<int> RunLoginCommands(const LoginCommandState& state);

/// As above with the given streams and clock (for tests: the device flow's waits go through
/// `clock.sleep`).
std::optional<int> RunLoginCommands(const LoginCommandState& state, std::istream& in,
                                    std::ostream& out, std::ostream& err,
                                    const client::OAuthClock& clock);

}  // namespace mltf::cli
