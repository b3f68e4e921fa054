// login_commands_test.cpp - login, logout, auth-status and `token env` end to end: flags parsed
// by CLI11, one scripted server playing the MLTF server and another its OpenID provider, a fake
// clock for the device flow, and a credential file in a temporary XDG_CONFIG_HOME.
#include "cli/commands/login_commands.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <sstream>

#include "cli/commands/task_commands.hpp"
#include "client/stored_login.hpp"
#include "client/test_environment.hpp"
#include "client/test_server.hpp"

namespace mltf::cli {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;
using client::StoredLogin;
using client::testing::TestServer;

constexpr std::int64_t kStart = 1700000000;
constexpr const char* kDeviceCode = "device-code-secret";
constexpr const char* kSecrets[] = {kDeviceCode, "access-secret", "refresh-secret", "api-secret"};

Json Answer(int status, Json body) { return {{"status", status}, {"body", std::move(body)}}; }

Json OAuthError(const std::string& error) { return Answer(400, {{"error", error}}); }

Json Unauthenticated() {
  return Answer(401, {{"error_code", "UNAUTHENTICATED"}, {"message", "the token is not valid"}});
}

Json WhoAmI(const std::string& user) {
  return Answer(200, {{"user", user}, {"groups", {"cms"}}, {"admin", false}, {"auth", "oidc"}});
}

/// The provider's routes for a device flow whose polls get `polls` in turn (none: no token
/// endpoint). A vector, not a Json: GCC and clang read a one-element `Json{x}` differently.
Json ProviderRoutes(const std::vector<Json>& polls) {
  Json routes = {
      {"POST /device", Json::array({Answer(200, {{"device_code", kDeviceCode},
                                                 {"user_code", "ABCD-EFGH"},
                                                 {"verification_uri", "https://idp.example/device"},
                                                 {"verification_uri_complete",
                                                  "https://idp.example/device?user_code=ABCD-EFGH"},
                                                 {"expires_in", 600},
                                                 {"interval", 2}})})},
      {"POST /revoke", Json::array({Answer(200, "")})}};
  if (!polls.empty()) routes["POST /token"] = polls;
  return routes;
}

Json OidcConfig(const TestServer& provider) {
  return Answer(200, {{"auth", "oidc"},
                      {"oauth_issuer", provider.url()},
                      {"oauth_config",
                       {{"issuer", provider.url()},
                        {"client_id", "mltf-cli"},
                        {"authorize_url", provider.url() + "/auth"},
                        {"token_url", provider.url() + "/token"},
                        {"device_authorization_url", provider.url() + "/device"},
                        {"jwks_url", provider.url() + "/jwks"},
                        {"revocation_url", provider.url() + "/revoke"},
                        {"scopes", {"openid", "profile", "email", "offline_access"}}}}});
}

Json ModeConfig(const std::string& mode) {
  return Answer(200, {{"auth", mode}, {"oauth_issuer", nullptr}, {"oauth_config", nullptr}});
}

std::vector<Json> RequestsTo(const TestServer& server, const std::string& path) {
  std::vector<Json> found;
  for (const auto& request : server.Requests()) {
    if (request["path"] == path) found.push_back(request);
  }
  return found;
}

struct Outcome {
  std::optional<int> exit_code;
  std::string out;
  std::string err;
};

class LoginCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name :
         {"MLTF_TOKEN", "MLFLOW_TRACKING_TOKEN", "MLTF_SERVER", "MLFLOW_TRACKING_URI"}) {
      environment_.Clear(name);
    }
    environment_.Set("XDG_CONFIG_HOME", dir_.string());
    file_ = dir_ / "mltf" / "credentials.json";
  }

  Outcome Run(std::vector<std::string> args, const std::string& input = {}) {
    CLI::App app{"test"};
    LoginCommandState state;
    AddLoginCommands(app, state);
    args.insert(args.begin(), "mltf");
    std::vector<const char*> argv;
    argv.reserve(args.size());
    for (const auto& arg : args) argv.push_back(arg.c_str());
    app.parse(static_cast<int>(argv.size()), argv.data());
    std::istringstream in(input);
    std::ostringstream out;
    std::ostringstream err;
    const client::OAuthClock clock{.now = [this] { return now_; },
                                   .sleep =
                                       [this](std::chrono::seconds pause) {
                                         sleeps_.push_back(pause.count());
                                         now_ += pause.count();
                                       }};
    Outcome outcome;
    outcome.exit_code = RunLoginCommands(state, in, out, err, clock);
    outcome.out = out.str();
    outcome.err = err.str();
    for (const char* secret : kSecrets) {
      EXPECT_THAT(outcome.err, Not(HasSubstr(secret)));
      if (args[1] != "token") {
        EXPECT_THAT(outcome.out, Not(HasSubstr(secret)));
      }
    }
    return outcome;
  }

  client::CredentialStore Store() { return client::CredentialStore(file_); }

  std::optional<StoredLogin> Stored(const std::string& server) {
    auto loaded = Store().Load(server);
    EXPECT_TRUE(loaded) << loaded.error().message;
    return loaded ? *loaded : std::nullopt;
  }

  StoredLogin SavedLogin(const TestServer& provider, std::int64_t expires_at) {
    return {.kind = "oidc",
            .issuer = provider.url(),
            .client_id = "mltf-cli",
            .token_url = provider.url() + "/token",
            .revocation_url = provider.url() + "/revoke",
            .access_token = "access-secret-saved",
            .access_expires_at = expires_at,
            .refresh_token = "refresh-secret-saved",
            .user = "alice"};
  }

  client::testing::ScopedEnvironment environment_;
  client::testing::TemporaryDirectory temporary_{"mltf-login-commands-test-"};
  const fs::path& dir_ = temporary_.path();
  fs::path file_;
  std::int64_t now_ = kStart;
  std::vector<std::int64_t> sleeps_;
};

