// identity_store.cpp - SQL of the users, user_groups and api_tokens tables.
#include "auth/identity_store.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace mltf::auth {
namespace {

using tracking::store::sql::SqlConnection;
using tracking::store::sql::SqlStatement;

constexpr std::string_view kTokenColumns =
    "token_id, user_id, name, secret_sha256, created_at, expires_at, revoked_at, task_id, "
    "experiment_id, run_id";

std::optional<std::int64_t> OptionalInt(const SqlStatement& row, int column) {
  if (row.IsNull(column)) return std::nullopt;
  return row.Int(column);
}

void BindOptional(SqlStatement& statement, int index, const std::optional<std::int64_t>& value) {
  if (value) {
    statement.BindInt(index, *value);
  } else {
    statement.BindNull(index);
  }
}

TokenRecord TokenFromRow(const SqlStatement& row) {
  TokenRecord token{.token_id = std::string(row.Text(0)),
                    .user = std::string(row.Text(1)),
                    .name = std::string(row.Text(2)),
                    .secret_sha256 = std::string(row.Text(3)),
                    .created_at = row.Int(4),
                    .expires_at = OptionalInt(row, 5),
                    .revoked_at = OptionalInt(row, 6)};
  if (!row.IsNull(7)) {
    token.task = TaskScope{.task_id = std::string(row.Text(7)),
                           .experiment_id = std::string(row.Text(8)),
                           .run_id = std::string(row.Text(9))};
  }
  return token;
}

Result<std::vector<std::string>> LoadGroups(SqlConnection& db, const std::string& user) {
  MLTF_ASSIGN_OR_RETURN(query, db.Prepare("SELECT group_name FROM user_groups WHERE user_id = ? "
                                          "ORDER BY group_name"));
  query->BindText(1, user);
  std::vector<std::string> groups;
  while (true) {
    MLTF_ASSIGN_OR_RETURN(has_row, query->Step());
    if (!has_row) return groups;
    groups.emplace_back(query->Text(0));
  }
}

Result<void> StoreGroups(SqlConnection& db, const UserRecord& user) {
  MLTF_ASSIGN_OR_RETURN(clear, db.Prepare("DELETE FROM user_groups WHERE user_id = ?"));
  clear->BindText(1, user.user);
  MLTF_TRY(clear->Run());
  for (const auto& group : user.groups) {
    MLTF_ASSIGN_OR_RETURN(insert, db.Prepare("INSERT INTO user_groups (user_id, group_name) "
                                             "VALUES (?, ?) ON CONFLICT DO NOTHING"));
    insert->BindText(1, user.user);
    insert->BindText(2, group);
    MLTF_TRY(insert->Run());
  }
  return {};
}

Error NoSuchUser(const std::string& user) {
  return Error::ResourceDoesNotExist(fmt::format("User '{}' does not exist", user));
}

Error NoSuchToken(const std::string& token_id) {
  return Error::ResourceDoesNotExist(fmt::format("Token '{}' does not exist", token_id));
}

}  // namespace

Result<void> IdentityStore::AddUser(const UserRecord& user) {
  auto added = database_.Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(insert, db.Prepare("INSERT INTO users (user_id, is_admin, created_at) "
                                             "VALUES (?, ?, ?)"));
    insert->BindText(1, user.user);
    insert->BindInt(2, user.admin ? 1 : 0);
    insert->BindInt(3, user.created_at);
    MLTF_TRY(insert->Run());
    return StoreGroups(db, user);
  });
  if (!added && added.error().code == ErrorCode::RESOURCE_ALREADY_EXISTS) {
    return Fail(Error{ErrorCode::RESOURCE_ALREADY_EXISTS,
                      fmt::format("User '{}' already exists", user.user)});
  }
  return added;
}

Result<UserRecord> IdentityStore::GetUser(const std::string& user) {
  UserRecord found;
  MLTF_TRY(database_.Read([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(query, db.Prepare("SELECT is_admin, created_at FROM users WHERE "
                                            "user_id = ?"));
    query->BindText(1, user);
    MLTF_ASSIGN_OR_RETURN(has_row, query->Step());
    if (!has_row) return Fail(NoSuchUser(user));
    found = {.user = user, .admin = query->Int(0) != 0, .created_at = query->Int(1)};
    MLTF_ASSIGN_OR_RETURN(groups, LoadGroups(db, user));
    found.groups = std::move(groups);
    return {};
  }));
  return found;
}

Result<std::vector<UserRecord>> IdentityStore::ListUsers() {
  std::vector<UserRecord> users;
  MLTF_TRY(database_.Read([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(query, db.Prepare("SELECT user_id, is_admin, created_at FROM users "
                                            "ORDER BY user_id"));
    while (true) {
      MLTF_ASSIGN_OR_RETURN(has_row, query->Step());
      if (!has_row) break;
      users.push_back({.user = std::string(query->Text(0)),
                       .admin = query->Int(1) != 0,
                       .created_at = query->Int(2)});
    }
    for (auto& user : users) {
      MLTF_ASSIGN_OR_RETURN(groups, LoadGroups(db, user.user));
      user.groups = std::move(groups);
    }
    return {};
  }));
  return users;
}

