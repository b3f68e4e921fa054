// identity_store.hpp - users, their groups, and the API tokens the server issued, in the
// tracking database (schema version 4).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/identity.hpp"
#include "tracking/store/sql/database.hpp"

namespace mltf::auth {

struct UserRecord {
  std::string user;
  bool admin = false;
  std::vector<std::string> groups;  ///< sorted
  std::int64_t created_at = 0;      ///< ms since the epoch
};

struct TokenRecord {
  std::string token_id;
  std::string user;
  std::string name;  ///< what the token is for, e.g. "laptop" or "task 7f3a..."
  std::string secret_sha256;
  std::int64_t created_at = 0;
  std::optional<std::int64_t> expires_at;  ///< ms; none: valid until revoked
  std::optional<std::int64_t> revoked_at;
  std::optional<TaskScope> task;  ///< set for a task's own token
};

/// Thread-safe. The database must outlive the store. Writes go through the database's single
/// writer; reads run on its reader pool.
class IdentityStore {
 public:
  explicit IdentityStore(tracking::store::sql::Database& database) : database_(database) {}

  /// Fails with RESOURCE_ALREADY_EXISTS when the user exists.
  Result<void> AddUser(const UserRecord& user);
  /// Fails with RESOURCE_DOES_NOT_EXIST.
  Result<UserRecord> GetUser(const std::string& user);
  Result<std::vector<UserRecord>> ListUsers();
  /// Replaces the user's admin flag and groups. Fails with RESOURCE_DOES_NOT_EXIST.
  Result<void> UpdateUser(const UserRecord& user);

  Result<void> AddToken(const TokenRecord& token);
  /// Fails with RESOURCE_DOES_NOT_EXIST.
  Result<TokenRecord> GetToken(const std::string& token_id);
  /// The user's tokens, newest first; a task's own tokens only when `with_task_tokens`.
  Result<std::vector<TokenRecord>> ListTokens(const std::string& user, bool with_task_tokens);
  /// Marks the token revoked at `now_ms` (a second revocation keeps the first time). Fails with
  /// RESOURCE_DOES_NOT_EXIST.
  Result<void> RevokeToken(const std::string& token_id, std::int64_t now_ms);
  /// Revokes every live token of the task; returns their ids.
  Result<std::vector<std::string>> RevokeTaskTokens(const std::string& task_id,
                                                    std::int64_t now_ms);
  /// Moves a live token's expiry. Fails with RESOURCE_DOES_NOT_EXIST when the token is unknown
  /// or revoked.
  Result<void> ExtendToken(const std::string& token_id, std::int64_t expires_at);

 private:
  tracking::store::sql::Database& database_;
};

}  // namespace mltf::auth
