// device_login_test.cpp - the device flow, refresh and revocation against the scripted server
// playing the OpenID provider, with a fake clock: what is sent, how the polling interval moves,
// and messages that never carry a token or the device code.
#include "client/device_login.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "client/test_server.hpp"

namespace mltf::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;
using testing::TestServer;

constexpr const char* kDeviceCode = "device-code-secret-42";
constexpr std::int64_t kStart = 1700000000;

/// Time that moves only when the flow sleeps; remembers each pause.
struct FakeClock {
  std::int64_t now = kStart;
  std::vector<std::int64_t> sleeps;

  OAuthClock Clock() {
    return {.now = [this] { return now; },
            .sleep =
                [this](std::chrono::seconds pause) {
                  sleeps.push_back(pause.count());
                  now += pause.count();
                }};
  }
};

Json Answer(int status, Json body) { return {{"status", status}, {"body", std::move(body)}}; }

Json OAuthError(const std::string& error, const std::string& description = {}) {
  Json body = {{"error", error}};
  if (!description.empty()) body["error_description"] = description;
  return Answer(400, body);
}

Json DeviceAnswer(int interval, int expires_in = 600) {
  Json body = {{"device_code", kDeviceCode},
               {"user_code", "ABCD-EFGH"},
               {"verification_uri", "https://idp.example/device"},
               {"verification_uri_complete", "https://idp.example/device?user_code=ABCD-EFGH"},
               {"expires_in", expires_in}};
  if (interval > 0) body["interval"] = interval;
  return Answer(200, body);
}

OAuthProvider ProviderAt(const TestServer& server) {
  return {.issuer = server.url(),
          .client_id = "mltf-cli",
          .device_authorization_url = server.url() + "/device",
          .token_url = server.url() + "/token",
          .revocation_url = server.url() + "/revoke",
          .scopes = {"openid", "profile", "email", "offline_access"}};
}

std::vector<Json> RequestsTo(const TestServer& server, const std::string& path) {
  std::vector<Json> found;
  for (const auto& request : server.Requests()) {
    if (request["path"] == path) found.push_back(request);
  }
  return found;
}

TEST(DeviceFlowTest, PendingThenSlowDownThenTokens) {
  TestServer provider(Json{{"POST /device", {DeviceAnswer(2)}},
                           {"POST /token",
                            {OAuthError("authorization_pending"), OAuthError("slow_down"),
                             OAuthError("authorization_pending"),
                             Answer(200, {{"access_token", "access-1"},
                                          {"refresh_token", "refresh-1"},
                                          {"token_type", "Bearer"},
                                          {"expires_in", 3600}})}}});
  FakeClock clock;
  std::vector<DeviceVerification> shown;
  auto grant = RunDeviceFlow(
      ProviderAt(provider), [&shown](const DeviceVerification& what) { shown.push_back(what); },
      clock.Clock());
  ASSERT_TRUE(grant) << grant.error().message;
  EXPECT_EQ(grant->access_token, "access-1");
  EXPECT_EQ(grant->refresh_token, "refresh-1");
  EXPECT_EQ(grant->expires_at, clock.now + 3600);
  // The interval of 2 s grows by 5 s at slow_down and stays there.
  EXPECT_THAT(clock.sleeps, ElementsAre(2, 2, 7, 7));

  ASSERT_EQ(shown.size(), 1U);
  EXPECT_EQ(shown[0].user_code, "ABCD-EFGH");
  EXPECT_EQ(shown[0].verification_uri, "https://idp.example/device");
  EXPECT_EQ(shown[0].verification_uri_complete, "https://idp.example/device?user_code=ABCD-EFGH");
  EXPECT_EQ(shown[0].expires_in, 600);

  const auto device = RequestsTo(provider, "/device");
  ASSERT_EQ(device.size(), 1U);
  EXPECT_EQ(device[0]["headers"]["content-type"], "application/x-www-form-urlencoded");
  EXPECT_EQ(device[0]["body"],
            "client_id=mltf-cli&scope=openid%20profile%20email%20offline_access");
  const auto polls = RequestsTo(provider, "/token");
  ASSERT_EQ(polls.size(), 4U);
  for (const auto& poll : polls) {
    EXPECT_EQ(poll["body"],
              "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code="
              "device-code-secret-42&client_id=mltf-cli");
    EXPECT_FALSE(poll["headers"].contains("authorization"));
  }
}

TEST(DeviceFlowTest, IntervalDefaultsToFiveSeconds) {
  TestServer provider(Json{{"POST /device", {DeviceAnswer(0)}},
                           {"POST /token", {Answer(200, {{"access_token", "access-1"}})}}});
  FakeClock clock;
  auto grant = RunDeviceFlow(
      ProviderAt(provider), [](const DeviceVerification&) {}, clock.Clock());
  ASSERT_TRUE(grant) << grant.error().message;
  EXPECT_THAT(clock.sleeps, ElementsAre(5));
  EXPECT_EQ(grant->refresh_token, "");
  EXPECT_EQ(grant->expires_at, 0);  // No expires_in: unknown.
}

