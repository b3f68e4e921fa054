// permission_store.cpp - SQL of experiment_permissions and registered_model_permissions.
#include "auth/permission_store.hpp"

#include <fmt/format.h>

#include <charconv>

namespace mltf::auth {
namespace {

using tracking::store::sql::SqlConnection;
using tracking::store::sql::SqlStatement;

/// The table and its resource column; experiment ids are stored as integers.
struct Table {
  std::string_view name;
  std::string_view column;
  bool integer_ids;
};

Table TableOf(ResourceKind kind) {
  return kind == ResourceKind::EXPERIMENT ? Table{"experiment_permissions", "experiment_id", true}
                                          : Table{"registered_model_permissions", "name", false};
}

std::string_view KindText(PrincipalKind kind) {
  return kind == PrincipalKind::USER ? "user" : "group";
}

Result<void> BindResource(SqlStatement& statement, int index, const Table& table,
                          const std::string& resource) {
  if (!table.integer_ids) {
    statement.BindText(index, resource);
    return {};
  }
  std::int64_t id = 0;
  auto [end, ec] = std::from_chars(resource.data(), resource.data() + resource.size(), id);
  if (ec != std::errc{} || end != resource.data() + resource.size()) {
    return Fail(Error::InvalidParameter(fmt::format("'{}' is not an experiment id", resource)));
  }
  statement.BindInt(index, id);
  return {};
}

std::string ResourceText(const SqlStatement& row, int column, const Table& table) {
  return table.integer_ids ? std::to_string(row.Int(column)) : std::string(row.Text(column));
}

Result<PermissionRow> ReadRow(const SqlStatement& row, const Table& table) {
  auto permission = ParsePermission(row.Text(3));
  if (!permission) return Fail(Error::Internal("a stored permission is unknown"));
  return PermissionRow{
      .resource = ResourceText(row, 0, table),
      .principal_kind = row.Text(1) == "user" ? PrincipalKind::USER : PrincipalKind::GROUP,
      .principal = std::string(row.Text(2)),
      .permission = *permission};
}

Error NoSuchRow(const PermissionRow& row) {
  return Error::ResourceDoesNotExist(fmt::format("No permission of {} '{}' on '{}'",
                                                 KindText(row.principal_kind), row.principal,
                                                 row.resource));
}

}  // namespace

Result<void> PermissionStore::Create(ResourceKind kind, const PermissionRow& row) {
  const Table table = TableOf(kind);
  auto created = database_.Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(insert,
                          db.Prepare(fmt::format("INSERT INTO {} ({}, principal_kind, principal, "
                                                 "permission) VALUES (?, ?, ?, ?)",
                                                 table.name, table.column)));
    MLTF_TRY(BindResource(*insert, 1, table, row.resource));
    insert->BindText(2, KindText(row.principal_kind));
    insert->BindText(3, row.principal);
    insert->BindText(4, PermissionName(row.permission));
    return insert->Run();
  });
  if (!created && created.error().code == ErrorCode::RESOURCE_ALREADY_EXISTS) {
    return Fail(Error{ErrorCode::RESOURCE_ALREADY_EXISTS,
                      fmt::format("{} '{}' already has a permission on '{}'",
                                  KindText(row.principal_kind), row.principal, row.resource)});
  }
  return created;
}

Result<void> PermissionStore::Put(ResourceKind kind, const PermissionRow& row) {
  const Table table = TableOf(kind);
  return database_.Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(
        upsert, db.Prepare(fmt::format("INSERT INTO {0} ({1}, principal_kind, principal, "
                                       "permission) VALUES (?, ?, ?, ?) ON CONFLICT ({1}, "
                                       "principal_kind, principal) DO UPDATE SET permission = "
                                       "excluded.permission",
                                       table.name, table.column)));
    MLTF_TRY(BindResource(*upsert, 1, table, row.resource));
    upsert->BindText(2, KindText(row.principal_kind));
    upsert->BindText(3, row.principal);
    upsert->BindText(4, PermissionName(row.permission));
    return upsert->Run();
  });
}

