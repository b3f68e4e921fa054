// api_tokens_test.cpp - the token format: generation, parsing of good and bad shapes, digests.
#include "auth/api_tokens.hpp"

#include <gtest/gtest.h>

#include <set>

namespace mltf::auth {
namespace {

TEST(ApiTokens, AGeneratedTokenParsesBackToItsIdAndASecretMatchingItsDigest) {
  auto issued = GenerateApiToken();
  ASSERT_TRUE(issued.has_value());
  EXPECT_TRUE(issued->token.starts_with("mltf_" + issued->token_id + "_"));
  auto parts = ParseApiToken(issued->token);
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(parts->token_id, issued->token_id);
  EXPECT_EQ(SecretSha256(parts->secret), issued->secret_sha256);
  EXPECT_EQ(issued->secret_sha256.size(), 64U);
  EXPECT_EQ(issued->token.find(issued->secret_sha256), std::string::npos);
}

TEST(ApiTokens, TokensAreUnique) {
  std::set<std::string> ids;
  std::set<std::string> tokens;
  for (int i = 0; i < 200; ++i) {
    auto issued = GenerateApiToken();
    ASSERT_TRUE(issued.has_value());
    ids.insert(issued->token_id);
    tokens.insert(issued->token);
  }
  EXPECT_EQ(ids.size(), 200U);
  EXPECT_EQ(tokens.size(), 200U);
}

TEST(ApiTokens, OnlyTheIssuedShapeParses) {
  auto issued = GenerateApiToken();
  ASSERT_TRUE(issued.has_value());
  const std::string& good = issued->token;
  std::string upper_id = good;
  upper_id[5] = 'A';
  std::string bad_secret = good;
  bad_secret.back() = '=';
  std::string no_separator = good;
  no_separator[5 + 16] = '-';
  for (const std::string& bad :
       {std::string(), std::string("mltf_"), good.substr(0, good.size() - 1), good + "A",
        "xltf_" + good.substr(5), upper_id, bad_secret, no_separator,
        std::string("Bearer ") + good}) {
    EXPECT_FALSE(ParseApiToken(bad).has_value()) << bad;
  }
}

TEST(ApiTokens, DigestIsSha256InLowerHex) {
  EXPECT_EQ(SecretSha256("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace mltf::auth
