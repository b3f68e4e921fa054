// sql_registry_store_test.cpp - the SQL registry store against a real SQLite file: lifecycle of
// models and versions, cascades, numbering, stages, aliases, tags and searches.
#include "registry/store/sql/sql_registry_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "registry/store/sql/temporary_database.hpp"

namespace mltf::registry::store::sql {
namespace {

using Strings = std::vector<std::string>;

class SqlRegistryStoreTest : public testing::Test {
 protected:
  RegisteredModel CreateModel(const std::string& name, std::vector<Tag> tags = {},
                              std::int64_t now = 1000) {
    auto created = store_.CreateRegisteredModel({name, std::move(tags), "", now});
    EXPECT_TRUE(created) << created.error().message;
    return created.value_or(RegisteredModel{});
  }

  ModelVersion CreateVersion(const std::string& name, std::int64_t now = 2000,
                             const std::string& run_id = "run1", std::vector<Tag> tags = {}) {
    auto created =
        store_.CreateModelVersion({name, "mlflow-artifacts:/1/" + run_id + "/artifacts/model",
                                   run_id, std::move(tags), "", "", now});
    EXPECT_TRUE(created) << created.error().message;
    return created.value_or(ModelVersion{});
  }

  static Strings VersionNumbers(const std::vector<ModelVersion>& versions) {
    Strings out;
    for (const auto& version : versions) {
      out.push_back(version.name + "/" + std::to_string(version.version));
    }
    return out;
  }

  static Strings Names(const std::vector<RegisteredModel>& models) {
    Strings out;
    for (const auto& model : models) out.push_back(model.name);
    return out;
  }

  TemporaryDatabase db_;
  SqlRegistryStore store_{db_.database()};
};

TEST_F(SqlRegistryStoreTest, CreatesAndGetsARegisteredModel) {
  auto created = store_.CreateRegisteredModel({"m", {{"owner", "a"}, {"owner", "b"}}, "d", 42});
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->name, "m");
  EXPECT_EQ(created->creation_timestamp, 42);
  EXPECT_EQ(created->last_updated_timestamp, 42);
  EXPECT_EQ(created->description, "d");
  EXPECT_EQ(created->tags, (std::vector<Tag>{{"owner", "b"}}));  // the last value wins
  auto got = store_.GetRegisteredModel("m");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->tags, created->tags);
  EXPECT_TRUE(got->latest_versions.empty());
}

TEST_F(SqlRegistryStoreTest, DuplicateNameIsResourceAlreadyExists) {
  CreateModel("m");
  auto again = store_.CreateRegisteredModel({"m", {}, "", 5});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::RESOURCE_ALREADY_EXISTS);
  EXPECT_EQ(again.error().message, "Registered Model (name=m) already exists.");
}

