// sql_tracking_store.hpp - the one SQL implementation of TrackingStore (SQLite now, PostgreSQL
// through the same code and another connection adapter).
#pragma once

#include <memory>
#include <string>

#include "tracking/store/sql/database.hpp"
#include "tracking/store/tracking_store.hpp"

namespace mltf::tracking::store::sql {

/// TrackingStore over a Database. Writes go through the group-commit writer; reads run on
/// pooled connections. Thread-safe.
class SqlTrackingStore final : public TrackingStore {
 public:
  /// Takes over `database` and makes sure the Default experiment (id 0) exists, its artifacts
  /// under `<default_artifact_root>/0`.
  static Result<std::unique_ptr<SqlTrackingStore>> Open(std::unique_ptr<Database> database,
                                                        std::string default_artifact_root);

  Result<std::string> CreateExperiment(const NewExperiment& experiment) override;
  Result<Experiment> GetExperiment(std::string_view experiment_id) override;
  Result<Experiment> GetExperimentByName(std::string_view name) override;
  Result<void> DeleteExperiment(std::string_view experiment_id, std::int64_t now) override;
  Result<void> RestoreExperiment(std::string_view experiment_id, std::int64_t now) override;
  Result<void> RenameExperiment(std::string_view experiment_id, std::string_view new_name,
                                std::int64_t now) override;
  Result<void> SetExperimentTag(std::string_view experiment_id, const Tag& tag) override;
  Result<std::vector<Experiment>> SearchExperiments(const ExperimentQuery& query) override;

  Result<Run> CreateRun(const NewRun& run) override;
  Result<Run> GetRun(std::string_view run_id) override;
  Result<RunInfo> UpdateRun(std::string_view run_id, const RunUpdate& update) override;
  Result<void> DeleteRun(std::string_view run_id, std::int64_t now) override;
  Result<void> RestoreRun(std::string_view run_id) override;
  Result<void> LogBatch(std::string_view run_id, const std::vector<Metric>& metrics,
                        const std::vector<Param>& params, const std::vector<Tag>& tags) override;
  Result<void> DeleteTag(std::string_view run_id, std::string_view key) override;
  Result<void> RecordLoggedModel(std::string_view run_id, std::string_view model_json) override;
  Result<void> LogInputs(std::string_view run_id, const std::vector<DatasetInput>& inputs) override;
  Result<MetricHistoryPage> GetMetricHistory(const MetricHistoryQuery& query) override;
  Result<std::vector<Run>> SearchRuns(const RunQuery& query) override;
  Result<std::vector<DatasetSummary>> SearchDatasets(
      const std::vector<std::string>& experiment_ids) override;

  /// Queue the write on the Database's writer thread and return at once; `done` runs there
  /// after the commit.
  void LogBatchAsync(std::string run_id, std::vector<Metric> metrics, std::vector<Param> params,
                     std::vector<Tag> tags, Callback<void> done) override;
  void CreateRunAsync(NewRun run, Callback<Run> done) override;
  void UpdateRunAsync(std::string run_id, RunUpdate update, Callback<RunInfo> done) override;
  [[nodiscard]] bool AsyncWritesNeverBlock() const override { return true; }

  /// Commits pending writes and closes the database.
  void Close() { database_->Close(); }

 private:
  SqlTrackingStore(std::unique_ptr<Database> database, std::string default_artifact_root)
      : database_(std::move(database)), artifact_root_(std::move(default_artifact_root)) {}

  std::unique_ptr<Database> database_;
  std::string artifact_root_;
};

/// Joins an artifact root and a path segment the way MLflow's append_to_uri_path does.
std::string AppendToUri(std::string_view root, std::string_view segment);

}  // namespace mltf::tracking::store::sql