TEST_F(LoginCommandsTest, LoginRunsTheDeviceFlowAndStoresTheLogin) {
  TestServer provider(ProviderRoutes({OAuthError("authorization_pending"), OAuthError("slow_down"),
                                      Answer(200, {{"access_token", "access-secret-1"},
                                                   {"refresh_token", "refresh-secret-1"},
                                                   {"token_type", "Bearer"},
                                                   {"expires_in", 3600}})}));
  TestServer server(Json{{"GET /api/config", {OidcConfig(provider)}},
                         {"GET /api/mltf/v1/whoami", {WhoAmI("alice")}}});
  auto outcome = Run({"login", "--server", server.url()});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_EQ(outcome.out, "To log in to " + server.url() +
                             ", open https://idp.example/device and enter the code ABCD-EFGH\n"
                             "(or open https://idp.example/device?user_code=ABCD-EFGH)\n"
                             "Logged in to " +
                             server.url() + " as alice (cms)\n");
  EXPECT_THAT(outcome.err, HasSubstr("Waiting"));
  EXPECT_THAT(sleeps_, ElementsAre(2, 2, 7));

  const auto whoami = RequestsTo(server, "/api/mltf/v1/whoami");
  ASSERT_EQ(whoami.size(), 1U);
  EXPECT_EQ(whoami[0]["headers"]["authorization"], "Bearer access-secret-1");

  const auto stored = Stored(server.url());
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->kind, "oidc");
  EXPECT_EQ(stored->issuer, provider.url());
  EXPECT_EQ(stored->client_id, "mltf-cli");
  EXPECT_EQ(stored->token_url, provider.url() + "/token");
  EXPECT_EQ(stored->revocation_url, provider.url() + "/revoke");
  EXPECT_EQ(stored->access_token, "access-secret-1");
  EXPECT_EQ(stored->access_expires_at, now_ + 3600);
  EXPECT_EQ(stored->refresh_token, "refresh-secret-1");
  EXPECT_EQ(stored->user, "alice");
  struct stat info {};
  ASSERT_EQ(stat(file_.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600U);
}

TEST_F(LoginCommandsTest, ARefusedDeviceLoginStoresNothing) {
  TestServer provider(ProviderRoutes({OAuthError("access_denied")}));
  TestServer server(Json{{"GET /api/config", {OidcConfig(provider)}}});
  auto outcome = Run({"login", "--server", server.url()});
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_THAT(outcome.err, HasSubstr("mltf login: the login was refused"));
  EXPECT_FALSE(fs::exists(file_));
}

TEST_F(LoginCommandsTest, ATokenTheServerRefusesAfterTheFlowIsNotStored) {
  TestServer provider(ProviderRoutes({Answer(200, {{"access_token", "access-secret-1"}})}));
  TestServer server(Json{{"GET /api/config", {OidcConfig(provider)}},
                         {"GET /api/mltf/v1/whoami", {Unauthenticated()}}});
  auto outcome = Run({"login", "--server", server.url()});
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_THAT(outcome.err, HasSubstr("refused the credential: the token is not valid"));
  EXPECT_FALSE(Stored(server.url()));
}

TEST_F(LoginCommandsTest, AServerInModeNoneNeedsNoLogin) {
  TestServer server(Json{{"GET /api/config", {ModeConfig("none")}}});
  auto outcome = Run({"login", "--server", server.url()});
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_EQ(outcome.out, server.url() + " needs no login\n");
  EXPECT_FALSE(fs::exists(file_));
}

