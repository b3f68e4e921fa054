// order_by_test.cpp - table-driven tests of registry order_by clauses.
#include "registry/search/order_by.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace mltf::registry::search {

void PrintTo(const OrderKey& key, std::ostream* os) {
  *os << key.key << (key.ascending ? " ASC" : " DESC");
}

namespace {

struct OrderCase {
  std::string name;
  std::vector<std::string> clauses;
  std::vector<OrderKey> expected;
};

void PrintTo(const OrderCase& test_case, std::ostream* os) { *os << test_case.name; }

struct RejectCase {
  std::string name;
  std::vector<std::string> clauses;
  std::string message_part;
};

void PrintTo(const RejectCase& test_case, std::ostream* os) { *os << test_case.name; }

class RegisteredModelOrderByParses : public testing::TestWithParam<OrderCase> {};

TEST_P(RegisteredModelOrderByParses, ToExpectedKeys) {
  auto parsed = ParseRegisteredModelOrderBy(GetParam().clauses);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(*parsed, GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    registry, RegisteredModelOrderByParses,
    testing::Values(
        OrderCase{"none", {}, {}},
        OrderCase{"conformance_name_desc", {"name DESC"}, {{"name", false}}},
        OrderCase{"conformance_name_asc", {"name ASC"}, {{"name", true}}},
        OrderCase{"default_ascending", {"creation_timestamp"}, {{"creation_timestamp", true}}},
        OrderCase{"timestamp_alias", {"timestamp desc"}, {{"last_updated_timestamp", false}}},
        OrderCase{"attribute_prefix_and_two_keys",
                  {"attribute.last_updated_timestamp DESC", "name"},
                  {{"last_updated_timestamp", false}, {"name", true}}}));

class RegisteredModelOrderByRejects : public testing::TestWithParam<RejectCase> {};

TEST_P(RegisteredModelOrderByRejects, WithInvalidParameterValue) {
  auto parsed = ParseRegisteredModelOrderBy(GetParam().clauses);
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_NE(parsed.error().message.find(GetParam().message_part), std::string::npos)
      << parsed.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    registry, RegisteredModelOrderByRejects,
    testing::Values(
        RejectCase{"empty", {""}, "Could not be parsed"},
        RejectCase{"unknown_key", {"version_number"}, "Invalid order by key 'version_number'"},
        RejectCase{"tag_key", {"tags.owner"}, "cannot be ordered by tags"},
        RejectCase{"bad_entity", {"metrics.acc"}, "Invalid entity type 'metrics'"},
        RejectCase{"bad_direction", {"name SIDEWAYS"}, "Invalid ordering key"},
        RejectCase{"extra_tokens", {"name ASC DESC"}, "Could not be parsed"},
        RejectCase{"quoted_key", {"`name`"}, "Could not be parsed"},
        RejectCase{"duplicate", {"name", "name DESC"}, "duplicate fields"},
        RejectCase{
            "duplicate_through_alias", {"timestamp", "last_updated_timestamp"}, "duplicate fields"},
        RejectCase{"unterminated", {"name 'x"}, "Error on parsing order_by"}));

class ModelVersionOrderByParses : public testing::TestWithParam<OrderCase> {};

TEST_P(ModelVersionOrderByParses, ToExpectedKeys) {
  auto parsed = ParseModelVersionOrderBy(GetParam().clauses);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(*parsed, GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(registry, ModelVersionOrderByParses,
                         testing::Values(OrderCase{"conformance_version_asc",
                                                   {"version_number ASC"},
                                                   {{"version_number", true}}},
                                         OrderCase{
                                             "all_keys",
                                             {"name", "version_number DESC", "creation_timestamp",
                                              "last_updated_timestamp DESC"},
                                             {{"name", true},
                                              {"version_number", false},
                                              {"creation_timestamp", true},
                                              {"last_updated_timestamp", false}}}));

TEST(ModelVersionOrderBy, RejectsRegisteredModelOnlyAliasAndUnknownKeys) {
  for (const std::vector<std::string>& clauses :
       {std::vector<std::string>{"timestamp"}, std::vector<std::string>{"current_stage"},
        std::vector<std::string>{"run_id DESC"}}) {
    auto parsed = ParseModelVersionOrderBy(clauses);
    ASSERT_FALSE(parsed) << clauses.front();
    EXPECT_EQ(parsed.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  }
}

}  // namespace
}  // namespace mltf::registry::search