TEST_F(SqlRegistryStoreTest, UnknownModelAndVersionAreResourceDoesNotExist) {
  auto model = store_.GetRegisteredModel("nope");
  ASSERT_FALSE(model);
  EXPECT_EQ(model.error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
  EXPECT_EQ(model.error().message, "Registered Model with name=nope not found");
  CreateModel("m");
  auto version = store_.GetModelVersion("m", 1);
  ASSERT_FALSE(version);
  EXPECT_EQ(version.error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
  EXPECT_EQ(version.error().message, "Model Version (name=m, version=1) not found");
  auto create = store_.CreateModelVersion({"nope", "s3://b/p", "", {}, "", "", 1});
  ASSERT_FALSE(create);
  EXPECT_EQ(create.error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
}

TEST_F(SqlRegistryStoreTest, VersionsCountUpAndBumpTheModel) {
  CreateModel("m", {}, 1000);
  auto first = CreateVersion("m", 2000, "run1", {{"via", "client"}});
  auto second = CreateVersion("m", 3000);
  EXPECT_EQ(first.version, 1);
  EXPECT_EQ(second.version, 2);
  EXPECT_EQ(first.current_stage, "None");
  EXPECT_EQ(first.status, "READY");
  EXPECT_EQ(first.description, "");
  EXPECT_EQ(first.run_link, "");
  EXPECT_EQ(first.run_id, "run1");
  EXPECT_EQ(first.tags, (std::vector<Tag>{{"via", "client"}}));
  auto model = store_.GetRegisteredModel("m");
  ASSERT_TRUE(model);
  EXPECT_EQ(model->creation_timestamp, 1000);
  EXPECT_EQ(model->last_updated_timestamp, 3000);
  ASSERT_EQ(model->latest_versions.size(), 1U);
  EXPECT_EQ(model->latest_versions.front().version, 2);
}

TEST_F(SqlRegistryStoreTest, DeletedVersionNumbersAreNotReused) {
  CreateModel("m");
  CreateVersion("m");
  CreateVersion("m");
  ASSERT_TRUE(store_.SetRegisteredModelAlias("m", "champion", 2));
  ASSERT_TRUE(store_.SetModelVersionTag("m", 2, {"k", "v"}));
  ASSERT_TRUE(store_.DeleteModelVersion("m", 2, 5000));
  EXPECT_FALSE(store_.GetModelVersion("m", 2));
  EXPECT_EQ(CreateVersion("m").version, 3);
  auto model = store_.GetRegisteredModel("m");
  ASSERT_TRUE(model);
  EXPECT_TRUE(model->aliases.empty());  // the alias went with its version
  auto deleted_again = store_.DeleteModelVersion("m", 2, 6000);
  ASSERT_FALSE(deleted_again);
  EXPECT_EQ(deleted_again.error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
  auto versions = store_.SearchModelVersions({"name = 'm'", {}, 100, 0, std::nullopt});
  ASSERT_TRUE(versions);
  EXPECT_EQ(VersionNumbers(versions->model_versions), (Strings{"m/3", "m/1"}));
}

TEST_F(SqlRegistryStoreTest, RenameMovesVersionsTagsAndAliases) {
  CreateModel("old", {{"t", "1"}});
  CreateVersion("old");
  ASSERT_TRUE(store_.SetRegisteredModelAlias("old", "best", 1));
  CreateModel("taken");
  auto clash = store_.RenameRegisteredModel("old", "taken", 7000);
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().code, ErrorCode::RESOURCE_ALREADY_EXISTS);
  auto renamed = store_.RenameRegisteredModel("old", "new", 7000);
  ASSERT_TRUE(renamed) << renamed.error().message;
  EXPECT_EQ(renamed->name, "new");
  EXPECT_EQ(renamed->last_updated_timestamp, 7000);
  EXPECT_EQ(renamed->tags, (std::vector<Tag>{{"t", "1"}}));
  EXPECT_EQ(renamed->aliases, (std::vector<RegisteredModelAlias>{{"best", 1}}));
  auto version = store_.GetModelVersion("new", 1);
  ASSERT_TRUE(version);
  EXPECT_EQ(version->name, "new");
  EXPECT_EQ(version->last_updated_timestamp, 7000);
  EXPECT_EQ(version->aliases, (Strings{"best"}));
  EXPECT_FALSE(store_.GetRegisteredModel("old"));
}

TEST_F(SqlRegistryStoreTest, DeleteCascadesAndFreesTheName) {
  CreateModel("m", {{"t", "1"}});
  CreateVersion("m", 2000, "run1", {{"vt", "x"}});
  CreateVersion("m");
  ASSERT_TRUE(store_.SetRegisteredModelAlias("m", "a", 1));
  ASSERT_TRUE(store_.DeleteRegisteredModel("m"));
  EXPECT_FALSE(store_.GetRegisteredModel("m"));
  EXPECT_FALSE(store_.DeleteRegisteredModel("m"));
  auto versions = store_.SearchModelVersions({"", {}, 100, 0, std::nullopt});
  ASSERT_TRUE(versions);
  EXPECT_TRUE(versions->model_versions.empty());
  // A new model of the same name starts afresh, with nothing left over.
  auto again = CreateModel("m");
  EXPECT_TRUE(again.tags.empty());
  EXPECT_TRUE(again.aliases.empty());
  auto version = CreateVersion("m");
  EXPECT_EQ(version.version, 1);
  EXPECT_TRUE(version.tags.empty());
  EXPECT_TRUE(version.aliases.empty());
}

TEST_F(SqlRegistryStoreTest, UpdatesDescriptions) {
  CreateModel("m");
  CreateVersion("m", 2000);
  auto model = store_.UpdateRegisteredModel("m", "model desc", 3000);
  ASSERT_TRUE(model);
  EXPECT_EQ(model->description, "model desc");
  EXPECT_EQ(model->last_updated_timestamp, 3000);
  auto version = store_.UpdateModelVersion("m", 1, "version desc", 4000);
  ASSERT_TRUE(version);
  EXPECT_EQ(version->description, "version desc");
  EXPECT_EQ(version->last_updated_timestamp, 4000);
  // A version update does not bump the model; clearing the description stores NULL.
  auto cleared = store_.UpdateModelVersion("m", 1, std::nullopt, 5000);
  ASSERT_TRUE(cleared);
  EXPECT_FALSE(cleared->description);
  EXPECT_EQ(store_.GetRegisteredModel("m")->last_updated_timestamp, 3000);
}

TEST_F(SqlRegistryStoreTest, TransitionArchivesOtherVersionsOfTheStage) {
  CreateModel("m");
  CreateVersion("m");
  CreateVersion("m");
  CreateVersion("m");
  ASSERT_TRUE(store_.TransitionModelVersionStage("m", 1, "Production", false, 3000));
  ASSERT_TRUE(store_.TransitionModelVersionStage("m", 2, "Production", false, 3100));
  auto moved = store_.TransitionModelVersionStage("m", 3, "Production", true, 3200);
  ASSERT_TRUE(moved) << moved.error().message;
  EXPECT_EQ(moved->current_stage, "Production");
  EXPECT_EQ(moved->last_updated_timestamp, 3200);
  for (std::int64_t number : {1, 2}) {
    auto archived = store_.GetModelVersion("m", number);
    ASSERT_TRUE(archived);
    EXPECT_EQ(archived->current_stage, "Archived");
    EXPECT_EQ(archived->last_updated_timestamp, 3200);
  }
  auto model = store_.GetRegisteredModel("m");
  ASSERT_TRUE(model);
  EXPECT_EQ(model->last_updated_timestamp, 3200);
  // One latest version per stage: Archived -> 2, Production -> 3.
  EXPECT_EQ(VersionNumbers(model->latest_versions), (Strings{"m/2", "m/3"}));
  auto production = store_.GetLatestVersions("m", {"Production"});
  ASSERT_TRUE(production);
  EXPECT_EQ(VersionNumbers(*production), (Strings{"m/3"}));
  auto none = store_.GetLatestVersions("m", {"None", "Staging"});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_F(SqlRegistryStoreTest, LatestVersionsListStagesByTheirFirstVersion) {
  CreateModel("m");
  for (int idx = 0; idx < 4; ++idx) CreateVersion("m");
  ASSERT_TRUE(store_.TransitionModelVersionStage("m", 1, "Staging", false, 3000));
  ASSERT_TRUE(store_.TransitionModelVersionStage("m", 3, "Staging", false, 3000));
  auto latest = store_.GetLatestVersions("m", {});
  ASSERT_TRUE(latest);
  std::vector<std::string> stages;
  for (const auto& version : *latest) {
    stages.push_back(version.current_stage + "=" + std::to_string(version.version));
  }
  EXPECT_EQ(stages, (Strings{"Staging=3", "None=4"}));
}

TEST_F(SqlRegistryStoreTest, AliasesPointAtVersions) {
  CreateModel("m");
  CreateVersion("m");
  CreateVersion("m");
  ASSERT_TRUE(store_.SetRegisteredModelAlias("m", "champion", 1));
  ASSERT_TRUE(store_.SetRegisteredModelAlias("m", "challenger", 2));
  auto champion = store_.GetModelVersionByAlias("m", "champion");
  ASSERT_TRUE(champion);
  EXPECT_EQ(champion->version, 1);
  EXPECT_EQ(champion->aliases, (Strings{"champion"}));
  ASSERT_TRUE(store_.SetRegisteredModelAlias("m", "champion", 2));  // moves
  EXPECT_EQ(store_.GetModelVersion("m", 2)->aliases, (Strings{"challenger", "champion"}));
  EXPECT_TRUE(store_.GetModelVersion("m", 1)->aliases.empty());
  ASSERT_TRUE(store_.DeleteRegisteredModelAlias("m", "challenger"));
  ASSERT_TRUE(store_.DeleteRegisteredModelAlias("m", "never-set"));
  EXPECT_EQ(store_.GetRegisteredModel("m")->aliases,
            (std::vector<RegisteredModelAlias>{{"champion", 2}}));
  auto missing = store_.GetModelVersionByAlias("m", "challenger");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  auto to_nothing = store_.SetRegisteredModelAlias("m", "x", 9);
  ASSERT_FALSE(to_nothing);
  EXPECT_EQ(to_nothing.error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
  EXPECT_EQ(store_.DeleteRegisteredModelAlias("nope", "x").error().code,
            ErrorCode::RESOURCE_DOES_NOT_EXIST);
}

TEST_F(SqlRegistryStoreTest, TagsAreSetReplacedAndDeleted) {
  CreateModel("m");
  CreateVersion("m");
  ASSERT_TRUE(store_.SetRegisteredModelTag("m", {"task", "x"}));
  ASSERT_TRUE(store_.SetRegisteredModelTag("m", {"task", "classification"}));
  ASSERT_TRUE(store_.SetRegisteredModelTag("m", {"tmp", "y"}));
  ASSERT_TRUE(store_.DeleteRegisteredModelTag("m", "tmp"));
  ASSERT_TRUE(store_.DeleteRegisteredModelTag("m", "never-set"));
  EXPECT_EQ(store_.GetRegisteredModel("m")->tags, (std::vector<Tag>{{"task", "classification"}}));
  ASSERT_TRUE(store_.SetModelVersionTag("m", 1, {"validated", "true"}));
  ASSERT_TRUE(store_.SetModelVersionTag("m", 1, {"tmp", "y"}));
  ASSERT_TRUE(store_.DeleteModelVersionTag("m", 1, "tmp"));
  EXPECT_EQ(store_.GetModelVersion("m", 1)->tags, (std::vector<Tag>{{"validated", "true"}}));
  EXPECT_EQ(store_.SetModelVersionTag("m", 2, {"a", "b"}).error().code,
            ErrorCode::RESOURCE_DOES_NOT_EXIST);
  EXPECT_EQ(store_.SetRegisteredModelTag("nope", {"a", "b"}).error().code,
            ErrorCode::RESOURCE_DOES_NOT_EXIST);
}

TEST_F(SqlRegistryStoreTest, SearchesRegisteredModels) {
  for (int idx = 0; idx < 5; ++idx) {
    CreateModel("srm-" + std::to_string(idx), {{"parity", idx % 2 == 0 ? "even" : "odd"}},
                1000 + (4 - idx));
  }
  CreateModel("other");
  auto search = [&](std::string filter, const Strings& order_by = {},
                    std::int64_t max_results = 100, std::int64_t offset = 0) {
    auto page = store_.SearchRegisteredModels(
        {std::move(filter), order_by, max_results, offset, std::nullopt});
    EXPECT_TRUE(page) << page.error().message;
    return page.value_or(RegisteredModelPage{});
  };
  EXPECT_EQ(Names(search("name LIKE 'srm-%'").registered_models),
            (Strings{"srm-0", "srm-1", "srm-2", "srm-3", "srm-4"}));
  EXPECT_EQ(Names(search("name ILIKE 'SRM-%'", {"name DESC"}).registered_models),
            (Strings{"srm-4", "srm-3", "srm-2", "srm-1", "srm-0"}));
  EXPECT_TRUE(search("name LIKE 'SRM-%'").registered_models.empty());  // LIKE is case-sensitive
  EXPECT_EQ(Names(search("tags.parity = 'odd'").registered_models), (Strings{"srm-1", "srm-3"}));
  EXPECT_EQ(Names(search("tags.parity != 'odd' AND name != 'srm-0'").registered_models),
            (Strings{"srm-2", "srm-4"}));
  EXPECT_EQ(Names(search("", {"creation_timestamp ASC"}).registered_models),
            (Strings{"other", "srm-4", "srm-3", "srm-2", "srm-1", "srm-0"}));
  auto first = search("name LIKE 'srm-%'", {"name ASC"}, 2, 0);
  EXPECT_EQ(Names(first.registered_models), (Strings{"srm-0", "srm-1"}));
  EXPECT_TRUE(first.more);
  auto last = search("name LIKE 'srm-%'", {"name ASC"}, 2, 4);
  EXPECT_EQ(Names(last.registered_models), (Strings{"srm-4"}));
  EXPECT_FALSE(last.more);
  auto exact = search("name LIKE 'srm-%'", {}, 5, 0);
  EXPECT_FALSE(exact.more);  // a full page with nothing after it
  auto bad = store_.SearchRegisteredModels({"name > 'x'", {}, 10, 0, std::nullopt});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
}

TEST_F(SqlRegistryStoreTest, SearchesModelVersions) {
  CreateModel("a");
  CreateModel("b");
  CreateVersion("a", 2000, "run1", {{"k", "x"}});
  CreateVersion("a", 2001, "run2");
  CreateVersion("b", 2002, "run1");
  CreateVersion("a", 2003, "run1");
  auto search = [&](std::string filter, const Strings& order_by = {},
                    std::int64_t max_results = 100) {
    auto page =
        store_.SearchModelVersions({std::move(filter), order_by, max_results, 0, std::nullopt});
    EXPECT_TRUE(page) << page.error().message;
    return VersionNumbers(page.value_or(ModelVersionPage{}).model_versions);
  };
  // Default order: last_updated_timestamp DESC, name ASC, version DESC.
  EXPECT_EQ(search(""), (Strings{"a/3", "b/1", "a/2", "a/1"}));
  EXPECT_EQ(search("name = 'a'", {"version_number ASC"}), (Strings{"a/1", "a/2", "a/3"}));
  EXPECT_EQ(search("run_id = 'run1'", {"name"}), (Strings{"a/3", "a/1", "b/1"}));
  EXPECT_EQ(search("run_id IN ('run2', 'RUN1')"), (Strings{"a/2"}));
  EXPECT_EQ(search("run_id IN ('RUN1')"), Strings{});
  EXPECT_EQ(search("version_number >= 2", {"name", "version_number"}), (Strings{"a/2", "a/3"}));
  EXPECT_EQ(search("tags.k = 'x'"), (Strings{"a/1"}));
  EXPECT_EQ(search("source_path LIKE '%/run2/%'"), (Strings{"a/2"}));
  EXPECT_EQ(search("", {"creation_timestamp"}, 2), (Strings{"a/1", "a/2"}));
  auto page = store_.SearchModelVersions({"name = 'a'", {}, 2, 2, std::nullopt});
  ASSERT_TRUE(page);
  EXPECT_EQ(VersionNumbers(page->model_versions), (Strings{"a/1"}));
  EXPECT_FALSE(page->more);
  // Search results carry tags but not aliases, as MLflow's search answers.
  ASSERT_TRUE(store_.SetRegisteredModelAlias("a", "x", 1));
  auto with_tags = store_.SearchModelVersions({"tags.k = 'x'", {}, 10, 0, std::nullopt});
  ASSERT_TRUE(with_tags);
  ASSERT_EQ(with_tags->model_versions.size(), 1U);
  EXPECT_EQ(with_tags->model_versions.front().tags, (std::vector<Tag>{{"k", "x"}}));
  EXPECT_TRUE(with_tags->model_versions.front().aliases.empty());
}

}  // namespace
}  // namespace mltf::registry::store::sql
