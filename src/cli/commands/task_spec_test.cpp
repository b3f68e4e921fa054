// task_spec_test.cpp - -P parsing, backend config files and the task spec built from flags.
#include "cli/commands/task_spec.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <random>

namespace mltf::cli {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Json = nlohmann::json;

TEST(ParseParametersTest, SplitsAtTheFirstEquals) {
  auto parsed = ParseParameters({"alpha=0.5", "expr=a=b", "empty="});
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->at("alpha"), "0.5");
  EXPECT_EQ(parsed->at("expr"), "a=b");
  EXPECT_EQ(parsed->at("empty"), "");
}

TEST(ParseParametersTest, RefusesValuesWithoutKeyOrEquals) {
  auto missing = ParseParameters({"alpha"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_THAT(missing.error().message, HasSubstr("key=value"));
  EXPECT_THAT(missing.error().message, HasSubstr("'alpha'"));
  EXPECT_FALSE(ParseParameters({"=1"}));
  auto twice = ParseParameters({"a=1", "a=2"});
  ASSERT_FALSE(twice);
  EXPECT_THAT(twice.error().message, HasSubstr("twice"));
}

class BackendConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device random;
    dir_ = fs::temp_directory_path() / ("mltf-spec-test-" + std::to_string(random()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  fs::path dir_;
};

TEST_F(BackendConfigTest, NoFileGivesAnEmptyObject) {
  EXPECT_EQ(*LoadBackendConfig(dir_, ""), Json::object());
}

TEST_F(BackendConfigTest, GatewayConfigWinsOverSlurmConfig) {
  Write("slurm_config.json", R"({"partition": "slurm"})");
  EXPECT_EQ((*LoadBackendConfig(dir_, ""))["partition"], "slurm");
  Write("gateway_config.json", R"({"partition": "gateway"})");
  EXPECT_EQ((*LoadBackendConfig(dir_, ""))["partition"], "gateway");
}

TEST_F(BackendConfigTest, ExplicitFileWins) {
  Write("gateway_config.json", R"({"partition": "gateway"})");
  Write("other.json", R"({"partition": "other"})");
  EXPECT_EQ((*LoadBackendConfig(dir_, (dir_ / "other.json").string()))["partition"], "other");
}

TEST_F(BackendConfigTest, BadFilesAreNamed) {
  auto missing = LoadBackendConfig(dir_, (dir_ / "nope.json").string());
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message, HasSubstr("nope.json"));
  Write("gateway_config.json", "[1, 2]");
  auto array = LoadBackendConfig(dir_, "");
  ASSERT_FALSE(array);
  EXPECT_THAT(array.error().message, HasSubstr("gateway_config.json"));
  Write("gateway_config.json", "{not json");
  EXPECT_FALSE(LoadBackendConfig(dir_, ""));
}

TEST(BuildResourcesTest, OverlaysAndDropsInjectedKeys) {
  const Json config = {{"partition", "batch_gpu"}, {"mem", "8192"},     {"ENV_MANAGER", nullptr},
                       {"SYNCHRONOUS", true},      {"auth_token", "x"}, {"url", "https://old"},
                       {"gres", nullptr},          {"time", 3600}};
  auto resources = BuildResources(config, R"({"mem": "16G", "gpus": 1, "time": null})");
  ASSERT_TRUE(resources);
  EXPECT_EQ(*resources, (Json{{"partition", "batch_gpu"}, {"mem", "16G"}, {"gpus", 1}}));
}

TEST(BuildResourcesTest, RefusesNonObjectJson) {
  EXPECT_FALSE(BuildResources(Json::object(), "[1]"));
  auto bad = BuildResources(Json::object(), "{gpus: 1}");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr("--resources-json"));
}

TEST(BuildTaskSpecTest, MinimalSpec) {
  SubmitFlags flags;
  auto spec = BuildTaskSpec(flags, "abc", Json::object());
  ASSERT_TRUE(spec);
  EXPECT_EQ(*spec,
            (Json{{"project", "abc"}, {"entry_point", "main"}, {"parameters", Json::object()}}));
}

TEST(BuildTaskSpecTest, EveryFlag) {
  SubmitFlags flags;
  flags.entry_point = "train";
  flags.parameters = {"alpha=0.5", "epochs=3"};
  flags.experiment_name = "exp";
  flags.run_name = "run";
  flags.env_manager = "local";
  flags.priority = 5;
  flags.max_retries = 2;
  flags.preemptible = true;
  flags.metric_patterns = {"loss=(?P<loss>[0-9.]+)"};
  auto spec = BuildTaskSpec(flags, "abc", Json{{"gpus", 1}});
  ASSERT_TRUE(spec);
  EXPECT_EQ(*spec, (Json{{"project", "abc"},
                         {"entry_point", "train"},
                         {"parameters", {{"alpha", "0.5"}, {"epochs", "3"}}},
                         {"experiment_name", "exp"},
                         {"run_name", "run"},
                         {"resources", {{"gpus", 1}}},
                         {"env_manager", "local"},
                         {"priority", 5},
                         {"max_retries", 2},
                         {"preemptible", true},
                         {"metric_patterns", {"loss=(?P<loss>[0-9.]+)"}}}));
}

TEST(BuildTaskSpecTest, RefusesContradictionsAndBadValues) {
  SubmitFlags both;
  both.experiment_name = "a";
  both.experiment_id = "1";
  EXPECT_FALSE(BuildTaskSpec(both, "abc", Json::object()));
  SubmitFlags env;
  env.env_manager = "conda";
  EXPECT_FALSE(BuildTaskSpec(env, "abc", Json::object()));
  SubmitFlags retries;
  retries.max_retries = -1;
  EXPECT_FALSE(BuildTaskSpec(retries, "abc", Json::object()));
  SubmitFlags params;
  params.parameters = {"oops"};
  auto bad = BuildTaskSpec(params, "abc", Json::object());
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr("key=value"));
}

}  // namespace
}  // namespace mltf::cli