TEST(DeviceFlowTest, AccessDeniedSaysTheLoginWasRefused) {
  TestServer provider(Json{{"POST /device", {DeviceAnswer(1)}},
                           {"POST /token", {OAuthError("access_denied", "user said no")}}});
  FakeClock clock;
  auto grant = RunDeviceFlow(
      ProviderAt(provider), [](const DeviceVerification&) {}, clock.Clock());
  ASSERT_FALSE(grant);
  EXPECT_EQ(grant.error().code, ErrorCode::UNAUTHENTICATED);
  EXPECT_THAT(grant.error().message, HasSubstr("refused"));
  EXPECT_THAT(grant.error().message, HasSubstr("access_denied"));
  EXPECT_THAT(grant.error().message, Not(HasSubstr(kDeviceCode)));
}

TEST(DeviceFlowTest, ExpiredTokenSaysToLogInAgain) {
  TestServer provider(
      Json{{"POST /device", {DeviceAnswer(1)}}, {"POST /token", {OAuthError("expired_token")}}});
  FakeClock clock;
  auto grant = RunDeviceFlow(
      ProviderAt(provider), [](const DeviceVerification&) {}, clock.Clock());
  ASSERT_FALSE(grant);
  EXPECT_EQ(grant.error().code, ErrorCode::UNAUTHENTICATED);
  EXPECT_THAT(grant.error().message, HasSubstr("expired"));
  EXPECT_THAT(grant.error().message, HasSubstr("`mltf login` again"));
}

TEST(DeviceFlowTest, StopsWhenTheCodeLifetimeHasPassed) {
  TestServer provider(Json{{"POST /device", {DeviceAnswer(5, /*expires_in=*/12)}},
                           {"POST /token", {OAuthError("authorization_pending")}}});
  FakeClock clock;
  auto grant = RunDeviceFlow(
      ProviderAt(provider), [](const DeviceVerification&) {}, clock.Clock());
  ASSERT_FALSE(grant);
  EXPECT_THAT(grant.error().message, HasSubstr("`mltf login` again"));
  // Polled at 5 s and 10 s; at 15 s the code was dead, so no third poll.
  EXPECT_EQ(RequestsTo(provider, "/token").size(), 2U);
}

TEST(DeviceFlowTest, OtherErrorsQuoteTheProviderButNeverTheDeviceCode) {
  TestServer provider(
      Json{{"POST /device", {DeviceAnswer(1)}},
           {"POST /token",
            {OAuthError("invalid_client", std::string("no such client for ") + kDeviceCode)}}});
  FakeClock clock;
  auto grant = RunDeviceFlow(
      ProviderAt(provider), [](const DeviceVerification&) {}, clock.Clock());
  ASSERT_FALSE(grant);
  EXPECT_EQ(grant.error().code, ErrorCode::BAD_REQUEST);
  EXPECT_THAT(grant.error().message, HasSubstr("invalid_client: no such client for ***"));
  EXPECT_THAT(grant.error().message, Not(HasSubstr(kDeviceCode)));
}

TEST(DeviceFlowTest, ARefusedStartQuotesTheProvider) {
  TestServer provider(
      Json{{"POST /device", {OAuthError("unauthorized_client", "no device flow")}}});
  FakeClock clock;
  bool shown = false;
  auto grant = RunDeviceFlow(
      ProviderAt(provider), [&shown](const DeviceVerification&) { shown = true; }, clock.Clock());
  ASSERT_FALSE(grant);
  EXPECT_FALSE(shown);
  EXPECT_THAT(grant.error().message, HasSubstr("unauthorized_client: no device flow"));
}

TEST(DeviceFlowTest, AnUnreachableTokenEndpointBacksOffThenFails) {
  TestServer provider(Json{{"POST /device", {DeviceAnswer(2)}}});
  auto settings = ProviderAt(provider);
  settings.token_url = "http://127.0.0.1:" + std::to_string(testing::UnusedPort()) + "/token";
  FakeClock clock;
  auto grant = RunDeviceFlow(
      settings, [](const DeviceVerification&) {}, clock.Clock());
  ASSERT_FALSE(grant);
  EXPECT_EQ(grant.error().code, ErrorCode::TEMPORARILY_UNAVAILABLE);
  EXPECT_THAT(grant.error().message, HasSubstr("token endpoint"));
  EXPECT_THAT(grant.error().message, Not(HasSubstr("mltf server")));
  EXPECT_THAT(clock.sleeps, ElementsAre(2, 4, 8, 16, 32));
}

TEST(DeviceFlowTest, NoDeviceEndpointIsExplained) {
  OAuthProvider provider{.client_id = "mltf-cli", .token_url = "https://idp.example/token"};
  FakeClock clock;
  auto grant = RunDeviceFlow(
      provider, [](const DeviceVerification&) {}, clock.Clock());
  ASSERT_FALSE(grant);
  EXPECT_THAT(grant.error().message, HasSubstr("device authorization endpoint"));
}

