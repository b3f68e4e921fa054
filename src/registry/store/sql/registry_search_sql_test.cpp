// registry_search_sql_test.cpp - the SQL text and bound parameters of compiled registry searches:
// values are bound, never pasted, and MLflow's tie-breakers close every order.
#include "registry/store/sql/registry_search_sql.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mltf::registry::store::sql {
namespace {

using search::Clause;
using search::Comparator;
using search::FilterEntity;
using search::OrderKey;

TEST(RegistrySearchSql, RegisteredModelFilterBindsEveryValue) {
  std::vector<Clause> filter = {
      {FilterEntity::ATTRIBUTE, "name", Comparator::ILIKE, std::string("it's%")},
      {FilterEntity::TAG, "owner", Comparator::NOT_EQUAL, std::string("x'); DROP TABLE y; --")}};
  auto compiled = CompileRegisteredModelSearch(filter, {});
  ASSERT_TRUE(compiled) << compiled.error().message;
  EXPECT_EQ(compiled->where.sql,
            "(LOWER(m.name) LIKE LOWER(CAST(? AS TEXT)) ESCAPE '\\') AND (m.model_key IN (SELECT "
            "t.model_key FROM registered_model_tags t WHERE t.key = ? AND t.value <> ?))");
  EXPECT_EQ(compiled->where.params,
            (std::vector<SqlValue>{std::string("it's%"), std::string("owner"),
                                   std::string("x'); DROP TABLE y; --")}));
  EXPECT_EQ(compiled->order_by.sql, "m.name ASC");
}

TEST(RegistrySearchSql, RegisteredModelOrderKeepsNameAsTieBreaker) {
  std::vector<OrderKey> order = {{"last_updated_timestamp", false}};
  auto compiled = CompileRegisteredModelSearch({}, order);
  ASSERT_TRUE(compiled);
  EXPECT_TRUE(compiled->where.sql.empty());
  EXPECT_EQ(compiled->order_by.sql, "m.last_updated_time DESC, m.name ASC");
  std::vector<OrderKey> by_name = {{"name", false}, {"creation_timestamp", true}};
  EXPECT_EQ(CompileRegisteredModelSearch({}, by_name)->order_by.sql,
            "m.name DESC, m.creation_time ASC");
}

TEST(RegistrySearchSql, ModelVersionFilterAndDefaultOrder) {
  std::vector<Clause> filter = {
      {FilterEntity::ATTRIBUTE, "run_id", Comparator::IN, std::vector<std::string>{"a", "b"}},
      {FilterEntity::ATTRIBUTE, "version_number", Comparator::GREATER, std::int64_t{2}},
      {FilterEntity::ATTRIBUTE, "source_path", Comparator::LIKE, std::string("s3://%")},
      {FilterEntity::TAG, "k", Comparator::EQUAL, std::string("v")}};
  auto compiled = CompileModelVersionSearch(filter, {});
  ASSERT_TRUE(compiled) << compiled.error().message;
  EXPECT_EQ(compiled->where.sql,
            "(v.run_id IN (?, ?)) AND (v.version > ?) AND (v.source LIKE ? ESCAPE '\\') AND "
            "(EXISTS (SELECT 1 FROM model_version_tags t WHERE t.model_key = v.model_key AND "
            "t.version = v.version AND t.key = ? AND t.value = ?))");
  EXPECT_EQ(compiled->where.params,
            (std::vector<SqlValue>{std::string("a"), std::string("b"), std::int64_t{2},
                                   std::string("s3://%"), std::string("k"), std::string("v")}));
  EXPECT_EQ(compiled->order_by.sql, "v.last_updated_time DESC, m.name ASC, v.version DESC");
}

TEST(RegistrySearchSql, EmptyRunIdListMatchesNothing) {
  std::vector<Clause> filter = {
      {FilterEntity::ATTRIBUTE, "run_id", Comparator::IN, std::vector<std::string>{}}};
  auto compiled = CompileModelVersionSearch(filter, {});
  ASSERT_TRUE(compiled);
  EXPECT_EQ(compiled->where.sql, "(1 = 0)");
  EXPECT_TRUE(compiled->where.params.empty());
}

TEST(RegistrySearchSql, ModelVersionOrderAddsMissingTieBreakers) {
  std::vector<OrderKey> order = {{"version_number", true}};
  EXPECT_EQ(CompileModelVersionSearch({}, order)->order_by.sql, "v.version ASC, m.name ASC");
  std::vector<OrderKey> by_time = {{"creation_timestamp", false}};
  EXPECT_EQ(CompileModelVersionSearch({}, by_time)->order_by.sql,
            "v.creation_time DESC, m.name ASC, v.version DESC");
}

TEST(RegistrySearchSql, RejectsHandBuiltClausesOutsideTheGrammar) {
  std::vector<Clause> model_run_id = {
      {FilterEntity::ATTRIBUTE, "run_id", Comparator::EQUAL, std::string("a")}};
  EXPECT_FALSE(CompileRegisteredModelSearch(model_run_id, {}));
  std::vector<Clause> tag_in = {
      {FilterEntity::TAG, "k", Comparator::IN, std::vector<std::string>{"a"}}};
  EXPECT_FALSE(CompileModelVersionSearch(tag_in, {}));
  std::vector<Clause> version_text = {
      {FilterEntity::ATTRIBUTE, "version_number", Comparator::EQUAL, std::string("1")}};
  EXPECT_FALSE(CompileModelVersionSearch(version_text, {}));
  std::vector<OrderKey> bad_order = {{"version_number", true}};
  EXPECT_FALSE(CompileRegisteredModelSearch({}, bad_order));
}

TEST(RegistrySearchSql, StatementsAppendLimitAndOffsetLast) {
  std::vector<Clause> filter = {
      {FilterEntity::ATTRIBUTE, "name", Comparator::EQUAL, std::string("m")}};
  auto compiled = CompileModelVersionSearch(filter, {});
  ASSERT_TRUE(compiled);
  auto statement = ModelVersionSearchStatement("v.version", *compiled, 11, 20);
  EXPECT_EQ(statement.sql,
            "SELECT v.version FROM model_versions v JOIN registered_models m ON m.model_key = "
            "v.model_key WHERE v.current_stage <> 'Deleted_Internal' AND (m.name = ?) ORDER BY "
            "v.last_updated_time DESC, m.name ASC, v.version DESC LIMIT ? OFFSET ?");
  EXPECT_EQ(statement.params,
            (std::vector<SqlValue>{std::string("m"), std::int64_t{11}, std::int64_t{20}}));
  auto models =
      RegisteredModelSearchStatement("m.name", *CompileRegisteredModelSearch({}, {}), 5, 0);
  EXPECT_EQ(models.sql,
            "SELECT m.name FROM registered_models m ORDER BY m.name ASC LIMIT ? OFFSET ?");
}

}  // namespace
}  // namespace mltf::registry::store::sql
