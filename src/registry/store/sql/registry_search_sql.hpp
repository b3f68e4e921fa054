// registry_search_sql.hpp - compiles parsed registry filters and order_by keys into
// parameterized SQL over the registry schema (registered models `m`, model versions `v`),
// portable between SQLite and PostgreSQL.
//
//   SELECT <columns> FROM registered_models m [WHERE <where>] ORDER BY <order_by> LIMIT ? OFFSET ?
//   SELECT <columns> FROM model_versions v JOIN registered_models m ON m.model_key = v.model_key
//   WHERE v.current_stage <> 'Deleted_Internal' [AND <where>] ORDER BY ... LIMIT ? OFFSET ?
// Values are always bound, never pasted into SQL text. As for run searches, the connection
// must make LIKE case-sensitive (SQLite: PRAGMA case_sensitive_like = ON); ILIKE is
// `LOWER(x) LIKE LOWER(CAST(? AS TEXT))`, both with ESCAPE '\'.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/error.hpp"
#include "registry/search/filter_parser.hpp"
#include "registry/search/order_by.hpp"
#include "registry/store/registry_store.hpp"
#include "tracking/store/sql/sql_value.hpp"

namespace mltf::registry::store::sql {

using tracking::store::sql::SqlFragment;
using tracking::store::sql::SqlValue;

/// The SQL pieces of one search, each with its own `?` parameters.
struct CompiledRegistrySearch {
  /// The filter as a conjunction of parenthesised predicates, or empty for no filter.
  SqlFragment where;
  /// The ORDER BY list (without the keywords), never empty: it ends with MLflow's tie-breakers,
  /// so the order is total and offsets are stable between pages.
  SqlFragment order_by;
};

/// Compiles a registered-models/search filter and order_by. `name` compares registered_models.name;
/// a tag clause matches models that have the tag with a value satisfying it (so `!=` does not
/// match models without the tag). Order: the keys, then `m.name ASC` unless name is a key
/// (`creation_timestamp` and `last_updated_timestamp` sort by those columns). Fails with
/// INVALID_PARAMETER_VALUE for clauses or keys that are not valid for registered models (only
/// possible for hand-built ASTs).
Result<CompiledRegistrySearch> CompileRegisteredModelSearch(
    std::span<const search::Clause> filter, std::span<const search::OrderKey> order_by);

/// Compiles a model-versions/search filter and order_by. `source_path` compares the source,
/// `version_number` the version as an integer, `run_id IN ()` with an empty list matches nothing.
/// Without keys the order is MLflow's default: last_updated_timestamp DESC, name ASC,
/// version_number DESC; otherwise the keys, then name ASC and version DESC unless they are keys.
/// Fails like CompileRegisteredModelSearch.
Result<CompiledRegistrySearch> CompileModelVersionSearch(
    std::span<const search::Clause> filter, std::span<const search::OrderKey> order_by);

/// The complete statement over `registered_models m`. `select_list` is trusted SQL text and must
/// not come from a request. Does not fail.
/// `restriction`, when given, limits the models by name (what the caller may read).
SqlFragment RegisteredModelSearchStatement(std::string_view select_list,
                                           const CompiledRegistrySearch& compiled,
                                           std::int64_t limit, std::int64_t offset,
                                           const NameRestriction* restriction = nullptr);

/// The complete statement over `model_versions v JOIN registered_models m`, deleted versions
/// excluded. Does not fail.
SqlFragment ModelVersionSearchStatement(std::string_view select_list,
                                        const CompiledRegistrySearch& compiled, std::int64_t limit,
                                        std::int64_t offset,
                                        const NameRestriction* restriction = nullptr);

}  // namespace mltf::registry::store::sql
