// async_writes_test.cpp - the asynchronous hot writes, service to SQL store to Database: the same
// results and errors as the synchronous ones, answered once the write is committed, and
// validation failures answered on the caller's thread before the call returns.
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <thread>

#include "common/ids.hpp"
#include "tracking/store/sql/sql_tracking_store.hpp"
#include "tracking/store/sqlite/sqlite_connection.hpp"
#include "tracking/tracking_service.hpp"

namespace mltf::tracking {
namespace {

using store::sql::Database;
using store::sql::SqlTrackingStore;
/// Not `Run`: inside a test, that names testing::Test::Run.
using RunEntity = tracking::Run;

/// A callback that hands its result to a future, and the future.
template <typename T>
std::pair<Callback<T>, std::future<Result<T>>> Capture() {
  auto promise = std::make_shared<std::promise<Result<T>>>();
  auto future = promise->get_future();
  return {[promise](Result<T> outcome) { promise->set_value(std::move(outcome)); },
          std::move(future)};
}

class AsyncWritesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("mltf-async-test-" + NewRunId());
    std::filesystem::create_directories(dir_);
    std::string path = (dir_ / "mltf.db").string();
    auto factory = [path](bool read_only) -> Result<std::unique_ptr<store::sql::SqlConnection>> {
      MLTF_ASSIGN_OR_RETURN(connection, store::sqlite::SqliteConnection::Open(
                                            {path, read_only, store::sqlite::Synchronous::FULL}));
      return std::unique_ptr<store::sql::SqlConnection>(std::move(connection));
    };
    auto database = Database::Open(factory, {});
    ASSERT_TRUE(database) << database.error().message;
    auto opened = SqlTrackingStore::Open(std::move(*database), "mlflow-artifacts:/");
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
    service_ = std::make_unique<TrackingService>(*store_);
  }
  void TearDown() override {
    store_->Close();
    std::filesystem::remove_all(dir_);
  }

  RunEntity CreateRun() {
    auto [done, created] = Capture<RunEntity>();
    service_->CreateRunAsync({"0", "alice", "", 5, {{"team", "core"}}}, std::move(done));
    auto run = created.get();
    EXPECT_TRUE(run) << run.error().message;
    return *run;
  }

  std::filesystem::path dir_;
  std::unique_ptr<SqlTrackingStore> store_;
  std::unique_ptr<TrackingService> service_;
};

TEST_F(AsyncWritesTest, SqlStoreQueuesWithoutBlocking) {
  EXPECT_TRUE(store_->AsyncWritesNeverBlock());
  EXPECT_TRUE(service_->AsyncWritesNeverBlock());
}

TEST_F(AsyncWritesTest, CreateRunAnswersTheFullRunAsStored) {
  RunEntity created = CreateRun();
  EXPECT_EQ(created.info.experiment_id, "0");
  EXPECT_EQ(created.info.user_id, "alice");
  EXPECT_EQ(created.info.status, RunStatus::RUNNING);
  EXPECT_EQ(created.info.start_time, 5);
  EXPECT_FALSE(created.info.run_name.empty());
  auto stored = store_->GetRun(created.info.run_id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->info.run_name, created.info.run_name);
  EXPECT_EQ(stored->info.artifact_uri, created.info.artifact_uri);
  EXPECT_EQ(stored->data.tags, created.data.tags);
  EXPECT_EQ(created.data.tags,
            (std::vector<Tag>{{"mlflow.runName", created.info.run_name}, {"team", "core"}}));
}

