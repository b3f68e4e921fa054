// device_login.hpp - the OAuth 2.0 calls of `mltf login` against the server's OpenID provider:
// the device authorization grant (RFC 8628), the refresh grant (RFC 6749 section 6) and token
// revocation (RFC 7009).
//
// The device flow: POST the device authorization endpoint (client_id, scope) and show the user
// the verification URL and user code; then poll the token endpoint with the device code every
// `interval` seconds. authorization_pending means "not yet", slow_down adds 5 s to the
// interval for good, and the flow ends with tokens, a refusal (access_denied), or the device
// code's expiry (expired_token, or its expires_in passed here).
//
// Error messages quote the provider's `error` and `error_description`, never a token, device
// code or response body.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace mltf::client {

/// The provider as the MLTF server advertises it (`oauth_config` of GET /api/config).
struct OAuthProvider {
  std::string issuer;
  std::string client_id;
  std::string device_authorization_url;
  std::string token_url;
  std::string revocation_url;  ///< Empty when not advertised.
  std::vector<std::string> scopes;
};

/// Tokens from the token endpoint.
struct TokenGrant {
  std::string access_token;
  std::string refresh_token;    ///< Empty when the provider issued none.
  std::int64_t expires_at = 0;  ///< Unix seconds; 0 when the provider gave no expires_in.
};

/// What the user must do to approve the login; shown while the flow polls.
struct DeviceVerification {
  std::string verification_uri;
  std::string verification_uri_complete;  ///< Empty when the provider gives none.
  std::string user_code;
  std::int64_t expires_in = 0;  ///< Seconds the code stays valid.
};

/// Time as the flow sees it, injectable so that tests need not wait.
struct OAuthClock {
  std::function<std::int64_t()> now;  ///< Unix seconds.
  std::function<void(std::chrono::seconds)> sleep;
};

/// The system clock and a real sleep. Does not fail.
OAuthClock SystemOAuthClock();

/// Runs the device flow: `show` is called once with what the user must do, then the token
/// endpoint is polled until the user approves. Fails with UNAUTHENTICATED when the user
/// refused or the code expired (the message says to run `mltf login` again),
/// TEMPORARILY_UNAVAILABLE when the provider stays unreachable, and BAD_REQUEST quoting the
/// provider's error otherwise.
Result<TokenGrant> RunDeviceFlow(const OAuthProvider& provider,
                                 const std::function<void(const DeviceVerification&)>& show,
                                 const OAuthClock& clock);

/// A new access token for `refresh_token`; the result keeps `refresh_token` when the provider
/// does not rotate it. `server` only names the login in messages. Fails with UNAUTHENTICATED
/// ("your login to SERVER has expired or was revoked; run `mltf login`") on invalid_grant,
/// TEMPORARILY_UNAVAILABLE when the provider cannot be reached, BAD_REQUEST otherwise.
Result<TokenGrant> RefreshAccessToken(const std::string& token_url, const std::string& client_id,
                                      const std::string& refresh_token, const std::string& server,
                                      std::int64_t now);

/// Asks the provider to revoke `refresh_token` (and with it, at most providers, the grant).
/// Fails when the provider cannot be reached or does not answer 200; callers treat that as
/// a warning, since the token is forgotten here either way.
Result<void> RevokeRefreshToken(const std::string& revocation_url, const std::string& client_id,
                                const std::string& refresh_token);

}  // namespace mltf::client
