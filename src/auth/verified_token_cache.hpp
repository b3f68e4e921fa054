// verified_token_cache.hpp - identities of bearer JWTs already verified, so that a client
// sending the same token on every request pays for one signature check, not one per request.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/identity.hpp"

namespace mltf::auth {

struct VerifiedTokenCacheOptions {
  /// Tokens remembered at most; a full cache first forgets expired entries, then everything.
  std::size_t capacity = 4096;
  /// A token is verified again after this long even when it expires later, so keys the
  /// provider withdrew stop being honoured soon.
  std::chrono::seconds max_age{300};
};

/// Keyed by the SHA-256 of the token: the cache never holds a credential that could be used.
/// An entry lives until the token's own expiry or `max_age`, whichever comes first; only
/// tokens that passed verification are remembered, so a failure is never cached. Thread-safe.
class VerifiedTokenCache {
 public:
  explicit VerifiedTokenCache(VerifiedTokenCacheOptions options = {});

  /// The identity `token` was verified as, when it was and its entry is still live at
  /// `now_seconds` (Unix time); null otherwise. Does not fail.
  std::shared_ptr<const Identity> Find(std::string_view token, std::int64_t now_seconds) const;

  /// Remembers that `token` is `identity` until `expires_at` (the token's exp, Unix time).
  /// Does not fail.
  void Remember(std::string_view token, std::shared_ptr<const Identity> identity,
                std::int64_t expires_at, std::int64_t now_seconds);

  /// The number of entries, expired ones included until they are dropped. Does not fail.
  std::size_t size() const;

 private:
  struct Entry {
    std::shared_ptr<const Identity> identity;
    std::int64_t valid_until = 0;
  };

  VerifiedTokenCacheOptions options_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace mltf::auth
