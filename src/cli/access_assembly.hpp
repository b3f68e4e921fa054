// access_assembly.hpp - who may call the server: the authenticator of the configured auth mode
// (none, tokens, oidc), built at start-up.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "auth/api_token_service.hpp"
#include "auth/oidc_provider.hpp"
#include "common/error.hpp"
#include "config/config.hpp"
#include "gateway/tasks/task_credentials.hpp"
#include "http/authenticator.hpp"
#include "http/router.hpp"

namespace mltf::cli {

/// The user everything belongs to in mode `none`: the local-user setting, else the operating
/// system's user running the server.
std::string LocalUser(const config::ServerConfig& config);

class Access {
 public:
  /// Mode oidc reads the provider's discovery document now and fails when it cannot (the
  /// operator sees at once that the issuer is wrong or unreachable); its keys are fetched on
  /// first use. `tokens` must outlive the result.
  static Result<std::unique_ptr<Access>> Start(const config::ServerConfig& config,
                                               auth::ApiTokenService& tokens);

  [[nodiscard]] const http::Authenticator* authenticator() const { return authenticator_.get(); }
  /// Tasks' own tokens; null in mode none.
  [[nodiscard]] gateway::tasks::TaskCredentials* task_credentials() const {
    return task_credentials_.get();
  }
  /// Registers GET /api/config (and /.config, the existing client's name for it): the auth
  /// mode and, in mode oidc, the provider a client logs in with; GET /api/mltf/v1/whoami, the
  /// caller as the server sees them (user, groups, admin); and in modes tokens and oidc
  /// POST /api/mltf/v1/task-token/renew, through which a runner keeps its task's token alive.
  /// Must outlive the router.
  void RegisterRoutes(http::Router& router);
  /// The OpenID provider, in mode oidc.
  [[nodiscard]] const std::optional<auth::ProviderMetadata>& provider() const { return provider_; }

 private:
  Access() = default;

  std::string mode_;
  std::string client_id_;
  std::optional<auth::ProviderMetadata> provider_;
  std::unique_ptr<auth::ProviderKeys> keys_;  // used by the authenticator: declared before it
  std::unique_ptr<http::Authenticator> authenticator_;
  auth::ApiTokenService* tokens_ = nullptr;
  std::chrono::seconds task_token_lifetime_{3600};
  std::unique_ptr<gateway::tasks::TaskCredentials> task_credentials_;
};

}  // namespace mltf::cli
