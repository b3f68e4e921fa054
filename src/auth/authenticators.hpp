// authenticators.hpp - the server's answers to "who is calling", one per auth mode:
//   none    every caller is the one local user (the embedded default; bind to 127.0.0.1);
//   tokens  API tokens the server issued, as `Authorization: Bearer <token>`, or as the
//           password of basic auth (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD);
//   oidc    bearer JWTs from the OpenID provider, and the server's own API tokens (tasks'
//           tokens, tokens for CI).
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>

#include "auth/api_token_service.hpp"
#include "auth/jwt.hpp"
#include "auth/oidc_provider.hpp"
#include "auth/verified_token_cache.hpp"
#include "http/authenticator.hpp"

namespace mltf::auth {

/// Mode `none`: everyone is `user`, with every right.
class LocalAuthenticator final : public http::Authenticator {
 public:
  explicit LocalAuthenticator(std::string user);
  Result<std::shared_ptr<const Identity>> Authenticate(const http::Request&) const override;
  std::string Challenge() const override;

 private:
  std::shared_ptr<const Identity> identity_;
};

/// The OpenID provider's tokens: its keys, and what a token must satisfy.
struct OidcVerification {
  ProviderKeys* keys = nullptr;  ///< not owned
  JwtPolicy policy;
};

struct CredentialAuthenticatorOptions {
  /// Users with every right besides those the identity store marks admin.
  std::set<std::string> admin_users;
  /// Members of this group (from the provider's groups claim) are admins; empty: none.
  std::string admin_group;
  /// Set in mode `oidc`.
  std::optional<OidcVerification> oidc;
};

/// Modes `tokens` and `oidc`.
class CredentialAuthenticator final : public http::Authenticator {
 public:
  CredentialAuthenticator(ApiTokenService& tokens, CredentialAuthenticatorOptions options);
  Result<std::shared_ptr<const Identity>> Authenticate(const http::Request& request) const override;
  std::string Challenge() const override;

  /// The credential of an `Authorization` header value: a bearer token, or a basic-auth
  /// password with its user name. Fails with UNAUTHENTICATED on another scheme or a malformed
  /// value. Does not throw.
  struct Credential {
    std::string secret;
    std::optional<std::string> basic_user;
  };
  static Result<Credential> ParseAuthorization(std::string_view header);

 private:
  Result<std::shared_ptr<const Identity>> VerifyJwtCredential(std::string_view token) const;

  ApiTokenService& tokens_;
  CredentialAuthenticatorOptions options_;
  // An RS256 check costs more than the rest of a small request (bench/README.md).
  mutable VerifiedTokenCache verified_jwts_;
};

}  // namespace mltf::auth
