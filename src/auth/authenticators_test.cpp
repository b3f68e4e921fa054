// authenticators_test.cpp - from the Authorization header to an identity: schemes, API tokens,
// basic auth, OpenID provider tokens (signed here, keys served by a fetcher), admins.
#include "auth/authenticators.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "auth/base64url.hpp"
#include "auth/test_keys.hpp"
#include "registry/store/sql/temporary_database.hpp"

namespace mltf::auth {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kIssuer[] = "https://idp.example.org";

std::int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string BasicHeader(const std::string& user, const std::string& password) {
  std::string encoded = Base64UrlEncode(user + ":" + password);
  for (char& ch : encoded) {
    if (ch == '-') ch = '+';
    if (ch == '_') ch = '/';
  }
  while (encoded.size() % 4 != 0) encoded += '=';
  return "Basic " + encoded;
}

class AuthenticatorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_.AddUser({.user = "bob", .groups = {"cms"}}));
    ASSERT_TRUE(store_.AddUser({.user = "carol", .groups = {"ops"}}));
    jwks_ = json{{"keys", json::array({testing::PublicJwk(key_.get(), "k1")})}}.dump();
  }

  CredentialAuthenticator Authenticator(bool with_oidc) {
    CredentialAuthenticatorOptions options{.admin_users = {"alice"}, .admin_group = "ops"};
    if (with_oidc) {
      options.oidc = OidcVerification{.keys = &provider_keys_,
                                      .policy = {.issuer = kIssuer, .audience = "mltf"}};
    }
    return {tokens_, options};
  }

  std::string Jwt(const std::string& subject, std::int64_t expires_at,
                  const json& groups = json::array()) {
    return testing::SignToken({{"alg", "RS256"}, {"kid", "k1"}, {"typ", "JWT"}},
                              {{"iss", kIssuer},
                               {"aud", "mltf"},
                               {"sub", subject},
                               {"name", "Display Name"},
                               {"groups", groups},
                               {"iat", Now() - 10},
                               {"exp", expires_at}},
                              key_.get());
  }

  static http::Request WithAuthorization(std::string value) {
    http::Request request;
    if (!value.empty()) request.headers.emplace_back("authorization", std::move(value));
    return request;
  }

  registry::store::sql::TemporaryDatabase database_;
  IdentityStore store_{database_.database()};
  ApiTokenService tokens_{store_};
  EvpPkeyPtr key_ = testing::GenerateRsaKey();
  std::string jwks_;
  ProviderKeys provider_keys_{"https://idp.example.org/jwks",
                              [this](const std::string&) -> Result<std::string> { return jwks_; }};
};

TEST_F(AuthenticatorsTest, TheLocalUserIsEveryCallerAndAnAdmin) {
  LocalAuthenticator local("physicist");
  auto identity = local.Authenticate(WithAuthorization(""));
  ASSERT_TRUE(identity.has_value());
  EXPECT_EQ((*identity)->user, "physicist");
  EXPECT_TRUE((*identity)->admin);
}

TEST_F(AuthenticatorsTest, AuthorizationHeadersAreParsedStrictly) {
  auto bearer = CredentialAuthenticator::ParseAuthorization("bearer  abc ");
  ASSERT_TRUE(bearer.has_value());
  EXPECT_EQ(bearer->secret, "abc");
  EXPECT_FALSE(bearer->basic_user.has_value());
  auto basic = CredentialAuthenticator::ParseAuthorization(BasicHeader("bob", "pa:ss"));
  ASSERT_TRUE(basic.has_value());
  EXPECT_EQ(basic->basic_user, "bob");
  EXPECT_EQ(basic->secret, "pa:ss");
  for (std::string_view bad : {"", "Bearer", "Bearer ", "Bearer a b", "Bearerabc", "Token abc",
                               "Basic !!!!", "Basic Ym9i", "Digest x"}) {
    auto refused = CredentialAuthenticator::ParseAuthorization(bad);
    ASSERT_FALSE(refused.has_value()) << bad;
    EXPECT_EQ(refused.error().code, ErrorCode::UNAUTHENTICATED);
  }
}

TEST_F(AuthenticatorsTest, ApiTokensWorkAsBearerOrAsTheBasicPasswordOfTheirUserOnly) {
  auto issued = tokens_.Issue("bob", "laptop", std::nullopt);
  ASSERT_TRUE(issued.has_value());
  auto authenticator = Authenticator(false);
  auto bearer = authenticator.Authenticate(WithAuthorization("Bearer " + issued->token));
  ASSERT_TRUE(bearer.has_value());
  EXPECT_EQ((*bearer)->user, "bob");
  auto basic = authenticator.Authenticate(WithAuthorization(BasicHeader("bob", issued->token)));
  ASSERT_TRUE(basic.has_value());
  EXPECT_EQ((*basic)->user, "bob");
  auto impostor =
      authenticator.Authenticate(WithAuthorization(BasicHeader("carol", issued->token)));
  ASSERT_FALSE(impostor.has_value());
  EXPECT_THAT(impostor.error().message, HasSubstr("does not match"));
  auto missing = authenticator.Authenticate(WithAuthorization(""));
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::UNAUTHENTICATED);
  // Mode tokens takes no provider's JWTs at all.
  auto jwt = authenticator.Authenticate(WithAuthorization("Bearer " + Jwt("bob", Now() + 60)));
  ASSERT_FALSE(jwt.has_value());
  EXPECT_THAT(jwt.error().message, HasSubstr("not an API token"));
}

