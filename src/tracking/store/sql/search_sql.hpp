// search_sql.hpp - compiles parsed search filters and order_by keys into SQL fragments over the
// tracking schema (runs `r`, experiments `e`), portable between SQLite and PostgreSQL.
//
// Usage (runs; experiments alike with `experiments e`):
//   SELECT <columns> FROM runs r <joins>
//   WHERE r.experiment_id IN (...) AND r.lifecycle_stage IN (...) [AND <where>]
//   ORDER BY <order_by> LIMIT ? OFFSET ?
// Bind the parameters in the order the fragments appear in the text: joins, then the caller's
// own conditions, then where, then order_by. RunSearchStatement / ExperimentSearchStatement do
// exactly this. Values are always bound, never pasted into SQL text.
//
// The connection must make LIKE case-sensitive: on SQLite run `PRAGMA case_sensitive_like = ON`
// (PostgreSQL's LIKE already is). ILIKE is emitted as `LOWER(x) LIKE LOWER(CAST(? AS TEXT))`. Both
// use ESCAPE '\' so that `\%` and `\_` match a literal % and _ on both databases.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "tracking/search/filter_parser.hpp"
#include "tracking/search/order_by.hpp"
#include "tracking/store/sql/sql_value.hpp"
#include "tracking/store/tracking_store.hpp"

namespace mltf::tracking::store::sql {

/// The SQL pieces of one search, each with its own `?` parameters.
struct CompiledSearch {
  /// `LEFT JOIN ...` clauses needed by order_by keys on metrics, params and tags (aliases o1,
  /// o2, ...), or empty. Each joins at most one row per run, so no DISTINCT is needed.
  SqlFragment joins;
  /// The filter as a conjunction of predicates over `r` (or `e`), or empty for no filter. It
  /// has no top-level OR, so it can be appended after `AND` without parentheses.
  SqlFragment where;
  /// The ORDER BY list (without the keywords), never empty: it always ends with MLflow's
  /// tie-breakers, so the order is total and offsets are stable between pages.
  SqlFragment order_by;
};

/// Compiles a runs/search filter and order_by (from ParseRunFilter / ParseRunOrderByList).
/// Semantics follow MLflow's SQL store:
/// - metric clauses compare the latest value (latest_metrics); a run without the metric does
///   not match. A NaN value matches only `!=` (IEEE semantics, as MLflow's in-memory filter);
///   ±inf compare as ±DBL_MAX, which is how the schema stores them.
/// - param/tag/dataset clauses match when the run has such a row satisfying the comparison
///   (so `params.p != 'x'` does not match runs without p, and `dataset.name NOT IN (...)`
///   matches runs with at least one other dataset). dataset.context is the input tag
///   `mlflow.data.context`. run_name compares the runs.name column.
/// - order_by keys sort in the asked direction with runs lacking the value last; for metrics
///   non-NaN values come first, then NaN, then runs without the metric, in both directions.
///   Then `r.start_time DESC` (unless start_time was an order key) and `r.run_uuid ASC`.
/// Fails with INVALID_PARAMETER_VALUE if a clause or key is not valid for runs (only possible
/// for hand-built ASTs; the parsers never produce them).
Result<CompiledSearch> CompileRunSearch(std::span<const search::Comparison> filter,
                                        std::span<const search::OrderByKey> order_by);

/// Compiles an experiments/search filter and order_by (from ParseExperimentFilter /
/// ParseExperimentOrderByList). Without order_by keys the order is MLflow's default,
/// `creation_time DESC, experiment_id ASC`; otherwise the keys then `experiment_id DESC`
/// unless experiment_id is already a key. `joins` is always empty. Fails with
/// INVALID_PARAMETER_VALUE for clauses or keys that are not valid for experiments.
Result<CompiledSearch> CompileExperimentSearch(std::span<const search::Comparison> filter,
                                               std::span<const search::OrderByKey> order_by);

/// A complete runs/search statement:
/// `SELECT <select_list> FROM runs r <joins> WHERE r.experiment_id IN (?...) AND
/// r.lifecycle_stage IN (?...) [AND <where>] ORDER BY <order_by> LIMIT ? OFFSET ?`.
/// `select_list` is trusted SQL text (e.g. "r.run_key") and must not come from a request.
/// Empty id or stage lists select nothing. Does not fail.
SqlFragment RunSearchStatement(std::string_view select_list, const CompiledSearch& compiled,
                               std::span<const std::int64_t> experiment_ids,
                               std::span<const std::string> lifecycle_stages, std::int64_t limit,
                               std::int64_t offset);

/// A complete experiments/search statement over `experiments e`, filtered by lifecycle stage,
/// built like RunSearchStatement. Does not fail.
/// `restriction`, when given, limits the experiments by id (what the caller may read).
SqlFragment ExperimentSearchStatement(std::string_view select_list, const CompiledSearch& compiled,
                                      std::span<const std::string> lifecycle_stages,
                                      std::int64_t limit, std::int64_t offset,
                                      const IdRestriction* restriction = nullptr);

/// Rewrites a user LIKE pattern so it means the same with `ESCAPE '\'` on SQLite and
/// PostgreSQL: `\%`, `\_` and `\\` stay escapes; any other backslash becomes a literal one.
/// Does not fail.
std::string NormalizeLikePattern(std::string_view pattern);

}  // namespace mltf::tracking::store::sql
