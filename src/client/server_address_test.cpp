// server_address_test.cpp - the order flag > MLTF_SERVER > MLFLOW_TRACKING_URI > default, refused
// schemes, and the credential: environment, else the stored login, refreshed when about to expire.
#include "client/server_address.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "client/test_environment.hpp"
#include "client/test_server.hpp"

namespace mltf::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ServerAddressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name :
         {"MLTF_SERVER", "MLFLOW_TRACKING_URI", "MLTF_TOKEN", "MLFLOW_TRACKING_TOKEN"}) {
      environment_.Clear(name);
    }
  }

  testing::ScopedEnvironment environment_;
};

TEST_F(ServerAddressTest, DefaultIsTheLocalServer) {
  EXPECT_EQ(*ResolveServer(""), "http://127.0.0.1:5000");
}

TEST_F(ServerAddressTest, FlagWinsOverEnvironment) {
  environment_.Set("MLTF_SERVER", "http://env:1");
  environment_.Set("MLFLOW_TRACKING_URI", "http://mlflow:2");
  EXPECT_EQ(*ResolveServer("https://flag:3/"), "https://flag:3");
}

TEST_F(ServerAddressTest, MltfServerWinsOverTrackingUri) {
  environment_.Set("MLTF_SERVER", "http://env:1//");
  environment_.Set("MLFLOW_TRACKING_URI", "http://mlflow:2");
  EXPECT_EQ(*ResolveServer(""), "http://env:1");
}

TEST_F(ServerAddressTest, TrackingUriIsUsedOnlyWhenHttp) {
  environment_.Set("MLFLOW_TRACKING_URI", "HTTPS://mlflow.example:443/prefix/");
  EXPECT_EQ(*ResolveServer(""), "HTTPS://mlflow.example:443/prefix");
  environment_.Set("MLFLOW_TRACKING_URI", "file:///tmp/mlruns");
  EXPECT_EQ(*ResolveServer(""), "http://127.0.0.1:5000");
  environment_.Set("MLFLOW_TRACKING_URI", "databricks");
  EXPECT_EQ(*ResolveServer(""), "http://127.0.0.1:5000");
}

