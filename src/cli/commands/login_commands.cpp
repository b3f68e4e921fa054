// login_commands.cpp - login, logout, auth-status and `token env`: the server's auth mode from
// /api/config, the device flow or a pasted API token, the whoami check, and the credential file.
#include "cli/commands/login_commands.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "client/http_client.hpp"
#include "client/server_address.hpp"
#include "client/stored_login.hpp"

namespace mltf::cli {
namespace {

using client::CredentialStore;
using client::HttpClient;
using client::OAuthProvider;
using client::StoredLogin;
using nlohmann::json;

constexpr int kFailedExit = 1;
constexpr int kUsageExit = 2;
constexpr const char* kConfigPath = "/api/config";
constexpr const char* kWhoAmIPath = "/api/mltf/v1/whoami";
constexpr auto kServerTimeout = std::chrono::seconds(30);
// Asked for when the server names no scopes: an identity, and a refresh token.
constexpr const char* kDefaultScopes[] = {"openid", "offline_access"};

/// How the server authenticates, from GET /api/config.
struct ServerAuth {
  std::string mode;  ///< "none", "tokens" or "oidc".
  std::optional<OAuthProvider> provider;
};

/// Who the server sees, from GET /api/mltf/v1/whoami.
struct Caller {
  std::string user;
  std::vector<std::string> groups;
  bool admin = false;
};

Result<ServerAuth> FetchServerAuth(const std::string& server) {
  HttpClient http(server);
  http.SetTimeout(kServerTimeout);
  MLTF_ASSIGN_OR_RETURN(response, http.Get(kConfigPath));
  if (response.status == 404) {
    return Fail(Error::InvalidState(fmt::format(
        "{} does not say how to log in (no {}); is it an MLTF server, and as new as this mltf?",
        client::RedactUrl(server), kConfigPath)));
  }
  MLTF_ASSIGN_OR_RETURN(config, client::ParseJsonResponse(response));
  ServerAuth auth;
  const auto oauth = config.find("oauth_config");
  const bool has_provider = oauth != config.end() && oauth->is_object();
  auth.mode = client::JsonString(config, "auth");
  // Servers from before modes existed name none; they advertise a provider or need nothing.
  if (auth.mode.empty()) auth.mode = has_provider ? "oidc" : "none";
  if (has_provider) {
    OAuthProvider provider{
        .issuer = client::JsonString(*oauth, "issuer"),
        .client_id = client::JsonString(*oauth, "client_id"),
        .device_authorization_url = client::JsonString(*oauth, "device_authorization_url"),
        .token_url = client::JsonString(*oauth, "token_url"),
        .revocation_url = client::JsonString(*oauth, "revocation_url"),
        .scopes = {}};
    if (const auto scopes = oauth->find("scopes"); scopes != oauth->end() && scopes->is_array()) {
      for (const auto& scope : *scopes) {
        if (scope.is_string()) provider.scopes.push_back(scope.get<std::string>());
      }
    }
    if (provider.scopes.empty()) {
      provider.scopes.assign(std::begin(kDefaultScopes), std::end(kDefaultScopes));
    }
    auth.provider = std::move(provider);
  }
  return auth;
}

// `text` with `secret` masked: a server's message is quoted, and must not echo the token.
std::string Masked(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
    text.replace(at, secret.size(), "***");
  }
  return text;
}

Result<Caller> WhoAmI(const std::string& server, const std::string& token) {
  HttpClient http(server, token);
  http.SetTimeout(kServerTimeout);
  auto response = http.Get(kWhoAmIPath);
  Result<json> answer = response ? client::ParseJsonResponse(*response)
                                 : Result<json>(Fail(std::move(response).error()));
  if (!answer) {
    Error error = std::move(answer).error();
    error.message = Masked(std::move(error.message), token);
    if (error.code == ErrorCode::ENDPOINT_NOT_FOUND) {
      error.message = fmt::format(
          "{} cannot say who a credential belongs to (no {}); it is older than this mltf",
          client::RedactUrl(server), kWhoAmIPath);
    } else if (error.code == ErrorCode::UNAUTHENTICATED ||
               error.code == ErrorCode::PERMISSION_DENIED) {
      error.message =
          fmt::format("{} refused the credential: {}", client::RedactUrl(server), error.message);
    }
    return Fail(std::move(error));
  }
  Caller identity;
  identity.user = client::JsonString(*answer, "user");
  if (const auto groups = answer->find("groups"); groups != answer->end() && groups->is_array()) {
    for (const auto& group : *groups) {
      if (group.is_string()) identity.groups.push_back(group.get<std::string>());
    }
  }
  if (const auto admin = answer->find("admin"); admin != answer->end() && admin->is_boolean()) {
    identity.admin = admin->get<bool>();
  }
  if (identity.user.empty()) {
    return Fail(Error::Internal(
        fmt::format("{} answered {} without a user", client::RedactUrl(server), kWhoAmIPath)));
  }
  return identity;
}

// "alice (cms, admin)", with control bytes blanked: the names come from the server.
std::string DescribeIdentity(const Caller& identity) {
  std::vector<std::string> roles = identity.groups;
  if (identity.admin) roles.emplace_back("admin");
  std::string text =
      roles.empty() ? identity.user : fmt::format("{} ({})", identity.user, fmt::join(roles, ", "));
  for (char& c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) c = ' ';
  }
  return text;
}

