// order_by.cpp - parses run and experiment order_by clauses (MLflow 2.9.2 rules).
#include "tracking/search/order_by.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "tracking/search/filter_lexer.hpp"

namespace mltf::tracking::search {
namespace {

enum class Target { RUNS, EXPERIMENTS };

Error CouldNotParse(std::string_view clause) {
  return Error::InvalidParameter(
      fmt::format("Invalid order_by clause '{}'. Could not be parsed.", clause));
}

Result<OrderByKey> ParseOrderBy(std::string_view clause, Target target) {
  auto tokens = Tokenize(clause);
  if (!tokens) {
    return Fail(Error::InvalidParameter(
        fmt::format("Error on parsing order_by clause '{}': {}", clause, tokens.error().message)));
  }
  if (tokens->front().kind == TokenKind::END) {
    return Fail(CouldNotParse(clause));
  }
  std::size_t pos = 0;
  MLTF_ASSIGN_OR_RETURN(column, target == Target::RUNS
                                    ? ReadRunColumn(*tokens, pos, KeyUse::ORDER_BY)
                                    : ReadExperimentColumn(*tokens, pos, KeyUse::ORDER_BY));
  OrderByKey key{column.entity, std::move(column.key), true};
  const Token& direction = (*tokens)[pos];
  if (direction.kind == TokenKind::WORD) {
    if (IsKeyword(direction.text, "ASC")) {
      key.ascending = true;
    } else if (IsKeyword(direction.text, "DESC")) {
      key.ascending = false;
    } else {
      return Fail(Error::InvalidParameter(
          fmt::format("Invalid ordering key in order_by clause '{}'.", clause)));
    }
    ++pos;
  }
  if ((*tokens)[pos].kind != TokenKind::END) {
    return Fail(CouldNotParse(clause));
  }
  if (target == Target::RUNS && key.entity == EntityType::DATASET) {
    return Fail(Error::InvalidParameter(fmt::format(
        "Invalid order_by clause '{}': runs cannot be ordered by dataset fields", clause)));
  }
  if (target == Target::EXPERIMENTS && key.entity != EntityType::ATTRIBUTE) {
    return Fail(Error::InvalidParameter(
        fmt::format("Invalid order_by entity: {}", EntityTypeName(key.entity))));
  }
  return key;
}

}  // namespace

Result<OrderByKey> ParseRunOrderBy(std::string_view clause) {
  return ParseOrderBy(clause, Target::RUNS);
}

Result<std::vector<OrderByKey>> ParseRunOrderByList(std::span<const std::string> clauses) {
  std::vector<OrderByKey> keys;
  for (const std::string& clause : clauses) {
    MLTF_ASSIGN_OR_RETURN(key, ParseRunOrderBy(clause));
    const bool duplicate = std::any_of(keys.begin(), keys.end(), [&](const OrderByKey& seen) {
      return seen.entity == key.entity && seen.key == key.key;
    });
    if (duplicate) {
      return Fail(Error::InvalidParameter(
          fmt::format("`order_by` contains duplicate fields: {} '{}' is ordered by twice",
                      EntityTypeName(key.entity), key.key)));
    }
    keys.push_back(std::move(key));
  }
  return keys;
}

Result<OrderByKey> ParseExperimentOrderBy(std::string_view clause) {
  return ParseOrderBy(clause, Target::EXPERIMENTS);
}

Result<std::vector<OrderByKey>> ParseExperimentOrderByList(std::span<const std::string> clauses) {
  std::vector<OrderByKey> keys;
  for (const std::string& clause : clauses) {
    MLTF_ASSIGN_OR_RETURN(key, ParseExperimentOrderBy(clause));
    keys.push_back(std::move(key));
  }
  return keys;
}

}  // namespace mltf::tracking::search