TEST_F(LoginCommandsTest, ModeTokensExplainsWhereTokensComeFrom) {
  TestServer server(Json{{"GET /api/config", {ModeConfig("tokens")}}});
  auto outcome = Run({"login", "--server", server.url()});
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_THAT(outcome.err, HasSubstr("mltf admin token create"));
  EXPECT_THAT(outcome.err, HasSubstr("mltf login --with-token"));
}

TEST_F(LoginCommandsTest, WithTokenChecksTheTokenAndStoresIt) {
  TestServer server(Json{{"GET /api/config", {ModeConfig("tokens")}},
                         {"GET /api/mltf/v1/whoami", {WhoAmI("bob")}}});
  auto outcome = Run({"login", "--server", server.url(), "--with-token"}, "  api-secret-7\n");
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_EQ(outcome.out, "Logged in to " + server.url() + " as bob (cms)\n");
  EXPECT_EQ(RequestsTo(server, "/api/mltf/v1/whoami")[0]["headers"]["authorization"],
            "Bearer api-secret-7");
  const auto stored = Stored(server.url());
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->kind, "token");
  EXPECT_EQ(stored->access_token, "api-secret-7");
  EXPECT_EQ(stored->refresh_token, "");
  EXPECT_EQ(stored->user, "bob");
}

TEST_F(LoginCommandsTest, WithTokenRefusesABadOrEmptyToken) {
  TestServer server(Json{{"GET /api/config", {ModeConfig("tokens")}},
                         {"GET /api/mltf/v1/whoami", {Unauthenticated()}}});
  auto refused = Run({"login", "--server", server.url(), "--with-token"}, "api-secret-bad\n");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("refused the credential"));
  auto empty = Run({"login", "--server", server.url(), "--with-token"}, "\n");
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_THAT(empty.err, HasSubstr("standard input"));
  EXPECT_FALSE(fs::exists(file_));
}

TEST_F(LoginCommandsTest, AnUnreachableServerIsASaneError) {
  const std::string url = "http://127.0.0.1:" + std::to_string(client::testing::UnusedPort());
  auto outcome = Run({"login", "--server", url});
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_THAT(outcome.err, HasSubstr("mltf login: cannot reach the MLTF server at " + url));
  auto bad = Run({"login", "--server", "ftp://host"});
  EXPECT_EQ(bad.exit_code, 2);
}

TEST_F(LoginCommandsTest, LogoutRevokesAndForgetsOneServer) {
  TestServer provider(ProviderRoutes({}));
  const std::string server = "https://mltf.example";
  const std::string other = "https://other.example";
  ASSERT_TRUE(Store().Save(server, SavedLogin(provider, kStart + 3600)));
  ASSERT_TRUE(Store().Save(other, SavedLogin(provider, kStart + 3600)));

  auto outcome = Run({"logout", "--server", server});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_EQ(outcome.out, "Logged out of https://mltf.example\n");
  EXPECT_EQ(outcome.err, "");
  const auto revoked = RequestsTo(provider, "/revoke");
  ASSERT_EQ(revoked.size(), 1U);
  EXPECT_EQ(revoked[0]["body"],
            "token=refresh-secret-saved&token_type_hint=refresh_token&client_id=mltf-cli");
  EXPECT_FALSE(Stored(server));
  EXPECT_TRUE(Stored(other));

  auto again = Run({"logout", "--server", server});
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_EQ(again.out, "Not logged in to https://mltf.example\n");
}

TEST_F(LoginCommandsTest, LogoutForgetsEvenWhenTheProviderIsDown) {
  TestServer provider(ProviderRoutes({}));
  auto login = SavedLogin(provider, kStart + 3600);
  login.revocation_url =
      "http://127.0.0.1:" + std::to_string(client::testing::UnusedPort()) + "/revoke";
  ASSERT_TRUE(Store().Save("https://mltf.example", login));
  auto outcome = Run({"logout", "--server", "https://mltf.example"});
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_THAT(outcome.err, HasSubstr("warning: the provider did not confirm revoking"));
  EXPECT_FALSE(Stored("https://mltf.example"));
}

