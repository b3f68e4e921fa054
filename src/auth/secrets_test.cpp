// secrets_test.cpp - constant-time equality, with literal inputs.
#include "auth/secrets.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mltf::auth {
namespace {

TEST(ConstantTimeEquals, ComparesContentAndLength) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("mltf_token_1", "mltf_token_1"));
  EXPECT_FALSE(ConstantTimeEquals("mltf_token_1", "mltf_token_2"));
  EXPECT_FALSE(ConstantTimeEquals("xltf_token_1", "mltf_token_1"));
  EXPECT_FALSE(ConstantTimeEquals("mltf", "mltf_token_1"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_TRUE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3)));
}

}  // namespace
}  // namespace mltf::auth
