// entities.hpp - the tracking domain: experiments, runs, metrics, params, tags, datasets.
// Field names follow MLflow's protos (service.proto) so code reads side by side with MLflow.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mltf::tracking {

enum class LifecycleStage { ACTIVE, DELETED };
enum class ViewType { ACTIVE_ONLY, DELETED_ONLY, ALL };
enum class RunStatus { RUNNING, SCHEDULED, FINISHED, FAILED, KILLED };

std::string_view LifecycleStageName(LifecycleStage stage);  ///< "active" | "deleted"
std::optional<LifecycleStage> ParseLifecycleStage(std::string_view text);
std::string_view RunStatusName(RunStatus status);  ///< "RUNNING", ...
std::optional<RunStatus> ParseRunStatus(std::string_view text);
std::optional<ViewType> ParseViewType(std::string_view text);
/// True for FINISHED, FAILED and KILLED.
bool IsTerminal(RunStatus status);

/// A key/value pair: experiment tags, run tags, params and dataset input tags.
struct Tag {
  std::string key;
  std::string value;
  bool operator==(const Tag&) const = default;
};
using Param = Tag;

struct Experiment {
  std::string experiment_id;
  std::string name;
  std::string artifact_location;
  LifecycleStage lifecycle_stage = LifecycleStage::ACTIVE;
  std::int64_t creation_time = 0;
  std::int64_t last_update_time = 0;
  std::vector<Tag> tags;
};

struct Metric {
  std::string key;
  double value = 0;
  std::int64_t timestamp = 0;
  std::int64_t step = 0;
};

struct RunInfo {
  std::string run_id;
  std::string experiment_id;
  std::string run_name;
  std::string user_id;
  RunStatus status = RunStatus::RUNNING;
  std::optional<std::int64_t> start_time;
  std::optional<std::int64_t> end_time;
  std::string artifact_uri;
  LifecycleStage lifecycle_stage = LifecycleStage::ACTIVE;
};

struct RunData {
  std::vector<Metric> metrics;  ///< the latest value of each key
  std::vector<Param> params;
  std::vector<Tag> tags;
};

struct Dataset {
  std::string name;
  std::string digest;
  std::string source_type;
  std::string source;
  std::optional<std::string> schema;
  std::optional<std::string> profile;
};

struct DatasetInput {
  std::vector<Tag> tags;
  Dataset dataset;
};

struct Run {
  RunInfo info;
  RunData data;
  std::vector<DatasetInput> inputs;
};

/// One dataset used in an experiment, as experiments/search-datasets answers.
struct DatasetSummary {
  std::string experiment_id;
  std::string name;
  std::string digest;
  std::optional<std::string> context;
};

// Tags with meaning to MLflow clients.
inline constexpr std::string_view kRunNameTag = "mlflow.runName";
inline constexpr std::string_view kUserTag = "mlflow.user";
inline constexpr std::string_view kLoggedModelsTag = "mlflow.log-model.history";
inline constexpr std::string_view kDatasetContextTag = "mlflow.data.context";

}  // namespace mltf::tracking