std::string UtcTime(std::int64_t unix_seconds) {
  const auto time = static_cast<std::time_t>(unix_seconds);
  std::tm parts{};
  gmtime_r(&time, &parts);
  char text[32];
  const std::size_t length = std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S UTC", &parts);
  return std::string(text, length);
}

std::string Duration(std::int64_t seconds) {
  if (seconds < 120) return fmt::format("{} s", seconds);
  if (seconds < std::int64_t{2} * 3600) return fmt::format("{} min", seconds / 60);
  if (seconds < std::int64_t{2} * 86400) return fmt::format("{} h", seconds / 3600);
  return fmt::format("{} days", seconds / 86400);
}

/// One run of one command: its name for messages, its streams and clock, and the server.
class Command {
 public:
  Command(std::string name, const LoginCommandState& state, std::istream& in, std::ostream& out,
          std::ostream& err, const client::OAuthClock& clock)
      : name_(std::move(name)), state_(state), in_(in), out_(out), err_(err), clock_(clock) {}

  const LoginCommandState& state() const { return state_; }
  std::istream& in() { return in_; }
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }
  const client::OAuthClock& clock() const { return clock_; }

  int Usage(const std::string& message) {
    err_ << "mltf " << name_ << ": " << message << "\n";
    return kUsageExit;
  }
  int Failed(const std::string& message) {
    err_ << "mltf " << name_ << ": " << message << "\n";
    return kFailedExit;
  }
  int Failed(const Error& error) { return Failed(error.message); }
  void Warn(std::string_view message) { err_ << "mltf: warning: " << message << "\n"; }
  /// Says when a token in the environment takes precedence over the stored login.
  void NoteEnvironmentToken() {
    for (const char* name : {"MLTF_TOKEN", "MLFLOW_TRACKING_TOKEN"}) {
      const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): no threads here.
      if (value != nullptr && *value != '\0') {
        err_ << fmt::format("mltf {}: note: {} is set, and mltf uses it before any stored login\n",
                            name_, name);
        return;
      }
    }
  }

  /// Resolves --server; a bad address is a usage error (returns false).
  bool ResolveServer(int& exit_code) {
    auto server = client::ResolveServer(state_.server);
    if (!server) {
      exit_code = Usage(server.error().message);
      return false;
    }
    server_ = std::move(*server);
    return true;
  }
  const std::string& server() const { return server_; }
  /// The server for messages, without any user:password in it.
  std::string shown_server() const { return client::RedactUrl(server_); }

  /// The user's credential file, its warnings on this command's stderr.
  Result<CredentialStore> Store() {
    return CredentialStore::ForCurrentUser([this](std::string_view message) { Warn(message); });
  }

  /// The credential for the server as every subcommand finds it, refreshed when needed.
  Result<client::ResolvedCredential> Credential() {
    auto store = Store();
    // Without a home directory only the environment can hold one.
    if (!store) return client::ResolveCredential(server_);
    return client::ResolveCredential(server_, *store, clock_.now());
  }

 private:
  std::string name_;
  const LoginCommandState& state_;
  std::istream& in_;
  std::ostream& out_;
  std::ostream& err_;
  const client::OAuthClock& clock_;
  std::string server_;
};

