// api_token_service.hpp - issuing, verifying, renewing and revoking the server's API tokens:
// people's tokens (`mltf admin token create`) and tasks' own tokens.
//
// Verification runs for every request, on an I/O thread: a token's row is kept in memory for a
// few seconds after it was read, so a busy client costs one SHA-256 and a map lookup per
// request. A revocation on this server takes effect at once; one made through another server
// sharing the database, within the cache's lifetime.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/identity_store.hpp"
#include "common/error.hpp"
#include "common/identity.hpp"

namespace mltf::auth {

struct ApiTokenServiceOptions {
  /// How long a token's row (and its user's groups and admin flag) is trusted from memory.
  std::chrono::milliseconds cache_lifetime{5000};
  /// Rows kept at most; the cache is emptied when it would grow beyond.
  std::size_t max_cached = 100000;
};

/// A token as issued: the credential, shown once, and its stored record.
struct IssuedToken {
  std::string token;
  TokenRecord record;
};

/// Thread-safe. The store must outlive the service.
class ApiTokenService {
 public:
  using Clock = std::function<std::int64_t()>;  ///< ms since the epoch

  explicit ApiTokenService(IdentityStore& store, ApiTokenServiceOptions options = {},
                           Clock clock = nullptr);

  /// A token for `user`, who must exist (RESOURCE_DOES_NOT_EXIST otherwise), valid until
  /// `expires_at` (ms) or, without one, until revoked.
  Result<IssuedToken> Issue(const std::string& user, const std::string& name,
                            std::optional<std::int64_t> expires_at);

  /// A task's own token: it acts for `owner` on the task's experiment and runs only, and lives
  /// `lifetime` unless renewed. The owner need not be a registered user (OpenID users are not).
  Result<IssuedToken> IssueForTask(const std::string& owner, const TaskScope& scope,
                                   std::chrono::seconds lifetime);

  /// Who presents `token`: UNAUTHENTICATED when it is malformed, unknown, wrong, expired or
  /// revoked (the reason never repeats the token). The secret is compared in constant time.
  Result<std::shared_ptr<const Identity>> Verify(std::string_view token);

  /// Moves a live token's expiry to now + `lifetime`; returns the new expiry (ms). The token
  /// must be valid now: an expired or revoked one cannot be renewed.
  Result<std::int64_t> Renew(std::string_view token, std::chrono::seconds lifetime);

  /// Revokes one token. Fails with RESOURCE_DOES_NOT_EXIST.
  Result<void> Revoke(const std::string& token_id);
  /// Revokes every token of the task (when it ended). Fails only when the store does.
  Result<void> RevokeTask(const std::string& task_id);

 private:
  struct Cached {
    TokenRecord record;
    std::shared_ptr<const Identity> identity;
    std::int64_t loaded_at = 0;
  };

  /// The token's record and identity, from memory when fresh, else from the store.
  Result<std::shared_ptr<const Cached>> Lookup(const std::string& token_id, std::int64_t now);
  void Forget(const std::string& token_id);
  Result<IssuedToken> Store(TokenRecord record);

  IdentityStore& store_;
  ApiTokenServiceOptions options_;
  Clock clock_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<const Cached>> cache_;  // by token id
};

}  // namespace mltf::auth
