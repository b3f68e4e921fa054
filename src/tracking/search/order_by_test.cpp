// order_by_test.cpp - table-driven tests of the run and experiment order_by parsers.
#include "tracking/search/order_by.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace mltf::tracking::search {

void PrintTo(const OrderByKey& key, std::ostream* os) {
  *os << EntityTypeName(key.entity) << ".[" << key.key << "] " << (key.ascending ? "ASC" : "DESC");
}

namespace {

using E = EntityType;

struct OrderByCase {
  std::string name;
  std::string clause;
  OrderByKey expected;
};

// Names the ctest entry (CMake appends the printed parameter).
void PrintTo(const OrderByCase& test_case, std::ostream* os) { *os << test_case.name; }

class RunOrderByParses : public testing::TestWithParam<OrderByCase> {};

TEST_P(RunOrderByParses, ToExpectedKey) {
  auto parsed = ParseRunOrderBy(GetParam().clause);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(*parsed, GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    search, RunOrderByParses,
    testing::Values(
        OrderByCase{"conformance_metric_desc", "metrics.acc DESC", {E::METRIC, "acc", false}},
        OrderByCase{"conformance_metric_asc", "metrics.acc ASC", {E::METRIC, "acc", true}},
        OrderByCase{"default_ascending", "metric.loss", {E::METRIC, "loss", true}},
        OrderByCase{"lowercase_direction", "params.lr desc", {E::PARAM, "lr", false}},
        OrderByCase{"mixed_case_direction", "tags.team aSc", {E::TAG, "team", true}},
        OrderByCase{"surrounding_blanks", "  parameters.lr   DESC  ", {E::PARAM, "lr", false}},
        OrderByCase{"backticked_key", "metrics.`f1 score` DESC", {E::METRIC, "f1 score", false}},
        OrderByCase{"double_quoted_key", "tags.\"my tag\"", {E::TAG, "my tag", true}},
        OrderByCase{
            "dotted_tag_key", "tags.mlflow.runName DESC", {E::TAG, "mlflow.runName", false}},
        OrderByCase{"bare_attribute", "start_time", {E::ATTRIBUTE, "start_time", true}},
        OrderByCase{"created_alias", "created DESC", {E::ATTRIBUTE, "start_time", false}},
        OrderByCase{"Created_alias", "attributes.Created", {E::ATTRIBUTE, "start_time", true}},
        OrderByCase{"run_name", "attribute.run_name DESC", {E::ATTRIBUTE, "run_name", false}},
        OrderByCase{"run_id", "run_id", {E::ATTRIBUTE, "run_id", true}},
        OrderByCase{"end_time", "attr.end_time ASC", {E::ATTRIBUTE, "end_time", true}},
        OrderByCase{"status", "run.status", {E::ATTRIBUTE, "status", true}},
        OrderByCase{"user_id", "user_id DESC", {E::ATTRIBUTE, "user_id", false}},
        OrderByCase{"artifact_uri", "artifact_uri", {E::ATTRIBUTE, "artifact_uri", true}}));

struct OrderByErrorCase {
  std::string name;
  std::string clause;
  std::string message_part;
};

void PrintTo(const OrderByErrorCase& test_case, std::ostream* os) { *os << test_case.name; }

class RunOrderByRejects : public testing::TestWithParam<OrderByErrorCase> {};

TEST_P(RunOrderByRejects, WithInvalidParameterValue) {
  auto parsed = ParseRunOrderBy(GetParam().clause);
  ASSERT_FALSE(parsed) << "unexpectedly parsed: " << GetParam().clause;
  EXPECT_EQ(parsed.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_NE(parsed.error().message.find(GetParam().message_part), std::string::npos)
      << parsed.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    search, RunOrderByRejects,
    testing::Values(
        OrderByErrorCase{"empty", "", "Invalid order_by clause ''. Could not be parsed."},
        OrderByErrorCase{"blank", "   ", "Could not be parsed"},
        OrderByErrorCase{"bad_direction", "metrics.acc DESCENDING",
                         "Invalid ordering key in order_by clause 'metrics.acc DESCENDING'."},
        OrderByErrorCase{"extra_token", "metrics.acc DESC NULLS", "Could not be parsed"},
        OrderByErrorCase{"two_keys", "metrics.acc, metrics.loss", "Could not be parsed"},
        OrderByErrorCase{"number_direction", "metrics.acc 1", "Could not be parsed"},
        OrderByErrorCase{"direction_only", "DESC", "Invalid attribute key 'DESC'"},
        OrderByErrorCase{"unknown_attribute", "lifecycle_stage", "Invalid attribute key"},
        OrderByErrorCase{"run_name_alias_not_orderable", "`Run Name` DESC",
                         "Invalid attribute key 'Run Name'"},
        OrderByErrorCase{"experiment_id", "experiment_id", "Invalid attribute key"},
        OrderByErrorCase{"unknown_entity", "foo.bar", "Invalid entity type 'foo'"},
        OrderByErrorCase{"dataset", "dataset.name", "cannot be ordered by dataset"},
        OrderByErrorCase{"string_literal", "'metrics.acc'", "expected an identifier"},
        OrderByErrorCase{"unterminated", "metrics.`acc", "unterminated backtick"},
        OrderByErrorCase{"missing_key", "metrics.", "expected a key after '.'"}));

struct OrderByListCase {
  std::string name;
  std::vector<std::string> clauses;
  std::vector<OrderByKey> expected;  // empty with a non-empty error means failure
  std::string error_part;
};

void PrintTo(const OrderByListCase& test_case, std::ostream* os) { *os << test_case.name; }

class RunOrderByList : public testing::TestWithParam<OrderByListCase> {};

TEST_P(RunOrderByList, ParsesOrRejectsDuplicates) {
  auto parsed = ParseRunOrderByList(GetParam().clauses);
  if (GetParam().error_part.empty()) {
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(*parsed, GetParam().expected);
  } else {
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
    EXPECT_NE(parsed.error().message.find(GetParam().error_part), std::string::npos)
        << parsed.error().message;
  }
}

INSTANTIATE_TEST_SUITE_P(
    search, RunOrderByList,
    testing::Values(
        OrderByListCase{"none", {}, {}, ""},
        OrderByListCase{"several",
                        {"metrics.acc DESC", "params.lr", "start_time DESC"},
                        {{E::METRIC, "acc", false},
                         {E::PARAM, "lr", true},
                         {E::ATTRIBUTE, "start_time", false}},
                        ""},
        OrderByListCase{"same_key_different_entities",
                        {"metrics.x", "params.x", "tags.x"},
                        {{E::METRIC, "x", true}, {E::PARAM, "x", true}, {E::TAG, "x", true}},
                        ""},
        OrderByListCase{"duplicate", {"metrics.acc DESC", "metric.acc ASC"}, {}, "duplicate"},
        OrderByListCase{"duplicate_through_alias", {"created", "start_time DESC"}, {}, "duplicate"},
        OrderByListCase{"second_invalid", {"metrics.acc", "bogus"}, {}, "Invalid attribute key"}));

class ExperimentOrderByParses : public testing::TestWithParam<OrderByCase> {};

TEST_P(ExperimentOrderByParses, ToExpectedKey) {
  auto parsed = ParseExperimentOrderBy(GetParam().clause);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(*parsed, GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    search, ExperimentOrderByParses,
    testing::Values(
        OrderByCase{"conformance_name_desc", "name DESC", {E::ATTRIBUTE, "name", false}},
        OrderByCase{"conformance_name_asc", "name ASC", {E::ATTRIBUTE, "name", true}},
        OrderByCase{"experiment_id", "experiment_id desc", {E::ATTRIBUTE, "experiment_id", false}},
        OrderByCase{
            "creation_time", "attribute.creation_time", {E::ATTRIBUTE, "creation_time", true}},
        OrderByCase{"last_update_time",
                    "last_update_time DESC",
                    {E::ATTRIBUTE, "last_update_time", false}}));

class ExperimentOrderByRejects : public testing::TestWithParam<OrderByErrorCase> {};

TEST_P(ExperimentOrderByRejects, WithInvalidParameterValue) {
  auto parsed = ParseExperimentOrderBy(GetParam().clause);
  ASSERT_FALSE(parsed) << "unexpectedly parsed: " << GetParam().clause;
  EXPECT_EQ(parsed.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_NE(parsed.error().message.find(GetParam().message_part), std::string::npos)
      << parsed.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    search, ExperimentOrderByRejects,
    testing::Values(OrderByErrorCase{"empty", "", "Could not be parsed"},
                    OrderByErrorCase{"tag", "tags.group", "Invalid order_by entity: tag"},
                    OrderByErrorCase{"metric", "metrics.acc", "Invalid entity type 'metrics'"},
                    OrderByErrorCase{"run_attribute", "start_time",
                                     "Invalid attribute key 'start_time'"},
                    OrderByErrorCase{"lifecycle_stage", "lifecycle_stage", "Invalid attribute key"},
                    OrderByErrorCase{"bad_direction", "name UP", "Invalid ordering key"}));

}  // namespace
}  // namespace mltf::tracking::search
