// sql_tracking_store_test.cpp - the store contract: what every TrackingStore must do, run against
// the SQL store on a real SQLite file.
#include "tracking/store/sql/sql_tracking_store.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <thread>

#include "common/ids.hpp"
#include "tracking/store/sqlite/sqlite_connection.hpp"

namespace mltf::tracking::store {
namespace {

using sql::Database;
using sql::SqlTrackingStore;

class SqlTrackingStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("mltf-store-test-" + NewRunId());
    std::filesystem::create_directories(dir_);
    Open();
  }
  void TearDown() override {
    store_->Close();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Open() {
    std::string path = (dir_ / "mltf.db").string();
    auto factory = [path](bool read_only) -> Result<std::unique_ptr<sql::SqlConnection>> {
      MLTF_ASSIGN_OR_RETURN(connection, sqlite::SqliteConnection::Open(
                                            {path, read_only, sqlite::Synchronous::NORMAL}));
      return std::unique_ptr<sql::SqlConnection>(std::move(connection));
    };
    auto database = Database::Open(factory, {});
    ASSERT_TRUE(database) << database.error().message;
    auto store = SqlTrackingStore::Open(std::move(*database), "mlflow-artifacts:/");
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
  }
  void Reopen() {
    store_->Close();
    store_.reset();
    Open();
  }

  std::string NewExperimentId(const std::string& name) {
    auto id = store_->CreateExperiment({name, std::nullopt, {{"team", "core"}}, 1000});
    EXPECT_TRUE(id) << id.error().message;
    return *id;
  }
  tracking::Run NewRunIn(const std::string& experiment_id, std::int64_t start_time = 10) {
    auto run = store_->CreateRun(
        {NewRunId(), experiment_id, "alice", "r", start_time, {{"mlflow.runName", "r"}}});
    EXPECT_TRUE(run) << run.error().message;
    return *run;
  }

  std::filesystem::path dir_;
  std::unique_ptr<SqlTrackingStore> store_;
};

TEST_F(SqlTrackingStoreTest, DefaultExperimentExistsOnce) {
  auto experiment = store_->GetExperiment("0");
  ASSERT_TRUE(experiment);
  EXPECT_EQ(experiment->name, "Default");
  EXPECT_EQ(experiment->artifact_location, "mlflow-artifacts:/0");
  Reopen();
  EXPECT_EQ(store_->GetExperimentByName("Default")->experiment_id, "0");
}

TEST_F(SqlTrackingStoreTest, ExperimentNamesStayReservedWhenDeleted) {
  auto id = NewExperimentId("exp");
  EXPECT_EQ(id, "1");
  auto experiment = store_->GetExperiment(id);
  EXPECT_EQ(experiment->artifact_location, "mlflow-artifacts:/1");
  EXPECT_EQ(experiment->tags, (std::vector<Tag>{{"team", "core"}}));
  ASSERT_TRUE(store_->DeleteExperiment(id, 2000));
  auto again = store_->CreateExperiment({"exp", std::nullopt, {}, 3000});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::RESOURCE_ALREADY_EXISTS);
  EXPECT_EQ(store_->GetExperiment(id)->lifecycle_stage, LifecycleStage::DELETED);
}