TEST_F(ServerAddressTest, OtherSchemesAreRefusedNamingTheSource) {
  auto flag = ResolveServer("ftp://host");
  ASSERT_FALSE(flag);
  EXPECT_EQ(flag.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_THAT(flag.error().message, HasSubstr("--server"));
  EXPECT_THAT(flag.error().message, HasSubstr("http://"));

  environment_.Set("MLTF_SERVER", "localhost:5000");
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

// The credential tests keep logins in a file of their own and play the provider.
class ResolveCredentialTest : public ServerAddressTest {
 protected:
  static constexpr const char* kServer = "https://mltf.example:5000";
  static constexpr std::int64_t kNow = 1700000000;

  void SetUp() override {
    ServerAddressTest::SetUp();
    environment_.Set("XDG_CONFIG_HOME", dir_.string());
  }

  CredentialStore Store() { return CredentialStore(dir_ / "mltf" / "credentials.json"); }

  static StoredLogin Login(const std::string& token_url, std::int64_t expires_at) {
    StoredLogin login;
    login.client_id = "mltf-cli";
    login.token_url = token_url;
    login.access_token = "access-secret-old";
    login.access_expires_at = expires_at;
    login.refresh_token = "refresh-secret-old";
    login.user = "alice";
    return login;
  }

  testing::TemporaryDirectory temporary_{"mltf-resolve-credential-test-"};
  const std::filesystem::path& dir_ = temporary_.path();
};

TEST_F(ResolveCredentialTest, EnvironmentWinsOverTheStoredLogin) {
  auto store = Store();
  ASSERT_TRUE(store.Save(kServer, Login("https://idp.example/token", kNow + 3600)));
  auto stored = ResolveCredential(kServer, store, kNow);
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_EQ(stored->token, "access-secret-old");
  EXPECT_EQ(stored->source, store.file().string());
  ASSERT_TRUE(stored->login);
  EXPECT_EQ(stored->login->user, "alice");

  environment_.Set("MLFLOW_TRACKING_TOKEN", "mlflow-token");
  auto mlflow = ResolveCredential(kServer, store, kNow);
  EXPECT_EQ(mlflow->token, "mlflow-token");
  EXPECT_EQ(mlflow->source, "MLFLOW_TRACKING_TOKEN");
  EXPECT_FALSE(mlflow->login);
  environment_.Set("MLTF_TOKEN", "mltf-token");
  EXPECT_EQ(ResolveCredential(kServer, store, kNow)->source, "MLTF_TOKEN");
  EXPECT_EQ(*ResolveToken(kServer), "mltf-token");
}

TEST_F(ResolveCredentialTest, ResolveTokenReadsTheUsersFile) {
  EXPECT_EQ(*ResolveToken(kServer), "");  // No file at all.
  ASSERT_TRUE(Store().Save(kServer, Login("https://idp.example/token", 0)));
  EXPECT_EQ(*ResolveToken(kServer), "access-secret-old");
  EXPECT_EQ(*ResolveToken("https://other.example"), "");
}

TEST_F(ResolveCredentialTest, AFreshAccessTokenIsUsedAsItIs) {
  client::testing::TestServer provider;
  auto store = Store();
  ASSERT_TRUE(store.Save(kServer, Login(provider.url() + "/token", kNow + 61)));
  auto credential = ResolveCredential(kServer, store, kNow);
  ASSERT_TRUE(credential) << credential.error().message;
  EXPECT_EQ(credential->token, "access-secret-old");
  EXPECT_TRUE(provider.Requests().empty());
}

TEST_F(ResolveCredentialTest, ATokenAboutToExpireIsRefreshedAndTheRotationStored) {
  client::testing::TestServer provider(nlohmann::json{{"POST /token",
                                                       {{{"status", 200},
                                                         {"body",
                                                          {{"access_token", "access-new"},
                                                           {"refresh_token", "refresh-new"},
                                                           {"expires_in", 600}}}}}}});
  auto store = Store();
  ASSERT_TRUE(store.Save(kServer, Login(provider.url() + "/token", kNow + 59)));
  auto credential = ResolveCredential(kServer, store, kNow);
  ASSERT_TRUE(credential) << credential.error().message;
  EXPECT_EQ(credential->token, "access-new");
  const auto saved = **store.Load(kServer);
  EXPECT_EQ(saved.access_token, "access-new");
  EXPECT_EQ(saved.refresh_token, "refresh-new");
  EXPECT_EQ(saved.access_expires_at, kNow + 600);
  EXPECT_EQ(saved.user, "alice");
  const auto requests = provider.Requests();
  ASSERT_EQ(requests.size(), 1U);
  EXPECT_THAT(requests[0]["body"].get<std::string>(),
              HasSubstr("refresh_token=refresh-secret-old"));
}

TEST_F(ResolveCredentialTest, ARevokedLoginSaysToLogInAgainAndKeepsTheFile) {
  client::testing::TestServer provider(
      nlohmann::json{{"POST /token", {{{"status", 400}, {"body", {{"error", "invalid_grant"}}}}}}});
  auto store = Store();
  const auto login = Login(provider.url() + "/token", kNow - 10);
  ASSERT_TRUE(store.Save(kServer, login));
  auto credential = ResolveCredential(kServer, store, kNow);
  ASSERT_FALSE(credential);
  EXPECT_EQ(credential.error().code, ErrorCode::UNAUTHENTICATED);
  EXPECT_THAT(credential.error().message, HasSubstr("run `mltf login`"));
  EXPECT_THAT(credential.error().message, Not(HasSubstr("secret")));
  EXPECT_EQ(**store.Load(kServer), login);
}

TEST_F(ResolveCredentialTest, AnUnreachableProviderIsToleratedWhileTheTokenLasts) {
  auto store = Store();
  const std::string token_url =
      "http://127.0.0.1:" + std::to_string(client::testing::UnusedPort()) + "/token";
  ASSERT_TRUE(store.Save(kServer, Login(token_url, kNow + 30)));
  auto credential = ResolveCredential(kServer, store, kNow);
  ASSERT_TRUE(credential) << credential.error().message;
  EXPECT_EQ(credential->token, "access-secret-old");

  ASSERT_TRUE(store.Save(kServer, Login(token_url, kNow - 1)));
  auto expired = ResolveCredential(kServer, store, kNow);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, ErrorCode::TEMPORARILY_UNAVAILABLE);
  EXPECT_THAT(expired.error().message, HasSubstr("mltf login"));
  EXPECT_THAT(expired.error().message, Not(HasSubstr("secret")));
}

TEST_F(ResolveCredentialTest, ApiTokensAndLoginsWithoutRefreshTokenAreNotRefreshed) {
  auto store = Store();
  StoredLogin api_token;
  api_token.kind = "token";
  api_token.access_token = "api-secret";
  ASSERT_TRUE(store.Save(kServer, api_token));
  EXPECT_EQ(ResolveCredential(kServer, store, kNow)->token, "api-secret");

  auto no_refresh = Login("https://idp.example/token", kNow - 1);
  no_refresh.refresh_token.clear();
  ASSERT_TRUE(store.Save(kServer, no_refresh));
  auto expired = ResolveCredential(kServer, store, kNow);
  ASSERT_FALSE(expired);
  EXPECT_THAT(expired.error().message, HasSubstr("run `mltf login`"));
}

}  // namespace
}  // namespace mltf::client