TEST_F(AsyncWritesTest, LoggedDataIsReadableOnceAnswered) {
  RunEntity run = CreateRun();
  const auto& run_id = run.info.run_id;
  auto [metric_done, metric] = Capture<void>();
  service_->LogMetricAsync(run_id, {"loss", 0.5, 10, 1}, std::move(metric_done));
  auto [param_done, param] = Capture<void>();
  service_->LogParamAsync(run_id, {"lr", "0.1"}, std::move(param_done));
  auto [tag_done, tag] = Capture<void>();
  service_->SetTagAsync(run_id, {"stage", "train"}, std::move(tag_done));
  auto [batch_done, batch] = Capture<void>();
  service_->LogBatchAsync(run_id, {{"acc", 0.9, 11, 2}}, {{"depth", "3"}}, {},
                          std::move(batch_done));
  EXPECT_TRUE(metric.get());
  EXPECT_TRUE(param.get());
  EXPECT_TRUE(tag.get());
  EXPECT_TRUE(batch.get());
  auto stored = store_->GetRun(run_id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->data.metrics.size(), 2U);
  EXPECT_EQ(stored->data.params, (std::vector<Param>{{"depth", "3"}, {"lr", "0.1"}}));
  auto [update_done, updated] = Capture<RunInfo>();
  service_->UpdateRunAsync(run_id, {RunStatus::FINISHED, 99, "done"}, std::move(update_done));
  auto info = updated.get();
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->status, RunStatus::FINISHED);
  EXPECT_EQ(info->end_time, 99);
  EXPECT_EQ(info->run_name, "done");
}

TEST_F(AsyncWritesTest, StoreErrorsArriveThroughTheCallback) {
  auto [unknown_done, unknown] = Capture<void>();
  service_->LogMetricAsync("nope", {"loss", 1, 1, 1}, std::move(unknown_done));
  EXPECT_EQ(unknown.get().error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST);

  RunEntity run = CreateRun();
  ASSERT_TRUE(service_->LogParam(run.info.run_id, {"lr", "0.1"}));
  auto [changed_done, changed] = Capture<void>();
  service_->LogParamAsync(run.info.run_id, {"lr", "0.2"}, std::move(changed_done));
  EXPECT_EQ(changed.get().error().code, ErrorCode::INVALID_PARAMETER_VALUE);

  ASSERT_TRUE(service_->DeleteRun(run.info.run_id));
  auto [deleted_done, deleted] = Capture<void>();
  service_->SetTagAsync(run.info.run_id, {"k", "v"}, std::move(deleted_done));
  EXPECT_EQ(deleted.get().error().code, ErrorCode::INVALID_PARAMETER_VALUE);
}

TEST_F(AsyncWritesTest, InvalidRequestsAreAnsweredBeforeTheCallReturns) {
  std::optional<Result<void>> invalid_metric;
  service_->LogMetricAsync("any", {"", 1, 1, 1},
                           [&](Result<void> outcome) { invalid_metric = std::move(outcome); });
  ASSERT_TRUE(invalid_metric);
  EXPECT_EQ(invalid_metric->error().code, ErrorCode::INVALID_PARAMETER_VALUE);

  std::optional<Result<RunEntity>> bad_experiment;
  service_->CreateRunAsync({"not-a-number", "u", "", std::nullopt, {}},
                           [&](Result<RunEntity> outcome) { bad_experiment = std::move(outcome); });
  ASSERT_TRUE(bad_experiment);
  EXPECT_EQ(bad_experiment->error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
}

TEST_F(AsyncWritesTest, SynchronousVariantsWaitForTheAsynchronousOnes) {
  RunEntity run = CreateRun();
  std::vector<std::jthread> writers;
  writers.reserve(4);
  for (int writer_idx = 0; writer_idx < 4; ++writer_idx) {
    writers.emplace_back([&, writer_idx] {
      for (int step = 0; step < 25; ++step) {
        EXPECT_TRUE(service_->LogMetric(run.info.run_id,
                                        {"m" + std::to_string(writer_idx), 1.0, step, step}));
      }
    });
  }
  writers.clear();
  auto history = service_->GetMetricHistory(run.info.run_id, "m3", std::nullopt, "");
  ASSERT_TRUE(history) << history.error().message;
  EXPECT_EQ(history->points.size(), 25U);
}

}  // namespace
}  // namespace mltf::tracking
