// verified_token_cache.cpp - remembered JWT verifications, by digest, until expiry.
#include "auth/verified_token_cache.hpp"

#include <algorithm>

#include "auth/api_tokens.hpp"

namespace mltf::auth {

VerifiedTokenCache::VerifiedTokenCache(VerifiedTokenCacheOptions options) : options_(options) {}

std::shared_ptr<const Identity> VerifiedTokenCache::Find(std::string_view token,
                                                         std::int64_t now_seconds) const {
  const std::string key = SecretSha256(token);
  std::lock_guard lock(mutex_);
  auto found = entries_.find(key);
  if (found == entries_.end() || found->second.valid_until <= now_seconds) return nullptr;
  return found->second.identity;
}

void VerifiedTokenCache::Remember(std::string_view token, std::shared_ptr<const Identity> identity,
                                  std::int64_t expires_at, std::int64_t now_seconds) {
  const std::int64_t valid_until = std::min(expires_at, now_seconds + options_.max_age.count());
  if (valid_until <= now_seconds || options_.capacity == 0) return;
  std::string key = SecretSha256(token);
  std::lock_guard lock(mutex_);
  if (entries_.size() >= options_.capacity && !entries_.contains(key)) {
    std::erase_if(entries_,
                  [&](const auto& entry) { return entry.second.valid_until <= now_seconds; });
    // Still full of live tokens (more clients than the capacity): start again rather than
    // keep a recency list on the hot path; the forgotten tokens are simply verified again.
    if (entries_.size() >= options_.capacity) entries_.clear();
  }
  entries_[std::move(key)] = Entry{.identity = std::move(identity), .valid_until = valid_until};
}

std::size_t VerifiedTokenCache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace mltf::auth
