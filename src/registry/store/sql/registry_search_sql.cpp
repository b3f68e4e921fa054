// registry_search_sql.cpp - registry filters and order_by keys to parameterized SQL.
//
// Tag filters on registered models are `m.model_key IN (SELECT ... FROM registered_model_tags)`,
// which can start from the (key, value, model_key) index; on model versions, whose tags have a
// two-column key, they are correlated EXISTS probes of the tag table's primary key.
#include "registry/store/sql/registry_search_sql.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <variant>

#include "tracking/store/sql/search_sql.hpp"

namespace mltf::registry::store::sql {
namespace {

using search::Clause;
using search::Comparator;
using search::FilterEntity;
using search::OrderKey;

Error Unsupported(const Clause& clause) {
  return Error::InvalidParameter(fmt::format(
      "Invalid comparison '{}' on {} '{}'", tracking::search::ComparatorText(clause.comparator),
      clause.entity == FilterEntity::TAG ? "tag" : "attribute", clause.key));
}

// `column = ?`, `column LIKE ? ESCAPE '\'`, `column IN (?, ?)`, ... for a string comparison.
Result<void> AppendTextPredicate(SqlFragment& out, std::string_view column, const Clause& clause) {
  const auto* text = std::get_if<std::string>(&clause.value);
  const auto* list = std::get_if<std::vector<std::string>>(&clause.value);
  switch (clause.comparator) {
    case Comparator::EQUAL:
    case Comparator::NOT_EQUAL:
      if (text == nullptr) break;
      out.sql +=
          fmt::format("{} {} ?", column, clause.comparator == Comparator::EQUAL ? "=" : "<>");
      out.params.emplace_back(*text);
      return {};
    case Comparator::LIKE:
      if (text == nullptr) break;
      out.sql += fmt::format("{} LIKE ? ESCAPE '\\'", column);
      out.params.emplace_back(tracking::store::sql::NormalizeLikePattern(*text));
      return {};
    case Comparator::ILIKE:
      if (text == nullptr) break;
      // The CAST types the parameter for PostgreSQL, where lower() is also defined on ranges.
      out.sql += fmt::format("LOWER({}) LIKE LOWER(CAST(? AS TEXT)) ESCAPE '\\'", column);
      out.params.emplace_back(tracking::store::sql::NormalizeLikePattern(*text));
      return {};
    case Comparator::IN:
      if (list == nullptr) break;
      if (list->empty()) {
        out.sql += "1 = 0";  // every id had upper-case letters: nothing can match
        return {};
      }
      out.sql += fmt::format("{} IN (", column);
      for (std::size_t idx = 0; idx < list->size(); ++idx) {
        out.sql += idx == 0 ? "?" : ", ?";
        out.params.emplace_back((*list)[idx]);
      }
      out.sql += ")";
      return {};
    default:
      break;
  }
  return Fail(Unsupported(clause));
}

Result<void> AppendNumericPredicate(SqlFragment& out, std::string_view column,
                                    const Clause& clause) {
  const auto* number = std::get_if<std::int64_t>(&clause.value);
  std::string_view op;
  switch (clause.comparator) {
    case Comparator::EQUAL:
      op = "=";
      break;
    case Comparator::NOT_EQUAL:
      op = "<>";
      break;
    case Comparator::GREATER:
      op = ">";
      break;
    case Comparator::GREATER_EQUAL:
      op = ">=";
      break;
    case Comparator::LESS:
      op = "<";
      break;
    case Comparator::LESS_EQUAL:
      op = "<=";
      break;
    default:
      break;
  }
  if (op.empty() || number == nullptr) return Fail(Unsupported(clause));
  out.sql += fmt::format("{} {} ?", column, op);
  out.params.emplace_back(*number);
  return {};
}

enum class Target { REGISTERED_MODELS, MODEL_VERSIONS };

Result<SqlFragment> CompileWhere(std::span<const Clause> filter, Target target) {
  SqlFragment where;
  for (const Clause& clause : filter) {
    where.sql += where.sql.empty() ? "(" : " AND (";
    if (clause.entity == FilterEntity::TAG) {
      if (clause.comparator != Comparator::EQUAL && clause.comparator != Comparator::NOT_EQUAL &&
          clause.comparator != Comparator::LIKE && clause.comparator != Comparator::ILIKE) {
        return Fail(Unsupported(clause));
      }
      if (target == Target::REGISTERED_MODELS) {
        where.sql +=
            "m.model_key IN (SELECT t.model_key FROM registered_model_tags t WHERE t.key = ? AND ";
      } else {
        where.sql +=
            "EXISTS (SELECT 1 FROM model_version_tags t WHERE t.model_key = v.model_key AND "
            "t.version = v.version AND t.key = ? AND ";
      }
      where.params.emplace_back(clause.key);
      MLTF_TRY(AppendTextPredicate(where, "t.value", clause));
      where.sql += ")";
    } else if (clause.key == "name") {
      if (clause.comparator == Comparator::IN) return Fail(Unsupported(clause));
      MLTF_TRY(AppendTextPredicate(where, "m.name", clause));
    } else if (target == Target::MODEL_VERSIONS && clause.key == "run_id") {
      MLTF_TRY(AppendTextPredicate(where, "v.run_id", clause));
    } else if (target == Target::MODEL_VERSIONS && clause.key == "source_path") {
      if (clause.comparator == Comparator::IN) return Fail(Unsupported(clause));
      MLTF_TRY(AppendTextPredicate(where, "v.source", clause));
    } else if (target == Target::MODEL_VERSIONS && clause.key == "version_number") {
      MLTF_TRY(AppendNumericPredicate(where, "v.version", clause));
    } else {
      return Fail(Unsupported(clause));
    }
    where.sql += ")";
  }
  return where;
}

void AppendOrder(SqlFragment& order_by, std::string_view column, bool ascending) {
  order_by.sql +=
      fmt::format("{}{} {}", order_by.sql.empty() ? "" : ", ", column, ascending ? "ASC" : "DESC");
}

}  // namespace

Result<CompiledRegistrySearch> CompileRegisteredModelSearch(std::span<const Clause> filter,
                                                            std::span<const OrderKey> order_by) {
  CompiledRegistrySearch compiled;
  MLTF_ASSIGN_OR_RETURN(where, CompileWhere(filter, Target::REGISTERED_MODELS));
  compiled.where = std::move(where);
  bool by_name = false;
  for (const OrderKey& key : order_by) {
    if (key.key == "name") {
      by_name = true;
      AppendOrder(compiled.order_by, "m.name", key.ascending);
    } else if (key.key == "creation_timestamp") {
      AppendOrder(compiled.order_by, "m.creation_time", key.ascending);
    } else if (key.key == "last_updated_timestamp") {
      AppendOrder(compiled.order_by, "m.last_updated_time", key.ascending);
    } else {
      return Fail(Error::InvalidParameter(
          fmt::format("Invalid order by key '{}' for registered models", key.key)));
    }
  }
  if (!by_name) AppendOrder(compiled.order_by, "m.name", true);
  return compiled;
}

Result<CompiledRegistrySearch> CompileModelVersionSearch(std::span<const Clause> filter,
                                                         std::span<const OrderKey> order_by) {
  CompiledRegistrySearch compiled;
  MLTF_ASSIGN_OR_RETURN(where, CompileWhere(filter, Target::MODEL_VERSIONS));
  compiled.where = std::move(where);
  static const std::vector<OrderKey> kDefaultOrder = {
      {"last_updated_timestamp", false}, {"name", true}, {"version_number", false}};
  std::span<const OrderKey> keys = order_by.empty() ? kDefaultOrder : order_by;
  bool by_name = false;
  bool by_version = false;
  for (const OrderKey& key : keys) {
    if (key.key == "name") {
      by_name = true;
      AppendOrder(compiled.order_by, "m.name", key.ascending);
    } else if (key.key == "version_number") {
      by_version = true;
      AppendOrder(compiled.order_by, "v.version", key.ascending);
    } else if (key.key == "creation_timestamp") {
      AppendOrder(compiled.order_by, "v.creation_time", key.ascending);
    } else if (key.key == "last_updated_timestamp") {
      AppendOrder(compiled.order_by, "v.last_updated_time", key.ascending);
    } else {
      return Fail(Error::InvalidParameter(
          fmt::format("Invalid order by key '{}' for model versions", key.key)));
    }
  }
  if (!by_name) AppendOrder(compiled.order_by, "m.name", true);
  if (!by_version) AppendOrder(compiled.order_by, "v.version", false);
  return compiled;
}

namespace {

SqlFragment Statement(std::string prefix, const CompiledRegistrySearch& compiled,
                      bool has_condition, std::int64_t limit, std::int64_t offset,
                      const NameRestriction* restriction) {
  SqlFragment statement{std::move(prefix), {}};
  if (restriction != nullptr && (restriction->only_listed || !restriction->names.empty())) {
    statement.sql += has_condition ? " AND " : " WHERE ";
    has_condition = true;
    if (restriction->names.empty()) {
      statement.sql += "1 = 0";  // only the listed ones, and none is listed
    } else {
      statement.sql += restriction->only_listed ? "m.name IN (" : "m.name NOT IN (";
      for (std::size_t i = 0; i < restriction->names.size(); ++i) {
        statement.sql += i == 0 ? "?" : ", ?";
        statement.params.emplace_back(restriction->names[i]);
      }
      statement.sql += ")";
    }
  }
  if (!compiled.where.sql.empty()) {
    statement.sql += has_condition ? " AND " : " WHERE ";
    statement.sql += compiled.where.sql;
    statement.params.insert(statement.params.end(), compiled.where.params.begin(),
                            compiled.where.params.end());
  }
  statement.sql += " ORDER BY " + compiled.order_by.sql + " LIMIT ? OFFSET ?";
  statement.params.insert(statement.params.end(), compiled.order_by.params.begin(),
                          compiled.order_by.params.end());
  statement.params.emplace_back(limit);
  statement.params.emplace_back(offset);
  return statement;
}

}  // namespace

SqlFragment RegisteredModelSearchStatement(std::string_view select_list,
                                           const CompiledRegistrySearch& compiled,
                                           std::int64_t limit, std::int64_t offset,
                                           const NameRestriction* restriction) {
  return Statement(fmt::format("SELECT {} FROM registered_models m", select_list), compiled, false,
                   limit, offset, restriction);
}

SqlFragment ModelVersionSearchStatement(std::string_view select_list,
                                        const CompiledRegistrySearch& compiled, std::int64_t limit,
                                        std::int64_t offset, const NameRestriction* restriction) {
  return Statement(
      fmt::format("SELECT {} FROM model_versions v JOIN registered_models m ON m.model_key = "
                  "v.model_key WHERE v.current_stage <> 'Deleted_Internal'",
                  select_list),
      compiled, true, limit, offset, restriction);
}

}  // namespace mltf::registry::store::sql
