// search_sql.cpp - turns parsed search filters and order_by keys into parameterized SQL.
//
// Filters on child tables are `r.run_key IN (SELECT run_key FROM <child> WHERE ...)` rather
// than correlated EXISTS or joins: measured with EXPLAIN QUERY PLAN on SQLite 3.40 over 50k
// runs, the IN form lets the planner start from the (key, value, run_key) indexes and probe
// runs by primary key (0.1 ms instead of 30 ms for a selective metric filter), and it never
// duplicates rows. PostgreSQL plans both forms as a semi-join.
#include "tracking/store/sql/search_sql.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <optional>
#include <variant>
#include <vector>

namespace mltf::tracking::store::sql {
namespace {

using search::Comparator;
using search::Comparison;
using search::EntityType;
using search::Number;
using search::OrderByKey;

constexpr std::string_view kDatasetContextTag = "mlflow.data.context";

Error Unsupported(std::string message) { return Error::InvalidParameter(std::move(message)); }

void Append(SqlFragment& out, const SqlFragment& more) {
  out.sql += more.sql;
  out.params.insert(out.params.end(), more.params.begin(), more.params.end());
}

// A bound number: timestamps bind as integers when written as integers; ±inf as ±DBL_MAX,
// the way the schema stores infinite metric values.
SqlValue BindNumber(const Number& number, bool prefer_integer) {
  if (prefer_integer && number.integer) {
    return *number.integer;
  }
  if (std::isinf(number.value)) {
    return number.value > 0 ? DBL_MAX : -DBL_MAX;
  }
  return number.value;
}

std::string_view NumericOperator(Comparator comparator) {
  switch (comparator) {
    case Comparator::EQUAL:
      return "=";
    case Comparator::NOT_EQUAL:
      return "<>";
    case Comparator::GREATER:
      return ">";
    case Comparator::GREATER_EQUAL:
      return ">=";
    case Comparator::LESS:
      return "<";
    case Comparator::LESS_EQUAL:
      return "<=";
    default:
      return "";
  }
}

// `column op ?` for a numeric comparison.
Result<void> AppendNumericPredicate(SqlFragment& out, std::string_view column,
                                    const Comparison& clause, bool prefer_integer) {
  const std::string_view op = NumericOperator(clause.comparator);
  const auto* number = std::get_if<Number>(&clause.value);
  if (op.empty() || number == nullptr) {
    return Fail(Unsupported(fmt::format("Invalid numeric comparison on {} '{}'",
                                        search::EntityTypeName(clause.entity), clause.key)));
  }
  out.sql += fmt::format("{} {} ?", column, op);
  out.params.emplace_back(BindNumber(*number, prefer_integer));
  return {};
}

// `column = ?`, `column LIKE ? ESCAPE '\'`, `column IN (?, ?)`, ... for a string comparison.
Result<void> AppendTextPredicate(SqlFragment& out, std::string_view column,
                                 const Comparison& clause) {
  const auto* text = std::get_if<std::string>(&clause.value);
  const auto* list = std::get_if<std::vector<std::string>>(&clause.value);
  switch (clause.comparator) {
    case Comparator::EQUAL:
    case Comparator::NOT_EQUAL:
      if (text == nullptr) {
        break;
      }
      out.sql +=
          fmt::format("{} {} ?", column, clause.comparator == Comparator::EQUAL ? "=" : "<>");
      out.params.emplace_back(*text);
      return {};
    case Comparator::LIKE:
      if (text == nullptr) {
        break;
      }
      out.sql += fmt::format("{} LIKE ? ESCAPE '\\'", column);
      out.params.emplace_back(NormalizeLikePattern(*text));
      return {};
    case Comparator::ILIKE:
      if (text == nullptr) {
        break;
      }
      // The CAST types the parameter for PostgreSQL, where lower() is also defined on ranges.
      out.sql += fmt::format("LOWER({}) LIKE LOWER(CAST(? AS TEXT)) ESCAPE '\\'", column);
      out.params.emplace_back(NormalizeLikePattern(*text));
      return {};
    case Comparator::IN:
    case Comparator::NOT_IN: {
      if (list == nullptr || list->empty()) {
        break;
      }
      out.sql +=
          fmt::format("{} {}(", column, clause.comparator == Comparator::IN ? "IN " : "NOT IN ");
      for (std::size_t i = 0; i < list->size(); ++i) {
        out.sql += i == 0 ? "?" : ", ?";
        out.params.emplace_back((*list)[i]);
      }
      out.sql += ")";
      return {};
    }
    default:
      break;
  }
  return Fail(Unsupported(fmt::format("Invalid comparison '{}' on {} '{}'",
                                      search::ComparatorText(clause.comparator),
                                      search::EntityTypeName(clause.entity), clause.key)));
}

// `r.run_key IN (SELECT <alias>.run_key FROM <table> <alias> WHERE <alias>.key = ? AND ...)`.
Result<void> AppendKeyValueSubquery(SqlFragment& out, std::string_view table,
                                    std::string_view alias, const Comparison& clause) {
  out.sql += fmt::format("r.run_key IN (SELECT {0}.run_key FROM {1} {0} WHERE {0}.key = ? AND ",
                         alias, table);
  out.params.emplace_back(clause.key);
  MLTF_TRY(AppendTextPredicate(out, fmt::format("{}.value", alias), clause));
  out.sql += ")";
  return {};
}

Result<void> AppendMetricPredicate(SqlFragment& out, const Comparison& clause) {
  const auto* number = std::get_if<Number>(&clause.value);
  if (NumericOperator(clause.comparator).empty() || number == nullptr) {
    return Fail(Unsupported(fmt::format("Invalid metric comparison on '{}'", clause.key)));
  }
  out.sql += "r.run_key IN (SELECT m.run_key FROM latest_metrics m WHERE m.key = ? AND ";
  out.params.emplace_back(clause.key);
  // NaN is stored as value 0 with is_nan = 1; like IEEE NaN it is only unequal to everything.
  if (clause.comparator == Comparator::NOT_EQUAL) {
    out.sql += "(m.is_nan = 1 OR m.value <> ?))";
  } else {
    out.sql += fmt::format("m.is_nan = 0 AND m.value {} ?)", NumericOperator(clause.comparator));
  }
  out.params.emplace_back(BindNumber(*number, false));
  return {};
}

// A searchable / orderable run attribute as a column of `runs r`.
struct RunColumn {
  std::string_view key;
  std::string_view column;
  bool numeric;
  bool nullable;
};

constexpr std::array<RunColumn, 7> kRunColumns = {{
    {"run_id", "r.run_uuid", false, false},
    {"run_name", "r.name", false, false},
    {"status", "r.status", false, false},
    {"user_id", "r.user_id", false, false},
    {"artifact_uri", "r.artifact_uri", false, false},
    {"start_time", "r.start_time", true, true},
    {"end_time", "r.end_time", true, true},
}};

std::optional<RunColumn> RunAttributeColumn(std::string_view key) {
  for (const RunColumn& column : kRunColumns) {
    if (column.key == key) {
      return column;
    }
  }
  return std::nullopt;
}

Result<void> AppendRunPredicate(SqlFragment& out, const Comparison& clause) {
  switch (clause.entity) {
    case EntityType::METRIC:
      return AppendMetricPredicate(out, clause);
    case EntityType::PARAM:
      return AppendKeyValueSubquery(out, "params", "p", clause);
    case EntityType::TAG:
      return AppendKeyValueSubquery(out, "tags", "t", clause);
    case EntityType::ATTRIBUTE: {
      const auto column = RunAttributeColumn(clause.key);
      if (!column) {
        return Fail(Unsupported(fmt::format("Invalid attribute key '{}' specified", clause.key)));
      }
      if (column->numeric) {
        return AppendNumericPredicate(out, column->column, clause, true);
      }
      // Only run_id takes lists (the parser enforces it; a hand-built AST may not).
      if (std::holds_alternative<std::vector<std::string>>(clause.value) &&
          clause.key != "run_id") {
        return Fail(Unsupported("Only the 'run_id' attribute supports comparison with a list"));
      }
      return AppendTextPredicate(out, column->column, clause);
    }
    case EntityType::DATASET:
      if (clause.key == "context") {
        out.sql += "r.run_key IN (SELECT it.run_key FROM input_tags it WHERE it.key = ? AND ";
        out.params.emplace_back(std::string(kDatasetContextTag));
        MLTF_TRY(AppendTextPredicate(out, "it.value", clause));
        out.sql += ")";
        return {};
      }
      if (clause.key == "name" || clause.key == "digest") {
        out.sql +=
            "r.run_key IN (SELECT i.run_key FROM inputs i JOIN datasets d ON d.dataset_key = "
            "i.dataset_key WHERE ";
        MLTF_TRY(AppendTextPredicate(out, fmt::format("d.{}", clause.key), clause));
        out.sql += ")";
        return {};
      }
      return Fail(Unsupported(fmt::format("Invalid dataset key '{}' specified", clause.key)));
  }
  return Fail(Error::Internal("unknown entity type"));
}

Result<void> AppendExperimentPredicate(SqlFragment& out, const Comparison& clause) {
  if (clause.entity == EntityType::TAG) {
    if (std::holds_alternative<std::vector<std::string>>(clause.value)) {
      return Fail(Unsupported("Experiment tags cannot be compared with a list"));
    }
    out.sql +=
        "e.experiment_id IN (SELECT et.experiment_id FROM experiment_tags et WHERE et.key = ? "
        "AND ";
    out.params.emplace_back(clause.key);
    MLTF_TRY(AppendTextPredicate(out, "et.value", clause));
    out.sql += ")";
    return {};
  }
  if (clause.entity == EntityType::ATTRIBUTE) {
    if (clause.key == "creation_time" || clause.key == "last_update_time") {
      return AppendNumericPredicate(out, fmt::format("e.{}", clause.key), clause, true);
    }
    if (clause.key == "name" && std::holds_alternative<std::string>(clause.value)) {
      return AppendTextPredicate(out, "e.name", clause);
    }
  }
  return Fail(Unsupported(fmt::format("Invalid experiment search on {} '{}'",
                                      search::EntityTypeName(clause.entity), clause.key)));
}

std::string_view Direction(bool ascending) { return ascending ? "ASC" : "DESC"; }

void AppendOrderItem(SqlFragment& out, std::string_view item) {
  if (!out.sql.empty()) {
    out.sql += ", ";
  }
  out.sql += item;
}

// `LEFT JOIN <table> <alias> ON <alias>.run_key = r.run_key AND <alias>.key = ?`.
void AppendOrderJoin(SqlFragment& joins, std::string_view table, std::string_view alias,
                     const std::string& key) {
  if (!joins.sql.empty()) {
    joins.sql += " ";
  }
  joins.sql +=
      fmt::format("LEFT JOIN {1} {0} ON {0}.run_key = r.run_key AND {0}.key = ?", alias, table);
  joins.params.emplace_back(key);
}

void AppendInList(SqlFragment& out, std::string_view column, std::span<const SqlValue> values) {
  if (values.empty()) {
    out.sql += "1 = 0";
    return;
  }
  out.sql += fmt::format("{} IN (", column);
  for (std::size_t i = 0; i < values.size(); ++i) {
    out.sql += i == 0 ? "?" : ", ?";
    out.params.push_back(values[i]);
  }
  out.sql += ")";
}

SqlFragment SearchStatement(std::string_view select_list, std::string_view table,
                            const CompiledSearch& compiled, const SqlFragment& conditions,
                            std::int64_t limit, std::int64_t offset) {
  SqlFragment statement;
  statement.sql = fmt::format("SELECT {} FROM {}", select_list, table);
  if (!compiled.joins.sql.empty()) {
    statement.sql += " ";
    Append(statement, compiled.joins);
  }
  statement.sql += " WHERE ";
  Append(statement, conditions);
  if (!compiled.where.sql.empty()) {
    statement.sql += " AND ";
    Append(statement, compiled.where);
  }
  statement.sql += " ORDER BY ";
  Append(statement, compiled.order_by);
  statement.sql += " LIMIT ? OFFSET ?";
  statement.params.emplace_back(limit);
  statement.params.emplace_back(offset);
  return statement;
}

}  // namespace

Result<CompiledSearch> CompileRunSearch(std::span<const Comparison> filter,
                                        std::span<const OrderByKey> order_by) {
  CompiledSearch compiled;
  for (const Comparison& clause : filter) {
    if (!compiled.where.sql.empty()) {
      compiled.where.sql += " AND ";
    }
    MLTF_TRY(AppendRunPredicate(compiled.where, clause));
  }

  bool ordered_by_start_time = false;
  bool ordered_by_run_id = false;
  for (std::size_t i = 0; i < order_by.size(); ++i) {
    const OrderByKey& key = order_by[i];
    const std::string alias = fmt::format("o{}", i + 1);
    const std::string_view direction = Direction(key.ascending);
    switch (key.entity) {
      case EntityType::ATTRIBUTE: {
        const auto column = RunAttributeColumn(key.key);
        if (!column) {
          return Fail(Unsupported(fmt::format("Invalid order_by attribute '{}'", key.key)));
        }
        ordered_by_start_time = ordered_by_start_time || key.key == "start_time";
        ordered_by_run_id = ordered_by_run_id || key.key == "run_id";
        AppendOrderItem(compiled.order_by, fmt::format("{} {}{}", column->column, direction,
                                                       column->nullable ? " NULLS LAST" : ""));
        break;
      }
      case EntityType::METRIC:
        AppendOrderJoin(compiled.joins, "latest_metrics", alias, key.key);
        AppendOrderItem(compiled.order_by,
                        fmt::format("CASE WHEN {0}.run_key IS NULL THEN 2 WHEN {0}.is_nan = 1 "
                                    "THEN 1 ELSE 0 END, {0}.value {1}",
                                    alias, direction));
        break;
      case EntityType::PARAM:
      case EntityType::TAG:
        AppendOrderJoin(compiled.joins, key.entity == EntityType::PARAM ? "params" : "tags", alias,
                        key.key);
        AppendOrderItem(compiled.order_by, fmt::format("{}.value {} NULLS LAST", alias, direction));
        break;
      case EntityType::DATASET:
        return Fail(Unsupported("Runs cannot be ordered by dataset fields"));
    }
  }
  if (!ordered_by_start_time) {
    AppendOrderItem(compiled.order_by, "r.start_time DESC NULLS LAST");
  }
  if (!ordered_by_run_id) {
    AppendOrderItem(compiled.order_by, "r.run_uuid ASC");
  }
  return compiled;
}

Result<CompiledSearch> CompileExperimentSearch(std::span<const Comparison> filter,
                                               std::span<const OrderByKey> order_by) {
  CompiledSearch compiled;
  for (const Comparison& clause : filter) {
    if (!compiled.where.sql.empty()) {
      compiled.where.sql += " AND ";
    }
    MLTF_TRY(AppendExperimentPredicate(compiled.where, clause));
  }
  if (order_by.empty()) {
    compiled.order_by.sql = "e.creation_time DESC, e.experiment_id ASC";
    return compiled;
  }
  bool ordered_by_id = false;
  for (const OrderByKey& key : order_by) {
    constexpr std::array<std::string_view, 4> kColumns = {"name", "experiment_id", "creation_time",
                                                          "last_update_time"};
    if (key.entity != EntityType::ATTRIBUTE ||
        std::find(kColumns.begin(), kColumns.end(), key.key) == kColumns.end()) {
      return Fail(Unsupported(fmt::format("Invalid order_by entity: {} '{}'",
                                          search::EntityTypeName(key.entity), key.key)));
    }
    ordered_by_id = ordered_by_id || key.key == "experiment_id";
    AppendOrderItem(compiled.order_by, fmt::format("e.{} {}", key.key, Direction(key.ascending)));
  }
  if (!ordered_by_id) {
    AppendOrderItem(compiled.order_by, "e.experiment_id DESC");
  }
  return compiled;
}

SqlFragment RunSearchStatement(std::string_view select_list, const CompiledSearch& compiled,
                               std::span<const std::int64_t> experiment_ids,
                               std::span<const std::string> lifecycle_stages, std::int64_t limit,
                               std::int64_t offset) {
  std::vector<SqlValue> ids(experiment_ids.begin(), experiment_ids.end());
  std::vector<SqlValue> stages(lifecycle_stages.begin(), lifecycle_stages.end());
  SqlFragment conditions;
  AppendInList(conditions, "r.experiment_id", ids);
  conditions.sql += " AND ";
  AppendInList(conditions, "r.lifecycle_stage", stages);
  return SearchStatement(select_list, "runs r", compiled, conditions, limit, offset);
}

SqlFragment ExperimentSearchStatement(std::string_view select_list, const CompiledSearch& compiled,
                                      std::span<const std::string> lifecycle_stages,
                                      std::int64_t limit, std::int64_t offset,
                                      const IdRestriction* restriction) {
  std::vector<SqlValue> stages(lifecycle_stages.begin(), lifecycle_stages.end());
  SqlFragment conditions;
  AppendInList(conditions, "e.lifecycle_stage", stages);
  if (restriction != nullptr && (restriction->only_listed || !restriction->ids.empty())) {
    std::vector<SqlValue> ids;
    for (const auto& id : restriction->ids) {
      std::int64_t number = 0;
      auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), number);
      if (ec == std::errc{} && end == id.data() + id.size()) ids.emplace_back(number);
    }
    conditions.sql += " AND ";
    if (!restriction->only_listed) conditions.sql += "NOT ";
    conditions.sql += "(";
    AppendInList(conditions, "e.experiment_id", ids);
    conditions.sql += ")";
  }
  return SearchStatement(select_list, "experiments e", compiled, conditions, limit, offset);
}

std::string NormalizeLikePattern(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size());
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (i + 1 < pattern.size() &&
        (pattern[i + 1] == '%' || pattern[i + 1] == '_' || pattern[i + 1] == '\\')) {
      out += c;
      out += pattern[++i];
    } else {
      out += "\\\\";
    }
  }
  return out;
}

}  // namespace mltf::tracking::store::sql
