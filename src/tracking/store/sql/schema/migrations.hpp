// migrations.hpp - the versioned schema of the SQL tracking store.
#pragma once

#include <span>
#include <string_view>

namespace mltf::tracking::store::sql {

/// One step of the schema. Versions start at 1 and rise by one; a step is applied once, inside
/// a transaction, and recorded in `schema_migrations`.
struct Migration {
  int version;
  std::string_view description;
  std::string_view statements;  ///< dialect-neutral DDL, `;`-separated
};

/// All migrations in version order. Never edit a released step: append a new one.
std::span<const Migration> Migrations();

}  // namespace mltf::tracking::store::sql
