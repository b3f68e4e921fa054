// base64url_test.cpp - base64url round trips and strict decoding, with literal inputs.
#include "auth/base64url.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mltf::auth {
namespace {

TEST(Base64Url, EncodesWithoutPadding) {
  EXPECT_EQ(Base64UrlEncode(""), "");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(Base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(Base64UrlEncode("foob"), "Zm9vYg");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(Base64UrlEncode("{\"alg\":\"RS256\"}"), "eyJhbGciOiJSUzI1NiJ9");
}

TEST(Base64Url, RoundTripsEveryByte) {
  std::string bytes;
  for (int value = 0; value < 256; ++value) {
    bytes.push_back(static_cast<char>(value));
  }
  for (std::size_t length = 0; length <= bytes.size(); length += 37) {
    const std::string prefix = bytes.substr(0, length);
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(prefix)), prefix) << length;
  }
}

TEST(Base64Url, DecodesStrictly) {
  EXPECT_EQ(Base64UrlDecode(""), "");
  EXPECT_EQ(Base64UrlDecode("Zm9vYg"), "foob");
  EXPECT_EQ(Base64UrlDecode("-_8"), "\xfb\xff");
  EXPECT_FALSE(Base64UrlDecode("Zm9vYg==").has_value());  // padding
  EXPECT_FALSE(Base64UrlDecode("+/8").has_value());       // plain base64 alphabet
  EXPECT_FALSE(Base64UrlDecode("Zm9v Yg").has_value());
  EXPECT_FALSE(Base64UrlDecode("Zm9vY").has_value());  // impossible length
  EXPECT_FALSE(Base64UrlDecode("Zh").has_value());     // non-zero trailing bits
  EXPECT_FALSE(Base64UrlDecode(std::string("Zg\0", 3)).has_value());
}

}  // namespace
}  // namespace mltf::auth