Result<void> PermissionStore::Update(ResourceKind kind, const PermissionRow& row) {
  const Table table = TableOf(kind);
  return database_.Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(update,
                          db.Prepare(fmt::format("UPDATE {} SET permission = ? WHERE {} = ? AND "
                                                 "principal_kind = ? AND principal = ?",
                                                 table.name, table.column)));
    update->BindText(1, PermissionName(row.permission));
    MLTF_TRY(BindResource(*update, 2, table, row.resource));
    update->BindText(3, KindText(row.principal_kind));
    update->BindText(4, row.principal);
    MLTF_TRY(update->Run());
    if (db.ChangedRows() != 1) return Fail(NoSuchRow(row));
    return {};
  });
}

Result<void> PermissionStore::Delete(ResourceKind kind, const std::string& resource,
                                     PrincipalKind principal_kind, const std::string& principal) {
  const Table table = TableOf(kind);
  return database_.Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(remove, db.Prepare(fmt::format("DELETE FROM {} WHERE {} = ? AND "
                                                         "principal_kind = ? AND principal = ?",
                                                         table.name, table.column)));
    MLTF_TRY(BindResource(*remove, 1, table, resource));
    remove->BindText(2, KindText(principal_kind));
    remove->BindText(3, principal);
    MLTF_TRY(remove->Run());
    if (db.ChangedRows() != 1) {
      return Fail(NoSuchRow(
          {.resource = resource, .principal_kind = principal_kind, .principal = principal}));
    }
    return {};
  });
}

Result<std::vector<PermissionRow>> PermissionStore::ForResource(ResourceKind kind,
                                                                const std::string& resource) {
  const Table table = TableOf(kind);
  std::vector<PermissionRow> rows;
  MLTF_TRY(database_.Read([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(
        query, db.Prepare(fmt::format("SELECT {1}, principal_kind, principal, permission FROM {0} "
                                      "WHERE {1} = ? ORDER BY principal_kind, principal",
                                      table.name, table.column)));
    MLTF_TRY(BindResource(*query, 1, table, resource));
    while (true) {
      MLTF_ASSIGN_OR_RETURN(has_row, query->Step());
      if (!has_row) return {};
      MLTF_ASSIGN_OR_RETURN(row, ReadRow(*query, table));
      rows.push_back(std::move(row));
    }
  }));
  return rows;
}

Result<std::vector<PermissionRow>> PermissionStore::ForPrincipals(
    ResourceKind kind, const std::string& user, const std::vector<std::string>& groups) {
  const Table table = TableOf(kind);
  std::vector<PermissionRow> rows;
  MLTF_TRY(database_.Read([&](SqlConnection& db) -> Result<void> {
    auto collect = [&](PrincipalKind principal_kind, const std::string& principal) -> Result<void> {
      MLTF_ASSIGN_OR_RETURN(
          query, db.Prepare(fmt::format("SELECT {1}, principal_kind, principal, permission FROM "
                                        "{0} WHERE principal_kind = ? AND principal = ?",
                                        table.name, table.column)));
      query->BindText(1, KindText(principal_kind));
      query->BindText(2, principal);
      while (true) {
        MLTF_ASSIGN_OR_RETURN(has_row, query->Step());
        if (!has_row) return {};
        MLTF_ASSIGN_OR_RETURN(row, ReadRow(*query, table));
        rows.push_back(std::move(row));
      }
    };
    MLTF_TRY(collect(PrincipalKind::USER, user));
    for (const auto& group : groups) MLTF_TRY(collect(PrincipalKind::GROUP, group));
    return {};
  }));
  return rows;
}

Result<void> PermissionStore::RenameModel(const std::string& from, const std::string& to) {
  return database_.Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(rename, db.Prepare("UPDATE registered_model_permissions SET name = ? "
                                             "WHERE name = ?"));
    rename->BindText(1, to);
    rename->BindText(2, from);
    return rename->Run();
  });
}

Result<void> PermissionStore::DeleteResource(ResourceKind kind, const std::string& resource) {
  const Table table = TableOf(kind);
  return database_.Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(
        remove, db.Prepare(fmt::format("DELETE FROM {} WHERE {} = ?", table.name, table.column)));
    MLTF_TRY(BindResource(*remove, 1, table, resource));
    return remove->Run();
  });
}

}  // namespace mltf::auth
