// filter_parser.cpp - parses and validates run and experiment search filters (MLflow 2.9.2).
//
// MLflow parses filters with sqlparse and then checks each clause; this parser reads the same
// language directly. Where MLflow accepts nonsense by accident (a trailing AND, two clauses
// without AND between them), this parser rejects it; the error code is always
// INVALID_PARAMETER_VALUE, even where MLflow raises a bare MlflowException (tag comparators).
#include "tracking/search/filter_parser.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <span>
#include <system_error>

namespace mltf::tracking::search {
namespace {

enum class Target { RUNS, EXPERIMENTS };

constexpr std::array kNumericComparators = {
    Comparator::EQUAL,         Comparator::NOT_EQUAL, Comparator::GREATER,
    Comparator::GREATER_EQUAL, Comparator::LESS,      Comparator::LESS_EQUAL,
};
constexpr std::array kTextComparators = {
    Comparator::EQUAL,
    Comparator::NOT_EQUAL,
    Comparator::LIKE,
    Comparator::ILIKE,
};
constexpr std::array kTextOrListComparators = {
    Comparator::EQUAL, Comparator::NOT_EQUAL, Comparator::LIKE,
    Comparator::ILIKE, Comparator::IN,        Comparator::NOT_IN,
};

// RunInfo's searchable attributes plus MLflow's aliases; everything searchable is orderable.
constexpr std::array<std::string_view, 12> kRunFilterAttributes = {
    "artifact_uri", "end_time", "run_id",  "run_name", "start_time", "status",
    "user_id",      "created",  "Created", "run name", "Run name",   "Run Name",
};
constexpr std::array<std::string_view, 9> kRunOrderByAttributes = {
    "artifact_uri", "end_time", "run_id",  "run_name", "start_time",
    "status",       "user_id",  "created", "Created",
};
constexpr std::array<std::string_view, 2> kRunNumericAttributes = {"start_time", "end_time"};
constexpr std::array<std::string_view, 3> kDatasetKeys = {"context", "digest", "name"};

constexpr std::array<std::string_view, 3> kExperimentFilterAttributes = {
    "creation_time", "last_update_time", "name"};
constexpr std::array<std::string_view, 4> kExperimentOrderByAttributes = {
    "creation_time", "experiment_id", "last_update_time", "name"};
constexpr std::array<std::string_view, 2> kExperimentNumericAttributes = {"creation_time",
                                                                          "last_update_time"};

template <typename Container, typename Value>
bool Contains(const Container& container, const Value& value) {
  return std::find(container.begin(), container.end(), value) != container.end();
}

template <typename Container>
std::string JoinQuoted(const Container& items) {
  std::string out = "[";
  for (const auto& item : items) {
    if (out.size() > 1) {
      out += ", ";
    }
    out += fmt::format("'{}'", item);
  }
  return out + "]";
}

template <typename Container>
std::string JoinComparators(const Container& comparators) {
  std::string out;
  for (Comparator comparator : comparators) {
    if (!out.empty()) {
      out += ", ";
    }
    out += ComparatorText(comparator);
  }
  return out;
}

bool IsIdentifierPart(TokenKind kind) {
  return kind == TokenKind::WORD || kind == TokenKind::BACKTICKED ||
         kind == TokenKind::DOUBLE_QUOTED;
}

bool IsString(TokenKind kind) {
  return kind == TokenKind::SINGLE_QUOTED || kind == TokenKind::DOUBLE_QUOTED;
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

Error Invalid(std::string message) { return Error::InvalidParameter(std::move(message)); }

// An identifier as written: one part (`start_time`) or entity + key parts (`tags.mlflow.note`).
struct RawIdentifier {
  std::vector<const Token*> parts;
  std::string display;
};

Result<RawIdentifier> ReadRawIdentifier(const std::vector<Token>& tokens, std::size_t& pos) {
  const Token& first = tokens[pos];
  if (!IsIdentifierPart(first.kind)) {
    return Fail(Invalid(fmt::format(
        "Invalid clause at position {}: expected an identifier such as 'metrics.acc' but found "
        "{} '{}'",
        first.offset, TokenKindName(first.kind), Display(first))));
  }
  RawIdentifier identifier;
  identifier.parts.push_back(&first);
  identifier.display = Display(first);
  ++pos;
  while (tokens[pos].kind == TokenKind::DOT) {
    const Token& part = tokens[pos + 1];  // END always follows, so pos + 1 is in range
    if (!IsIdentifierPart(part.kind)) {
      return Fail(
          Invalid(fmt::format("Invalid identifier '{}.' at position {}: expected a key "
                              "after '.'",
                              identifier.display, first.offset)));
    }
    identifier.parts.push_back(&part);
    identifier.display += "." + Display(part);
    pos += 2;
  }
  return identifier;
}

// The key of a multi-part identifier: the parts after the entity joined with '.', unquoted.
Result<std::string> KeyOf(const RawIdentifier& identifier, std::size_t first_key_part) {
  std::string key;
  for (std::size_t i = first_key_part; i < identifier.parts.size(); ++i) {
    if (i > first_key_part) {
      key += '.';
    }
    key += identifier.parts[i]->text;
  }
  if (key.empty()) {
    return Fail(
        Invalid(fmt::format("Invalid identifier '{}': the key is empty", identifier.display)));
  }
  return key;
}

std::string TranslateRunAttributeAlias(const std::string& key) {
  if (key == "created" || key == "Created") {
    return "start_time";
  }
  if (key == "run name" || key == "Run name" || key == "Run Name") {
    return "run_name";
  }
  return key;
}

Result<EntityType> RunEntityType(const Token& token) {
  // MLflow trims backticks from the entity (`` `metrics`.acc ``) but not double quotes.
  if (token.kind != TokenKind::DOUBLE_QUOTED) {
    const std::string& name = token.text;
    if (name == "metric" || name == "metrics") {
      return EntityType::METRIC;
    }
    if (name == "parameter" || name == "parameters" || name == "param" || name == "params") {
      return EntityType::PARAM;
    }
    if (name == "tag" || name == "tags") {
      return EntityType::TAG;
    }
    if (name == "attribute" || name == "attributes" || name == "attr" || name == "run") {
      return EntityType::ATTRIBUTE;
    }
    if (name == "dataset" || name == "datasets") {
      return EntityType::DATASET;
    }
  }
  return Fail(Invalid(fmt::format(
      "Invalid entity type '{}'. Valid values are ['metric', 'parameter', 'tag', 'attribute', "
      "'dataset']",
      Display(token))));
}

Result<EntityType> ExperimentEntityType(const Token& token) {
  if (token.kind == TokenKind::WORD) {
    if (token.text == "attribute") {
      return EntityType::ATTRIBUTE;
    }
    if (token.text == "tag" || token.text == "tags") {
      return EntityType::TAG;
    }
  }
  return Fail(Invalid(
      fmt::format("Invalid entity type '{}'. Valid entity types are ('attribute', 'tag', 'tags')",
                  Display(token))));
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
    return Fail(Invalid(fmt::format(
        "Invalid comparator '{}' at position {}: use one of =, !=, >, >=, <, <=, LIKE, ILIKE, "
        "IN, NOT IN",
        token.text, token.offset)));
  }
  if (token.kind == TokenKind::WORD) {
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
  return Fail(Invalid(fmt::format(
      "Invalid clause at position {}: expected a comparator (=, !=, >, >=, <, <=, LIKE, ILIKE, "
      "IN, NOT IN) after '{}' but found '{}'",
      token.offset, identifier, Display(token))));
}

// A value as written: one token, or a parenthesised list of single-quoted strings.
struct RawValue {
  const Token* token = nullptr;  // the single token, or the '(' of a list
  bool is_list = false;
  std::vector<std::string> items;
  std::string display;
};

Result<RawValue> ReadRawValue(const std::vector<Token>& tokens, std::size_t& pos,
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
  // MLflow reads the list with Python's literal_eval after checking that it holds only
  // single-quoted strings, commas and blanks.
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

Result<Number> ToNumber(const Token& token) {
  Number number;
  number.text = token.text;
  const char* first = token.text.data();
  const char* last = first + token.text.size();
  if (token.text.find_first_of(".eE") == std::string::npos) {
    std::int64_t integer = 0;
    const auto [end, error] = std::from_chars(first, last, integer);
    if (error == std::errc() && end == last) {
      number.integer = integer;
    }
  }
  const auto [end, error] = std::from_chars(first, last, number.value);
  if (error != std::errc() || end != last || !std::isfinite(number.value)) {
    return Fail(Invalid(fmt::format("Number out of range: {}", token.text)));
  }
  return number;
}

Result<void> CheckComparator(Comparator comparator, std::span<const Comparator> allowed) {
  if (!Contains(allowed, comparator)) {
    return Fail(Invalid(fmt::format("Invalid comparator '{}' not one of '{}'",
                                    ComparatorText(comparator), JoinComparators(allowed))));
  }
  return {};
}

Result<void> CheckListUse(Comparator comparator, const RawValue& value) {
  const bool wants_list = comparator == Comparator::IN || comparator == Comparator::NOT_IN;
  if (wants_list && !value.is_list) {
    return Fail(Invalid(fmt::format(
        "Invalid clause: '{}' must be followed by a parenthesised list of quoted strings, e.g. "
        "('a', 'b'); got {}",
        ComparatorText(comparator), value.display)));
  }
  if (!wants_list && value.is_list) {
    return Fail(Invalid(fmt::format(
        "Invalid clause: a list of values can only be compared with IN or NOT IN, not '{}'",
        ComparatorText(comparator))));
  }
  return {};
}

Error NotQuoted(const RawValue& value) {
  return Invalid(fmt::format(
      "Parameter value is either not quoted or unidentified quote types used for string value "
      "{}. Use either single or double quotes.",
      value.display));
}

Result<FilterValue> NumericValue(const RawValue& value, std::string_view what) {
  if (value.is_list || value.token->kind != TokenKind::NUMBER) {
    return Fail(
        Invalid(fmt::format("Expected numeric value type for {}. Found {}", what, value.display)));
  }
  MLTF_ASSIGN_OR_RETURN(number, ToNumber(*value.token));
  return FilterValue(std::move(number));
}

// A single quoted string; `not_string` is the message for numbers and lists.
Result<FilterValue> StringValue(const RawValue& value, const std::string& not_string) {
  if (!value.is_list) {
    if (IsString(value.token->kind)) {
      return FilterValue(value.token->text);
    }
    if (value.token->kind == TokenKind::WORD || value.token->kind == TokenKind::BACKTICKED) {
      return Fail(NotQuoted(value));
    }
  }
  return Fail(Invalid(not_string));
}

Result<FilterValue> RunValue(const ColumnRef& column, Comparator comparator,
                             const RawValue& value) {
  switch (column.entity) {
    case EntityType::METRIC: {
      MLTF_ASSIGN_OR_RETURN(number, NumericValue(value, "metric"));
      MLTF_TRY(CheckComparator(comparator, kNumericComparators));
      return number;
    }
    case EntityType::PARAM:
    case EntityType::TAG: {
      MLTF_ASSIGN_OR_RETURN(
          text, StringValue(value, fmt::format("Expected a quoted string value for {} (e.g. "
                                               "'my-value'). Got value {}",
                                               EntityTypeName(column.entity), value.display)));
      MLTF_TRY(CheckComparator(comparator, kTextComparators));
      return text;
    }
    case EntityType::ATTRIBUTE: {
      if (Contains(kRunNumericAttributes, column.key)) {
        MLTF_ASSIGN_OR_RETURN(
            number, NumericValue(value, fmt::format("numeric attribute: {}", column.key)));
        MLTF_TRY(CheckComparator(comparator, kNumericComparators));
        return number;
      }
      if (value.is_list) {
        if (column.key != "run_id") {
          return Fail(Invalid(
              "Only the 'run_id' attribute supports comparison with a list of quoted string "
              "values."));
        }
        MLTF_TRY(CheckComparator(comparator, kTextOrListComparators));
        MLTF_TRY(CheckListUse(comparator, value));
        return FilterValue(value.items);
      }
      MLTF_ASSIGN_OR_RETURN(
          text, StringValue(value, fmt::format("Expected a quoted string value for attributes. "
                                               "Got value {}",
                                               value.display)));
      MLTF_TRY(CheckComparator(comparator, kTextOrListComparators));
      MLTF_TRY(CheckListUse(comparator, value));
      return text;
    }
    case EntityType::DATASET: {
      MLTF_TRY(CheckComparator(comparator, kTextOrListComparators));
      if (value.is_list) {
        MLTF_TRY(CheckListUse(comparator, value));
        return FilterValue(value.items);
      }
      MLTF_ASSIGN_OR_RETURN(
          text, StringValue(value, fmt::format("Expected a quoted string value for dataset "
                                               "attributes. Got value {}",
                                               value.display)));
      MLTF_TRY(CheckListUse(comparator, value));
      return text;
    }
  }
  return Fail(Error::Internal("unknown entity type"));
}

Result<FilterValue> ExperimentValue(const ColumnRef& column, Comparator comparator,
                                    const RawValue& value) {
  if (column.entity == EntityType::ATTRIBUTE &&
      Contains(kExperimentNumericAttributes, column.key)) {
    MLTF_ASSIGN_OR_RETURN(number,
                          NumericValue(value, fmt::format("numeric attribute: {}", column.key)));
    if (!Contains(kNumericComparators, comparator)) {
      return Fail(Invalid(
          fmt::format("Invalid comparator for numeric attribute: {}", ComparatorText(comparator))));
    }
    return number;
  }
  if (value.is_list) {
    return Fail(Invalid(fmt::format(
        "Only the 'run_id' attribute of runs supports comparison with a list of quoted string "
        "values; got a list for experiment {} '{}'",
        EntityTypeName(column.entity), column.key)));
  }
  MLTF_ASSIGN_OR_RETURN(
      text, StringValue(value, fmt::format("Expected a quoted string value for {} (e.g. "
                                           "'my-value'). Got value {}",
                                           EntityTypeName(column.entity), value.display)));
  if (!Contains(kTextComparators, comparator)) {
    return Fail(Invalid(fmt::format("Invalid comparator for {}: {}",
                                    column.entity == EntityType::TAG ? "tag" : "string attribute",
                                    ComparatorText(comparator))));
  }
  return text;
}

Result<Comparison> ReadClause(const std::vector<Token>& tokens, std::size_t& pos, Target target) {
  const std::size_t start = pos;
  const Token& first = tokens[pos];
  if (first.kind == TokenKind::WORD &&
      (IsKeyword(first.text, "AND") || IsKeyword(first.text, "OR") ||
       IsKeyword(first.text, "NOT"))) {
    return Fail(Invalid(fmt::format(
        "Invalid clause(s) in filter string: unexpected '{}' at position {}; expected a clause "
        "such as metrics.acc > 0.5",
        first.text, first.offset)));
  }
  Result<ColumnRef> column = target == Target::RUNS
                                 ? ReadRunColumn(tokens, pos, KeyUse::FILTER)
                                 : ReadExperimentColumn(tokens, pos, KeyUse::FILTER);
  if (!column) {
    return Fail(std::move(column).error());
  }
  std::string identifier;
  for (std::size_t i = start; i < pos; ++i) {
    identifier += Display(tokens[i]);
  }
  MLTF_ASSIGN_OR_RETURN(comparator, ReadComparator(tokens, pos, identifier));
  MLTF_ASSIGN_OR_RETURN(raw_value, ReadRawValue(tokens, pos, comparator));
  MLTF_ASSIGN_OR_RETURN(value, target == Target::RUNS
                                   ? RunValue(*column, comparator, raw_value)
                                   : ExperimentValue(*column, comparator, raw_value));
  return Comparison{column->entity, std::move(column->key), comparator, std::move(value)};
}

Result<std::vector<Comparison>> ParseFilter(std::string_view filter, Target target) {
  auto tokens = Tokenize(filter);
  if (!tokens) {
    return Fail(Invalid(fmt::format("Error on parsing filter: {}", tokens.error().message)));
  }
  std::vector<Comparison> clauses;
  std::size_t pos = 0;
  if (tokens->front().kind == TokenKind::END) {
    return clauses;
  }
  while (true) {
    MLTF_ASSIGN_OR_RETURN(clause, ReadClause(*tokens, pos, target));
    clauses.push_back(std::move(clause));
    const Token& next = (*tokens)[pos];
    if (next.kind == TokenKind::END) {
      return clauses;
    }
    if (next.kind == TokenKind::WORD && IsKeyword(next.text, "AND")) {
      ++pos;
      if ((*tokens)[pos].kind == TokenKind::END) {
        return Fail(Invalid(fmt::format(
            "Invalid clause(s) in filter string: 'AND' at position {} is not followed by a "
            "clause",
            next.offset)));
      }
      continue;
    }
    if (next.kind == TokenKind::WORD && IsKeyword(next.text, "OR")) {
      return Fail(Invalid(fmt::format(
          "Invalid clause(s) in filter string: 'OR' at position {} is not supported; only AND "
          "can join clauses",
          next.offset)));
    }
    return Fail(Invalid(fmt::format(
        "Invalid clause(s) in filter string: expected AND or the end of the filter at position "
        "{} but found '{}'",
        next.offset, Display(next))));
  }
}

}  // namespace

Result<ColumnRef> ReadRunColumn(const std::vector<Token>& tokens, std::size_t& pos, KeyUse use) {
  MLTF_ASSIGN_OR_RETURN(identifier, ReadRawIdentifier(tokens, pos));
  ColumnRef column;
  if (identifier.parts.size() == 1) {
    column.entity = EntityType::ATTRIBUTE;
    column.key = identifier.parts[0]->text;
  } else {
    MLTF_ASSIGN_OR_RETURN(entity, RunEntityType(*identifier.parts[0]));
    MLTF_ASSIGN_OR_RETURN(key, KeyOf(identifier, 1));
    column.entity = entity;
    column.key = std::move(key);
  }
  if (column.entity == EntityType::ATTRIBUTE) {
    const bool valid = use == KeyUse::FILTER ? Contains(kRunFilterAttributes, column.key)
                                             : Contains(kRunOrderByAttributes, column.key);
    if (!valid) {
      return Fail(Invalid(fmt::format("Invalid attribute key '{}' specified. Valid keys are '{}'",
                                      column.key,
                                      use == KeyUse::FILTER ? JoinQuoted(kRunFilterAttributes)
                                                            : JoinQuoted(kRunOrderByAttributes))));
    }
    column.key = TranslateRunAttributeAlias(column.key);
  } else if (column.entity == EntityType::DATASET && !Contains(kDatasetKeys, column.key)) {
    return Fail(Invalid(fmt::format("Invalid dataset key '{}' specified. Valid keys are '{}'",
                                    column.key, JoinQuoted(kDatasetKeys))));
  }
  return column;
}

Result<ColumnRef> ReadExperimentColumn(const std::vector<Token>& tokens, std::size_t& pos,
                                       KeyUse use) {
  MLTF_ASSIGN_OR_RETURN(identifier, ReadRawIdentifier(tokens, pos));
  ColumnRef column;
  if (identifier.parts.size() == 1) {
    column.entity = EntityType::ATTRIBUTE;
    column.key = identifier.parts[0]->text;
  } else {
    MLTF_ASSIGN_OR_RETURN(entity, ExperimentEntityType(*identifier.parts[0]));
    MLTF_ASSIGN_OR_RETURN(key, KeyOf(identifier, 1));
    column.entity = entity;
    column.key = std::move(key);
  }
  if (column.entity == EntityType::ATTRIBUTE) {
    const bool valid = use == KeyUse::FILTER ? Contains(kExperimentFilterAttributes, column.key)
                                             : Contains(kExperimentOrderByAttributes, column.key);
    if (!valid) {
      return Fail(Invalid(
          fmt::format("Invalid attribute key '{}' specified. Valid keys are '{}'", column.key,
                      use == KeyUse::FILTER ? JoinQuoted(kExperimentFilterAttributes)
                                            : JoinQuoted(kExperimentOrderByAttributes))));
    }
  }
  return column;
}

Result<std::vector<Comparison>> ParseRunFilter(std::string_view filter) {
  return ParseFilter(filter, Target::RUNS);
}

Result<std::vector<Comparison>> ParseExperimentFilter(std::string_view filter) {
  return ParseFilter(filter, Target::EXPERIMENTS);
}

std::string_view EntityTypeName(EntityType entity) {
  switch (entity) {
    case EntityType::METRIC:
      return "metric";
    case EntityType::PARAM:
      return "parameter";
    case EntityType::TAG:
      return "tag";
    case EntityType::ATTRIBUTE:
      return "attribute";
    case EntityType::DATASET:
      return "dataset";
  }
  return "unknown";
}

std::string_view ComparatorText(Comparator comparator) {
  switch (comparator) {
    case Comparator::EQUAL:
      return "=";
    case Comparator::NOT_EQUAL:
      return "!=";
    case Comparator::GREATER:
      return ">";
    case Comparator::GREATER_EQUAL:
      return ">=";
    case Comparator::LESS:
      return "<";
    case Comparator::LESS_EQUAL:
      return "<=";
    case Comparator::LIKE:
      return "LIKE";
    case Comparator::ILIKE:
      return "ILIKE";
    case Comparator::IN:
      return "IN";
    case Comparator::NOT_IN:
      return "NOT IN";
  }
  return "?";
}

}  // namespace mltf::tracking::search
