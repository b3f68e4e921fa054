// filter_parser.hpp - MLflow 2.9.2's search filter grammar for runs and experiments, as an AST.
//
// A filter is `clause [AND clause]...` where a clause is `identifier comparator value`:
//   metrics.acc > 0.9 AND params.opt = 'adam' AND tags."my tag" LIKE 'a%'
//   attributes.run_id IN ('a1', 'b2') AND dataset.context = 'training'
// The parsers check each clause the way MLflow's SearchUtils / SearchExperimentsUtils do (which
// entity and key, which comparator for it, which kind of value) and translate key aliases, so a
// parsed filter is ready to be compiled to SQL (tracking/store/sql/search_sql.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/error.hpp"
#include "tracking/search/filter_lexer.hpp"

namespace mltf::tracking::search {

/// What a clause or an order_by key refers to.
enum class EntityType { METRIC, PARAM, TAG, ATTRIBUTE, DATASET };

/// The comparators of the grammar. Keywords are accepted in any case (`like`, `Not In`).
enum class Comparator {
  EQUAL,
  NOT_EQUAL,
  GREATER,
  GREATER_EQUAL,
  LESS,
  LESS_EQUAL,
  LIKE,
  ILIKE,
  IN,
  NOT_IN,
};

/// A numeric literal. `integer` is set when the literal has no fraction or exponent and fits an
/// int64 (timestamps are compared as integers); `value` is always set and finite.
struct Number {
  double value = 0;
  std::optional<std::int64_t> integer;
  std::string text;  ///< as written, for messages

  friend bool operator==(const Number&, const Number&) = default;
};

/// A number (metrics, numeric attributes), a string, or a non-empty list of strings (IN).
using FilterValue = std::variant<Number, std::string, std::vector<std::string>>;

/// One validated clause. `key` is canonical: attribute aliases are translated (`created` ->
/// `start_time`, `Run name` -> `run_name`), quotes are removed.
struct Comparison {
  EntityType entity = EntityType::ATTRIBUTE;
  std::string key;
  Comparator comparator = Comparator::EQUAL;
  FilterValue value;

  friend bool operator==(const Comparison&, const Comparison&) = default;
};

/// A column as named by a filter or order_by key: entity and canonical key.
struct ColumnRef {
  EntityType entity = EntityType::ATTRIBUTE;
  std::string key;
};

/// Whether an identifier is read for a filter or for an order_by (their attribute sets differ).
enum class KeyUse { FILTER, ORDER_BY };

/// Parses a runs/search filter. Empty or all-blank input yields no clauses. Fails with
/// INVALID_PARAMETER_VALUE on a syntax error, an unknown entity or attribute, a comparator the
/// key does not support, or a value of the wrong kind (e.g. a string for a metric).
Result<std::vector<Comparison>> ParseRunFilter(std::string_view filter);

/// Parses an experiments/search filter: attributes `name`, `creation_time`,
/// `last_update_time` and `tag(s).<key>`. Fails like ParseRunFilter.
Result<std::vector<Comparison>> ParseExperimentFilter(std::string_view filter);

/// Reads a dotted identifier of a run search (`metrics.acc`, `` tags.`a b` ``, `created`)
/// starting at `tokens[pos]` and advances `pos` past it. Used by the order_by parser. Fails with
/// INVALID_PARAMETER_VALUE when there is no identifier, the entity type is unknown, or the
/// attribute / dataset key is not valid for `use`.
Result<ColumnRef> ReadRunColumn(const std::vector<Token>& tokens, std::size_t& pos, KeyUse use);

/// Same for an experiment search: entity `attribute`, `tag` or `tags` only.
Result<ColumnRef> ReadExperimentColumn(const std::vector<Token>& tokens, std::size_t& pos,
                                       KeyUse use);

/// "metric", "parameter", "tag", "attribute" or "dataset" (MLflow's names). Does not fail.
std::string_view EntityTypeName(EntityType entity);

/// "=", "!=", ">", ..., "LIKE", "ILIKE", "IN", "NOT IN". Does not fail.
std::string_view ComparatorText(Comparator comparator);

}  // namespace mltf::tracking::search
