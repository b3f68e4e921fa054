// oidc_provider.hpp - an OpenID provider as the server and `mltf login` use it: its discovery
// document, and its signing keys, fetched when first needed and again when the provider has
// rotated them.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "auth/jwks.hpp"
#include "auth/jwt.hpp"
#include "common/error.hpp"

namespace mltf::auth {

/// GETs a URL and returns the body of a 200 answer; anything else is an error. The seam lets
/// tests serve documents from a scripted server and the server use libcurl (FetchWithCurl).
using UrlFetcher = std::function<Result<std::string>(const std::string& url)>;

/// libcurl, with a 10-second limit per request. Fails with UNAVAILABLE on a transport error or
/// a status other than 200 (the message names the URL and the status, never a body).
Result<std::string> FetchWithCurl(const std::string& url);

/// What MLTF uses of a provider's discovery document (OpenID Connect Discovery 1.0).
struct ProviderMetadata {
  std::string issuer;
  std::string jwks_uri;
  std::string token_endpoint;
  /// RFC 8628's endpoint; empty when the provider offers no device flow.
  std::string device_authorization_endpoint;
  /// For the web UI's authorization code flow with PKCE (to come).
  std::string authorization_endpoint;
  /// RFC 7009's endpoint, where `mltf logout` revokes its refresh token; empty when none.
  std::string revocation_endpoint;
};

/// Reads `<issuer>/.well-known/openid-configuration`. Fails with UNAVAILABLE when it cannot be
/// fetched, with INVALID_PARAMETER_VALUE when it is not a JSON object with string `issuer`,
/// `jwks_uri` and `token_endpoint`, or when its issuer is not exactly `issuer` (a document
/// served for another issuer must not be trusted, section 4.3).
Result<ProviderMetadata> DiscoverProvider(const std::string& issuer, const UrlFetcher& fetch);

struct ProviderKeysOptions {
  /// Keys older than this are fetched again before use.
  std::chrono::seconds max_age{std::chrono::hours(1)};
  /// A token naming an unknown kid makes the keys be fetched again (the provider rotated
  /// them), but at most this often, so forged kids cannot make the server hammer the provider.
  std::chrono::seconds min_refresh_interval{30};
};

/// The provider's current JWKS. Thread-safe: verifications run concurrently on the same keys;
/// a refresh replaces them for later calls.
class ProviderKeys {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  ProviderKeys(std::string jwks_uri, UrlFetcher fetch, ProviderKeysOptions options = {},
               Clock clock = std::chrono::steady_clock::now);

  /// Verifies `token` (VerifyJwt) with the current keys, fetching them first when there are
  /// none yet or they are too old, and once more when the token names a kid they lack. Fails
  /// as VerifyJwt does, or with UNAVAILABLE when no keys could ever be fetched.
  Result<VerifiedToken> Verify(std::string_view token, const JwtPolicy& policy,
                               std::int64_t now_seconds);

  /// Fetches the keys now (at start-up, so that the first token does not wait for them on an
  /// I/O thread). Fails as the fetch does; the keys are then fetched on first use as before.
  Result<void> Prefetch();

 private:
  /// The keys to verify with; refreshes them when `wanted_kid` is missing and a refresh is due.
  Result<std::shared_ptr<const Jwks>> KeysFor(const std::optional<std::string>& wanted_kid);
  Result<std::shared_ptr<const Jwks>> Refresh();

  std::string jwks_uri_;
  UrlFetcher fetch_;
  ProviderKeysOptions options_;
  Clock clock_;

  std::mutex mutex_;
  std::shared_ptr<const Jwks> keys_;
  std::chrono::steady_clock::time_point fetched_at_;
  std::chrono::steady_clock::time_point last_attempt_;
  bool attempted_ = false;
};

}  // namespace mltf::auth
