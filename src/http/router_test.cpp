// router_test.cpp - exact and prefix routes, 404 versus 405.
#include "http/router.hpp"

#include <gtest/gtest.h>

namespace mltf::http {
namespace {

Handler Answer(std::string text) {
  return [text](Request&) { return Response::Text(text); };
}

TEST(Router, FindsExactRouteByMethod) {
  Router router;
  router.Add(Method::GET, "/a", Answer("get"));
  router.Add(Method::POST, "/a", Answer("post"));
  Request request;
  auto match = router.Find(Method::POST, "/a");
  ASSERT_NE(match.handler, nullptr);
  EXPECT_EQ((*match.handler)(request).body, "post");
}

TEST(Router, HeadUsesGet) {
  Router router;
  router.Add(Method::GET, "/a", Answer("get"));
  EXPECT_NE(router.Find(Method::HEAD, "/a").handler, nullptr);
}

TEST(Router, TellsUnknownPathFromWrongMethod) {
  Router router;
  router.Add(Method::GET, "/a", Answer("get"));
  auto wrong_method = router.Find(Method::DELETE, "/a");
  EXPECT_EQ(wrong_method.handler, nullptr);
  EXPECT_TRUE(wrong_method.path_known);
  auto unknown = router.Find(Method::GET, "/b");
  EXPECT_EQ(unknown.handler, nullptr);
  EXPECT_FALSE(unknown.path_known);
}

TEST(Router, LongestPrefixWinsAndSuffixIsReturned) {
  Router router;
  router.AddPrefix(Method::GET, "/files/", Answer("short"));
  router.AddPrefix(Method::GET, "/files/special/", Answer("long"));
  Request request;
  auto match = router.Find(Method::GET, "/files/special/x/y");
  ASSERT_NE(match.handler, nullptr);
  EXPECT_EQ((*match.handler)(request).body, "long");
  EXPECT_EQ(match.path_suffix, "x/y");
  auto other = router.Find(Method::GET, "/files/z");
  EXPECT_EQ(other.path_suffix, "z");
  EXPECT_EQ(router.Find(Method::GET, "/files/").handler, nullptr);
}

TEST(Router, ExactRouteBeatsPrefix) {
  Router router;
  router.AddPrefix(Method::GET, "/x/", Answer("prefix"));
  router.Add(Method::GET, "/x/list", Answer("exact"));
  Request request;
  EXPECT_EQ((*router.Find(Method::GET, "/x/list").handler)(request).body, "exact");
}

}  // namespace
}  // namespace mltf::http
