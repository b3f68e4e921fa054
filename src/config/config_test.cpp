// config_test.cpp - precedence of sources and reporting of every problem at once.
#include "config/config.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace mltf::config {
namespace {

std::string WriteYaml(const std::string& text) {
  auto path = std::filesystem::temp_directory_path() /
              ("mltf-config-test-" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(path) << text;
  return path.string();
}

TEST(LoadServerConfig, DefaultsDeriveFromDataDir) {
  auto config = LoadServerConfig("", {{"data-dir", "/tmp/d"}});
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->port, 5000);
  EXPECT_EQ(config->host, "127.0.0.1");
  EXPECT_EQ(config->backend_store_uri, "/tmp/d/mltf.db");
  EXPECT_EQ(config->artifacts_destination, "/tmp/d/artifacts");
  EXPECT_EQ(config->default_artifact_root, "mlflow-artifacts:/");
}

TEST(LoadServerConfig, FlagsBeatEnvironmentBeatYaml) {
  auto yaml = WriteYaml("port: 6000\nhost: 0.0.0.0\ndata_dir: /from/yaml\n");
  ::setenv("MLTF_PORT", "7000", 1);
  ::setenv("MLTF_HOST", "127.0.0.2", 1);
  auto config = LoadServerConfig(yaml, {{"port", "8000"}});
  ::unsetenv("MLTF_PORT");
  ::unsetenv("MLTF_HOST");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->port, 8000);
  EXPECT_EQ(config->host, "127.0.0.2");
  EXPECT_EQ(config->data_dir, "/from/yaml");
}

TEST(LoadServerConfig, ReportsAllProblemsTogether) {
  auto yaml = WriteYaml("prot: 1\nworkers: many\n");
  auto config = LoadServerConfig(yaml, {{"port", "70000"}, {"sqlite-synchronous", "maybe"}});
  ASSERT_FALSE(config);
  const auto& message = config.error().message;
  EXPECT_NE(message.find("unknown setting 'prot'"), std::string::npos) << message;
  EXPECT_NE(message.find("'many' is not an integer"), std::string::npos) << message;
  EXPECT_NE(message.find("--port"), std::string::npos) << message;
  EXPECT_NE(message.find("'maybe' is not one of"), std::string::npos) << message;
}

TEST(LoadServerConfig, SystemMetricsIntervalDefaultsToTenSecondsAndZeroTurnsItOff) {
  auto config = LoadServerConfig("", {});
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->system_metrics_interval_ms, 10000);
  config = LoadServerConfig("", {{"system-metrics-interval-ms", "0"}});
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->system_metrics_interval_ms, 0);
  auto negative = LoadServerConfig("", {{"system-metrics-interval-ms", "-1"}});
  ASSERT_FALSE(negative);
  EXPECT_NE(negative.error().message.find("system-metrics-interval-ms"), std::string::npos)
      << negative.error().message;
}

TEST(LoadServerConfig, AuthIsOffByDefaultAndModeOidcNeedsItsProvider) {
  auto config = LoadServerConfig("", {});
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->auth, "none");
  EXPECT_EQ(config->oidc_user_claim, "sub");
  auto oidc = LoadServerConfig("", {{"auth", "oidc"}});
  ASSERT_FALSE(oidc);
  EXPECT_NE(oidc.error().message.find("needs oidc-issuer and oidc-audience"), std::string::npos);
  oidc = LoadServerConfig("", {{"auth", "oidc"},
                               {"oidc-issuer", "https://sso.example.org/realms/ml"},
                               {"oidc-audience", "mltf"},
                               {"oidc-user-claim", "preferred_username"}});
  ASSERT_TRUE(oidc) << oidc.error().message;
  EXPECT_EQ(oidc->oidc_user_claim, "preferred_username");
  auto bad = LoadServerConfig(
      "", {{"auth", "kerberos"}, {"oidc-issuer", "sso.example.org"}, {"oidc-user-claim", ""}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("'kerberos' is not one of"), std::string::npos);
  EXPECT_NE(bad.error().message.find("must be an https:// URL"), std::string::npos);
  EXPECT_NE(bad.error().message.find("--oidc-user-claim: must not be empty"), std::string::npos);
}

TEST(LoadServerConfig, SlurmRestSettingsAreReadAndTheUrlChecked) {
  auto config = LoadServerConfig("", {{"slurm-rest-url", "http://127.0.0.1:6820"},
                                      {"slurm-rest-user", "mltf"},
                                      {"slurm-rest-token-file", "/etc/mltf/slurm.jwt"}});
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->slurm_rest_url, "http://127.0.0.1:6820");
  EXPECT_EQ(config->slurm_rest_user, "mltf");
  EXPECT_EQ(config->slurm_rest_token_file, "/etc/mltf/slurm.jwt");
  EXPECT_TRUE(LoadServerConfig("", {})->slurm_rest_url.empty()) << "the programs by default";
  auto bad = LoadServerConfig("", {{"slurm-rest-url", "127.0.0.1:6820"}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("--slurm-rest-url: must be an http:// or https:// URL"),
            std::string::npos)
      << bad.error().message;
}

TEST(SqlitePathOf, FollowsSqlAlchemyUris) {
  EXPECT_EQ(SqlitePathOf("sqlite:///rel.db").value(), "rel.db");
  EXPECT_EQ(SqlitePathOf("sqlite:////abs/x.db").value(), "/abs/x.db");
  EXPECT_EQ(SqlitePathOf("/plain/path.db").value(), "/plain/path.db");
  EXPECT_FALSE(SqlitePathOf("postgresql://u@h/db"));
}

}  // namespace
}  // namespace mltf::config
