// http_client_test.cpp - HttpClient against a scripted local server: headers, keep-alive,
// streamed uploads with progress, chunked streams, timeouts, refused connections, and the
// translation of MLflow error bodies.
#include "client/http_client.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <vector>

#include "client/test_server.hpp"
#include "version.hpp"

namespace mltf::client {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::TestServer;
using Json = nlohmann::json;
using testing::UnusedPort;

TEST(HttpClientTest, GetReturnsStatusBodyAndLowerCasedHeaders) {
  TestServer server(
      Json{{"GET /logs",
            {{{"status", 200},
              {"body", "hello"},
              {"headers", {{"Content-Type", "text/plain"}, {"X-MLTF-Log-Offset", "42"}}}}}}});
  HttpClient http(server.url());
  auto response = http.Get("/logs?offset=0");
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "hello");
  EXPECT_EQ(response->Header("x-mltf-log-offset"), "42");
  EXPECT_EQ(response->Header("content-type"), "text/plain");
  EXPECT_EQ(response->Header("x-missing"), std::nullopt);
  EXPECT_EQ(server.Requests()[0]["path"], "/logs?offset=0");
}

TEST(HttpClientTest, SendsUserAgentAndBearerTokenOnlyWhenGiven) {
  TestServer server;
  HttpClient with_token(server.url(), "secret-token");
  HttpClient without_token(server.url());
  ASSERT_TRUE(with_token.Get("/a"));
  ASSERT_TRUE(without_token.Get("/b"));
  const auto requests = server.Requests();
  ASSERT_EQ(requests.size(), 2U);
  EXPECT_EQ(requests[0]["headers"]["authorization"], "Bearer secret-token");
  EXPECT_EQ(requests[0]["headers"]["user-agent"], "mltf/" + std::string(kVersion));
  EXPECT_FALSE(requests[1]["headers"].contains("authorization"));
}

TEST(HttpClientTest, PostJsonSendsTheBodyAsJson) {
  TestServer server(Json{{"POST /api/x", {{{"status", 201}, {"body", {{"ok", true}}}}}}});
  HttpClient http(server.url());
  auto response = http.PostJson("/api/x", {{"name", "a\"b"}, {"n", 3}});
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 201);
  const auto request = server.Requests()[0];
  EXPECT_EQ(request["method"], "POST");
  EXPECT_EQ(request["headers"]["content-type"], "application/json");
  EXPECT_EQ(nlohmann::json::parse(request["body"].get<std::string>()),
            (nlohmann::json{{"name", "a\"b"}, {"n", 3}}));
}

TEST(HttpClientTest, SendUsesTheGivenMethod) {
  TestServer server;
  HttpClient http(server.url());
  ASSERT_TRUE(http.Send("DELETE", "/thing", "", ""));
  ASSERT_TRUE(http.Send("PUT", "/thing", "text", "text/plain"));
  const auto requests = server.Requests();
  EXPECT_EQ(requests[0]["method"], "DELETE");
  EXPECT_EQ(requests[1]["method"], "PUT");
  EXPECT_EQ(requests[1]["body"], "text");
}

TEST(HttpClientTest, ReusesTheConnectionBetweenRequests) {
  TestServer server;
  HttpClient http(server.url());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(http.Get("/ping"));
  const auto requests = server.Requests();
  ASSERT_EQ(requests.size(), 3U);
  EXPECT_EQ(requests[0]["client_port"], requests[1]["client_port"]);
  EXPECT_EQ(requests[1]["client_port"], requests[2]["client_port"]);
}

TEST(HttpClientTest, MovedClientKeepsWorking) {
  TestServer server;
  HttpClient first(server.url());
  ASSERT_TRUE(first.Get("/a"));
  HttpClient second = std::move(first);
  ASSERT_TRUE(second.Get("/b"));
  EXPECT_EQ(server.Requests().size(), 2U);
}