TEST_F(SqlTrackingStoreTest, UnknownIdsAreNotFound) {
  EXPECT_EQ(store_->GetExperiment("42").error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
  EXPECT_EQ(store_->GetExperiment("abc").error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
  EXPECT_EQ(store_->GetRun("nope").error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
  EXPECT_EQ(store_->LogBatch("nope", {}, {{"p", "v"}}, {}).error().code,
            ErrorCode::RESOURCE_DOES_NOT_EXIST);
}

TEST_F(SqlTrackingStoreTest, DeletingAnExperimentCascadesAndRestoreRevivesOnlyThoseRuns) {
  auto id = NewExperimentId("cascade");
  tracking::Run kept = NewRunIn(id);
  tracking::Run deleted_before = NewRunIn(id);
  ASSERT_TRUE(store_->DeleteRun(deleted_before.info.run_id, 1500));
  ASSERT_TRUE(store_->DeleteExperiment(id, 2000));
  EXPECT_EQ(store_->GetRun(kept.info.run_id)->info.lifecycle_stage, LifecycleStage::DELETED);
  EXPECT_FALSE(store_->CreateRun({NewRunId(), id, "u", "x", 1, {}}));
  ASSERT_TRUE(store_->RestoreExperiment(id, 3000));
  EXPECT_EQ(store_->GetRun(kept.info.run_id)->info.lifecycle_stage, LifecycleStage::ACTIVE);
  EXPECT_EQ(store_->GetRun(deleted_before.info.run_id)->info.lifecycle_stage,
            LifecycleStage::DELETED);
}

TEST_F(SqlTrackingStoreTest, RunCarriesItsArtifactUriAndNameTag) {
  auto id = NewExperimentId("runs");
  tracking::Run run = NewRunIn(id, 123);
  EXPECT_EQ(run.info.artifact_uri,
            "mlflow-artifacts:/" + id + "/" + run.info.run_id + "/artifacts");
  EXPECT_EQ(run.info.start_time, 123);
  EXPECT_EQ(run.info.status, RunStatus::RUNNING);
  ASSERT_TRUE(store_->LogBatch(run.info.run_id, {}, {}, {{"mlflow.runName", "renamed"}}));
  EXPECT_EQ(store_->GetRun(run.info.run_id)->info.run_name, "renamed");
  auto info = store_->UpdateRun(run.info.run_id, {RunStatus::FINISHED, 456, "final"});
  ASSERT_TRUE(info);
  EXPECT_EQ(info->status, RunStatus::FINISHED);
  EXPECT_EQ(info->end_time, 456);
  auto tags = store_->GetRun(run.info.run_id)->data.tags;
  EXPECT_NE(std::find(tags.begin(), tags.end(), Tag{"mlflow.runName", "final"}), tags.end());
}

TEST_F(SqlTrackingStoreTest, ParamsNeverChangeAndAFailedBatchChangesNothing) {
  tracking::Run run = NewRunIn(NewExperimentId("params"));
  const auto& run_id = run.info.run_id;
  ASSERT_TRUE(store_->LogBatch(run_id, {}, {{"lr", "0.1"}}, {}));
  ASSERT_TRUE(store_->LogBatch(run_id, {}, {{"lr", "0.1"}}, {}));  // same value: fine
  auto changed = store_->LogBatch(run_id, {{"m", 1.0, 1, 1}}, {{"lr", "0.2"}}, {{"t", "v"}});
  ASSERT_FALSE(changed);
  EXPECT_EQ(changed.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  auto stored = store_->GetRun(run_id);
  EXPECT_EQ(stored->data.params, (std::vector<Param>{{"lr", "0.1"}}));
  EXPECT_TRUE(stored->data.metrics.empty());
  EXPECT_EQ(stored->data.tags.size(), 1u);  // only mlflow.runName
}

TEST_F(SqlTrackingStoreTest, LatestMetricIsMaxStepThenTimestampAndNonFiniteValuesRoundTrip) {
  tracking::Run run = NewRunIn(NewExperimentId("metrics"));
  const auto& run_id = run.info.run_id;
  double nan = std::numeric_limits<double>::quiet_NaN();
  double inf = std::numeric_limits<double>::infinity();
  ASSERT_TRUE(store_->LogBatch(run_id,
                               {{"m", 5.0, 100, 2},
                                {"m", 7.0, 50, 3},
                                {"m", 1.0, 10, 1},
                                {"m", 8.0, 60, 3},
                                {"nan", nan, 1, 0},
                                {"inf", inf, 1, 0},
                                {"ninf", -inf, 1, 0}},
                               {}, {}));
  ASSERT_TRUE(store_->LogBatch(run_id, {{"m", 0.5, 20, 2}}, {}, {}));  // older step: not latest
  auto metrics = store_->GetRun(run_id)->data.metrics;
  auto find = [&](std::string_view key) {
    return *std::find_if(metrics.begin(), metrics.end(),
                         [&](const Metric& metric) { return metric.key == key; });
  };
  EXPECT_EQ(find("m").value, 8.0);
  EXPECT_EQ(find("m").step, 3);
  EXPECT_TRUE(std::isnan(find("nan").value));
  EXPECT_EQ(find("inf").value, std::numeric_limits<double>::max());
  EXPECT_EQ(find("ninf").value, std::numeric_limits<double>::lowest());
}

TEST_F(SqlTrackingStoreTest, HistoryKeepsEveryPointInStepOrderAndPages) {
  tracking::Run run = NewRunIn(NewExperimentId("history"));
  const auto& run_id = run.info.run_id;
  std::vector<Metric> points;
  for (std::int64_t step = 9; step >= 0; --step)
    points.push_back({"loss", 1.0 / (step + 1), step, step});
  points.push_back({"loss", 3.0, 100, 4});  // a second value at step 4
  points.push_back({"loss", 3.0, 100, 4});  // an exact repeat: stored once
  ASSERT_TRUE(store_->LogBatch(run_id, points, {}, {}));
  auto all = store_->GetMetricHistory({run_id, "loss", std::nullopt, 0});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->points.size(), 11u);
  EXPECT_FALSE(all->more);
  for (std::size_t idx = 1; idx < all->points.size(); ++idx) {
    EXPECT_LE(all->points[idx - 1].step, all->points[idx].step);
  }
  auto first = store_->GetMetricHistory({run_id, "loss", 4, 0});
  EXPECT_EQ(first->points.size(), 4u);
  EXPECT_TRUE(first->more);
  auto last = store_->GetMetricHistory({run_id, "loss", 4, 8});
  EXPECT_EQ(last->points.size(), 3u);
  EXPECT_FALSE(last->more);
}

TEST_F(SqlTrackingStoreTest, DeletedRunsTakeNoData) {
  tracking::Run run = NewRunIn(NewExperimentId("deleted"));
  ASSERT_TRUE(store_->DeleteRun(run.info.run_id, 5));
  auto logged = store_->LogBatch(run.info.run_id, {{"m", 1, 1, 1}}, {}, {});
  ASSERT_FALSE(logged);
  EXPECT_EQ(logged.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  ASSERT_TRUE(store_->RestoreRun(run.info.run_id));
  EXPECT_TRUE(store_->LogBatch(run.info.run_id, {{"m", 1, 1, 1}}, {}, {}));
}

TEST_F(SqlTrackingStoreTest, DeleteTagOfAMissingKeyIsNotFound) {
  tracking::Run run = NewRunIn(NewExperimentId("tags"));
  ASSERT_TRUE(store_->LogBatch(run.info.run_id, {}, {}, {{"t", "v"}}));
  EXPECT_TRUE(store_->DeleteTag(run.info.run_id, "t"));
  EXPECT_EQ(store_->DeleteTag(run.info.run_id, "t").error().code,
            ErrorCode::RESOURCE_DOES_NOT_EXIST);
}

TEST_F(SqlTrackingStoreTest, InputsAreLinkedOnceWithTheirTags) {
  auto id = NewExperimentId("inputs");
  tracking::Run run = NewRunIn(id);
  DatasetInput input{{{"mlflow.data.context", "training"}},
                     {"iris", "abc123", "local", "{\"uri\": \"x\"}", std::nullopt, "{}"}};
  ASSERT_TRUE(store_->LogInputs(run.info.run_id, {input}));
  ASSERT_TRUE(store_->LogInputs(run.info.run_id, {input}));
  auto stored = store_->GetRun(run.info.run_id);
  ASSERT_EQ(stored->inputs.size(), 1u);
  EXPECT_EQ(stored->inputs[0].dataset.name, "iris");
  EXPECT_FALSE(stored->inputs[0].dataset.schema.has_value());
  EXPECT_EQ(stored->inputs[0].tags, input.tags);
  auto summaries = store_->SearchDatasets({id});
  ASSERT_EQ(summaries->size(), 1u);
  EXPECT_EQ((*summaries)[0].context, "training");
}

TEST_F(SqlTrackingStoreTest, ConcurrentWritesAreAllDurableAfterReopen) {
  tracking::Run run = NewRunIn(NewExperimentId("concurrent"));
  constexpr int kThreads = 8;
  constexpr int kPointsPerThread = 200;
  {
    std::vector<std::jthread> writers;
    for (int thread_idx = 0; thread_idx < kThreads; ++thread_idx) {
      writers.emplace_back([&, thread_idx] {
        for (int point = 0; point < kPointsPerThread; ++point) {
          auto logged = store_->LogBatch(
              run.info.run_id, {{"t" + std::to_string(thread_idx), 1.0, point, point}}, {}, {});
          EXPECT_TRUE(logged) << logged.error().message;
        }
      });
    }
  }
  Reopen();
  for (int thread_idx = 0; thread_idx < kThreads; ++thread_idx) {
    auto history =
        store_->GetMetricHistory({run.info.run_id, "t" + std::to_string(thread_idx), {}, 0});
    EXPECT_EQ(history->points.size(), static_cast<std::size_t>(kPointsPerThread));
  }
}

TEST_F(SqlTrackingStoreTest, SearchRunsFiltersOrdersAndRejectsBadFilters) {
  auto id = NewExperimentId("search");
  tracking::Run low = NewRunIn(id, 1);
  tracking::Run high = NewRunIn(id, 2);
  tracking::Run none = NewRunIn(id, 3);
  ASSERT_TRUE(store_->LogBatch(low.info.run_id, {{"acc", 0.2, 1, 0}}, {{"opt", "sgd"}}, {}));
  ASSERT_TRUE(store_->LogBatch(high.info.run_id, {{"acc", 0.9, 1, 0}}, {{"opt", "adam"}}, {}));
  auto ordered = store_->SearchRuns({{id}, "", {"metrics.acc DESC"}, ViewType::ACTIVE_ONLY, 10, 0});
  ASSERT_TRUE(ordered) << ordered.error().message;
  ASSERT_EQ(ordered->size(), 3u);
  EXPECT_EQ((*ordered)[0].info.run_id, high.info.run_id);
  EXPECT_EQ((*ordered)[1].info.run_id, low.info.run_id);
  EXPECT_EQ((*ordered)[2].info.run_id, none.info.run_id);  // missing metric sorts last
  auto filtered = store_->SearchRuns(
      {{id}, "metrics.acc > 0.5 and params.opt = 'adam'", {}, ViewType::ALL, 10, 0});
  ASSERT_EQ(filtered->size(), 1u);
  EXPECT_EQ((*filtered)[0].info.run_id, high.info.run_id);
  auto bad = store_->SearchRuns({{id}, "metrics.acc >", {}, ViewType::ALL, 10, 0});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
}

}  // namespace
}  // namespace mltf::tracking::store
