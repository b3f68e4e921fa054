// oidc_provider.hpp - an OpenID provider as the server uses it: its discovery document, and
// its signing keys, fetched at start-up, again in the background when they are old, and when
// the provider has rotated them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

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
  /// Keys older than this are fetched again, in the background: the old ones keep verifying
  /// meanwhile.
  std::chrono::seconds max_age{std::chrono::hours(1)};
  /// A token naming an unknown kid makes the keys be fetched again (the provider rotated
  /// them), but at most this often, so forged kids cannot make the server hammer the provider.
  std::chrono::seconds min_refresh_interval{30};
  /// How long a verification that needs new keys (none yet, or an unknown kid) waits for the
  /// fetch; only that verification waits, never one whose key is known.
  std::chrono::milliseconds wait_for_keys{std::chrono::seconds(10)};
};

/// The provider's current JWKS. Thread-safe: verifications run concurrently on the same keys.
/// Fetches run on a thread of its own, outside the lock, and replace the keys for later
/// verifications; no verification with a known key ever waits for one.
class ProviderKeys {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  ProviderKeys(std::string jwks_uri, UrlFetcher fetch, ProviderKeysOptions options = {},
               Clock clock = std::chrono::steady_clock::now);
  /// Waits for a fetch under way to end.
  ~ProviderKeys();
  ProviderKeys(const ProviderKeys&) = delete;
  ProviderKeys& operator=(const ProviderKeys&) = delete;

  /// Verifies `token` (VerifyJwt) with the current keys. When there are none yet, or the token
  /// names a kid they lack and a fetch is allowed, waits for the keys to be fetched (up to
  /// wait_for_keys); when they are only old, verifies with them and has them fetched in the
  /// background. Fails as VerifyJwt does, or with UNAVAILABLE when no keys could be fetched.
  Result<VerifiedToken> Verify(std::string_view token, const JwtPolicy& policy,
                               std::int64_t now_seconds);

  /// Fetches the keys now and waits for them (at start-up, so that the first token does not
  /// wait on an I/O thread). Fails as the fetch does; a failure does not hold back the fetch
  /// the first token then asks for.
  Result<void> Prefetch();

 private:
  /// The keys to verify with, after the fetch they need (see Verify).
  Result<std::shared_ptr<const Jwks>> KeysFor(const std::optional<std::string>& wanted_kid);
  /// Under mutex_: whether a new fetch may start now (the rate limit), or one is under way.
  bool FetchPossibleLocked(std::chrono::steady_clock::time_point now) const;
  /// Under mutex_: asks the fetcher thread for a fetch unless one is under way or asked for;
  /// returns the number of the fetch that will bring new keys.
  std::uint64_t RequestFetchLocked();
  /// Under `lock`: waits until fetch number `fetch` has ended or wait_for_keys has passed.
  void WaitForFetchLocked(std::unique_lock<std::mutex>& lock, std::uint64_t fetch);
  void FetchLoop();

  std::string jwks_uri_;
  UrlFetcher fetch_;
  ProviderKeysOptions options_;
  Clock clock_;

  std::mutex mutex_;
  std::condition_variable fetch_wanted_;
  std::condition_variable fetch_ended_;
  std::shared_ptr<const Jwks> keys_;
  std::chrono::steady_clock::time_point fetched_at_;
  std::chrono::steady_clock::time_point last_attempt_;
  bool attempted_ = false;
  bool fetch_requested_ = false;
  bool fetching_ = false;
  bool stopping_ = false;
  std::uint64_t fetches_ended_ = 0;
  std::optional<Error> last_fetch_error_;
  std::thread fetcher_;  // last: started once everything it uses exists
};

}  // namespace mltf::auth
