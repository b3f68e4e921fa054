// access_assembly.cpp - the authenticator for the configured mode, tasks' own tokens, and the
// two routes of access: the client configuration and the renewal of a task's token.
#include "cli/access_assembly.hpp"

#include <pwd.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <sstream>

#include "auth/authenticators.hpp"
#include "gateway/api/gateway_http.hpp"

namespace mltf::cli {
namespace {

std::set<std::string> CommaSet(const std::string& text) {
  std::set<std::string> items;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) items.insert(item);
  }
  return items;
}

/// Tasks' own tokens are the server's API tokens with a task scope.
class ApiTokenTaskCredentials final : public gateway::tasks::TaskCredentials {
 public:
  ApiTokenTaskCredentials(auth::ApiTokenService& tokens, std::chrono::seconds lifetime)
      : tokens_(tokens), lifetime_(lifetime) {}

  Result<std::string> Issue(const gateway::tasks::Task& task,
                            const std::string& experiment_id) override {
    MLTF_ASSIGN_OR_RETURN(issued, tokens_.IssueForTask(task.user,
                                                       {.task_id = task.task_id,
                                                        .experiment_id = experiment_id,
                                                        .run_id = task.run_id},
                                                       lifetime_));
    return std::move(issued.token);
  }

  void Revoke(const std::string& task_id) override {
    if (auto revoked = tokens_.RevokeTask(task_id); !revoked) {
      spdlog::warn("auth: cannot revoke the tokens of task {}: {}", task_id,
                   revoked.error().message);
    }
  }

  // A third of the lifetime: a renewal may fail twice before the token runs out.
  [[nodiscard]] std::chrono::milliseconds renew_interval() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(lifetime_) / 3;
  }

 private:
  auth::ApiTokenService& tokens_;
  std::chrono::seconds lifetime_;
};

}  // namespace

std::string LocalUser(const config::ServerConfig& config) {
  if (!config.local_user.empty()) return config.local_user;
  if (const passwd* entry = ::getpwuid(::getuid()); entry != nullptr) return entry->pw_name;
  return "local";
}

Result<std::unique_ptr<Access>> Access::Start(const config::ServerConfig& config,
                                              auth::ApiTokenService& tokens) {
  std::unique_ptr<Access> access(new Access());
  access->mode_ = config.auth;
  access->client_id_ = config.oidc_client_id;
  if (config.auth == "none") {
    access->authenticator_ = std::make_unique<auth::LocalAuthenticator>(LocalUser(config));
    return access;
  }
  access->tokens_ = &tokens;
  access->task_token_lifetime_ = std::chrono::seconds(config.task_token_lifetime_seconds);
  access->task_credentials_ =
      std::make_unique<ApiTokenTaskCredentials>(tokens, access->task_token_lifetime_);
  auth::CredentialAuthenticatorOptions options{.admin_users = CommaSet(config.auth_admins),
                                               .admin_group = config.auth_admin_group};
  if (config.auth == "oidc") {
    MLTF_ASSIGN_OR_RETURN(provider,
                          auth::DiscoverProvider(config.oidc_issuer, auth::FetchWithCurl));
    access->keys_ = std::make_unique<auth::ProviderKeys>(provider.jwks_uri, auth::FetchWithCurl);
    if (auto fetched = access->keys_->Prefetch(); !fetched) {
      spdlog::warn("auth: the provider's keys will be fetched on first use: {}",
                   fetched.error().message);
    }
    options.oidc = auth::OidcVerification{.keys = access->keys_.get(),
                                          .policy = {.issuer = config.oidc_issuer,
                                                     .audience = config.oidc_audience,
                                                     .user_claim = config.oidc_user_claim,
                                                     .groups_claim = config.oidc_groups_claim}};
    spdlog::info("auth: OpenID provider {} (keys {})", provider.issuer, provider.jwks_uri);
    access->provider_ = std::move(provider);
  }
  access->authenticator_ =
      std::make_unique<auth::CredentialAuthenticator>(tokens, std::move(options));
  return access;
}

void Access::RegisterRoutes(http::Router& router) {
  // What a client needs before it has a credential. The existing MLTF client reads
  // oauth_config and oauth_issuer; `mltf login` the device authorization endpoint.
  nlohmann::json client_config = {
      {"auth", mode_}, {"oauth_config", nullptr}, {"oauth_issuer", nullptr}};
  if (provider_) {
    client_config["oauth_issuer"] = provider_->issuer;
    client_config["oauth_config"] = {
        {"issuer", provider_->issuer},
        {"client_id", client_id_},
        {"authorize_url", provider_->authorization_endpoint},
        {"token_url", provider_->token_endpoint},
        {"device_authorization_url", provider_->device_authorization_endpoint},
        {"jwks_url", provider_->jwks_uri},
        {"revocation_url", provider_->revocation_endpoint.empty()
                               ? nlohmann::json(nullptr)
                               : nlohmann::json(provider_->revocation_endpoint)},
        {"scopes", {"openid", "profile", "email", "offline_access"}}};
  }
  auto serve_config = [body = client_config.dump()](http::Request&) {
    return http::Response::Json(body);
  };
  router.Add(http::Method::GET, "/api/config", serve_config);
  router.Add(http::Method::GET, "/.config", serve_config);
  // Who the server takes the caller for: `mltf login` and `mltf auth-status` show it.
  router.Add(http::Method::GET, "/api/mltf/v1/whoami", [this](http::Request& request) {
    if (!request.caller) {
      return http::ErrorResponse(Error{ErrorCode::UNAUTHENTICATED, "no credential"});
    }
    const Identity& caller = *request.caller;
    nlohmann::json answer = {
        {"user", caller.user}, {"groups", caller.groups}, {"admin", caller.admin}, {"auth", mode_}};
    if (caller.task) answer["task_id"] = caller.task->task_id;
    return gateway::api::JsonResponse(answer);
  });
  if (tokens_ == nullptr) return;
  router.Add(http::Method::POST, "/api/mltf/v1/task-token/renew", [this](http::Request& request) {
    if (!request.caller || !request.caller->task) {
      return http::ErrorResponse(
          Error{ErrorCode::PERMISSION_DENIED, "only a task's own token can be renewed"});
    }
    auto credential =
        auth::CredentialAuthenticator::ParseAuthorization(request.Header("authorization"));
    if (!credential) return http::ErrorResponse(credential.error());
    auto expires_at = tokens_->Renew(credential->secret, task_token_lifetime_);
    if (!expires_at) return http::ErrorResponse(expires_at.error());
    return gateway::api::JsonResponse({{"expires_at", *expires_at}});
  });
}

}  // namespace mltf::cli
