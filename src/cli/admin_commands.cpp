// admin_commands.cpp - users and API tokens, straight on the database.
#include "cli/admin_commands.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <filesystem>
#include <iostream>

#include "auth/api_token_service.hpp"
#include "auth/identity_store.hpp"
#include "cli/server_command.hpp"
#include "common/ids.hpp"
#include "config/config.hpp"

namespace mltf::cli {
namespace {

constexpr int kFailedExit = 1;
constexpr int kUsageExit = 2;
constexpr std::int64_t kMaxLifetimeMs = 10LL * 365 * 24 * 3600 * 1000;

void AddDatabaseFlags(CLI::App& command, AdminCommandState& state) {
  command.add_option("--config", state.config_file, "the server's YAML configuration file")
      ->envname("MLTF_CONFIG");
  command.add_option("--data-dir", state.data_dir, "the server's data directory");
  command.add_option("--backend-store-uri", state.backend_store_uri, "the server's database");
}

std::string TimeText(std::int64_t ms) {
  return fmt::format("{:%Y-%m-%d %H:%M}", fmt::gmtime(static_cast<std::time_t>(ms / 1000)));
}

int Run(const AdminCommandState& state, auth::IdentityStore& store) {
  if (state.user_add->parsed()) {
    auto added = store.AddUser({.user = state.user,
                                .admin = state.admin,
                                .groups = state.groups,
                                .created_at = NowMillis()});
    if (!added) {
      std::cerr << "mltf admin user add: " << added.error().message << "\n";
      return kFailedExit;
    }
    std::cerr << fmt::format("added user {}{}\n", state.user, state.admin ? " (admin)" : "");
    return 0;
  }
  if (state.user_list->parsed()) {
    auto users = store.ListUsers();
    if (!users) {
      std::cerr << "mltf admin user list: " << users.error().message << "\n";
      return kFailedExit;
    }
    std::cout << fmt::format("{:<24} {:<6} {}\n", "USER", "ADMIN", "GROUPS");
    for (const auto& user : *users) {
      std::cout << fmt::format("{:<24} {:<6} {}\n", user.user, user.admin ? "yes" : "no",
                               fmt::join(user.groups, ","));
    }
    return 0;
  }
  auth::ApiTokenService tokens(store);
  if (state.token_create->parsed()) {
    auto lifetime = ParseLifetime(state.expires);
    if (!lifetime) {
      std::cerr << "mltf admin token create: --expires must be like 90d, 12h, 30m, 3600s or "
                   "never\n";
      return kUsageExit;
    }
    std::optional<std::int64_t> expires_at;
    if (lifetime->milliseconds) expires_at = NowMillis() + *lifetime->milliseconds;
    auto issued = tokens.Issue(state.user, state.token_name, expires_at);
    if (!issued) {
      std::cerr << "mltf admin token create: " << issued.error().message << "\n";
      return kFailedExit;
    }
    std::cerr << fmt::format("token {} for {} ({}), {}\n", issued->record.token_id, state.user,
                             state.token_name,
                             expires_at ? "expires " + TimeText(*expires_at) + " UTC"
                                        : std::string("valid until revoked"));
    std::cout << issued->token << "\n";
    return 0;
  }
  if (state.token_list->parsed()) {
    auto listed = store.ListTokens(state.user, false);
    if (!listed) {
      std::cerr << "mltf admin token list: " << listed.error().message << "\n";
      return kFailedExit;
    }
    std::cout << fmt::format("{:<18} {:<20} {:<18} {:<18} {}\n", "TOKEN", "NAME", "CREATED",
                             "EXPIRES", "STATE");
    const std::int64_t now = NowMillis();
    for (const auto& token : *listed) {
      std::string state_text = token.revoked_at                               ? "revoked"
                               : token.expires_at && *token.expires_at <= now ? "expired"
                                                                              : "valid";
      std::cout << fmt::format("{:<18} {:<20} {:<18} {:<18} {}\n", token.token_id, token.name,
                               TimeText(token.created_at),
                               token.expires_at ? TimeText(*token.expires_at) : "never",
                               state_text);
    }
    return 0;
  }
  if (state.token_revoke->parsed()) {
    if (auto revoked = tokens.Revoke(state.token_id); !revoked) {
      std::cerr << "mltf admin token revoke: " << revoked.error().message << "\n";
      return kFailedExit;
    }
    std::cerr << fmt::format("revoked token {}\n", state.token_id);
    return 0;
  }
  return kUsageExit;
}

}  // namespace

std::optional<Lifetime> ParseLifetime(const std::string& text) {
  if (text == "never") return Lifetime{};
  if (text.size() < 2) return std::nullopt;
  std::int64_t count = 0;
  const char* end = text.data() + text.size() - 1;
  auto [stop, ec] = std::from_chars(text.data(), end, count);
  if (ec != std::errc{} || stop != end || count <= 0) return std::nullopt;
  std::int64_t unit_ms = 0;
  switch (text.back()) {
    case 's':
      unit_ms = 1000;
      break;
    case 'm':
      unit_ms = 60'000;
      break;
    case 'h':
      unit_ms = 3'600'000;
      break;
    case 'd':
      unit_ms = 86'400'000;
      break;
    default:
      return std::nullopt;
  }
  if (count > kMaxLifetimeMs / unit_ms) return std::nullopt;
  return Lifetime{count * unit_ms};
}

void AddAdminCommands(CLI::App& app, AdminCommandState& state) {
  auto* admin = app.add_subcommand("admin", "Manage users and API tokens (on the server's host)");
  admin->require_subcommand(1);
  auto* user = admin->add_subcommand("user", "Users of modes tokens and oidc");
  user->require_subcommand(1);
  state.user_add = user->add_subcommand("add", "Add a user");
  state.user_add->add_option("name", state.user, "the user's name")->required();
  state.user_add->add_flag("--admin", state.admin, "may see and manage everything");
  state.user_add->add_option("--group", state.groups, "a group the user belongs to (repeatable)");
  state.user_list = user->add_subcommand("list", "List the users");
  auto* token = admin->add_subcommand("token", "API tokens");
  token->require_subcommand(1);
  state.token_create = token->add_subcommand("create", "Issue a token (printed once)");
  state.token_create->add_option("--user", state.user, "whose token it is")->required();
  state.token_create->add_option("--name", state.token_name, "what it is for");
  state.token_create->add_option("--expires", state.expires,
                                 "lifetime: 90d, 12h, 30m, 3600s or never (default 90d)");
  state.token_list = token->add_subcommand("list", "List a user's tokens");
  state.token_list->add_option("--user", state.user, "whose tokens")->required();
  state.token_revoke = token->add_subcommand("revoke", "Revoke a token at once");
  state.token_revoke->add_option("token_id", state.token_id, "the token's id (from list)")
      ->required();
  for (CLI::App* command : {state.user_add, state.user_list, state.token_create, state.token_list,
                            state.token_revoke}) {
    AddDatabaseFlags(*command, state);
  }
}

std::optional<int> RunAdminCommands(const AdminCommandState& state) {
  const bool parsed = state.user_add->parsed() || state.user_list->parsed() ||
                      state.token_create->parsed() || state.token_list->parsed() ||
                      state.token_revoke->parsed();
  if (!parsed) return std::nullopt;
  config::FlagValues flags;
  if (!state.data_dir.empty()) flags["data-dir"] = state.data_dir;
  if (!state.backend_store_uri.empty()) flags["backend-store-uri"] = state.backend_store_uri;
  auto config = config::LoadServerConfig(state.config_file, flags);
  if (!config) {
    std::cerr << "mltf admin: " << config.error().message << "\n";
    return kUsageExit;
  }
  // The first admin is usually added before the server first ran.
  std::error_code ec;
  std::filesystem::create_directories(config->data_dir, ec);
  auto database = OpenDatabase(*config);
  if (!database) {
    std::cerr << "mltf admin: cannot open the database: " << database.error().message << "\n";
    return kFailedExit;
  }
  auth::IdentityStore store(**database);
  const int code = Run(state, store);
  (*database)->Close();
  return code;
}

}  // namespace mltf::cli
