// filter_parser_test.cpp - table-driven tests of the run and experiment filter parsers.
#include "tracking/search/filter_parser.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace mltf::tracking::search {

// Printers so that failed comparisons show the AST.
void PrintTo(const Comparison& comparison, std::ostream* os) {
  *os << EntityTypeName(comparison.entity) << ".[" << comparison.key << "] "
      << ComparatorText(comparison.comparator) << " ";
  if (const auto* number = std::get_if<Number>(&comparison.value)) {
    *os << "number(" << number->value << (number->integer ? ", int" : "") << ")";
  } else if (const auto* text = std::get_if<std::string>(&comparison.value)) {
    *os << "'" << *text << "'";
  } else {
    *os << "(";
    for (const std::string& item : std::get<std::vector<std::string>>(comparison.value)) {
      *os << "'" << item << "' ";
    }
    *os << ")";
  }
}

namespace {

using E = EntityType;
using C = Comparator;
using Strings = std::vector<std::string>;

Number Num(double value, std::string text, std::optional<std::int64_t> integer = std::nullopt) {
  return Number{value, integer, std::move(text)};
}

Number Int(std::int64_t value, std::string text) {
  return Number{static_cast<double>(value), value, std::move(text)};
}

struct ParseCase {
  std::string name;
  std::string filter;
  std::vector<Comparison> expected;
};

// Names the ctest entry (CMake appends the printed parameter).
void PrintTo(const ParseCase& test_case, std::ostream* os) { *os << test_case.name; }

class RunFilterParses : public testing::TestWithParam<ParseCase> {};

TEST_P(RunFilterParses, ToExpectedClauses) {
  auto parsed = ParseRunFilter(GetParam().filter);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(*parsed, GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    search, RunFilterParses,
    testing::Values(
        ParseCase{"empty", "", {}}, ParseCase{"blank", "  \n\t ", {}},
        // The filters of the recorded MLflow 2.9.2 exchanges (../shared/conformance).
        ParseCase{"conformance_metric_gt",
                  "metrics.acc > 0.5",
                  {{E::METRIC, "acc", C::GREATER, Num(0.5, "0.5")}}},
        ParseCase{"conformance_metric_le",
                  "metrics.acc <= 0.7",
                  {{E::METRIC, "acc", C::LESS_EQUAL, Num(0.7, "0.7")}}},
        ParseCase{"conformance_metric_singular_ne",
                  "metric.loss != 0.1",
                  {{E::METRIC, "loss", C::NOT_EQUAL, Num(0.1, "0.1")}}},
        ParseCase{"conformance_tag_like",
                  "tags.team LIKE 'vision%'",
                  {{E::TAG, "team", C::LIKE, std::string("vision%")}}},
        ParseCase{"conformance_tag_equal",
                  "tags.team = 'Vision'",
                  {{E::TAG, "team", C::EQUAL, std::string("Vision")}}},
        ParseCase{"conformance_param_not_equal",
                  "params.opt != 'rmsprop'",
                  {{E::PARAM, "opt", C::NOT_EQUAL, std::string("rmsprop")}}},
        ParseCase{"conformance_dataset_name",
                  "dataset.name = 'acc-061eab70-ds-train-1ba233'",
                  {{E::DATASET, "name", C::EQUAL, std::string("acc-061eab70-ds-train-1ba233")}}},
        ParseCase{"conformance_dataset_context",
                  "dataset.context = 'eval'",
                  {{E::DATASET, "context", C::EQUAL, std::string("eval")}}},
        ParseCase{"conformance_dataset_in_and_digest",
                  "dataset.name IN ('acc-061eab70-ds-eval-9f15a6', 'nope') AND "
                  "dataset.digest = '7d3a5a5c'",
                  {{E::DATASET, "name", C::IN, Strings{"acc-061eab70-ds-eval-9f15a6", "nope"}},
                   {E::DATASET, "digest", C::EQUAL, std::string("7d3a5a5c")}}},
        // Entity aliases.
        ParseCase{"param_aliases",
                  "parameters.a = 'x' AND parameter.b = 'y' AND param.c = 'z'",
                  {{E::PARAM, "a", C::EQUAL, std::string("x")},
                   {E::PARAM, "b", C::EQUAL, std::string("y")},
                   {E::PARAM, "c", C::EQUAL, std::string("z")}}},
        ParseCase{"attribute_aliases",
                  "attribute.status = 'A' AND attributes.status = 'B' AND attr.status = 'C' AND "
                  "run.status = 'D' AND status = 'E'",
                  {{E::ATTRIBUTE, "status", C::EQUAL, std::string("A")},
                   {E::ATTRIBUTE, "status", C::EQUAL, std::string("B")},
                   {E::ATTRIBUTE, "status", C::EQUAL, std::string("C")},
                   {E::ATTRIBUTE, "status", C::EQUAL, std::string("D")},
                   {E::ATTRIBUTE, "status", C::EQUAL, std::string("E")}}},
        ParseCase{"tag_and_dataset_aliases",
                  "tag.a = 'x' AND datasets.digest = 'd'",
                  {{E::TAG, "a", C::EQUAL, std::string("x")},
                   {E::DATASET, "digest", C::EQUAL, std::string("d")}}},
        ParseCase{
            "backticked_entity", "`metrics`.acc = 1", {{E::METRIC, "acc", C::EQUAL, Int(1, "1")}}},
        // Attribute key aliases.
        ParseCase{"run_name_aliases",
                  "`Run Name` = 'a' AND \"run name\" = 'b' AND attributes.`Run name` ILIKE 'c%' "
                  "AND run_name != 'd'",
                  {{E::ATTRIBUTE, "run_name", C::EQUAL, std::string("a")},
                   {E::ATTRIBUTE, "run_name", C::EQUAL, std::string("b")},
                   {E::ATTRIBUTE, "run_name", C::ILIKE, std::string("c%")},
                   {E::ATTRIBUTE, "run_name", C::NOT_EQUAL, std::string("d")}}},
        ParseCase{
            "created_alias",
            "created > 1795443864530 AND Created <= 1795443864531",
            {{E::ATTRIBUTE, "start_time", C::GREATER, Int(1795443864530, "1795443864530")},
             {E::ATTRIBUTE, "start_time", C::LESS_EQUAL, Int(1795443864531, "1795443864531")}}},
        ParseCase{"numeric_attributes",
                  "attributes.start_time >= 0 AND end_time < -1 AND end_time != 2.5",
                  {{E::ATTRIBUTE, "start_time", C::GREATER_EQUAL, Int(0, "0")},
                   {E::ATTRIBUTE, "end_time", C::LESS, Int(-1, "-1")},
                   {E::ATTRIBUTE, "end_time", C::NOT_EQUAL, Num(2.5, "2.5")}}},
        ParseCase{"string_attributes",
                  "run_id = 'abc' AND user_id != 'bob' AND artifact_uri LIKE 's3://%'",
                  {{E::ATTRIBUTE, "run_id", C::EQUAL, std::string("abc")},
                   {E::ATTRIBUTE, "user_id", C::NOT_EQUAL, std::string("bob")},
                   {E::ATTRIBUTE, "artifact_uri", C::LIKE, std::string("s3://%")}}},
        ParseCase{"run_id_lists",
                  "attributes.run_id IN ('a1', 'b2') AND run_id not in ('c3')",
                  {{E::ATTRIBUTE, "run_id", C::IN, Strings{"a1", "b2"}},
                   {E::ATTRIBUTE, "run_id", C::NOT_IN, Strings{"c3"}}}},
        ParseCase{"dataset_comparators",
                  "dataset.context NOT IN ('eval') AND dataset.context LIKE 'tr%' AND "
                  "dataset.name ILIKE 'A%' AND dataset.digest != 'x'",
                  {{E::DATASET, "context", C::NOT_IN, Strings{"eval"}},
                   {E::DATASET, "context", C::LIKE, std::string("tr%")},
                   {E::DATASET, "name", C::ILIKE, std::string("A%")},
                   {E::DATASET, "digest", C::NOT_EQUAL, std::string("x")}}},
        // Keys and values with special characters.
        ParseCase{"dotted_tag_key",
                  "tags.mlflow.source.type = 'LOCAL'",
                  {{E::TAG, "mlflow.source.type", C::EQUAL, std::string("LOCAL")}}},
        ParseCase{"backticked_key_with_space",
                  "metrics.`f1 score` >= 1e-3",
                  {{E::METRIC, "f1 score", C::GREATER_EQUAL, Num(1e-3, "1e-3")}}},
        ParseCase{"double_quoted_key_with_dot",
                  "metrics.\"a.b\" = -.5",
                  {{E::METRIC, "a.b", C::EQUAL, Num(-0.5, "-.5")}}},
        ParseCase{"double_quoted_value",
                  "tags.a = \"it's\"",
                  {{E::TAG, "a", C::EQUAL, std::string("it's")}}},
        ParseCase{"doubled_quote_in_value",
                  "tags.a = 'it''s'",
                  {{E::TAG, "a", C::EQUAL, std::string("it's")}}},
        ParseCase{"backslash_kept_in_like_pattern",
                  R"(params.p LIKE '50\%')",
                  {{E::PARAM, "p", C::LIKE, std::string(R"(50\%)")}}},
        ParseCase{"utf8_key_and_value",
                  "tags.équipe = 'vision ✓'",
                  {{E::TAG, "équipe", C::EQUAL, std::string("vision ✓")}}},
        ParseCase{"keywords_in_any_case",
                  "tags.a Like 'x' AnD tags.b iLiKe 'y' and run_id Not In ('z')",
                  {{E::TAG, "a", C::LIKE, std::string("x")},
                   {E::TAG, "b", C::ILIKE, std::string("y")},
                   {E::ATTRIBUTE, "run_id", C::NOT_IN, Strings{"z"}}}},
        ParseCase{"no_spaces",
                  "metrics.acc>=.5 AND params.x='y'",
                  {{E::METRIC, "acc", C::GREATER_EQUAL, Num(0.5, ".5")},
                   {E::PARAM, "x", C::EQUAL, std::string("y")}}},
        ParseCase{"large_metric",
                  "metrics.x > 1e308",
                  {{E::METRIC, "x", C::GREATER, Num(1e308, "1e308")}}},
        ParseCase{"key_named_like_keyword",
                  "params.and = 'x' AND tags.in = 'y'",
                  {{E::PARAM, "and", C::EQUAL, std::string("x")},
                   {E::TAG, "in", C::EQUAL, std::string("y")}}}));

struct ErrorCase {
  std::string name;
  std::string filter;
  std::string message_part;
};

void PrintTo(const ErrorCase& test_case, std::ostream* os) { *os << test_case.name; }

class RunFilterRejects : public testing::TestWithParam<ErrorCase> {};

TEST_P(RunFilterRejects, WithInvalidParameterValue) {
  auto parsed = ParseRunFilter(GetParam().filter);
  ASSERT_FALSE(parsed) << "unexpectedly parsed: " << GetParam().filter;
  EXPECT_EQ(parsed.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_NE(parsed.error().message.find(GetParam().message_part), std::string::npos)
      << parsed.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    search, RunFilterRejects,
    testing::Values(
        // Value kinds.
        ErrorCase{"metric_string_value", "metrics.acc > 'a'",
                  "Expected numeric value type for metric. Found 'a'"},
        ErrorCase{"metric_word_value", "metrics.acc > nan",
                  "Expected numeric value type for metric"},
        ErrorCase{"metric_list_value", "metrics.acc IN ('a')", "Expected numeric value type"},
        ErrorCase{"param_number_value", "params.opt = 1",
                  "Expected a quoted string value for parameter (e.g. 'my-value'). Got value 1"},
        ErrorCase{"param_bare_word_value", "params.opt = sgd",
                  "Parameter value is either not quoted or unidentified quote types"},
        ErrorCase{"param_backticked_value", "params.opt = `sgd`", "not quoted"},
        ErrorCase{"tag_list_value", "tags.t IN ('a')", "Expected a quoted string value for tag"},
        ErrorCase{"numeric_attribute_string", "start_time = '1'",
                  "Expected numeric value type for numeric attribute: start_time"},
        ErrorCase{"created_string", "created > 'yesterday'", "numeric attribute: start_time"},
        ErrorCase{"string_attribute_number", "status = 5",
                  "Expected a quoted string value for attributes. Got value 5"},
        ErrorCase{"dataset_number", "dataset.name = 1",
                  "Expected a quoted string value for dataset attributes"},
        ErrorCase{"number_out_of_range", "metrics.acc > 1e999", "Number out of range: 1e999"},
        // Comparators per entity.
        ErrorCase{"metric_like", "metrics.acc LIKE 1", "Invalid comparator 'LIKE' not one of"},
        ErrorCase{"param_greater", "params.opt > 'a'", "Invalid comparator '>'"},
        ErrorCase{"tag_in", "tags.t IN 'a'", "Invalid comparator 'IN'"},
        ErrorCase{"tag_less", "tags.t < 'a'", "Invalid comparator '<'"},
        ErrorCase{"numeric_attribute_like", "start_time LIKE 5", "Invalid comparator 'LIKE'"},
        ErrorCase{"string_attribute_greater", "status > 'A'", "Invalid comparator '>'"},
        ErrorCase{"list_for_status", "status IN ('A')",
                  "Only the 'run_id' attribute supports comparison with a list"},
        ErrorCase{"run_id_in_without_list", "run_id IN 'a'", "parenthesised list"},
        ErrorCase{"run_id_equal_list", "run_id = ('a')", "only be compared with IN or NOT IN"},
        ErrorCase{"dataset_greater", "dataset.name > 'x'", "Invalid comparator '>'"},
        ErrorCase{"dataset_in_without_list", "dataset.name IN 'x'", "parenthesised list"},
        ErrorCase{"double_equal", "metrics.acc == 1", "Invalid comparator '=='"},
        ErrorCase{"sql_not_equal", "metrics.acc <> 1", "Invalid comparator '<>'"},
        ErrorCase{"not_like", "tags.a NOT LIKE 'x'", "expected a comparator"},
        ErrorCase{"is_null", "tags.a IS NULL", "expected a comparator"},
        // Identifiers.
        ErrorCase{"lifecycle_stage_not_searchable", "lifecycle_stage = 'active'",
                  "Invalid attribute key 'lifecycle_stage' specified"},
        ErrorCase{"experiment_id_not_searchable", "attributes.experiment_id = '1'",
                  "Invalid attribute key 'experiment_id'"},
        ErrorCase{"unknown_entity", "foo.bar = 'x'", "Invalid entity type 'foo'"},
        ErrorCase{"entity_is_case_sensitive", "Metrics.acc > 1", "Invalid entity type 'Metrics'"},
        ErrorCase{"double_quoted_entity", "\"metrics\".acc > 1", "Invalid entity type"},
        ErrorCase{"unknown_dataset_key", "dataset.source = 'x'", "Invalid dataset key 'source'"},
        ErrorCase{"missing_key_after_dot", "metrics. > 1", "expected a key after '.'"},
        ErrorCase{"empty_backticked_key", "metrics.`` > 1", "the key is empty"},
        ErrorCase{"unquoted_key_with_dash", "metrics.val-loss > 1", "unexpected character '-'"},
        // Clause structure.
        ErrorCase{"or", "metrics.acc > 1 OR metrics.acc < 0", "'OR' at position 16"},
        ErrorCase{"trailing_and", "metrics.acc > 1 AND", "not followed by a clause"},
        ErrorCase{"leading_and", "AND metrics.acc > 1", "unexpected 'AND' at position 0"},
        ErrorCase{"double_and", "tags.a = 'x' AND AND tags.b = 'y'", "unexpected 'AND'"},
        ErrorCase{"missing_and", "metrics.acc > 1 metrics.loss < 1", "expected AND"},
        ErrorCase{"parenthesised_clause", "(metrics.acc > 1)", "expected an identifier"},
        ErrorCase{"identifier_only", "metrics.acc", "expected a comparator"},
        ErrorCase{"missing_value", "metrics.acc >", "expected a value"},
        ErrorCase{"value_first", "1 < metrics.acc", "expected an identifier"},
        ErrorCase{"string_first", "'x' = tags.a", "expected an identifier"},
        ErrorCase{"semicolon", "metrics.acc > 1; DROP TABLE runs", "unexpected character ';'"},
        ErrorCase{"unterminated", "tags.a = 'x", "Error on parsing filter: unterminated string"},
        // Lists.
        ErrorCase{"empty_list", "run_id IN ()", "empty list"},
        ErrorCase{"list_without_comma", "run_id IN ('a' 'b')", "ill-formed list"},
        ErrorCase{"list_trailing_comma", "run_id IN ('a',)", "different type in list"},
        ErrorCase{"list_double_quoted", "run_id IN (\"a\")", "different type in list"},
        ErrorCase{"list_number", "run_id IN ('a', 1)", "different type in list"},
        ErrorCase{"list_unclosed", "run_id IN ('a'", "ill-formed list"},
        ErrorCase{"nested_list", "run_id IN (('a'))", "different type in list"}));

class ExperimentFilterParses : public testing::TestWithParam<ParseCase> {};

TEST_P(ExperimentFilterParses, ToExpectedClauses) {
  auto parsed = ParseExperimentFilter(GetParam().filter);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(*parsed, GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    search, ExperimentFilterParses,
    testing::Values(
        ParseCase{"empty", "", {}},
        ParseCase{"conformance_name_like",
                  "name LIKE 'acc-c8944355-srch-2ce751-%'",
                  {{E::ATTRIBUTE, "name", C::LIKE, std::string("acc-c8944355-srch-2ce751-%")}}},
        ParseCase{"conformance_name_ilike",
                  "name ILIKE 'ACC-C8944355-SRCH-2CE751-%'",
                  {{E::ATTRIBUTE, "name", C::ILIKE, std::string("ACC-C8944355-SRCH-2CE751-%")}}},
        ParseCase{"conformance_name_and_tag",
                  "name LIKE 'acc-fc5f3d52-srch-6e5742-%' AND tags.group = 'even'",
                  {{E::ATTRIBUTE, "name", C::LIKE, std::string("acc-fc5f3d52-srch-6e5742-%")},
                   {E::TAG, "group", C::EQUAL, std::string("even")}}},
        ParseCase{"conformance_tag_then_name",
                  "tags.idx = '1' AND name LIKE 'acc-fc5f3d52-srch-6e5742%'",
                  {{E::TAG, "idx", C::EQUAL, std::string("1")},
                   {E::ATTRIBUTE, "name", C::LIKE, std::string("acc-fc5f3d52-srch-6e5742%")}}},
        ParseCase{"attribute_prefix_and_tag_alias",
                  "attribute.name != 'x' AND tag.`a b` ILIKE \"v%\"",
                  {{E::ATTRIBUTE, "name", C::NOT_EQUAL, std::string("x")},
                   {E::TAG, "a b", C::ILIKE, std::string("v%")}}},
        ParseCase{"numeric_attributes",
                  "creation_time > 100 AND last_update_time <= 1795443908606",
                  {{E::ATTRIBUTE, "creation_time", C::GREATER, Int(100, "100")},
                   {E::ATTRIBUTE, "last_update_time", C::LESS_EQUAL,
                    Int(1795443908606, "1795443908606")}}}));

class ExperimentFilterRejects : public testing::TestWithParam<ErrorCase> {};

TEST_P(ExperimentFilterRejects, WithInvalidParameterValue) {
  auto parsed = ParseExperimentFilter(GetParam().filter);
  ASSERT_FALSE(parsed) << "unexpectedly parsed: " << GetParam().filter;
  EXPECT_EQ(parsed.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_NE(parsed.error().message.find(GetParam().message_part), std::string::npos)
      << parsed.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    search, ExperimentFilterRejects,
    testing::Values(
        ErrorCase{"metrics_entity", "metrics.acc > 1",
                  "Invalid entity type 'metrics'. Valid entity types are ('attribute', 'tag', "
                  "'tags')"},
        ErrorCase{"attr_alias_not_allowed", "attr.name = 'x'", "Invalid entity type 'attr'"},
        ErrorCase{"backticked_entity_not_allowed", "`tags`.a = 'x'", "Invalid entity type"},
        ErrorCase{"experiment_id_not_searchable", "experiment_id = '1'",
                  "Invalid attribute key 'experiment_id'"},
        ErrorCase{"lifecycle_stage_not_searchable", "lifecycle_stage = 'active'",
                  "Invalid attribute key 'lifecycle_stage'"},
        ErrorCase{"run_attribute", "status = 'x'", "Invalid attribute key 'status'"},
        ErrorCase{"name_list", "name IN ('a')", "comparison with a list"},
        ErrorCase{"name_greater", "name > 'a'", "Invalid comparator for string attribute: >"},
        ErrorCase{"name_in_string", "name IN 'a'", "Invalid comparator for string attribute: IN"},
        ErrorCase{"tag_greater", "tags.a > 'b'", "Invalid comparator for tag: >"},
        ErrorCase{"creation_time_like", "creation_time LIKE 1",
                  "Invalid comparator for numeric attribute: LIKE"},
        ErrorCase{"creation_time_string", "creation_time = 'x'",
                  "Expected numeric value type for numeric attribute: creation_time"},
        ErrorCase{"name_number", "name = 1", "Expected a quoted string value for attribute"},
        ErrorCase{"name_bare_word", "name = x", "not quoted"},
        ErrorCase{"or", "name = 'a' OR name = 'b'", "'OR'"}));

}  // namespace
}  // namespace mltf::tracking::search
