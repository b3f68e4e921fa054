// filter_parser_test.cpp - table-driven tests of the registered-model and model-version filters.
#include "registry/search/filter_parser.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace mltf::registry::search {

// Printer so that failed comparisons show the AST.
void PrintTo(const Clause& clause, std::ostream* os) {
  *os << (clause.entity == FilterEntity::TAG ? "tag" : "attribute") << ".[" << clause.key << "] "
      << tracking::search::ComparatorText(clause.comparator) << " ";
  if (const auto* text = std::get_if<std::string>(&clause.value)) {
    *os << "'" << *text << "'";
  } else if (const auto* number = std::get_if<std::int64_t>(&clause.value)) {
    *os << *number;
  } else {
    *os << "(";
    for (const std::string& item : std::get<std::vector<std::string>>(clause.value)) {
      *os << "'" << item << "' ";
    }
    *os << ")";
  }
}

namespace {

using A = FilterEntity;
using C = Comparator;
using Strings = std::vector<std::string>;

struct ParseCase {
  std::string name;
  std::string filter;
  std::vector<Clause> expected;
};

void PrintTo(const ParseCase& test_case, std::ostream* os) { *os << test_case.name; }

struct ErrorCase {
  std::string name;
  std::string filter;
  std::string message_part;
};

void PrintTo(const ErrorCase& test_case, std::ostream* os) { *os << test_case.name; }

class RegisteredModelFilterParses : public testing::TestWithParam<ParseCase> {};

TEST_P(RegisteredModelFilterParses, ToExpectedClauses) {
  auto parsed = ParseRegisteredModelFilter(GetParam().filter);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(*parsed, GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    registry, RegisteredModelFilterParses,
    testing::Values(
        ParseCase{"empty", "", {}}, ParseCase{"blank", " \t\n ", {}},
        // The filters of the recorded MLflow 2.9.2 exchanges (../shared/conformance).
        ParseCase{"conformance_like",
                  "name LIKE 'acc-c91b5bee-srm-39286f-%'",
                  {{A::ATTRIBUTE, "name", C::LIKE, std::string("acc-c91b5bee-srm-39286f-%")}}},
        ParseCase{"conformance_equal",
                  "name = 'acc-c91b5bee-srm-39286f-2'",
                  {{A::ATTRIBUTE, "name", C::EQUAL, std::string("acc-c91b5bee-srm-39286f-2")}}},
        ParseCase{"conformance_ilike",
                  "name ILIKE 'ACC-%'",
                  {{A::ATTRIBUTE, "name", C::ILIKE, std::string("ACC-%")}}},
        ParseCase{"no_spaces", "name='m'", {{A::ATTRIBUTE, "name", C::EQUAL, std::string("m")}}},
        ParseCase{"double_quoted_value",
                  "name != \"m\"",
                  {{A::ATTRIBUTE, "name", C::NOT_EQUAL, std::string("m")}}},
        ParseCase{"attribute_prefix",
                  "attribute.name = 'm'",
                  {{A::ATTRIBUTE, "name", C::EQUAL, std::string("m")}}},
        ParseCase{"lower_case_keywords",
                  "name like 'a%' and tags.t ilike 'B%'",
                  {{A::ATTRIBUTE, "name", C::LIKE, std::string("a%")},
                   {A::TAG, "t", C::ILIKE, std::string("B%")}}},
        ParseCase{"tags_quoted_keys",
                  "tags.`my key` = 'a' AND tag.\"other key\" != 'b' AND tags.mlflow.note = 'c'",
                  {{A::TAG, "my key", C::EQUAL, std::string("a")},
                   {A::TAG, "other key", C::NOT_EQUAL, std::string("b")},
                   {A::TAG, "mlflow.note", C::EQUAL, std::string("c")}}},
        ParseCase{"escaped_quote",
                  "name = 'it''s'",
                  {{A::ATTRIBUTE, "name", C::EQUAL, std::string("it's")}}}));

class RegisteredModelFilterRejects : public testing::TestWithParam<ErrorCase> {};

TEST_P(RegisteredModelFilterRejects, WithInvalidParameterValue) {
  auto parsed = ParseRegisteredModelFilter(GetParam().filter);
  ASSERT_FALSE(parsed) << "unexpectedly parsed: " << GetParam().filter;
  EXPECT_EQ(parsed.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_NE(parsed.error().message.find(GetParam().message_part), std::string::npos)
      << parsed.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    registry, RegisteredModelFilterRejects,
    testing::Values(
        // The e2e bad-input cases.
        ErrorCase{"unknown_attribute", "foo = 'x'", "Invalid attribute key 'foo'"},
        ErrorCase{"name_greater", "name > 'x'", "Invalid comparator '>'"},
        ErrorCase{"missing_value", "name = ", "expected a value"},
        // Keys and entities.
        ErrorCase{"version_is_not_a_model_attribute", "run_id = 'x'", "Invalid attribute key"},
        ErrorCase{"quoted_attribute", "\"name\" = 'x'", "Invalid attribute key '\"name\"'"},
        ErrorCase{"metrics_entity", "metrics.acc = 'x'", "Invalid entity type 'metrics'"},
        ErrorCase{"backticked_entity", "`tags`.a = 'x'", "Invalid entity type"},
        ErrorCase{"attribute_dotted_key", "attribute.name.x = 'y'", "Invalid attribute key"},
        ErrorCase{"empty_tag_key", "tags.\"\" = 'y'", "tag key is empty"},
        ErrorCase{"no_identifier", "= 'x'", "expected an identifier"},
        ErrorCase{"dangling_dot", "tags. = 'x'", "expected a key after '.'"},
        // Comparators and values.
        ErrorCase{"name_in", "name IN ('a')", "supports comparison with a list"},
        ErrorCase{"name_not_in", "name NOT IN ('a')", "supports comparison with a list"},
        ErrorCase{"tag_greater", "tags.a > 'x'", "Invalid comparator '>' for tag"},
        ErrorCase{"tag_number", "tags.a = 5", "Expected a quoted string value for tag"},
        ErrorCase{"name_number", "name = 5", "Expected a quoted string value"},
        ErrorCase{"unquoted_value", "name = unquoted", "Expected a quoted string value"},
        ErrorCase{"backticked_value", "name = `x`", "Expected a quoted string value"},
        ErrorCase{"double_equal", "name == 'x'", "expected a comparator"},
        ErrorCase{"no_comparator", "name 'x'", "expected a comparator"},
        // Structure.
        ErrorCase{"or", "name = 'a' OR name = 'b'", "Only clauses joined by AND"},
        ErrorCase{"trailing_and", "name = 'a' AND", "AND must be followed"},
        ErrorCase{"parentheses", "(name = 'a')", "expected an identifier"},
        ErrorCase{"two_clauses_without_and", "name = 'a' name = 'b'", "Invalid clause(s)"},
        ErrorCase{"unterminated_quote", "name = 'abc", "Error on parsing filter"},
        ErrorCase{"semicolon", "name = 'a'; DROP TABLE x", "Error on parsing filter"}));

class ModelVersionFilterParses : public testing::TestWithParam<ParseCase> {};

TEST_P(ModelVersionFilterParses, ToExpectedClauses) {
  auto parsed = ParseModelVersionFilter(GetParam().filter);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(*parsed, GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    registry, ModelVersionFilterParses,
    testing::Values(
        ParseCase{"empty", "", {}},
        // The filters of the recorded MLflow 2.9.2 exchanges.
        ParseCase{"conformance_name",
                  "name='acc-41fd5e9a-del-model-0d6ad3'",
                  {{A::ATTRIBUTE, "name", C::EQUAL, std::string("acc-41fd5e9a-del-model-0d6ad3")}}},
        ParseCase{
            "conformance_name_and_run_id",
            "name = 'm' AND run_id = 'aff1f14333f7454f88c9c761190b81f1'",
            {{A::ATTRIBUTE, "name", C::EQUAL, std::string("m")},
             {A::ATTRIBUTE, "run_id", C::EQUAL, std::string("aff1f14333f7454f88c9c761190b81f1")}}},
        ParseCase{"run_id_in",
                  "run_id IN ('a1', 'b2')",
                  {{A::ATTRIBUTE, "run_id", C::IN, Strings{"a1", "b2"}}}},
        ParseCase{"run_id_in_keeps_only_lower_case",
                  "run_id in ('a1', 'B2', 'c3', 'aB', '123', '')",
                  {{A::ATTRIBUTE, "run_id", C::IN, Strings{"a1", "c3"}}}},
        ParseCase{"run_id_like",
                  "run_id LIKE 'ab%'",
                  {{A::ATTRIBUTE, "run_id", C::LIKE, std::string("ab%")}}},
        ParseCase{"source_path",
                  "source_path ILIKE 'mlflow-artifacts:/%'",
                  {{A::ATTRIBUTE, "source_path", C::ILIKE, std::string("mlflow-artifacts:/%")}}},
        ParseCase{"version_number_numeric",
                  "version_number >= 2 AND version_number != 5",
                  {{A::ATTRIBUTE, "version_number", C::GREATER_EQUAL, std::int64_t{2}},
                   {A::ATTRIBUTE, "version_number", C::NOT_EQUAL, std::int64_t{5}}}},
        ParseCase{"version_number_quoted",
                  "attribute.version_number = '3'",
                  {{A::ATTRIBUTE, "version_number", C::EQUAL, std::int64_t{3}}}},
        ParseCase{"tags",
                  "tags.validated = 'true' AND name = 'm'",
                  {{A::TAG, "validated", C::EQUAL, std::string("true")},
                   {A::ATTRIBUTE, "name", C::EQUAL, std::string("m")}}}));

class ModelVersionFilterRejects : public testing::TestWithParam<ErrorCase> {};

TEST_P(ModelVersionFilterRejects, WithInvalidParameterValue) {
  auto parsed = ParseModelVersionFilter(GetParam().filter);
  ASSERT_FALSE(parsed) << "unexpectedly parsed: " << GetParam().filter;
  EXPECT_EQ(parsed.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_NE(parsed.error().message.find(GetParam().message_part), std::string::npos)
      << parsed.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    registry, ModelVersionFilterRejects,
    testing::Values(
        ErrorCase{"unknown_attribute", "stage = 'None'", "Invalid attribute key 'stage'"},
        ErrorCase{"timestamp_not_filterable", "creation_timestamp > 1", "Invalid attribute key"},
        ErrorCase{"name_in", "name IN ('a')", "Only the 'run_id' attribute"},
        ErrorCase{"run_id_in_without_list", "run_id IN 'a'", "Invalid comparator 'IN'"},
        ErrorCase{"run_id_list_with_equal", "run_id = ('a')", "Invalid comparator '='"},
        ErrorCase{"run_id_not_in", "run_id NOT IN ('a')", "Invalid comparator 'NOT IN'"},
        ErrorCase{"empty_list", "run_id IN ()", "empty list"},
        ErrorCase{"list_of_numbers", "run_id IN (1, 2)", "expected string value"},
        ErrorCase{"list_without_comma", "run_id IN ('a' 'b')", "ill-formed list"},
        ErrorCase{"version_like", "version_number LIKE '1%'", "Invalid comparator 'LIKE'"},
        ErrorCase{"version_float", "version_number = 1.5", "Expected an integer value"},
        ErrorCase{"version_text", "version_number = 'one'", "Expected an integer value"},
        ErrorCase{"source_greater", "source_path > 'a'", "Invalid comparator '>'"},
        ErrorCase{"run_id_number", "run_id = 5", "Expected a quoted string value"},
        ErrorCase{"tag_in", "tags.a IN ('x')", "Invalid comparator 'IN' for tag"},
        ErrorCase{"or", "name = 'a' OR run_id = 'b'", "Only clauses joined by AND"}));

}  // namespace
}  // namespace mltf::registry::search