TEST_F(LoginCommandsTest, AuthStatusShowsModeSourceExpiryAndUser) {
  TestServer provider(ProviderRoutes({}));
  TestServer server(Json{{"GET /api/config", {OidcConfig(provider)}},
                         {"GET /api/mltf/v1/whoami", {WhoAmI("alice")}}});
  ASSERT_TRUE(Store().Save(server.url(), SavedLogin(provider, kStart + 3600)));
  auto outcome = Run({"auth-status", "--server", server.url()});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_THAT(outcome.out, HasSubstr("Server:       " + server.url() + "\n"));
  EXPECT_THAT(outcome.out, HasSubstr("Auth mode:    oidc (provider " + provider.url() + ")\n"));
  EXPECT_THAT(outcome.out, HasSubstr("Credential:   stored login in " + file_.string() + "\n"));
  EXPECT_THAT(outcome.out, HasSubstr("Access token: expires 2023-11-14 23:13:20 UTC (in 60 min); "
                                     "refreshed automatically\n"));
  EXPECT_THAT(outcome.out, HasSubstr("Logged in as: alice (cms)\n"));
  EXPECT_TRUE(RequestsTo(provider, "/token").empty());
}

TEST_F(LoginCommandsTest, AuthStatusFailsWhenNotLoggedInOrRefused) {
  TestServer server(Json{{"GET /api/config", {ModeConfig("tokens")}},
                         {"GET /api/mltf/v1/whoami", {Unauthenticated()}}});
  auto none = Run({"auth-status", "--server", server.url()});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_THAT(none.err, HasSubstr("not logged in to " + server.url() + "; run `mltf login`"));

  environment_.Set("MLTF_TOKEN", "api-secret-env");
  auto refused = Run({"auth-status", "--server", server.url()});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.out, HasSubstr("Credential:   environment variable MLTF_TOKEN\n"));
  EXPECT_THAT(refused.err, HasSubstr("refused the credential"));
}

TEST_F(LoginCommandsTest, AuthStatusInModeNoneNeedsNothing) {
  TestServer server(Json{{"GET /api/config", {ModeConfig("none")}}});
  auto outcome = Run({"auth-status", "--server", server.url()});
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_THAT(outcome.out, HasSubstr("Login:        none needed\n"));
}

TEST_F(LoginCommandsTest, TokenEnvRefreshesFirstAndPrintsOneLine) {
  TestServer provider(
      ProviderRoutes({Answer(200, {{"access_token", "access-secret-new"}, {"expires_in", 600}})}));
  const std::string server = "https://mltf.example";
  ASSERT_TRUE(Store().Save(server, SavedLogin(provider, kStart + 10)));
  auto outcome = Run({"token", "env", "--server", server});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_EQ(outcome.out,
            "MLFLOW_TRACKING_URI=https://mltf.example MLFLOW_TRACKING_TOKEN=access-secret-new\n");
  const auto stored = Stored(server);
  EXPECT_EQ(stored->access_token, "access-secret-new");
  EXPECT_EQ(stored->refresh_token, "refresh-secret-saved");  // Not rotated: kept.
}

TEST_F(LoginCommandsTest, TokenEnvWithoutCredentialFails) {
  auto outcome = Run({"token", "env", "--server", "https://mltf.example"});
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_EQ(outcome.out, "");
  EXPECT_THAT(outcome.err, HasSubstr("mltf token env: no credential for https://mltf.example"));
}

TEST_F(LoginCommandsTest, TokenEnvReportsARevokedLogin) {
  TestServer provider(ProviderRoutes({OAuthError("invalid_grant")}));
  ASSERT_TRUE(Store().Save("https://mltf.example", SavedLogin(provider, kStart - 5)));
  auto outcome = Run({"token", "env", "--server", "https://mltf.example"});
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_EQ(outcome.out, "");
  EXPECT_THAT(outcome.err,
              HasSubstr("your login to https://mltf.example has expired or was revoked; run "
                        "`mltf login`"));
}

TEST_F(LoginCommandsTest, TaskCommandsPresentTheStoredLogin) {
  TestServer provider(ProviderRoutes({}));
  TestServer server(Json{{"GET /api/mltf/v1/tasks", {Answer(200, {{"tasks", Json::array()}})}}});
  // Far from expiry, as the task commands see the real clock.
  ASSERT_TRUE(Store().Save(server.url(), SavedLogin(provider, 0)));
  CLI::App app{"test"};
  TaskCommandState state;
  AddTaskCommands(app, state);
  const std::string url = server.url();
  std::vector<const char*> argv = {"mltf", "tasks", "--server", url.c_str()};
  app.parse(static_cast<int>(argv.size()), argv.data());
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(RunTaskCommands(state, out, err), 0) << err.str();
  const auto requests = RequestsTo(server, "/api/mltf/v1/tasks");
  ASSERT_EQ(requests.size(), 1U);
  EXPECT_EQ(requests[0]["headers"]["authorization"], "Bearer access-secret-saved");
}

}  // namespace
}  // namespace mltf::cli
