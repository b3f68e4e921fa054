// token_keeper_test.cpp - renewals against a scripted server: they carry the token, repeat at
// the interval, are noted once when refused, and stop at once.
#include "runner/token_keeper.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "client/test_server.hpp"

namespace mltf::runner {
namespace {

using namespace std::chrono_literals;

int RenewRequests(const client::testing::TestServer& server, const std::string& token) {
  int count = 0;
  for (const auto& request : server.Requests()) {
    if (request["path"] == "/api/mltf/v1/task-token/renew" && request["method"] == "POST") {
      EXPECT_EQ(request["headers"]["authorization"], "Bearer " + token);
      ++count;
    }
  }
  return count;
}

TEST(TokenKeeper, RenewsAtTheIntervalWithTheTasksToken) {
  client::testing::TestServer server;
  std::atomic<int> notes = 0;
  {
    TokenKeeper keeper(server.url(), "mltf_task", 50ms, [&](const std::string&) { ++notes; });
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (keeper.renewals() < 3 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
    }
    EXPECT_GE(keeper.renewals(), 3);
  }
  EXPECT_GE(RenewRequests(server, "mltf_task"), 3);
  EXPECT_EQ(notes, 0);
}

TEST(TokenKeeper, ARefusedRenewalIsNotedOnceAndRetried) {
  const auto routes = nlohmann::json::parse(R"({"POST /api/mltf/v1/task-token/renew":
      [{"status": 401, "body": {"error_code": "UNAUTHENTICATED"}}]})");
  client::testing::TestServer server(routes);
  std::atomic<int> notes = 0;
  {
    TokenKeeper keeper(server.url(), "mltf_task", 30ms, [&](const std::string& text) {
      EXPECT_NE(text.find("401"), std::string::npos) << text;
      ++notes;
    });
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (RenewRequests(server, "mltf_task") < 3 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(keeper.renewals(), 0);
  }
  EXPECT_EQ(notes, 1);
}

TEST(TokenKeeper, StopsAtOnceAndDoesNothingWithoutAToken) {
  client::testing::TestServer server;
  const auto started = std::chrono::steady_clock::now();
  {
    TokenKeeper keeper(server.url(), "mltf_task", std::chrono::hours(1), [](const std::string&) {});
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  {
    TokenKeeper idle(server.url(), "", 10ms, [](const std::string&) {});
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(RenewRequests(server, "mltf_task"), 0);
}

}  // namespace
}  // namespace mltf::runner