// The token piped to `login --with-token`: the first line, without surrounding blanks.
std::string ReadPipedToken(std::istream& in) {
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  auto blank = [](unsigned char c) { return std::isspace(c) != 0; };
  const auto begin = std::find_if_not(text.begin(), text.end(), blank);
  const auto end = std::find_if(begin, text.end(), blank);
  return std::string(begin, end);
}

int LoginWithToken(Command& command) {
  const std::string token = ReadPipedToken(command.in());
  if (token.empty()) {
    return command.Usage(
        "--with-token reads the token from standard input, which was empty; e.g. "
        "`mltf login --with-token < token.txt`");
  }
  auto identity = WhoAmI(command.server(), token);
  if (!identity) return command.Failed(identity.error());
  auto store = command.Store();
  if (!store) return command.Failed(store.error());
  StoredLogin login;
  login.kind = "token";
  login.access_token = token;
  login.user = identity->user;
  if (auto saved = store->Save(command.server(), login); !saved) {
    return command.Failed(saved.error());
  }
  command.out() << fmt::format("Logged in to {} as {}\n", command.shown_server(),
                               DescribeIdentity(*identity));
  command.NoteEnvironmentToken();
  return 0;
}

int LoginWithDeviceFlow(Command& command, const OAuthProvider& provider) {
  // Found out before the user goes through the browser, not after.
  auto store = command.Store();
  if (!store) return command.Failed(store.error());
  auto show = [&command](const client::DeviceVerification& verification) {
    command.out() << fmt::format("To log in to {}, open {} and enter the code {}\n",
                                 command.shown_server(), verification.verification_uri,
                                 verification.user_code);
    if (!verification.verification_uri_complete.empty()) {
      command.out() << fmt::format("(or open {})\n", verification.verification_uri_complete);
    }
    // Someone may read this from a pipe while the command waits.
    command.out() << std::flush;
    command.err() << fmt::format("Waiting for the login to be approved (the code expires in {})\n",
                                 Duration(verification.expires_in))
                  << std::flush;
  };
  auto grant = client::RunDeviceFlow(provider, show, command.clock());
  if (!grant) return command.Failed(grant.error());
  auto identity = WhoAmI(command.server(), grant->access_token);
  if (!identity) return command.Failed(identity.error());
  StoredLogin login{.kind = "oidc",
                    .issuer = provider.issuer,
                    .client_id = provider.client_id,
                    .token_url = provider.token_url,
                    .revocation_url = provider.revocation_url,
                    .access_token = grant->access_token,
                    .access_expires_at = grant->expires_at,
                    .refresh_token = grant->refresh_token,
                    .user = identity->user};
  if (auto saved = store->Save(command.server(), login); !saved) {
    return command.Failed(saved.error());
  }
  command.out() << fmt::format("Logged in to {} as {}\n", command.shown_server(),
                               DescribeIdentity(*identity));
  if (grant->refresh_token.empty()) {
    command.err() << "mltf login: the provider issued no refresh token, so you will have to log "
                     "in again when this one expires\n";
  }
  command.NoteEnvironmentToken();
  return 0;
}

