// identity_store_test.cpp - users, groups and tokens on a real SQLite database.
#include "auth/identity_store.hpp"

#include <gtest/gtest.h>

#include "registry/store/sql/temporary_database.hpp"

namespace mltf::auth {
namespace {

class IdentityStoreTest : public ::testing::Test {
 protected:
  registry::store::sql::TemporaryDatabase database_;
  IdentityStore store_{database_.database()};
};

TEST_F(IdentityStoreTest, UsersWithGroupsAreAddedReadListedAndUpdated) {
  ASSERT_TRUE(store_.AddUser({.user = "bob", .groups = {"cms", "atlas"}, .created_at = 5}));
  ASSERT_TRUE(store_.AddUser({.user = "alice", .admin = true, .created_at = 6}));
  auto again = store_.AddUser({.user = "bob"});
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::RESOURCE_ALREADY_EXISTS);

  auto bob = store_.GetUser("bob");
  ASSERT_TRUE(bob.has_value());
  EXPECT_FALSE(bob->admin);
  EXPECT_EQ(bob->groups, (std::vector<std::string>{"atlas", "cms"}));
  EXPECT_EQ(bob->created_at, 5);

  auto users = store_.ListUsers();
  ASSERT_TRUE(users.has_value());
  ASSERT_EQ(users->size(), 2U);
  EXPECT_EQ((*users)[0].user, "alice");
  EXPECT_TRUE((*users)[0].admin);

  ASSERT_TRUE(store_.UpdateUser({.user = "bob", .admin = true, .groups = {"lhcb"}}));
  bob = store_.GetUser("bob");
  ASSERT_TRUE(bob.has_value());
  EXPECT_TRUE(bob->admin);
  EXPECT_EQ(bob->groups, (std::vector<std::string>{"lhcb"}));

  EXPECT_EQ(store_.GetUser("carol").error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
  EXPECT_EQ(store_.UpdateUser({.user = "carol"}).error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
}

TEST_F(IdentityStoreTest, TokensAreStoredListedRevokedAndExtended) {
  ASSERT_TRUE(store_.AddToken({.token_id = "t1",
                               .user = "bob",
                               .name = "laptop",
                               .secret_sha256 = "h1",
                               .created_at = 10,
                               .expires_at = 1000}));
  ASSERT_TRUE(store_.AddToken({.token_id = "t2",
                               .user = "bob",
                               .name = "task x",
                               .secret_sha256 = "h2",
                               .created_at = 20,
                               .task = TaskScope{"x", "3", "r"}}));
  auto t1 = store_.GetToken("t1");
  ASSERT_TRUE(t1.has_value());
  EXPECT_EQ(t1->name, "laptop");
  EXPECT_EQ(t1->expires_at, 1000);
  EXPECT_FALSE(t1->revoked_at.has_value());
  EXPECT_FALSE(t1->task.has_value());
  auto t2 = store_.GetToken("t2");
  ASSERT_TRUE(t2.has_value() && t2->task.has_value());
  EXPECT_EQ(t2->task->experiment_id, "3");
  EXPECT_EQ(t2->task->run_id, "r");

  EXPECT_EQ(store_.ListTokens("bob", false)->size(), 1U);
  auto all = store_.ListTokens("bob", true);
  ASSERT_EQ(all->size(), 2U);
  EXPECT_EQ((*all)[0].token_id, "t2");  // newest first

  ASSERT_TRUE(store_.ExtendToken("t2", 5000));
  EXPECT_EQ(store_.GetToken("t2")->expires_at, 5000);
  auto revoked = store_.RevokeTaskTokens("x", 30);
  ASSERT_TRUE(revoked.has_value());
  EXPECT_EQ(*revoked, std::vector<std::string>{"t2"});
  EXPECT_EQ(store_.RevokeTaskTokens("x", 40)->size(), 0U);  // already revoked
  EXPECT_EQ(store_.GetToken("t2")->revoked_at, 30);
  EXPECT_EQ(store_.ExtendToken("t2", 9000).error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST);

  ASSERT_TRUE(store_.RevokeToken("t1", 50));
  ASSERT_TRUE(store_.RevokeToken("t1", 60));
  EXPECT_EQ(store_.GetToken("t1")->revoked_at, 50);  // the first revocation stands
  EXPECT_EQ(store_.RevokeToken("nope", 1).error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
  EXPECT_EQ(store_.GetToken("nope").error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
}

}  // namespace
}  // namespace mltf::auth
