// order_by.hpp - order_by clauses (`<attribute> [ASC|DESC]`) of registered-model and
// model-version searches (MLflow 2.9.2).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace mltf::registry::search {

/// One parsed order_by key; `key` is canonical (`timestamp` -> `last_updated_timestamp`).
struct OrderKey {
  std::string key;
  bool ascending = true;

  friend bool operator==(const OrderKey&, const OrderKey&) = default;
};

/// Parses registered-models/search order_by clauses in order. Keys: `name`,
/// `creation_timestamp`, `last_updated_timestamp` (alias `timestamp`), optionally prefixed with
/// `attribute.`. Fails with INVALID_PARAMETER_VALUE on an empty or malformed clause, a direction
/// other than ASC/DESC, an unknown key or a tag key, and when two clauses name the same key.
Result<std::vector<OrderKey>> ParseRegisteredModelOrderBy(std::span<const std::string> clauses);

/// Parses model-versions/search order_by clauses: `name`, `version_number`,
/// `creation_timestamp`, `last_updated_timestamp`. Fails like ParseRegisteredModelOrderBy.
Result<std::vector<OrderKey>> ParseModelVersionOrderBy(std::span<const std::string> clauses);

}  // namespace mltf::registry::search
