// filter_parser.cpp - parses and validates registry search filters (MLflow 2.9.2 rules).
//
// MLflow parses these filters with sqlparse, then checks each clause in SearchModelUtils /
// SearchModelVersionUtils; this parser reads the same language from the tracking lexer's tokens.
// Where MLflow accepts nonsense by accident (a trailing AND) or fails with a server error, this
// parser answers INVALID_PARAMETER_VALUE.
#include "registry/search/filter_parser.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include "tracking/search/filter_lexer.hpp"

namespace mltf::registry::search {
namespace {

using tracking::search::ComparatorText;
using tracking::search::IsKeyword;
using tracking::search::Token;
using tracking::search::TokenKind;

enum class Target { REGISTERED_MODELS, MODEL_VERSIONS };

constexpr std::array<std::string_view, 1> kModelAttributes = {"name"};
constexpr std::array<std::string_view, 4> kVersionAttributes = {"name", "run_id", "source_path",
                                                                "version_number"};

Error Invalid(std::string message) { return Error::InvalidParameter(std::move(message)); }

template <typename Container>
bool Contains(const Container& container, std::string_view value) {
  return std::find(container.begin(), container.end(), value) != container.end();
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

// The token roughly as written, for messages.
std::string Display(const Token& token) {
  switch (token.kind) {
    case TokenKind::SINGLE_QUOTED:
      return fmt::format("'{}'", token.text);
    case TokenKind::DOUBLE_QUOTED:
      return fmt::format("\"{}\"", token.text);
    case TokenKind::BACKTICKED:
      return fmt::format("`{}`", token.text);
    case TokenKind::END:
      return "end of input";
    default:
      return token.text;
  }
}

bool IsIdentifierPart(TokenKind kind) {
  return kind == TokenKind::WORD || kind == TokenKind::BACKTICKED ||
         kind == TokenKind::DOUBLE_QUOTED;
}

// entity + key, read from `attr`, `attribute.attr`, `tag.key`, `tags.`a b``.
struct Identifier {
  FilterEntity entity = FilterEntity::ATTRIBUTE;
  std::string key;
  std::string display;
};

Result<Identifier> ReadIdentifier(const std::vector<Token>& tokens, std::size_t& pos,
                                  Target target) {
  std::vector<const Token*> parts;
  std::string display;
  if (!IsIdentifierPart(tokens[pos].kind)) {
    return Fail(Invalid(fmt::format(
        "Invalid clause at position {}: expected an identifier such as 'name' or 'tags.key' but "
        "found '{}'",
        tokens[pos].offset, Display(tokens[pos]))));
  }
  parts.push_back(&tokens[pos]);
  display = Display(tokens[pos]);
  ++pos;
  while (tokens[pos].kind == TokenKind::DOT) {
    const Token& part = tokens[pos + 1];  // END always follows, so pos + 1 is in range
    if (!IsIdentifierPart(part.kind)) {
      return Fail(
          Invalid(fmt::format("Invalid identifier '{}.': expected a key after '.'", display)));
    }
    parts.push_back(&part);
    display += "." + Display(part);
    pos += 2;
  }

  Identifier identifier;
  identifier.display = display;
  const Token* key_part = parts.front();
  if (parts.size() > 1) {
    // MLflow splits at the first '.', and accepts only these entity names, unquoted.
    const Token& entity = *parts.front();
    if (entity.kind == TokenKind::WORD && (entity.text == "tag" || entity.text == "tags")) {
      identifier.entity = FilterEntity::TAG;
    } else if (entity.kind != TokenKind::WORD || entity.text != "attribute") {
      return Fail(Invalid(fmt::format(
          "Invalid entity type '{}'. Valid entity types are ('attribute', 'tag', 'tags')",
          Display(entity))));
    }
    if (identifier.entity == FilterEntity::TAG) {
      for (std::size_t idx = 1; idx < parts.size(); ++idx) {
        identifier.key += (idx > 1 ? "." : "") + parts[idx]->text;
      }
      if (identifier.key.empty()) {
        return Fail(Invalid(fmt::format("Invalid identifier '{}': the tag key is empty", display)));
      }
      return identifier;
    }
    key_part = parts.size() == 2 ? parts[1] : nullptr;
  }
  // Attribute names are compared as written, before any unquoting, as MLflow does.
  const bool models = target == Target::REGISTERED_MODELS;
  std::string key = parts.size() > 2 ? display.substr(display.find('.') + 1)
                                     : (key_part != nullptr ? Display(*key_part) : "");
  bool valid = key_part != nullptr && key_part->kind == TokenKind::WORD &&
               (models ? Contains(kModelAttributes, key) : Contains(kVersionAttributes, key));
  if (!valid) {
    return Fail(Invalid(
        fmt::format("Invalid attribute key '{}' specified. Valid keys are '{}'", key,
                    models ? JoinQuoted(kModelAttributes) : JoinQuoted(kVersionAttributes))));
  }
  identifier.key = std::move(key);
  return identifier;
}

Result<Comparator> ReadComparator(const std::vector<Token>& tokens, std::size_t& pos,
                                  const std::string& identifier) {
  const Token& token = tokens[pos];
  if (token.kind == TokenKind::OPERATOR) {
    static constexpr std::array<std::pair<std::string_view, Comparator>, 6> kOperators = {{
        {"=", Comparator::EQUAL},
        {"!=", Comparator::NOT_EQUAL},
        {">", Comparator::GREATER},
        {">=", Comparator::GREATER_EQUAL},
        {"<", Comparator::LESS},
        {"<=", Comparator::LESS_EQUAL},
    }};
    for (const auto& [text, comparator] : kOperators) {
      if (token.text == text) {
        ++pos;
        return comparator;
      }
    }
  } else if (token.kind == TokenKind::WORD) {
    if (IsKeyword(token.text, "LIKE")) {
      ++pos;
      return Comparator::LIKE;
    }
    if (IsKeyword(token.text, "ILIKE")) {
      ++pos;
      return Comparator::ILIKE;
    }
    if (IsKeyword(token.text, "IN")) {
      ++pos;
      return Comparator::IN;
    }
    if (IsKeyword(token.text, "NOT") && tokens[pos + 1].kind == TokenKind::WORD &&
        IsKeyword(tokens[pos + 1].text, "IN")) {
      pos += 2;
      return Comparator::NOT_IN;
    }
  }
  return Fail(Invalid(
      fmt::format("Invalid clause at position {}: expected a comparator after '{}' but found '{}'",
                  token.offset, identifier, Display(token))));
}

// A value as written: one token, or a parenthesised list of single-quoted strings.
struct RawValue {
  const Token* token = nullptr;
  bool is_list = false;
  std::vector<std::string> items;
  std::string display;
};

Result<RawValue> ReadValue(const std::vector<Token>& tokens, std::size_t& pos,
                           Comparator comparator) {
  const Token& token = tokens[pos];
  RawValue value;
  value.token = &token;
  switch (token.kind) {
    case TokenKind::NUMBER:
    case TokenKind::SINGLE_QUOTED:
    case TokenKind::DOUBLE_QUOTED:
    case TokenKind::WORD:
    case TokenKind::BACKTICKED:
      value.display = Display(token);
      ++pos;
      return value;
    case TokenKind::LEFT_PAREN:
      break;
    default:
      return Fail(Invalid(
          fmt::format("Invalid clause at position {}: expected a value after '{}' but found '{}'",
                      token.offset, ComparatorText(comparator), Display(token))));
  }
  value.is_list = true;
  value.display = "(";
  ++pos;
  if (tokens[pos].kind == TokenKind::RIGHT_PAREN) {
    return Fail(Invalid(
        "While parsing a list in the query, expected a non-empty list of string values, but got "
        "empty list"));
  }
  while (true) {
    const Token& item = tokens[pos];
    if (item.kind != TokenKind::SINGLE_QUOTED) {
      return Fail(Invalid(fmt::format(
          "While parsing a list in the query, expected string value, punctuation, or whitespace, "
          "but got different type in list at position {}: '{}'",
          item.offset, Display(item))));
    }
    value.items.push_back(item.text);
    value.display += Display(item);
    const Token& separator = tokens[pos + 1];
    pos += 2;
    if (separator.kind == TokenKind::RIGHT_PAREN) {
      value.display += ")";
      return value;
    }
    if (separator.kind != TokenKind::COMMA) {
      return Fail(Invalid(fmt::format(
          "While parsing a list in the query, expected a non-empty list of string values, but "
          "got ill-formed list at position {}",
          separator.offset)));
    }
    value.display += ", ";
  }
}

bool IsQuoted(const RawValue& value) {
  return !value.is_list && (value.token->kind == TokenKind::SINGLE_QUOTED ||
                            value.token->kind == TokenKind::DOUBLE_QUOTED);
}

std::optional<std::int64_t> ParseInteger(std::string_view text) {
  std::int64_t number = 0;
  const char* first = text.data();
  const char* last = first + text.size();
  if (first != last && *first == '+') ++first;
  auto [end, ec] = std::from_chars(first, last, number);
  if (ec != std::errc{} || end != last || first == last) return std::nullopt;
  return number;
}

Error BadComparator(const Identifier& identifier, Comparator comparator) {
  return Invalid(fmt::format("Invalid comparator '{}' for {} '{}'", ComparatorText(comparator),
                             identifier.entity == FilterEntity::TAG ? "tag" : "attribute",
                             identifier.key));
}

bool IsTextComparator(Comparator comparator) {
  return comparator == Comparator::EQUAL || comparator == Comparator::NOT_EQUAL ||
         comparator == Comparator::LIKE || comparator == Comparator::ILIKE;
}

bool IsNumericComparator(Comparator comparator) {
  return comparator == Comparator::EQUAL || comparator == Comparator::NOT_EQUAL ||
         comparator == Comparator::GREATER || comparator == Comparator::GREATER_EQUAL ||
         comparator == Comparator::LESS || comparator == Comparator::LESS_EQUAL;
}

Result<Clause> CheckClause(const Identifier& identifier, Comparator comparator, RawValue value) {
  Clause clause{identifier.entity, identifier.key, comparator, std::string()};
  if (identifier.entity == FilterEntity::TAG) {
    if (!IsTextComparator(comparator)) return Fail(BadComparator(identifier, comparator));
    if (!IsQuoted(value)) {
      return Fail(Invalid(
          fmt::format("Expected a quoted string value for tag (e.g. 'my-value'). Got value {}",
                      value.display)));
    }
    clause.value = value.token->text;
    return clause;
  }
  if (identifier.key == "version_number") {
    if (!IsNumericComparator(comparator)) return Fail(BadComparator(identifier, comparator));
    std::optional<std::int64_t> number;
    if (!value.is_list && (value.token->kind == TokenKind::NUMBER || IsQuoted(value))) {
      number = ParseInteger(value.token->text);
    }
    if (!number) {
      return Fail(Invalid(
          fmt::format("Expected an integer value for attribute 'version_number'. Got value {}",
                      value.display)));
    }
    clause.value = *number;
    return clause;
  }
  const bool is_run_id = identifier.key == "run_id";
  if (value.is_list) {
    if (!is_run_id) {
      return Fail(
          Invalid("Only the 'run_id' attribute supports comparison with a list of quoted string "
                  "values."));
    }
    if (comparator != Comparator::IN) return Fail(BadComparator(identifier, comparator));
    // Run ids are lower-case hex; MLflow keeps only ids for which Python's str.islower() holds
    // (a lower-case letter and no upper-case one) so that MySQL's case-insensitive IN cannot
    // match differently cased ids.
    std::vector<std::string> run_ids;
    for (auto& item : value.items) {
      bool lower = false;
      bool upper = false;
      for (char ch : item) {
        lower = lower || std::islower(static_cast<unsigned char>(ch)) != 0;
        upper = upper || std::isupper(static_cast<unsigned char>(ch)) != 0;
      }
      if (lower && !upper) run_ids.push_back(std::move(item));
    }
    clause.value = std::move(run_ids);
    return clause;
  }
  if (!IsTextComparator(comparator)) return Fail(BadComparator(identifier, comparator));
  if (!IsQuoted(value)) {
    return Fail(Invalid(fmt::format(
        "Expected a quoted string value or a list of quoted string values for attributes. Got "
        "value {}",
        value.display)));
  }
  clause.value = value.token->text;
  return clause;
}

Result<std::vector<Clause>> ParseFilter(std::string_view filter, Target target) {
  auto tokens = tracking::search::Tokenize(filter);
  if (!tokens) {
    return Fail(
        Invalid(fmt::format("Error on parsing filter '{}': {}", filter, tokens.error().message)));
  }
  std::vector<Clause> clauses;
  std::size_t pos = 0;
  if ((*tokens)[pos].kind == TokenKind::END) return clauses;
  while (true) {
    MLTF_ASSIGN_OR_RETURN(identifier, ReadIdentifier(*tokens, pos, target));
    MLTF_ASSIGN_OR_RETURN(comparator, ReadComparator(*tokens, pos, identifier.display));
    MLTF_ASSIGN_OR_RETURN(value, ReadValue(*tokens, pos, comparator));
    MLTF_ASSIGN_OR_RETURN(clause, CheckClause(identifier, comparator, std::move(value)));
    clauses.push_back(std::move(clause));
    const Token& next = (*tokens)[pos];
    if (next.kind == TokenKind::END) break;
    if (next.kind != TokenKind::WORD || !IsKeyword(next.text, "AND")) {
      return Fail(Invalid(fmt::format(
          "Invalid clause(s) in filter string at position {}: '{}'. Only clauses joined by AND "
          "are supported.",
          next.offset, Display(next))));
    }
    ++pos;
    if ((*tokens)[pos].kind == TokenKind::END) {
      return Fail(
          Invalid(fmt::format("Invalid filter '{}': AND must be followed by a clause", filter)));
    }
  }
  return clauses;
}

}  // namespace

Result<std::vector<Clause>> ParseRegisteredModelFilter(std::string_view filter) {
  return ParseFilter(filter, Target::REGISTERED_MODELS);
}

Result<std::vector<Clause>> ParseModelVersionFilter(std::string_view filter) {
  return ParseFilter(filter, Target::MODEL_VERSIONS);
}

}  // namespace mltf::registry::search
