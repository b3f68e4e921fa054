// tracking_service.hpp - the rules of MLflow's tracking API that hold for every store.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/callback.hpp"
#include "common/error.hpp"
#include "tracking/entities/entities.hpp"
#include "tracking/store/tracking_store.hpp"

namespace mltf::tracking {

struct ExperimentPage {
  std::vector<Experiment> experiments;
  std::optional<std::string> next_page_token;
};

struct RunPage {
  std::vector<Run> runs;
  std::optional<std::string> next_page_token;
};

/// A page of one metric's history: the key once, then the points in step order.
struct MetricHistory {
  std::string key;
  std::vector<store::MetricPoint> points;
  std::optional<std::string> next_page_token;
};

struct CreateRunRequest {
  std::string experiment_id;
  std::string user_id;
  std::string run_name;
  std::optional<std::int64_t> start_time;
  std::vector<Tag> tags;
};

struct SearchRunsRequest {
  std::vector<std::string> experiment_ids;
  std::string filter;
  ViewType view_type = ViewType::ACTIVE_ONLY;
  std::int64_t max_results = 1000;
  std::vector<std::string> order_by;
  std::string page_token;
};

struct SearchExperimentsRequest {
  std::int64_t max_results = 1000;
  std::string page_token;
  std::string filter;
  std::vector<std::string> order_by;
  ViewType view_type = ViewType::ACTIVE_ONLY;
  std::optional<store::IdRestriction> restriction;  ///< what the caller may read; none: all
};

/// Validates requests as MLflow does, fills defaults (run names, start times), turns page
/// tokens into offsets and back, and calls the store. Thread-safe.
class TrackingService {
 public:
  explicit TrackingService(store::TrackingStore& store) : store_(store) {}

  Result<std::string> CreateExperiment(const std::string& name,
                                       const std::optional<std::string>& artifact_location,
                                       const std::vector<Tag>& tags);
  Result<Experiment> GetExperiment(const std::string& experiment_id);
  Result<Experiment> GetExperimentByName(const std::string& name);
  Result<void> DeleteExperiment(const std::string& experiment_id);
  Result<void> RestoreExperiment(const std::string& experiment_id);
  Result<void> RenameExperiment(const std::string& experiment_id, const std::string& new_name);
  Result<void> SetExperimentTag(const std::string& experiment_id, const Tag& tag);
  Result<ExperimentPage> SearchExperiments(const SearchExperimentsRequest& request);

  Result<Run> CreateRun(CreateRunRequest request);
  Result<Run> GetRun(const std::string& run_id);
  Result<RunInfo> UpdateRun(const std::string& run_id, const store::RunUpdate& update);
  Result<void> DeleteRun(const std::string& run_id);
  Result<void> RestoreRun(const std::string& run_id);
  Result<void> LogMetric(const std::string& run_id, const Metric& metric);
  Result<void> LogParam(const std::string& run_id, const Param& param);
  Result<void> SetTag(const std::string& run_id, const Tag& tag);
  Result<void> DeleteTag(const std::string& run_id, const std::string& key);
  Result<void> LogBatch(const std::string& run_id, const std::vector<Metric>& metrics,
                        const std::vector<Param>& params, const std::vector<Tag>& tags);
  /// Records a logged model by appending `model_json` to the run's mlflow.log-model.history tag.
  Result<void> LogModel(const std::string& run_id, const std::string& model_json);
  Result<void> LogInputs(const std::string& run_id, const std::vector<DatasetInput>& inputs);
  Result<MetricHistory> GetMetricHistory(const std::string& run_id, const std::string& metric_key,
                                         std::optional<std::int64_t> max_results,
                                         const std::string& page_token);
  Result<RunPage> SearchRuns(const SearchRunsRequest& request);
  Result<std::vector<DatasetSummary>> SearchDatasets(
      const std::vector<std::string>& experiment_ids);

  // Asynchronous variants of the hot writes: the same rules and failures, answered through
  // `done` (exactly once): on the calling thread before returning when validation fails,
  // otherwise when the store has made the write durable, possibly on another thread. The
  // synchronous variants above wait for these.

  void CreateRunAsync(CreateRunRequest request, Callback<Run> done);
  void UpdateRunAsync(std::string run_id, store::RunUpdate update, Callback<RunInfo> done);
  void LogMetricAsync(std::string run_id, Metric metric, Callback<void> done);
  void LogParamAsync(std::string run_id, Param param, Callback<void> done);
  void SetTagAsync(std::string run_id, Tag tag, Callback<void> done);
  void LogBatchAsync(std::string run_id, std::vector<Metric> metrics, std::vector<Param> params,
                     std::vector<Tag> tags, Callback<void> done);
  /// True when the *Async methods never block the calling thread, so an HTTP I/O thread may
  /// call them (see TrackingStore::AsyncWritesNeverBlock).
  [[nodiscard]] bool AsyncWritesNeverBlock() const { return store_.AsyncWritesNeverBlock(); }

 private:
  store::TrackingStore& store_;
};

}  // namespace mltf::tracking
