// api_token_service_test.cpp - issuing, verifying, renewing and revoking tokens, with a clock
// the test moves.
#include "auth/api_token_service.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

#include "registry/store/sql/temporary_database.hpp"

namespace mltf::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ApiTokenServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_.AddUser({.user = "bob", .groups = {"cms"}}));
    ASSERT_TRUE(store_.AddUser({.user = "root", .admin = true}));
  }

  static void ExpectRefused(const Result<std::shared_ptr<const Identity>>& result,
                            std::string_view reason, const std::string& token) {
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().code, ErrorCode::UNAUTHENTICATED);
    EXPECT_THAT(result.error().message, HasSubstr(reason));
    EXPECT_THAT(result.error().message, Not(HasSubstr(token.substr(5))));
  }

  registry::store::sql::TemporaryDatabase database_;
  IdentityStore store_{database_.database()};
  std::atomic<std::int64_t> now_{1'000'000};
  ApiTokenService tokens_{
      store_, {.cache_lifetime = std::chrono::milliseconds(5000)}, [this] { return now_.load(); }};
};

TEST_F(ApiTokenServiceTest, AnIssuedTokenNamesItsUserGroupsAndAdminFlag) {
  auto bob = tokens_.Issue("bob", "laptop", std::nullopt);
  ASSERT_TRUE(bob.has_value());
  auto identity = tokens_.Verify(bob->token);
  ASSERT_TRUE(identity.has_value());
  EXPECT_EQ((*identity)->user, "bob");
  EXPECT_EQ((*identity)->groups, std::vector<std::string>{"cms"});
  EXPECT_FALSE((*identity)->admin);
  EXPECT_FALSE((*identity)->task.has_value());
  auto root = tokens_.Issue("root", "ops", std::nullopt);
  ASSERT_TRUE(root.has_value());
  EXPECT_TRUE((*tokens_.Verify(root->token))->admin);
  // Only the digest is stored.
  auto stored = store_.GetToken(bob->record.token_id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_THAT(bob->token, Not(HasSubstr(stored->secret_sha256)));
}

TEST_F(ApiTokenServiceTest, TokensForUnknownUsersAreNotIssued) {
  auto issued = tokens_.Issue("mallory", "x", std::nullopt);
  ASSERT_FALSE(issued.has_value());
  EXPECT_EQ(issued.error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
}

TEST_F(ApiTokenServiceTest, WrongMalformedExpiredAndRevokedTokensAreRefused) {
  auto issued = tokens_.Issue("bob", "ci", now_ + 60'000);
  ASSERT_TRUE(issued.has_value());
  const std::string& token = issued->token;
  std::string wrong_secret = token;
  wrong_secret.back() = wrong_secret.back() == 'A' ? 'B' : 'A';
  std::string unknown_id = token;
  unknown_id[5] = unknown_id[5] == '0' ? '1' : '0';
  ExpectRefused(tokens_.Verify(wrong_secret), "unknown API token", token);
  ExpectRefused(tokens_.Verify(unknown_id), "unknown API token", token);
  ExpectRefused(tokens_.Verify(token.substr(1)), "malformed", token);
  ASSERT_TRUE(tokens_.Verify(token).has_value());

  now_ += 60'000;  // the expiry is checked at every request, also from the cache
  ExpectRefused(tokens_.Verify(token), "expired", token);

  auto other = tokens_.Issue("bob", "ci", std::nullopt);
  ASSERT_TRUE(other.has_value());
  ASSERT_TRUE(tokens_.Verify(other->token).has_value());  // now cached
  ASSERT_TRUE(tokens_.Revoke(other->record.token_id));
  ExpectRefused(tokens_.Verify(other->token), "revoked", other->token);
}

TEST_F(ApiTokenServiceTest, ARevocationThroughAnotherServerIsSeenOnceTheCacheIsOld) {
  auto issued = tokens_.Issue("bob", "ci", std::nullopt);
  ASSERT_TRUE(issued.has_value());
  ASSERT_TRUE(tokens_.Verify(issued->token).has_value());
  ASSERT_TRUE(store_.RevokeToken(issued->record.token_id, now_));  // behind the service's back
  EXPECT_TRUE(tokens_.Verify(issued->token).has_value());          // still cached
  now_ += 5000;
  ExpectRefused(tokens_.Verify(issued->token), "revoked", issued->token);
}

TEST_F(ApiTokenServiceTest, ATaskTokenIsScopedNeverAdminRenewableAndRevokedWithItsTask) {
  const TaskScope scope{.task_id = "t1", .experiment_id = "7", .run_id = "r1"};
  auto issued = tokens_.IssueForTask("root", scope, std::chrono::seconds(60));
  ASSERT_TRUE(issued.has_value());
  auto identity = tokens_.Verify(issued->token);
  ASSERT_TRUE(identity.has_value());
  EXPECT_EQ((*identity)->user, "root");
  EXPECT_FALSE((*identity)->admin);
  ASSERT_TRUE((*identity)->task.has_value());
  EXPECT_EQ((*identity)->task->experiment_id, "7");

  now_ += 50'000;
  auto renewed = tokens_.Renew(issued->token, std::chrono::seconds(60));
  ASSERT_TRUE(renewed.has_value());
  EXPECT_EQ(*renewed, now_ + 60'000);
  now_ += 50'000;  // past the first expiry, within the renewed one
  EXPECT_TRUE(tokens_.Verify(issued->token).has_value());

  ASSERT_TRUE(tokens_.RevokeTask("t1"));
  ExpectRefused(tokens_.Verify(issued->token), "revoked", issued->token);
  EXPECT_FALSE(tokens_.Renew(issued->token, std::chrono::seconds(60)).has_value());
}

TEST_F(ApiTokenServiceTest, AnExpiredTokenCannotBeRenewed) {
  auto issued = tokens_.IssueForTask("bob", {.task_id = "t2"}, std::chrono::seconds(1));
  ASSERT_TRUE(issued.has_value());
  now_ += 1000;
  auto renewed = tokens_.Renew(issued->token, std::chrono::seconds(60));
  ASSERT_FALSE(renewed.has_value());
  EXPECT_EQ(renewed.error().code, ErrorCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace mltf::auth