TEST(HttpClientTest, UploadFileStreamsWithContentLengthAndReportsProgress) {
  TestServer server(Json{{"POST /api/mltf/v1/projects", {{{"body", {{"project", {}}}}}}}});
  const fs::path file = fs::temp_directory_path() / "mltf-http-client-upload.bin";
  std::string content(5 * 1024 * 1024 + 17, '\0');
  std::mt19937 random(7);
  for (auto& byte : content) byte = static_cast<char>(random());
  std::ofstream(file, std::ios::binary) << content;

  HttpClient http(server.url());
  std::vector<std::pair<std::uint64_t, std::uint64_t>> reports;
  auto response = http.UploadFile(
      "POST", "/api/mltf/v1/projects", file, "application/gzip",
      [&](std::uint64_t sent, std::uint64_t total) { reports.emplace_back(sent, total); });
  fs::remove(file);
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 200);
  const auto request = server.Requests()[0];
  EXPECT_EQ(request["method"], "POST");
  EXPECT_EQ(request["size"], content.size());
  EXPECT_EQ(request["headers"]["content-length"], std::to_string(content.size()));
  EXPECT_EQ(request["headers"]["content-type"], "application/gzip");
  EXPECT_FALSE(request["headers"].contains("transfer-encoding"));
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back(),
            std::make_pair(std::uint64_t{content.size()}, std::uint64_t{content.size()}));
  for (std::size_t i = 1; i < reports.size(); ++i) {
    EXPECT_LE(reports[i - 1].first, reports[i].first);
  }
}

TEST(HttpClientTest, UploadFileDefaultsToPut) {
  TestServer server;
  const fs::path file = fs::temp_directory_path() / "mltf-http-client-put.txt";
  std::ofstream(file) << "abc";
  HttpClient http(server.url());
  auto response = http.UploadFile("PUT", "/f", file, "text/plain", {});
  fs::remove(file);
  ASSERT_TRUE(response);
  EXPECT_EQ(server.Requests()[0]["method"], "PUT");
  EXPECT_EQ(server.Requests()[0]["body"], "abc");
}

TEST(HttpClientTest, UploadOfAMissingFileFailsBeforeAnyRequest) {
  TestServer server;
  HttpClient http(server.url());
  auto response = http.UploadFile("PUT", "/f", "/nonexistent/mltf/file", "text/plain", {});
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_THAT(response.error().message, HasSubstr("/nonexistent/mltf/file"));
  EXPECT_TRUE(server.Requests().empty());
}

TEST(HttpClientTest, StreamDeliversChunksAsTheyArrive) {
  TestServer server(Json{{"GET /stream", {{{"chunks", {"one\n", "two\n", "three\n"}}}}}});
  HttpClient http(server.url());
  std::vector<std::string> chunks;
  auto status = http.Stream("/stream", [&](std::string_view chunk) {
    chunks.emplace_back(chunk);
    return true;
  });
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_EQ(*status, 200);
  std::string all;
  for (const auto& chunk : chunks) all += chunk;
  EXPECT_EQ(all, "one\ntwo\nthree\n");
}

TEST(HttpClientTest, StreamStopsWhenTheCallbackSaysSo) {
  TestServer server(Json{{"GET /stream", {{{"chunks", {"one\n", "two\n", "three\n"}}}}}});
  HttpClient http(server.url());
  int calls = 0;
  auto status = http.Stream("/stream", [&](std::string_view) {
    ++calls;
    return false;
  });
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_EQ(calls, 1);
}

TEST(HttpClientTest, StreamOfAnErrorAnswerFailsWithTheServersError) {
  TestServer server(
      Json{{"GET /stream",
            {{{"status", 404},
              {"body", {{"error_code", "RESOURCE_DOES_NOT_EXIST"}, {"message", "No task x"}}}}}}});
  HttpClient http(server.url());
  bool called = false;
  auto status = http.Stream("/stream", [&](std::string_view) {
    called = true;
    return true;
  });
  ASSERT_FALSE(status);
  EXPECT_FALSE(called);
  EXPECT_EQ(status.error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
  EXPECT_EQ(status.error().message, "No task x");
}

TEST(HttpClientTest, RefusedConnectionNamesTheServerAndWhatToDo) {
  const std::string url = "http://127.0.0.1:" + std::to_string(UnusedPort());
  HttpClient http(url);
  auto response = http.Get("/api/mltf/v1/tasks");
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::TEMPORARILY_UNAVAILABLE);
  EXPECT_THAT(response.error().message, HasSubstr(url));
  EXPECT_THAT(response.error().message, HasSubstr("mltf server"));
  EXPECT_THAT(response.error().message, HasSubstr("MLTF_SERVER"));
}

TEST(HttpClientTest, AnotherPeerIsNamedWithoutTheAdviceForTheMltfServer) {
  const std::string url = "http://127.0.0.1:" + std::to_string(UnusedPort()) + "/jwks";
  HttpClient http(url);
  http.SetPeerName("the OpenID provider");
  auto response = http.Get("");
  ASSERT_FALSE(response);
  EXPECT_THAT(response.error().message, HasSubstr("cannot reach the OpenID provider at " + url));
  EXPECT_THAT(response.error().message, Not(HasSubstr("MLTF")));
}

