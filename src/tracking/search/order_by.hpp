// order_by.hpp - MLflow 2.9.2's order_by clauses (`<identifier> [ASC|DESC]`) for runs and
// experiments.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "tracking/search/filter_parser.hpp"

namespace mltf::tracking::search {

/// One parsed order_by key. `key` is canonical (`created` -> `start_time`).
struct OrderByKey {
  EntityType entity = EntityType::ATTRIBUTE;
  std::string key;
  bool ascending = true;

  friend bool operator==(const OrderByKey&, const OrderByKey&) = default;
};

/// Parses one runs/search order_by clause: `metrics.acc DESC`, `` params.`my lr` ``,
/// `start_time asc`. Orderable: metrics, params, tags and the attributes run_id, run_name,
/// status, user_id, artifact_uri, start_time (alias created), end_time. Fails with
/// INVALID_PARAMETER_VALUE on an empty clause, a direction other than ASC/DESC, extra tokens,
/// a dataset key or an unknown attribute.
Result<OrderByKey> ParseRunOrderBy(std::string_view clause);

/// Parses every clause of a runs/search request in order. Fails like ParseRunOrderBy, and when
/// two clauses name the same column (as MLflow's SQL store does).
Result<std::vector<OrderByKey>> ParseRunOrderByList(std::span<const std::string> clauses);

/// Parses one experiments/search order_by clause: attributes name, experiment_id,
/// creation_time, last_update_time. Fails with INVALID_PARAMETER_VALUE like ParseRunOrderBy,
/// and for tag keys.
Result<OrderByKey> ParseExperimentOrderBy(std::string_view clause);

/// Parses every clause of an experiments/search request in order. Fails like
/// ParseExperimentOrderBy; repeated keys are allowed (MLflow allows them).
Result<std::vector<OrderByKey>> ParseExperimentOrderByList(std::span<const std::string> clauses);

}  // namespace mltf::tracking::search