int RunLogin(Command& command) {
  int exit_code = 0;
  if (!command.ResolveServer(exit_code)) return exit_code;
  auto auth = FetchServerAuth(command.server());
  if (!auth) return command.Failed(auth.error());
  if (auth->mode == "none") {
    command.out() << fmt::format("{} needs no login\n", command.shown_server());
    return 0;
  }
  if (command.state().with_token) return LoginWithToken(command);
  if (auth->mode == "tokens") {
    return command.Usage(fmt::format(
        "{} uses API tokens, not an OpenID provider. Your administrator issues you one with "
        "`mltf admin token create`; store it with `mltf login --with-token < token.txt` (or set "
        "MLTF_TOKEN)",
        command.shown_server()));
  }
  if (auth->mode != "oidc") {
    return command.Failed(
        fmt::format("{} uses the auth mode '{}', which this mltf does not know; use a newer mltf",
                    command.shown_server(), auth->mode));
  }
  if (!auth->provider) {
    return command.Failed(
        fmt::format("{} is in mode oidc but advertises no OpenID provider at {}; ask its operator",
                    command.shown_server(), kConfigPath));
  }
  return LoginWithDeviceFlow(command, *auth->provider);
}

int RunLogout(Command& command) {
  int exit_code = 0;
  if (!command.ResolveServer(exit_code)) return exit_code;
  auto store = command.Store();
  if (!store) return command.Failed(store.error());
  auto removed = store->Remove(command.server());
  if (!removed) return command.Failed(removed.error());
  command.NoteEnvironmentToken();
  if (!*removed) {
    command.out() << fmt::format("Not logged in to {}\n", command.shown_server());
    return 0;
  }
  const StoredLogin& login = **removed;
  command.out() << fmt::format("Logged out of {}\n", command.shown_server());
  if (login.kind == "token") {
    command.err() << "mltf logout: the API token itself stays valid until an administrator "
                     "revokes it (`mltf admin token revoke`)\n";
  } else if (!login.refresh_token.empty() && !login.revocation_url.empty()) {
    // Best effort: the login is forgotten here whatever the provider says.
    if (auto revoked =
            client::RevokeRefreshToken(login.revocation_url, login.client_id, login.refresh_token);
        !revoked) {
      command.Warn(fmt::format("the provider did not confirm revoking the login: {}",
                               revoked.error().message));
    }
  } else if (!login.refresh_token.empty()) {
    command.err() << "mltf logout: the provider offers no revocation, so the login stays valid "
                     "there until it expires\n";
  }
  return 0;
}

int RunAuthStatus(Command& command) {
  int exit_code = 0;
  if (!command.ResolveServer(exit_code)) return exit_code;
  command.out() << fmt::format("Server:       {}\n", command.shown_server());
  auto auth = FetchServerAuth(command.server());
  if (!auth) return command.Failed(auth.error());
  if (auth->provider && !auth->provider->issuer.empty()) {
    command.out() << fmt::format("Auth mode:    {} (provider {})\n", auth->mode,
                                 auth->provider->issuer);
  } else {
    command.out() << fmt::format("Auth mode:    {}\n", auth->mode);
  }
  if (auth->mode == "none") {
    command.out() << "Login:        none needed\n";
    return 0;
  }
  const std::int64_t now = command.clock().now();
  auto credential = command.Credential();
  if (!credential) return command.Failed(credential.error());
  if (credential->token.empty()) {
    command.out() << "Credential:   none\n";
    return command.Failed(
        fmt::format("not logged in to {}; run `mltf login`", command.shown_server()));
  }
  if (credential->login) {
    command.out() << fmt::format("Credential:   stored login in {}\n", credential->source);
    const StoredLogin& login = *credential->login;
    if (login.kind == "token") {
      command.out() << "Token:        API token (from `mltf login --with-token`; not refreshed)\n";
    } else {
      const std::string renewal = login.refresh_token.empty()
                                      ? "no refresh token: run `mltf login` when it expires"
                                      : "refreshed automatically";
      if (login.access_expires_at == 0) {
        command.out() << fmt::format("Access token: expiry not given; {}\n", renewal);
      } else {
        command.out() << fmt::format(
            "Access token: expires {} (in {}); {}\n", UtcTime(login.access_expires_at),
            Duration(std::max<std::int64_t>(login.access_expires_at - now, 0)), renewal);
      }
    }
  } else {
    command.out() << fmt::format("Credential:   environment variable {}\n", credential->source);
  }
  auto identity = WhoAmI(command.server(), credential->token);
  if (!identity) return command.Failed(identity.error());
  command.out() << fmt::format("Logged in as: {}\n", DescribeIdentity(*identity));
  return 0;
}

