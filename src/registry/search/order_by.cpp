// order_by.cpp - parses registry order_by clauses (MLflow 2.9.2 rules).
#include "registry/search/order_by.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "tracking/search/filter_lexer.hpp"

namespace mltf::registry::search {
namespace {

using tracking::search::IsKeyword;
using tracking::search::TokenKind;

enum class Target { REGISTERED_MODELS, MODEL_VERSIONS };

constexpr std::array<std::string_view, 4> kModelKeys = {"name", "creation_timestamp",
                                                        "last_updated_timestamp", "timestamp"};
constexpr std::array<std::string_view, 4> kVersionKeys = {
    "name", "version_number", "creation_timestamp", "last_updated_timestamp"};

Error CouldNotParse(std::string_view clause) {
  return Error::InvalidParameter(
      fmt::format("Invalid order_by clause '{}'. Could not be parsed.", clause));
}

template <typename Container>
std::string JoinQuoted(const Container& items) {
  std::string out;
  for (const auto& item : items) {
    out += out.empty() ? "" : ", ";
    out += fmt::format("'{}'", item);
  }
  return "{" + out + "}";
}

Result<OrderKey> ParseClause(std::string_view clause, Target target) {
  auto tokens = tracking::search::Tokenize(clause);
  if (!tokens) {
    return Fail(Error::InvalidParameter(
        fmt::format("Error on parsing order_by clause '{}': {}", clause, tokens.error().message)));
  }
  const auto& list = *tokens;
  std::size_t pos = 0;
  if (list[pos].kind != TokenKind::WORD) return Fail(CouldNotParse(clause));
  // `attribute.<key>` names the same column as `<key>`; tags are not orderable.
  if (list[pos + 1].kind == TokenKind::DOT) {
    if (list[pos].text == "tag" || list[pos].text == "tags") {
      return Fail(Error::InvalidParameter(
          fmt::format("Invalid order_by clause '{}': results cannot be ordered by tags", clause)));
    }
    if (list[pos].text != "attribute") {
      return Fail(Error::InvalidParameter(fmt::format(
          "Invalid entity type '{}'. Valid entity types are ('attribute',)", list[pos].text)));
    }
    pos += 2;
  }
  const auto& token = list[pos];
  const bool models = target == Target::REGISTERED_MODELS;
  const bool known =
      token.kind == TokenKind::WORD &&
      (models
           ? std::find(kModelKeys.begin(), kModelKeys.end(), token.text) != kModelKeys.end()
           : std::find(kVersionKeys.begin(), kVersionKeys.end(), token.text) != kVersionKeys.end());
  if (!known) {
    return Fail(Error::InvalidParameter(
        fmt::format("Invalid order by key '{}' specified. Valid keys are {}",
                    token.kind == TokenKind::END ? std::string() : token.text,
                    models ? JoinQuoted(kModelKeys) : JoinQuoted(kVersionKeys))));
  }
  OrderKey key{token.text == "timestamp" ? "last_updated_timestamp" : token.text, true};
  ++pos;
  if (list[pos].kind == TokenKind::WORD) {
    if (IsKeyword(list[pos].text, "ASC")) {
      key.ascending = true;
    } else if (IsKeyword(list[pos].text, "DESC")) {
      key.ascending = false;
    } else {
      return Fail(Error::InvalidParameter(
          fmt::format("Invalid ordering key in order_by clause '{}'.", clause)));
    }
    ++pos;
  }
  if (list[pos].kind != TokenKind::END) return Fail(CouldNotParse(clause));
  return key;
}

Result<std::vector<OrderKey>> ParseList(std::span<const std::string> clauses, Target target) {
  std::vector<OrderKey> keys;
  for (const std::string& clause : clauses) {
    MLTF_ASSIGN_OR_RETURN(key, ParseClause(clause, target));
    if (std::any_of(keys.begin(), keys.end(),
                    [&](const OrderKey& seen) { return seen.key == key.key; })) {
      return Fail(Error::InvalidParameter(
          fmt::format("`order_by` contains duplicate fields: '{}' is ordered by twice", key.key)));
    }
    keys.push_back(std::move(key));
  }
  return keys;
}

}  // namespace

Result<std::vector<OrderKey>> ParseRegisteredModelOrderBy(std::span<const std::string> clauses) {
  return ParseList(clauses, Target::REGISTERED_MODELS);
}

Result<std::vector<OrderKey>> ParseModelVersionOrderBy(std::span<const std::string> clauses) {
  return ParseList(clauses, Target::MODEL_VERSIONS);
}

}  // namespace mltf::registry::search
