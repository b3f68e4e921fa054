// verified_token_cache_test.cpp - hits, expiry, the age limit, and a full cache.
#include "auth/verified_token_cache.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mltf::auth {
namespace {

std::shared_ptr<const Identity> User(const std::string& name) {
  return std::make_shared<const Identity>(Identity{.user = name, .groups = {"cms"}});
}

TEST(VerifiedTokenCacheTest, ATokenIsRememberedUntilItExpires) {
  VerifiedTokenCache cache;
  const auto alice = User("alice");
  EXPECT_EQ(cache.Find("token-a", 1000), nullptr);
  cache.Remember("token-a", alice, /*expires_at=*/1100, /*now_seconds=*/1000);
  EXPECT_EQ(cache.Find("token-a", 1000), alice);
  EXPECT_EQ(cache.Find("token-a", 1099), alice);
  EXPECT_EQ(cache.Find("token-a", 1100), nullptr) << "not at or after its expiry";
  EXPECT_EQ(cache.Find("token-b", 1000), nullptr) << "another token is not this one";
  EXPECT_EQ(cache.Find("token-", 1000), nullptr);
}

TEST(VerifiedTokenCacheTest, LongLivedTokensAreVerifiedAgainAfterTheMaximumAge) {
  VerifiedTokenCache cache({.capacity = 16, .max_age = std::chrono::seconds(300)});
  cache.Remember("day-long", User("alice"), /*expires_at=*/1000 + 86400, /*now_seconds=*/1000);
  EXPECT_NE(cache.Find("day-long", 1299), nullptr);
  EXPECT_EQ(cache.Find("day-long", 1300), nullptr);
}

TEST(VerifiedTokenCacheTest, AnAlreadyExpiredTokenIsNotRemembered) {
  VerifiedTokenCache cache;
  // Verification accepts a token within its leeway after exp; the cache does not extend that.
  cache.Remember("late", User("alice"), /*expires_at=*/990, /*now_seconds=*/1000);
  EXPECT_EQ(cache.Find("late", 1000), nullptr);
  EXPECT_EQ(cache.size(), 0U);
}

TEST(VerifiedTokenCacheTest, AFullCacheDropsExpiredEntriesFirstThenStartsAgain) {
  VerifiedTokenCache cache({.capacity = 3, .max_age = std::chrono::seconds(300)});
  cache.Remember("short-1", User("a"), 1010, 1000);
  cache.Remember("short-2", User("b"), 1010, 1000);
  cache.Remember("long", User("c"), 1200, 1000);
  cache.Remember("new-1", User("d"), 1200, 1050);  // the two expired ones make room
  EXPECT_EQ(cache.size(), 2U);
  EXPECT_NE(cache.Find("long", 1050), nullptr);
  EXPECT_NE(cache.Find("new-1", 1050), nullptr);
  cache.Remember("new-2", User("e"), 1200, 1050);
  cache.Remember("new-3", User("f"), 1200, 1050);  // full of live tokens: forget them all
  EXPECT_EQ(cache.size(), 1U);
  EXPECT_NE(cache.Find("new-3", 1050), nullptr);
  EXPECT_EQ(cache.Find("long", 1050), nullptr);
}

TEST(VerifiedTokenCacheTest, RememberingATokenAgainReplacesItsEntry) {
  VerifiedTokenCache cache({.capacity = 1, .max_age = std::chrono::seconds(300)});
  cache.Remember("token", User("alice"), 1100, 1000);
  const auto again = User("alice");
  cache.Remember("token", again, 1200, 1000);
  EXPECT_EQ(cache.size(), 1U);
  EXPECT_EQ(cache.Find("token", 1150), again);
}

}  // namespace
}  // namespace mltf::auth
