// request_test.cpp - query string and path decoding.
#include "http/request.hpp"

#include <gtest/gtest.h>

namespace mltf::http {
namespace {

TEST(ParseQueryString, DecodesPairsInOrder) {
  auto params = ParseQueryString("run_id=abc&metric_key=a%2Fb+c&max_results=25000&flag");
  ASSERT_EQ(params.size(), 4u);
  EXPECT_EQ(params[0], (std::pair<std::string, std::string>{"run_id", "abc"}));
  EXPECT_EQ(params[1].second, "a/b c");
  EXPECT_EQ(params[2].second, "25000");
  EXPECT_EQ(params[3], (std::pair<std::string, std::string>{"flag", ""}));
}

TEST(ParseQueryString, KeepsMalformedEscapesLiterally) {
  auto params = ParseQueryString("path=%zz%2&x=%");
  EXPECT_EQ(params[0].second, "%zz%2");
  EXPECT_EQ(params[1].second, "%");
}

TEST(ParseQueryString, RepeatedNamesStay) {
  auto params = ParseQueryString("order_by=name&order_by=version_number+DESC&&");
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[1].second, "version_number DESC");
}

TEST(DecodePath, DecodesButKeepsPlus) {
  EXPECT_EQ(DecodePath("/a%20b/c+d/%C3%A9"), "/a b/c+d/\xC3\xA9");
}

TEST(DecodePath, RefusesNul) { EXPECT_FALSE(DecodePath("/a%00b").has_value()); }

}  // namespace
}  // namespace mltf::http