TEST(HttpClientTest, ErrorMessagesDoNotShowCredentialsOfTheUrl) {
  const std::string url = "http://user:hunter2@127.0.0.1:" + std::to_string(UnusedPort());
  HttpClient http(url);
  auto response = http.Get("/x");
  ASSERT_FALSE(response);
  EXPECT_THAT(response.error().message, Not(HasSubstr("hunter2")));
}

TEST(HttpClientTest, SlowAnswerTimesOut) {
  TestServer server(Json{{"GET /slow", {{{"delay_ms", 2000}}}}});
  HttpClient http(server.url());
  http.SetTimeout(std::chrono::milliseconds(300));
  auto response = http.Get("/slow");
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::TEMPORARILY_UNAVAILABLE);
  EXPECT_THAT(response.error().message, HasSubstr("timed out"));
}

TEST(HttpClientTest, UnsupportedSchemeIsRefused) {
  HttpClient http("file:///etc");
  auto response = http.Get("/passwd");
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::TEMPORARILY_UNAVAILABLE);
}

HttpResponse Answer(long status, std::string body) {
  return HttpResponse{status, std::move(body), {}};
}

TEST(ParseJsonResponseTest, SuccessBodies) {
  EXPECT_EQ(*ParseJsonResponse(Answer(200, "")), nlohmann::json::object());
  EXPECT_EQ(*ParseJsonResponse(Answer(201, R"({"a":1})")), (nlohmann::json{{"a", 1}}));
  auto bad = ParseJsonResponse(Answer(200, "<html>"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::INTERNAL_ERROR);
  EXPECT_THAT(bad.error().message, HasSubstr("<html>"));
}

TEST(ParseJsonResponseTest, MlflowErrorBodyKeepsCodeAndMessage) {
  auto error = ParseJsonResponse(
      Answer(400, R"({"error_code":"INVALID_STATE","message":"Task t is finished"})"));
  ASSERT_FALSE(error);
  EXPECT_EQ(error.error().code, ErrorCode::INVALID_STATE);
  EXPECT_EQ(error.error().message, "Task t is finished");
}

TEST(ParseJsonResponseTest, UnknownCodesAndOtherBodiesFallBackToTheStatus) {
  auto unknown = ParseJsonResponse(Answer(403, R"({"error_code":"NEW_CODE","message":"no"})"));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::PERMISSION_DENIED);
  EXPECT_THAT(unknown.error().message, HasSubstr("NEW_CODE"));

  auto html = ParseJsonResponse(Answer(502, "<h1>Bad Gateway</h1>\x1b[31m"));
  ASSERT_FALSE(html);
  EXPECT_EQ(html.error().code, ErrorCode::TEMPORARILY_UNAVAILABLE);
  EXPECT_THAT(html.error().message, HasSubstr("502"));
  EXPECT_THAT(html.error().message, HasSubstr("Bad Gateway"));
  EXPECT_THAT(html.error().message, Not(HasSubstr("\x1b")));

  auto empty = ParseJsonResponse(Answer(401, ""));
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, ErrorCode::UNAUTHENTICATED);

  auto long_body = ParseJsonResponse(Answer(500, std::string(10000, 'x')));
  ASSERT_FALSE(long_body);
  EXPECT_LT(long_body.error().message.size(), 400U);
}

TEST(ErrorCodeFromNameTest, RoundTripsEveryCode) {
  for (int value = 0; value <= static_cast<int>(ErrorCode::RESOURCE_CONFLICT); ++value) {
    const auto code = static_cast<ErrorCode>(value);
    EXPECT_EQ(ErrorCodeFromName(ErrorCodeName(code)), code);
  }
  EXPECT_EQ(ErrorCodeFromName("resource_does_not_exist"), std::nullopt);
  EXPECT_EQ(ErrorCodeFromName(""), std::nullopt);
}

TEST(PercentEncodeTest, EncodesEverythingButUnreserved) {
  EXPECT_EQ(PercentEncode("abc-._~XYZ09"), "abc-._~XYZ09");
  EXPECT_EQ(PercentEncode("a b/c?d#e%"), "a%20b%2Fc%3Fd%23e%25");
  EXPECT_EQ(PercentEncode("\xc3\xa9"), "%C3%A9");
  EXPECT_EQ(PercentEncode(""), "");
}

TEST(RedactUrlTest, HidesUserInfoOnly) {
  EXPECT_EQ(RedactUrl("http://u:p@host:5/x@y"), "http://***@host:5/x@y");
  EXPECT_EQ(RedactUrl("https://host/a@b"), "https://host/a@b");
  EXPECT_EQ(RedactUrl("not a url"), "not a url");
}

}  // namespace
}  // namespace mltf::client
