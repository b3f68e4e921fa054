// router_test.cpp - exact and prefix routes, 404 versus 405.
#include "http/router.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace mltf::http {
namespace {

Handler Answer(const std::string& text) {
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

TEST(Router, AsyncRoutesKeepTheirExecution) {
  Router router;
  router.AddAsync(
      Method::POST, "/inline", [](Request&, Reply reply) { reply(Response::Text("")); },
      Execution::INLINE);
  router.AddAsync(Method::POST, "/worker",
                  [](Request&, Reply reply) { reply(Response::Text("")); });
  auto inline_match = router.Find(Method::POST, "/inline");
  ASSERT_TRUE(inline_match.found());
  EXPECT_EQ(inline_match.handler, nullptr);
  EXPECT_NE(inline_match.async_handler, nullptr);
  EXPECT_EQ(inline_match.execution, Execution::INLINE);
  EXPECT_EQ(router.Find(Method::POST, "/worker").execution, Execution::WORKER);
  auto wrong_method = router.Find(Method::GET, "/inline");
  EXPECT_FALSE(wrong_method.found());
  EXPECT_TRUE(wrong_method.path_known);
}

/// Records what a reply sent.
class RecordingTarget final : public Reply::Target {
 public:
  void Send(Response response) noexcept override { sent.push_back(std::move(response)); }
  std::vector<Response> sent;
};

TEST(Reply, SendsOnceAndADroppedReplyAnswers500) {
  auto target = std::make_shared<RecordingTarget>();
  {
    Reply reply(target);
    EXPECT_TRUE(reply.pending());
    reply(Response::Text("first"));
    EXPECT_FALSE(reply.pending());
    reply(Response::Text("second"));  // ignored
  }
  ASSERT_EQ(target->sent.size(), 1U);
  EXPECT_EQ(target->sent[0].body, "first");
  { Reply dropped(target); }
  ASSERT_EQ(target->sent.size(), 2U);
  EXPECT_EQ(target->sent[1].status, 500);
  {
    Reply overwritten(target);
    overwritten = Reply(std::make_shared<RecordingTarget>());  // answers the first with 500
    ASSERT_EQ(target->sent.size(), 3U);
    EXPECT_EQ(target->sent[2].status, 500);
  }
}

}  // namespace
}  // namespace mltf::http
