// api_token_service.cpp - token lifecycle over the identity store, with a short-lived cache.
#include "auth/api_token_service.hpp"

#include <fmt/format.h>

#include "auth/api_tokens.hpp"
#include "auth/secrets.hpp"
#include "common/ids.hpp"

namespace mltf::auth {
namespace {

Error Refused(std::string_view reason) {
  return Error{ErrorCode::UNAUTHENTICATED, std::string(reason)};
}

}  // namespace

ApiTokenService::ApiTokenService(IdentityStore& store, ApiTokenServiceOptions options, Clock clock)
    : store_(store), options_(options), clock_(clock ? std::move(clock) : Clock(NowMillis)) {}

Result<IssuedToken> ApiTokenService::Issue(const std::string& user, const std::string& name,
                                           std::optional<std::int64_t> expires_at) {
  MLTF_TRY(store_.GetUser(user));
  return Store({.user = user, .name = name, .expires_at = expires_at});
}

Result<IssuedToken> ApiTokenService::IssueForTask(const std::string& owner, const TaskScope& scope,
                                                  std::chrono::seconds lifetime) {
  return Store({.user = owner,
                .name = fmt::format("task {}", scope.task_id),
                .expires_at = clock_() + std::chrono::milliseconds(lifetime).count(),
                .task = scope});
}

Result<IssuedToken> ApiTokenService::Store(TokenRecord record) {
  MLTF_ASSIGN_OR_RETURN(generated, GenerateApiToken());
  record.token_id = generated.token_id;
  record.secret_sha256 = generated.secret_sha256;
  record.created_at = clock_();
  MLTF_TRY(store_.AddToken(record));
  return IssuedToken{.token = std::move(generated.token), .record = std::move(record)};
}

Result<std::shared_ptr<const ApiTokenService::Cached>> ApiTokenService::Lookup(
    const std::string& token_id, std::int64_t now) {
  {
    std::lock_guard lock(mutex_);
    if (auto found = cache_.find(token_id);
        found != cache_.end() && now - found->second->loaded_at < options_.cache_lifetime.count()) {
      return found->second;
    }
  }
  auto record = store_.GetToken(token_id);
  if (!record) {
    if (record.error().code == ErrorCode::RESOURCE_DOES_NOT_EXIST) {
      return Fail(Refused("unknown API token"));
    }
    return Fail(record.error());
  }
  Identity identity{.user = record->user, .task = record->task};
  // A registered user's groups and admin flag; users of the OpenID provider are not registered
  // and their tasks' tokens carry neither. A task's token never carries admin rights.
  if (auto user = store_.GetUser(record->user); user) {
    identity.groups = user->groups;
    identity.admin = user->admin && !record->task;
  } else if (user.error().code != ErrorCode::RESOURCE_DOES_NOT_EXIST) {
    return Fail(user.error());
  }
  auto cached = std::make_shared<const Cached>(
      Cached{.record = std::move(*record),
             .identity = std::make_shared<const Identity>(std::move(identity)),
             .loaded_at = now});
  std::lock_guard lock(mutex_);
  if (cache_.size() >= options_.max_cached) cache_.clear();
  cache_[token_id] = cached;
  return cached;
}

Result<std::shared_ptr<const Identity>> ApiTokenService::Verify(std::string_view token) {
  auto parts = ParseApiToken(token);
  if (!parts) return Fail(Refused("malformed API token"));
  const std::int64_t now = clock_();
  MLTF_ASSIGN_OR_RETURN(cached, Lookup(parts->token_id, now));
  const TokenRecord& record = cached->record;
  if (!ConstantTimeEquals(SecretSha256(parts->secret), record.secret_sha256)) {
    return Fail(Refused("unknown API token"));
  }
  if (record.revoked_at) return Fail(Refused("API token revoked"));
  if (record.expires_at && *record.expires_at <= now) return Fail(Refused("API token expired"));
  return cached->identity;
}

Result<std::int64_t> ApiTokenService::Renew(std::string_view token, std::chrono::seconds lifetime) {
  MLTF_TRY(Verify(token));
  const std::string token_id = ParseApiToken(token)->token_id;
  const std::int64_t expires_at = clock_() + std::chrono::milliseconds(lifetime).count();
  MLTF_TRY(store_.ExtendToken(token_id, expires_at));
  Forget(token_id);
  return expires_at;
}

Result<void> ApiTokenService::Revoke(const std::string& token_id) {
  MLTF_TRY(store_.RevokeToken(token_id, clock_()));
  Forget(token_id);
  return {};
}

Result<void> ApiTokenService::RevokeTask(const std::string& task_id) {
  MLTF_ASSIGN_OR_RETURN(revoked, store_.RevokeTaskTokens(task_id, clock_()));
  for (const auto& token_id : revoked) Forget(token_id);
  return {};
}

void ApiTokenService::Forget(const std::string& token_id) {
  std::lock_guard lock(mutex_);
  cache_.erase(token_id);
}

}  // namespace mltf::auth
