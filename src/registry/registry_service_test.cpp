// registry_service_test.cpp - the registry service's rules (validation, sources, stages, paging)
// over the real SQL store on a temporary SQLite file.
#include "registry/registry_service.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "registry/store/sql/sql_registry_store.hpp"
#include "registry/store/sql/temporary_database.hpp"
#include "tracking/search/page_token.hpp"

namespace mltf::registry {
namespace {

constexpr std::string_view kRunId = "0123456789abcdef0123456789abcdef";

class RegistryServiceTest : public testing::Test {
 protected:
  RegistryServiceTest()
      : service_(store_, [this](const std::string& run_id) -> Result<std::string> {
          if (run_id != kRunId) {
            return Fail(Error::ResourceDoesNotExist("Run with id=" + run_id + " not found"));
          }
          return run_artifact_uri_;
        }) {}

  static void ExpectInvalid(const Result<void>& result, std::string_view message_part = "") {
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, ErrorCode::INVALID_PARAMETER_VALUE) << result.error().message;
    EXPECT_NE(result.error().message.find(message_part), std::string::npos)
        << result.error().message;
  }

  template <typename T>
  static void ExpectInvalid(const Result<T>& result, std::string_view message_part = "") {
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, ErrorCode::INVALID_PARAMETER_VALUE) << result.error().message;
    EXPECT_NE(result.error().message.find(message_part), std::string::npos)
        << result.error().message;
  }

  Result<ModelVersion> CreateVersion(const std::string& name, const std::string& source,
                                     const std::string& run_id = "") {
    CreateModelVersionRequest request;
    request.name = name;
    request.source = source;
    request.run_id = run_id;
    return service_.CreateModelVersion(request);
  }

  store::sql::TemporaryDatabase db_;
  store::sql::SqlRegistryStore store_{db_.database()};
  std::string run_artifact_uri_ = "mlflow-artifacts:/1/" + std::string(kRunId) + "/artifacts";
  RegistryService service_;
};

TEST_F(RegistryServiceTest, ParsesVersionsAsPythonIntDoes) {
  EXPECT_EQ(ParseModelVersion("3"), 3);
  EXPECT_EQ(ParseModelVersion(" +12 "), 12);
  EXPECT_EQ(ParseModelVersion("-1"), -1);
  for (std::string_view bad : {"", "one", "1.5", "0x1", "1 2"}) {
    auto parsed = ParseModelVersion(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().message,
              fmt::format("Model version must be an integer, got '{}'", bad));
  }
}

TEST_F(RegistryServiceTest, ValidatesAliasNames) {
  EXPECT_TRUE(ValidateAliasName("champion"));
  EXPECT_TRUE(ValidateAliasName("prod-2_b"));
  EXPECT_TRUE(ValidateAliasName("v"));
  ExpectInvalid(ValidateAliasName(""), "cannot be empty");
  ExpectInvalid(ValidateAliasName("a b"), "Invalid alias name");
  ExpectInvalid(ValidateAliasName("a/b"), "Invalid alias name");
  ExpectInvalid(ValidateAliasName("LaTeSt"), "reserved");
  ExpectInvalid(ValidateAliasName("v12"), "Version alias name 'v12' is reserved");
  ExpectInvalid(ValidateAliasName("V3"), "reserved");
  ExpectInvalid(ValidateAliasName(std::string(256, 'a')), "exceeded length limit of 255");
}

TEST_F(RegistryServiceTest, RejectsEmptyNamesAndBadTags) {
  ExpectInvalid(service_.CreateRegisteredModel("", {}, ""), "name cannot be empty");
  ExpectInvalid(service_.CreateRegisteredModel("m", {{"", "v"}}, ""), "'key'");
  ExpectInvalid(service_.CreateRegisteredModel("m", {{"../x", "v"}}, ""), "Invalid tag name");
  ExpectInvalid(service_.CreateRegisteredModel("m", {{"k", std::string(5001, 'x')}}, ""),
                "exceeded length limit of 5000");
  EXPECT_FALSE(service_.GetRegisteredModel("m"));  // nothing was created
  ASSERT_TRUE(service_.CreateRegisteredModel("m", {}, ""));
  ExpectInvalid(service_.RenameRegisteredModel("m", ""), "name cannot be empty");
  ExpectInvalid(service_.SetRegisteredModelTag("m", {"a//b", "v"}), "Invalid tag name");
  ExpectInvalid(service_.DeleteRegisteredModelTag("m", ""), "'key'");
}

TEST_F(RegistryServiceTest, CreatesVersionsFromRemoteSources) {
  ASSERT_TRUE(service_.CreateRegisteredModel("m", {}, ""));
  for (const std::string& source :
       {"mlflow-artifacts:/1/" + std::string(kRunId) + "/artifacts/model",
        "runs:/" + std::string(kRunId) + "/model", std::string("s3://bucket/models/m"),
        std::string("models:/other/1"), std::string("https://host:8080/a/b/")}) {
    auto created = CreateVersion("m", source, std::string(kRunId));
    ASSERT_TRUE(created) << source << ": " << created.error().message;
    EXPECT_EQ(created->source, source);
    EXPECT_EQ(service_.GetModelVersionDownloadUri("m", std::to_string(created->version)).value(),
              source);
  }
}