TEST_F(AuthenticatorsTest, ProviderTokensNameTheUserByTheirClaimWithGroups) {
  auto authenticator = Authenticator(true);
  auto identity = authenticator.Authenticate(
      WithAuthorization("Bearer " + Jwt("u-123", Now() + 300, json::array({"cms", "atlas"}))));
  ASSERT_TRUE(identity.has_value()) << identity.error().message;
  EXPECT_EQ((*identity)->user, "u-123");  // sub, never the display name
  EXPECT_EQ((*identity)->groups, (std::vector<std::string>{"cms", "atlas"}));
  EXPECT_FALSE((*identity)->admin);
  auto expired =
      authenticator.Authenticate(WithAuthorization("Bearer " + Jwt("u-123", Now() - 3600)));
  ASSERT_FALSE(expired.has_value());
  EXPECT_EQ(expired.error().code, ErrorCode::UNAUTHENTICATED);
  EXPECT_THAT(expired.error().message, HasSubstr("expired"));
  // The server's own tokens keep working beside the provider's.
  auto issued = tokens_.Issue("bob", "ci", std::nullopt);
  ASSERT_TRUE(issued.has_value());
  EXPECT_TRUE(authenticator.Authenticate(WithAuthorization("Bearer " + issued->token)));
}

TEST_F(AuthenticatorsTest, AVerifiedProviderTokenIsRememberedAndAForgeryStillRefused) {
  auto authenticator = Authenticator(true);
  const std::string token = Jwt("u-123", Now() + 300, json::array({"cms"}));
  auto first = authenticator.Authenticate(WithAuthorization("Bearer " + token));
  auto second = authenticator.Authenticate(WithAuthorization("Bearer " + token));
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_EQ(*first, *second) << "the second request reuses the first verification";
  // The same header and claims with another signature is another token: checked, refused.
  std::string forged = token;
  char& inside_signature = forged[forged.size() - 10];
  inside_signature = inside_signature == 'A' ? 'B' : 'A';
  auto refused = authenticator.Authenticate(WithAuthorization("Bearer " + forged));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::UNAUTHENTICATED);
}

TEST_F(AuthenticatorsTest, ProviderUnreachableIsStill401WithTheReason) {
  ProviderKeys unreachable("https://idp.example.org/jwks",
                           [](const std::string&) -> Result<std::string> {
                             return Fail(Error{ErrorCode::TEMPORARILY_UNAVAILABLE, "down"});
                           });
  CredentialAuthenticator authenticator(
      tokens_, {.oidc = OidcVerification{.keys = &unreachable,
                                         .policy = {.issuer = kIssuer, .audience = "mltf"}}});
  auto refused = authenticator.Authenticate(WithAuthorization("Bearer " + Jwt("u", Now() + 60)));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::UNAUTHENTICATED);
  EXPECT_THAT(refused.error().message, HasSubstr("cannot verify the token now"));
}

TEST_F(AuthenticatorsTest, AdminsByNameOrGroupButNeverThroughATaskToken) {
  auto authenticator = Authenticator(true);
  auto by_name =
      authenticator.Authenticate(WithAuthorization("Bearer " + Jwt("alice", Now() + 60)));
  ASSERT_TRUE(by_name.has_value());
  EXPECT_TRUE((*by_name)->admin);
  auto by_group = authenticator.Authenticate(
      WithAuthorization("Bearer " + Jwt("dave", Now() + 60, json::array({"ops"}))));
  ASSERT_TRUE(by_group.has_value());
  EXPECT_TRUE((*by_group)->admin);
  auto carol = tokens_.Issue("carol", "laptop", std::nullopt);  // in group ops
  ASSERT_TRUE(carol.has_value());
  EXPECT_TRUE((*authenticator.Authenticate(WithAuthorization("Bearer " + carol->token)))->admin);
  auto task = tokens_.IssueForTask("carol", {.task_id = "t"}, std::chrono::seconds(60));
  ASSERT_TRUE(task.has_value());
  auto scoped = authenticator.Authenticate(WithAuthorization("Bearer " + task->token));
  ASSERT_TRUE(scoped.has_value());
  EXPECT_FALSE((*scoped)->admin);
}

}  // namespace
}  // namespace mltf::auth