int RunTokenEnv(Command& command) {
  int exit_code = 0;
  if (!command.ResolveServer(exit_code)) return exit_code;
  auto credential = command.Credential();
  if (!credential) return command.Failed(credential.error());
  if (credential->token.empty()) {
    return command.Failed(fmt::format("no credential for {}; run `mltf login` (or set MLTF_TOKEN)",
                                      command.shown_server()));
  }
  command.out() << "MLFLOW_TRACKING_URI=" << command.server()
                << " MLFLOW_TRACKING_TOKEN=" << credential->token << "\n"
                << std::flush;
  return 0;
}

void AddServerFlag(CLI::App* command, LoginCommandState& state) {
  command->add_option("--server", state.server,
                      "Server URL (default: $MLTF_SERVER, $MLFLOW_TRACKING_URI, "
                      "http://127.0.0.1:5000)");
}

}  // namespace

void AddLoginCommands(CLI::App& app, LoginCommandState& state) {
  auto* login = app.add_subcommand(
      "login", "Log in to a server (OAuth device flow, or an API token with --with-token)");
  AddServerFlag(login, state);
  login->add_flag("--with-token", state.with_token,
                  "Read an API token from standard input, check it and store it");
  state.login_command = login;

  auto* logout = app.add_subcommand("logout", "Forget (and revoke) the stored login to a server");
  AddServerFlag(logout, state);
  state.logout_command = logout;

  auto* status = app.add_subcommand(
      "auth-status", "Show the server's auth mode, your credential and who the server sees");
  AddServerFlag(status, state);
  state.auth_status_command = status;

  auto* token = app.add_subcommand("token", "Print your credential for other programs");
  token->require_subcommand(1);
  auto* env = token->add_subcommand(
      "env", "Print MLFLOW_TRACKING_URI=... MLFLOW_TRACKING_TOKEN=... for `export $(...)`");
  AddServerFlag(env, state);
  state.token_env_command = env;
}

std::optional<int> RunLoginCommands(const LoginCommandState& state) {
  const auto clock = client::SystemOAuthClock();
  return RunLoginCommands(state, std::cin, std::cout, std::cerr, clock);
}

std::optional<int> RunLoginCommands(const LoginCommandState& state, std::istream& in,
                                    std::ostream& out, std::ostream& err,
                                    const client::OAuthClock& clock) {
  auto parsed = [](const CLI::App* command) { return command != nullptr && command->parsed(); };
  try {
    if (parsed(state.login_command)) {
      Command command("login", state, in, out, err, clock);
      return RunLogin(command);
    }
    if (parsed(state.logout_command)) {
      Command command("logout", state, in, out, err, clock);
      return RunLogout(command);
    }
    if (parsed(state.auth_status_command)) {
      Command command("auth-status", state, in, out, err, clock);
      return RunAuthStatus(command);
    }
    if (parsed(state.token_env_command)) {
      Command command("token env", state, in, out, err, clock);
      return RunTokenEnv(command);
    }
  } catch (const std::exception& error) {
    err << "mltf: unexpected error: " << error.what() << "\n";
    return kFailedExit;
  }
  return std::nullopt;
}

}  // namespace mltf::cli