Result<void> IdentityStore::UpdateUser(const UserRecord& user) {
  return database_.Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(update, db.Prepare("UPDATE users SET is_admin = ? WHERE user_id = ?"));
    update->BindInt(1, user.admin ? 1 : 0);
    update->BindText(2, user.user);
    MLTF_TRY(update->Run());
    if (db.ChangedRows() != 1) return Fail(NoSuchUser(user.user));
    return StoreGroups(db, user);
  });
}

Result<void> IdentityStore::AddToken(const TokenRecord& token) {
  return database_.Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(
        insert, db.Prepare(fmt::format("INSERT INTO api_tokens ({}) VALUES (?, ?, ?, ?, ?, ?, ?, "
                                       "?, ?, ?)",
                                       kTokenColumns)));
    insert->BindText(1, token.token_id);
    insert->BindText(2, token.user);
    insert->BindText(3, token.name);
    insert->BindText(4, token.secret_sha256);
    insert->BindInt(5, token.created_at);
    BindOptional(*insert, 6, token.expires_at);
    BindOptional(*insert, 7, token.revoked_at);
    if (token.task) {
      insert->BindText(8, token.task->task_id);
      insert->BindText(9, token.task->experiment_id);
      insert->BindText(10, token.task->run_id);
    } else {
      insert->BindNull(8);
      insert->BindNull(9);
      insert->BindNull(10);
    }
    return insert->Run();
  });
}

Result<TokenRecord> IdentityStore::GetToken(const std::string& token_id) {
  TokenRecord found;
  MLTF_TRY(database_.Read([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(query, db.Prepare(fmt::format("SELECT {} FROM api_tokens WHERE "
                                                        "token_id = ?",
                                                        kTokenColumns)));
    query->BindText(1, token_id);
    MLTF_ASSIGN_OR_RETURN(has_row, query->Step());
    if (!has_row) return Fail(NoSuchToken(token_id));
    found = TokenFromRow(*query);
    return {};
  }));
  return found;
}

Result<std::vector<TokenRecord>> IdentityStore::ListTokens(const std::string& user,
                                                           bool with_task_tokens) {
  std::vector<TokenRecord> tokens;
  MLTF_TRY(database_.Read([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(
        query, db.Prepare(fmt::format("SELECT {} FROM api_tokens WHERE user_id = ? AND (? OR "
                                      "task_id IS NULL) ORDER BY created_at DESC, token_id",
                                      kTokenColumns)));
    query->BindText(1, user);
    query->BindInt(2, with_task_tokens ? 1 : 0);
    while (true) {
      MLTF_ASSIGN_OR_RETURN(has_row, query->Step());
      if (!has_row) return {};
      tokens.push_back(TokenFromRow(*query));
    }
  }));
  return tokens;
}

Result<void> IdentityStore::RevokeToken(const std::string& token_id, std::int64_t now_ms) {
  return database_.Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(update, db.Prepare("UPDATE api_tokens SET revoked_at = "
                                             "COALESCE(revoked_at, ?) WHERE token_id = ?"));
    update->BindInt(1, now_ms);
    update->BindText(2, token_id);
    MLTF_TRY(update->Run());
    if (db.ChangedRows() != 1) return Fail(NoSuchToken(token_id));
    return {};
  });
}

Result<std::vector<std::string>> IdentityStore::RevokeTaskTokens(const std::string& task_id,
                                                                 std::int64_t now_ms) {
  std::vector<std::string> revoked;
  MLTF_TRY(database_.Write([&](SqlConnection& db) -> Result<void> {
    revoked.clear();  // the work may be retried with its transaction
    MLTF_ASSIGN_OR_RETURN(query, db.Prepare("SELECT token_id FROM api_tokens WHERE task_id = ? "
                                            "AND revoked_at IS NULL"));
    query->BindText(1, task_id);
    while (true) {
      MLTF_ASSIGN_OR_RETURN(has_row, query->Step());
      if (!has_row) break;
      revoked.emplace_back(query->Text(0));
    }
    MLTF_ASSIGN_OR_RETURN(update, db.Prepare("UPDATE api_tokens SET revoked_at = ? WHERE "
                                             "task_id = ? AND revoked_at IS NULL"));
    update->BindInt(1, now_ms);
    update->BindText(2, task_id);
    return update->Run();
  }));
  return revoked;
}

Result<void> IdentityStore::ExtendToken(const std::string& token_id, std::int64_t expires_at) {
  return database_.Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(update, db.Prepare("UPDATE api_tokens SET expires_at = ? WHERE "
                                             "token_id = ? AND revoked_at IS NULL"));
    update->BindInt(1, expires_at);
    update->BindText(2, token_id);
    MLTF_TRY(update->Run());
    if (db.ChangedRows() != 1) return Fail(NoSuchToken(token_id));
    return {};
  });
}

}  // namespace mltf::auth