TEST_F(RegistryServiceTest, RejectsSourcesThatReachOutsideTheirPlace) {
  ASSERT_TRUE(service_.CreateRegisteredModel("m", {}, ""));
  for (std::string_view source :
       {"mlflow-artifacts:/1/../../../etc", "mlflow-artifacts:/1/%2e%2e/%2e%2e/etc",
        "mlflow-artifacts:/1/%252e%252e/etc", "https://host/api/2.0/mlflow-artifacts/../x",
        "s3://bucket", "s3:relative/path", "http://host/a/./b"}) {
    ExpectInvalid(CreateVersion("m", std::string(source)), "absolute path");
  }
  // Local paths need the run, and must lie in its artifact directory.
  ExpectInvalid(CreateVersion("m", "/tmp/model"), "local path");
  ExpectInvalid(CreateVersion("m", "file:///tmp/model", std::string(kRunId)), "local path");
  ExpectInvalid(CreateVersion("m", "file://remote-host/tmp/model"), "remote host");
  auto unknown_run = CreateVersion("m", "/tmp/model", "ffffffffffffffffffffffffffffffff");
  ASSERT_FALSE(unknown_run);
  EXPECT_EQ(unknown_run.error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
  run_artifact_uri_ = "/data/artifacts/1/run/artifacts";
  EXPECT_TRUE(CreateVersion("m", "/data/artifacts/1/run/artifacts/model", std::string(kRunId)));
  EXPECT_TRUE(
      CreateVersion("m", "file:///data/artifacts/1/run/artifacts/model", std::string(kRunId)));
  ExpectInvalid(CreateVersion("m", "/data/artifacts/1/run/artifacts/../../x", std::string(kRunId)),
                "local path");
  ExpectInvalid(CreateVersion("m", "/data/artifacts/1/run/artifacts2", std::string(kRunId)),
                "local path");
  auto versions = service_.SearchModelVersions({"", 100, {}, "", std::nullopt});
  ASSERT_TRUE(versions);
  EXPECT_EQ(versions->model_versions.size(), 2U);
}

TEST_F(RegistryServiceTest, TransitionsCheckStages) {
  ASSERT_TRUE(service_.CreateRegisteredModel("m", {}, ""));
  ASSERT_TRUE(CreateVersion("m", "s3://b/m"));
  auto staged = service_.TransitionModelVersionStage("m", "1", "staging", false);
  ASSERT_TRUE(staged) << staged.error().message;
  EXPECT_EQ(staged->current_stage, "Staging");
  ExpectInvalid(service_.TransitionModelVersionStage("m", "1", "Deleted_Internal", false),
                "Invalid Model Version stage");
  ExpectInvalid(service_.TransitionModelVersionStage("m", "1", "archived", true),
                "not an Active stage");
  ExpectInvalid(service_.TransitionModelVersionStage("m", "one", "None", false),
                "must be an integer");
  ExpectInvalid(service_.GetLatestVersions("m", {"Prod"}), "Invalid Model Version stage");
  auto latest = service_.GetLatestVersions("m", {"STAGING"});
  ASSERT_TRUE(latest);
  ASSERT_EQ(latest->size(), 1U);
  EXPECT_EQ(latest->front().version, 1);
}

TEST_F(RegistryServiceTest, PagesRegisteredModelsWithTokens) {
  for (int idx = 0; idx < 5; ++idx) {
    ASSERT_TRUE(service_.CreateRegisteredModel("m" + std::to_string(idx), {}, ""));
  }
  RegistrySearchRequest request{"name LIKE 'm%'", 2, {"name ASC"}, "", std::nullopt};
  std::vector<std::string> names;
  std::vector<std::string> tokens;
  while (true) {
    auto page = service_.SearchRegisteredModels(request);
    ASSERT_TRUE(page) << page.error().message;
    for (const auto& model : page->registered_models) names.push_back(model.name);
    if (!page->next_page_token) break;
    tokens.push_back(*page->next_page_token);
    request.page_token = *page->next_page_token;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"m0", "m1", "m2", "m3", "m4"}));
  EXPECT_EQ(tokens, (std::vector<std::string>{"eyJvZmZzZXQiOiAyfQ==", "eyJvZmZzZXQiOiA0fQ=="}));
  ExpectInvalid(service_.SearchRegisteredModels({"", 1001, {}, "", std::nullopt}), "at most 1000");
  ExpectInvalid(service_.SearchRegisteredModels({"", 0, {}, "", std::nullopt}), "positive integer");
  ExpectInvalid(service_.SearchRegisteredModels({"", 10, {}, "not a token", std::nullopt}),
                "page token");
  EXPECT_TRUE(service_.SearchModelVersions({"", kMaxModelVersionResults, {}, "", std::nullopt}));
  ExpectInvalid(
      service_.SearchModelVersions({"", kMaxModelVersionResults + 1, {}, "", std::nullopt}),
      "at most 200000");
}

TEST_F(RegistryServiceTest, AliasesAreValidatedBeforeTheStore) {
  ASSERT_TRUE(service_.CreateRegisteredModel("m", {}, ""));
  ASSERT_TRUE(CreateVersion("m", "s3://b/m"));
  ExpectInvalid(service_.SetRegisteredModelAlias("m", "latest", "1"), "reserved");
  ExpectInvalid(service_.SetRegisteredModelAlias("m", "a", "x"), "must be an integer");
  ASSERT_TRUE(service_.SetRegisteredModelAlias("m", "champion", "1"));
  auto found = service_.GetModelVersionByAlias("m", "champion");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->aliases, (std::vector<std::string>{"champion"}));
  ExpectInvalid(service_.GetModelVersionByAlias("m", "other"), "alias other not found");
}

}  // namespace
}  // namespace mltf::registry
