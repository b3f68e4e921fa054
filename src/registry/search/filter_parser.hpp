// filter_parser.hpp - MLflow 2.9.2's filter grammar for registered-model and model-version
// searches (SearchModelUtils, SearchModelVersionUtils), as an AST ready to compile to SQL.
//
// A filter is `clause [AND clause]...`, a clause `identifier comparator value`:
//   name LIKE 'fraud-%' AND tags.owner = 'team-a'                      (registered models)
//   name = 'm' AND run_id IN ('a1', 'b2') AND version_number >= 3      (model versions)
// Identifiers are a bare attribute, `attribute.<attr>`, or `tag(s).<key>` (a key may be quoted
// with backticks or double quotes). The tokens come from tracking/search/filter_lexer.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/error.hpp"
#include "tracking/search/filter_parser.hpp"

namespace mltf::registry::search {

using tracking::search::Comparator;

/// What a clause refers to: a column of the entity, or one of its tags.
enum class FilterEntity { ATTRIBUTE, TAG };

/// A string (=, !=, LIKE, ILIKE), an integer (version_number), or a list of strings (run_id IN).
using FilterValue = std::variant<std::string, std::int64_t, std::vector<std::string>>;

/// One validated clause. For attributes `key` is one of `name`, `run_id`, `source_path`,
/// `version_number`; for tags it is the tag key without quotes.
struct Clause {
  FilterEntity entity = FilterEntity::ATTRIBUTE;
  std::string key;
  Comparator comparator = Comparator::EQUAL;
  FilterValue value;

  friend bool operator==(const Clause&, const Clause&) = default;
};

/// Parses a registered-models/search filter: attribute `name` (=, !=, LIKE, ILIKE) and tags
/// (same comparators), string values only. Empty or blank input yields no clauses. Fails with
/// INVALID_PARAMETER_VALUE on a syntax error, an unknown entity or attribute, a comparator the
/// key does not support, or a value of the wrong kind.
Result<std::vector<Clause>> ParseRegisteredModelFilter(std::string_view filter);

/// Parses a model-versions/search filter: attributes `name`, `source_path` (=, !=, LIKE, ILIKE),
/// `run_id` (those and IN with a list), `version_number` (=, !=, <, <=, >, >= with an integer,
/// written as a number or a quoted integer) and tags. As in MLflow, an IN list keeps only the
/// run ids that Python's str.islower() accepts (run ids are lower-case hex). Fails like
/// ParseRegisteredModelFilter.
Result<std::vector<Clause>> ParseModelVersionFilter(std::string_view filter);

}  // namespace mltf::registry::search
