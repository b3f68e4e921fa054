// tracking_client_test.cpp - log-batch splitting, artifact URI mapping, and the requests the
// tracking client sends, recorded by a scripted local server.
#include "client/tracking_client.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <random>

#include "client/test_server.hpp"

namespace mltf::client {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::TestServer;
using Json = nlohmann::json;

std::vector<MetricValue> Metrics(std::size_t count) {
  std::vector<MetricValue> metrics;
  for (std::size_t i = 0; i < count; ++i) {
    metrics.push_back(
        {"loss", static_cast<double>(i), 1700000000000, static_cast<std::int64_t>(i)});
  }
  return metrics;
}

std::vector<KeyValue> Pairs(std::size_t count, const std::string& prefix) {
  std::vector<KeyValue> pairs;
  for (std::size_t i = 0; i < count; ++i) {
    pairs.emplace_back(prefix + std::to_string(i), "v");
  }
  return pairs;
}

TEST(SplitLogBatchTest, EmptyBatchSendsNothing) {
  EXPECT_TRUE(SplitLogBatch("r", {}, {}, {}).empty());
}

TEST(SplitLogBatchTest, MetricsGoInChunksOfAThousand) {
  const auto bodies = SplitLogBatch("r", Metrics(2500), {}, {});
  ASSERT_EQ(bodies.size(), 3U);
  EXPECT_EQ(bodies[0]["metrics"].size(), 1000U);
  EXPECT_EQ(bodies[1]["metrics"].size(), 1000U);
  EXPECT_EQ(bodies[2]["metrics"].size(), 500U);
  EXPECT_EQ(bodies[2]["run_id"], "r");
  EXPECT_EQ(bodies[1]["metrics"][0]["step"], 1000);
  EXPECT_EQ(bodies[0]["metrics"][0]["timestamp"], 1700000000000);
}

TEST(SplitLogBatchTest, ParamsAndTagsCountTowardsTheEntryLimit) {
  const auto bodies = SplitLogBatch("r", Metrics(1000), Pairs(150, "p"), Pairs(10, "t"));
  ASSERT_EQ(bodies.size(), 2U);
  EXPECT_EQ(bodies[0]["params"].size(), 100U);
  EXPECT_EQ(bodies[0]["tags"].size(), 10U);
  EXPECT_EQ(bodies[0]["metrics"].size(), 890U);
  EXPECT_EQ(bodies[1]["params"].size(), 50U);
  EXPECT_EQ(bodies[1]["tags"].size(), 0U);
  EXPECT_EQ(bodies[1]["metrics"].size(), 110U);
  EXPECT_EQ(bodies[1]["params"][0]["key"], "p100");
}

TEST(SplitLogBatchTest, NonFiniteValuesUseMlflowSpelling) {
  const double inf = std::numeric_limits<double>::infinity();
  const auto bodies = SplitLogBatch(
      "r", {{"a", std::nan(""), 1, 0}, {"b", inf, 1, 0}, {"c", -inf, 1, 0}, {"d", 0.5, 1, 0}}, {},
      {});
  ASSERT_EQ(bodies.size(), 1U);
  EXPECT_EQ(bodies[0]["metrics"][0]["value"], "NaN");
  EXPECT_EQ(bodies[0]["metrics"][1]["value"], "Infinity");
  EXPECT_EQ(bodies[0]["metrics"][2]["value"], "-Infinity");
  EXPECT_EQ(bodies[0]["metrics"][3]["value"], 0.5);
}

TEST(ArtifactApiPathTest, MapsProxiedArtifactUris) {
  EXPECT_EQ(*ArtifactApiPath("mlflow-artifacts:/1/abc/artifacts"),
            "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts");
  EXPECT_EQ(*ArtifactApiPath("mlflow-artifacts://server:5000/1/abc/artifacts/"),
            "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts");
  EXPECT_EQ(*ArtifactApiPath("mlflow-artifacts:/my exp/r"),
            "/api/2.0/mlflow-artifacts/artifacts/my%20exp/r");
}

TEST(ArtifactApiPathTest, RefusesOtherSchemesAndTraversal) {
  auto s3 = ArtifactApiPath("s3://bucket/1/abc/artifacts");
  ASSERT_FALSE(s3);
  EXPECT_EQ(s3.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_THAT(s3.error().message, HasSubstr("mlflow-artifacts"));
  EXPECT_FALSE(ArtifactApiPath("mlflow-artifacts:/1/../../etc"));
  EXPECT_FALSE(ArtifactApiPath("mlflow-artifacts:/1//abc"));
}

TEST(TrackingClientTest, LogBatchSendsEveryChunk) {
  TestServer server;
  TrackingClient tracking{HttpClient(server.url())};
  ASSERT_TRUE(tracking.LogBatch("run1", Metrics(1500), Pairs(2, "p"), Pairs(1, "t")));
  const auto requests = server.Requests();
  ASSERT_EQ(requests.size(), 2U);
  EXPECT_EQ(requests[0]["path"], "/api/2.0/mlflow/runs/log-batch");
  const auto first = nlohmann::json::parse(requests[0]["body"].get<std::string>());
  const auto second = nlohmann::json::parse(requests[1]["body"].get<std::string>());
  EXPECT_EQ(first["metrics"].size() + second["metrics"].size(), 1500U);
  EXPECT_EQ(first["params"].size(), 2U);
  EXPECT_EQ(first["run_id"], "run1");
}

TEST(TrackingClientTest, LogBatchStopsAtTheFirstError) {
  TestServer server(
      Json{{"POST /api/2.0/mlflow/runs/log-batch",
            {{{"status", 200}},
             {{"status", 400},
              {"body", {{"error_code", "INVALID_PARAMETER_VALUE"}, {"message", "bad metric"}}}}}}});
  TrackingClient tracking{HttpClient(server.url())};
  auto result = tracking.LogBatch("run1", Metrics(3500), {}, {});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_EQ(result.error().message, "bad metric");
  EXPECT_EQ(server.Requests().size(), 2U);
}

TEST(TrackingClientTest, SetTagUpdateRunAndGetRun) {
  TestServer server(
      Json{{"GET /api/2.0/mlflow/runs/get",
            {{{"body", {{"run", {{"info", {{"run_id", "r 1"}, {"status", "RUNNING"}}}}}}}}}}});
  TrackingClient tracking{HttpClient(server.url())};
  ASSERT_TRUE(tracking.SetTag("r 1", "mltf.task_id", "t1"));
  ASSERT_TRUE(tracking.UpdateRun("r 1", "FINISHED", 1700000000123));
  ASSERT_TRUE(tracking.UpdateRun("r 1", "RUNNING", std::nullopt));
  auto run = tracking.GetRun("r 1");
  ASSERT_TRUE(run);
  EXPECT_EQ((*run)["info"]["status"], "RUNNING");

  const auto requests = server.Requests();
  ASSERT_EQ(requests.size(), 4U);
  EXPECT_EQ(requests[0]["path"], "/api/2.0/mlflow/runs/set-tag");
  EXPECT_EQ(nlohmann::json::parse(requests[0]["body"].get<std::string>()),
            (nlohmann::json{{"run_id", "r 1"}, {"key", "mltf.task_id"}, {"value", "t1"}}));
  EXPECT_EQ(
      nlohmann::json::parse(requests[1]["body"].get<std::string>()),
      (nlohmann::json{{"run_id", "r 1"}, {"status", "FINISHED"}, {"end_time", 1700000000123}}));
  EXPECT_FALSE(nlohmann::json::parse(requests[2]["body"].get<std::string>()).contains("end_time"));
  EXPECT_EQ(requests[3]["path"], "/api/2.0/mlflow/runs/get?run_id=r%201");
}

TEST(TrackingClientTest, GetRunOfAnUnknownRunFails) {
  TestServer server(
      Json{{"GET /api/2.0/mlflow/runs/get",
            {{{"status", 404},
              {"body",
               {{"error_code", "RESOURCE_DOES_NOT_EXIST"}, {"message", "Run 'x' not found"}}}}}}});
  TrackingClient tracking{HttpClient(server.url())};
  auto run = tracking.GetRun("x");
  ASSERT_FALSE(run);
  EXPECT_EQ(run.error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
}

class UploadDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device random;
    root_ = fs::temp_directory_path() / ("mltf-upload-test-" + std::to_string(random()));
    fs::create_directories(root_ / "out" / "sub dir");
    fs::create_directories(root_ / "outside");
    std::ofstream(root_ / "out" / "a.txt") << "alpha";
    std::ofstream(root_ / "out" / "sub dir" / "b#1.bin") << "beta";
    std::ofstream(root_ / "outside" / "secret") << "secret";
    fs::create_symlink(root_ / "outside" / "secret", root_ / "out" / "link-to-file");
    fs::create_directory_symlink(root_ / "outside", root_ / "out" / "link-to-dir");
  }
  void TearDown() override { fs::remove_all(root_); }

  fs::path root_;
};

TEST_F(UploadDirectoryTest, PutsEveryRegularFileAndSkipsLinks) {
  TestServer server;
  TrackingClient tracking{HttpClient(server.url())};
  ASSERT_TRUE(
      tracking.UploadDirectory("mlflow-artifacts:/1/abc/artifacts", root_ / "out", "model/"));
  const auto requests = server.Requests();
  ASSERT_EQ(requests.size(), 2U);
  EXPECT_EQ(requests[0]["method"], "PUT");
  EXPECT_EQ(requests[0]["path"], "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model/a.txt");
  EXPECT_EQ(requests[0]["body"], "alpha");
  EXPECT_EQ(requests[1]["path"],
            "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model/sub%20dir/b%231.bin");
  EXPECT_EQ(requests[1]["body"], "beta");
}

TEST_F(UploadDirectoryTest, EmptySubpathUploadsAtTheRoot) {
  TestServer server;
  TrackingClient tracking{HttpClient(server.url())};
  ASSERT_TRUE(tracking.UploadDirectory("mlflow-artifacts:/1/abc/artifacts", root_ / "out", ""));
  EXPECT_EQ(server.Requests()[0]["path"],
            "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/a.txt");
}

TEST_F(UploadDirectoryTest, LinkedOrMissingDirectoryIsRefused) {
  TestServer server;
  TrackingClient tracking{HttpClient(server.url())};
  EXPECT_FALSE(
      tracking.UploadDirectory("mlflow-artifacts:/1/a", root_ / "out" / "link-to-dir", ""));
  EXPECT_FALSE(tracking.UploadDirectory("mlflow-artifacts:/1/a", root_ / "missing", ""));
  EXPECT_TRUE(server.Requests().empty());
}

TEST_F(UploadDirectoryTest, BadUriOrSubpathSendsNothing) {
  TestServer server;
  TrackingClient tracking{HttpClient(server.url())};
  EXPECT_FALSE(tracking.UploadDirectory("file:///tmp/artifacts", root_ / "out", ""));
  auto traversal = tracking.UploadDirectory("mlflow-artifacts:/1/a", root_ / "out", "../x");
  ASSERT_FALSE(traversal);
  EXPECT_EQ(traversal.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_TRUE(server.Requests().empty());
}

TEST_F(UploadDirectoryTest, ServerErrorStopsTheUpload) {
  TestServer server(
      Json{{"PUT /api/2.0/mlflow-artifacts/artifacts/1/a/a.txt",
            {{{"status", 403},
              {"body", {{"error_code", "PERMISSION_DENIED"}, {"message", "read-only"}}}}}}});
  TrackingClient tracking{HttpClient(server.url())};
  auto result = tracking.UploadDirectory("mlflow-artifacts:/1/a", root_ / "out", "");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::PERMISSION_DENIED);
  EXPECT_EQ(server.Requests().size(), 1U);
}

TEST(TrackingClientTest, UploadArtifactUsesTheFileNameByDefault) {
  TestServer server;
  const fs::path file = fs::temp_directory_path() / "mltf upload name.txt";
  std::ofstream(file) << "x";
  TrackingClient tracking{HttpClient(server.url())};
  auto result = tracking.UploadArtifact("mlflow-artifacts:/2/r/artifacts", file, "");
  fs::remove(file);
  ASSERT_TRUE(result);
  EXPECT_EQ(server.Requests()[0]["path"],
            "/api/2.0/mlflow-artifacts/artifacts/2/r/artifacts/mltf%20upload%20name.txt");
}

}  // namespace
}  // namespace mltf::client