TEST(RefreshTest, RotatedRefreshTokenReplacesTheOld) {
  TestServer provider(Json{{"POST /token",
                            {Answer(200, {{"access_token", "access-2"},
                                          {"refresh_token", "refresh-2"},
                                          {"expires_in", 300}})}}});
  auto grant = RefreshAccessToken(provider.url() + "/token", "mltf-cli", "refresh-1",
                                  "https://mltf.example", kStart);
  ASSERT_TRUE(grant) << grant.error().message;
  EXPECT_EQ(grant->access_token, "access-2");
  EXPECT_EQ(grant->refresh_token, "refresh-2");
  EXPECT_EQ(grant->expires_at, kStart + 300);
  const auto requests = RequestsTo(provider, "/token");
  ASSERT_EQ(requests.size(), 1U);
  EXPECT_EQ(requests[0]["body"],
            "grant_type=refresh_token&refresh_token=refresh-1&client_id=mltf-cli");
}

TEST(RefreshTest, WithoutANewRefreshTokenTheOldOneStays) {
  TestServer provider(
      Json{{"POST /token", {Answer(200, {{"access_token", "access-2"}, {"expires_in", "300"}})}}});
  auto grant = RefreshAccessToken(provider.url() + "/token", "mltf-cli", "refresh-1",
                                  "https://mltf.example", kStart);
  ASSERT_TRUE(grant) << grant.error().message;
  EXPECT_EQ(grant->refresh_token, "refresh-1");
  EXPECT_EQ(grant->expires_at, kStart + 300);  // expires_in as a string, as some send it.
}

TEST(RefreshTest, InvalidGrantMeansLogInAgain) {
  TestServer provider(
      Json{{"POST /token", {OAuthError("invalid_grant", "grant refresh-secret-1 was revoked")}}});
  auto grant = RefreshAccessToken(provider.url() + "/token", "mltf-cli", "refresh-secret-1",
                                  "https://mltf.example", kStart);
  ASSERT_FALSE(grant);
  EXPECT_EQ(grant.error().code, ErrorCode::UNAUTHENTICATED);
  EXPECT_EQ(grant.error().message,
            "your login to https://mltf.example has expired or was revoked; run `mltf login`");
}

TEST(RefreshTest, OtherRefusalsNeverQuoteTheRefreshToken) {
  TestServer provider(
      Json{{"POST /token", {OAuthError("invalid_request", "bad token refresh-secret-1")}}});
  auto grant = RefreshAccessToken(provider.url() + "/token", "mltf-cli", "refresh-secret-1",
                                  "https://mltf.example", kStart);
  ASSERT_FALSE(grant);
  EXPECT_THAT(grant.error().message, HasSubstr("invalid_request"));
  EXPECT_THAT(grant.error().message, HasSubstr("mltf login"));
  EXPECT_THAT(grant.error().message, Not(HasSubstr("refresh-secret-1")));
}

TEST(RefreshTest, AnUnreachableProviderIsTemporary) {
  const std::string url = "http://127.0.0.1:" + std::to_string(testing::UnusedPort()) + "/token";
  auto grant =
      RefreshAccessToken(url, "mltf-cli", "refresh-secret-1", "https://mltf.example", kStart);
  ASSERT_FALSE(grant);
  EXPECT_EQ(grant.error().code, ErrorCode::TEMPORARILY_UNAVAILABLE);
  EXPECT_THAT(grant.error().message, HasSubstr("https://mltf.example"));
  EXPECT_THAT(grant.error().message, Not(HasSubstr("refresh-secret-1")));
}

TEST(RevokeTest, PostsTheRefreshTokenWithItsHint) {
  TestServer provider(Json{{"POST /revoke", {{{"status", 200}, {"body", ""}}}}});
  auto revoked = RevokeRefreshToken(provider.url() + "/revoke", "mltf-cli", "refresh-1");
  ASSERT_TRUE(revoked) << revoked.error().message;
  const auto requests = RequestsTo(provider, "/revoke");
  ASSERT_EQ(requests.size(), 1U);
  EXPECT_EQ(requests[0]["body"],
            "token=refresh-1&token_type_hint=refresh_token&client_id=mltf-cli");
}

TEST(RevokeTest, ARefusalIsAnErrorWithoutTheToken) {
  TestServer provider(
      Json{{"POST /revoke", {OAuthError("unsupported_token_type", "refresh-secret-1")}}});
  auto revoked = RevokeRefreshToken(provider.url() + "/revoke", "mltf-cli", "refresh-secret-1");
  ASSERT_FALSE(revoked);
  EXPECT_THAT(revoked.error().message, HasSubstr("unsupported_token_type"));
  EXPECT_THAT(revoked.error().message, Not(HasSubstr("refresh-secret-1")));
}

}  // namespace
}  // namespace mltf::client
