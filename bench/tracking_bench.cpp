// tracking_bench.cpp - micro benchmarks: search parsing and compilation, history JSON, batch
// inserts into the SQL store.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <random>

#include "common/ids.hpp"
#include "common/json_writer.hpp"
#include "tracking/api/json_render.hpp"
#include "tracking/search/filter_parser.hpp"
#include "tracking/search/order_by.hpp"
#include "tracking/store/sql/search_sql.hpp"
#include "tracking/store/sql/sql_tracking_store.hpp"
#include "tracking/store/sqlite/sqlite_connection.hpp"

namespace mltf {
namespace {

using tracking::store::sql::Database;
using tracking::store::sql::SqlTrackingStore;

void BM_ParseAndCompileRunSearch(benchmark::State& state) {
  const std::string filter =
      "metrics.m1 > 0.5 and params.p1 = 'a' and tags.`mlflow.user` LIKE 'al%' and "
      "attributes.status = 'FINISHED'";
  const std::vector<std::string> order_by = {"metrics.m1 DESC", "params.p2"};
  for (auto _ : state) {
    auto parsed = tracking::search::ParseRunFilter(filter);
    auto order = tracking::search::ParseRunOrderByList(order_by);
    auto compiled = tracking::store::sql::CompileRunSearch(*parsed, *order);
    benchmark::DoNotOptimize(compiled);
  }
}
BENCHMARK(BM_ParseAndCompileRunSearch);

void BM_RenderMetricHistory(benchmark::State& state) {
  std::vector<tracking::Metric> history;
  for (std::int64_t step = 0; step < state.range(0); ++step) {
    history.push_back({"hist", 0.5 + static_cast<double>(step) * 1e-6, 1795443944682 + step, step});
  }
  for (auto _ : state) {
    JsonWriter json;
    json.BeginObject();
    json.Key("metrics");
    json.BeginArray();
    for (const auto& metric : history) tracking::api::WriteMetric(json, metric);
    json.EndArray();
    json.EndObject();
    benchmark::DoNotOptimize(json.str().data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_RenderMetricHistory)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond);

/// A store on a fresh SQLite file in a temporary directory, removed afterwards.
class ScratchStore {
 public:
  ScratchStore() {
    dir_ = std::filesystem::temp_directory_path() / ("mltf-bench-" + NewRunId());
    std::filesystem::create_directories(dir_);
    std::string path = (dir_ / "mltf.db").string();
    auto factory =
        [path](bool read_only) -> Result<std::unique_ptr<tracking::store::sql::SqlConnection>> {
      tracking::store::sqlite::SqliteOptions options{path, read_only,
                                                     tracking::store::sqlite::Synchronous::FULL};
      MLTF_ASSIGN_OR_RETURN(connection, tracking::store::sqlite::SqliteConnection::Open(options));
      return std::unique_ptr<tracking::store::sql::SqlConnection>(std::move(connection));
    };
    store_ = std::move(
        *SqlTrackingStore::Open(std::move(*Database::Open(factory, {})), "mlflow-artifacts:/"));
  }
  ~ScratchStore() {
    store_->Close();
    std::filesystem::remove_all(dir_);
  }
  SqlTrackingStore& store() { return *store_; }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<SqlTrackingStore> store_;
};

void BM_LogBatchThousandMetrics(benchmark::State& state) {
  ScratchStore scratch;
  auto run = scratch.store().CreateRun({NewRunId(), "0", "bench", "bench", 0, {}});
  std::int64_t step = 0;
  for (auto _ : state) {
    std::vector<tracking::Metric> metrics;
    metrics.reserve(1000);
    for (int key_idx = 0; key_idx < 10; ++key_idx) {
      for (int point = 0; point < 100; ++point, ++step) {
        metrics.push_back({"m" + std::to_string(key_idx), 0.5, step, step});
      }
    }
    auto logged = scratch.store().LogBatch(run->info.run_id, metrics, {}, {});
    if (!logged) state.SkipWithError(logged.error().message.c_str());
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_LogBatchThousandMetrics)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace mltf
