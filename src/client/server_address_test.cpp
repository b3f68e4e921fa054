// server_address_test.cpp - the order flag > MLTF_SERVER > MLFLOW_TRACKING_URI > default, and
// refused schemes.
#include "client/server_address.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

namespace mltf::client {
namespace {

using ::testing::HasSubstr;

class ServerAddressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name :
         {"MLTF_SERVER", "MLFLOW_TRACKING_URI", "MLTF_TOKEN", "MLFLOW_TRACKING_TOKEN"}) {
      unsetenv(name);
    }
  }
  void TearDown() override { SetUp(); }
};

TEST_F(ServerAddressTest, DefaultIsTheLocalServer) {
  EXPECT_EQ(*ResolveServer(""), "http://127.0.0.1:5000");
}

TEST_F(ServerAddressTest, FlagWinsOverEnvironment) {
  setenv("MLTF_SERVER", "http://env:1", 1);
  setenv("MLFLOW_TRACKING_URI", "http://mlflow:2", 1);
  EXPECT_EQ(*ResolveServer("https://flag:3/"), "https://flag:3");
}

TEST_F(ServerAddressTest, MltfServerWinsOverTrackingUri) {
  setenv("MLTF_SERVER", "http://env:1//", 1);
  setenv("MLFLOW_TRACKING_URI", "http://mlflow:2", 1);
  EXPECT_EQ(*ResolveServer(""), "http://env:1");
}

TEST_F(ServerAddressTest, TrackingUriIsUsedOnlyWhenHttp) {
  setenv("MLFLOW_TRACKING_URI", "HTTPS://mlflow.example:443/prefix/", 1);
  EXPECT_EQ(*ResolveServer(""), "HTTPS://mlflow.example:443/prefix");
  setenv("MLFLOW_TRACKING_URI", "file:///tmp/mlruns", 1);
  EXPECT_EQ(*ResolveServer(""), "http://127.0.0.1:5000");
  setenv("MLFLOW_TRACKING_URI", "databricks", 1);
  EXPECT_EQ(*ResolveServer(""), "http://127.0.0.1:5000");
}

TEST_F(ServerAddressTest, OtherSchemesAreRefusedNamingTheSource) {
  auto flag = ResolveServer("ftp://host");
  ASSERT_FALSE(flag);
  EXPECT_EQ(flag.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_THAT(flag.error().message, HasSubstr("--server"));
  EXPECT_THAT(flag.error().message, HasSubstr("http://"));

  setenv("MLTF_SERVER", "localhost:5000", 1);
  auto env = ResolveServer("");
  ASSERT_FALSE(env);
  EXPECT_THAT(env.error().message, HasSubstr("MLTF_SERVER"));
}

TEST_F(ServerAddressTest, UrlsWithoutHostAreRefused) {
  EXPECT_FALSE(ResolveServer("http://"));
  EXPECT_FALSE(ResolveServer("http:///path"));
  EXPECT_FALSE(ResolveServer("http://:5000"));
  EXPECT_FALSE(ResolveServer("http://ho st"));
  EXPECT_EQ(*ResolveServer("  http://host:1  "), "http://host:1");
}

TEST_F(ServerAddressTest, MessagesDoNotEchoPasswords) {
  auto result = ResolveServer("ftp://user:hunter2@host");
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().message, ::testing::Not(HasSubstr("hunter2")));
}

TEST_F(ServerAddressTest, TokenPrefersMltfToken) {
  EXPECT_EQ(ResolveToken(), "");
  setenv("MLFLOW_TRACKING_TOKEN", "mlflow-token", 1);
  EXPECT_EQ(ResolveToken(), "mlflow-token");
  setenv("MLTF_TOKEN", "mltf-token", 1);
  EXPECT_EQ(ResolveToken(), "mltf-token");
}

}  // namespace
}  // namespace mltf::client
