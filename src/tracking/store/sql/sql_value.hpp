// sql_value.hpp - a value bound to a `?` placeholder of a dialect-neutral SQL statement.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace mltf::tracking::store::sql {

/// NULL, INTEGER, REAL or TEXT. Values are always bound, never pasted into SQL text.
using SqlValue = std::variant<std::monostate, std::int64_t, double, std::string>;

/// A fragment of SQL with `?` placeholders and the values bound to them, in order.
struct SqlFragment {
  std::string sql;
  std::vector<SqlValue> params;
};

}  // namespace mltf::tracking::store::sql
