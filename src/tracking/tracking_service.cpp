// tracking_service.cpp - validation and defaults, then one store call per operation.
#include "tracking/tracking_service.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include "common/ids.hpp"
#include "tracking/search/page_token.hpp"
#include "tracking/validation.hpp"

namespace mltf::tracking {
namespace {

Result<std::int64_t> OffsetOf(const std::string& page_token) {
  if (page_token.empty()) return std::int64_t{0};
  return search::DecodePageToken(page_token);
}

std::optional<std::string> NextToken(std::int64_t offset, std::size_t returned,
                                     std::int64_t max_results) {
  // MLflow hands out a token whenever a page is full, even if nothing follows.
  if (static_cast<std::int64_t>(returned) < max_results) return std::nullopt;
  return search::EncodePageToken(offset + max_results);
}

/// The run a create request asks for, with MLflow's defaults (experiment 0, a random name, the
/// mlflow.runName tag, now as start time). Fails on an invalid tag or conflicting names.
Result<store::NewRun> NewRunOf(CreateRunRequest request) {
  if (request.experiment_id.empty()) request.experiment_id = "0";
  for (const auto& tag : request.tags) MLTF_TRY(ValidateTag(tag));
  std::optional<std::string> tag_name;
  for (const auto& tag : request.tags) {
    if (tag.key == kRunNameTag) tag_name = tag.value;
  }
  if (!request.run_name.empty() && tag_name && *tag_name != request.run_name) {
    return Fail(Error::InvalidParameter(fmt::format(
        "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different "
        "values (run_name='{}', mlflow.runName='{}').",
        request.run_name, *tag_name)));
  }
  std::string run_name = !request.run_name.empty() ? request.run_name
                         : tag_name                ? *tag_name
                                                   : RandomRunName();
  if (!tag_name) request.tags.push_back({std::string(kRunNameTag), run_name});
  store::NewRun run{NewRunId(),
                    request.experiment_id,
                    request.user_id,
                    run_name,
                    request.start_time ? request.start_time : std::optional(NowMillis()),
                    std::move(request.tags)};
  return run;
}

}  // namespace

Result<std::string> TrackingService::CreateExperiment(
    const std::string& name, const std::optional<std::string>& artifact_location,
    const std::vector<Tag>& tags) {
  if (name.empty()) {
    return Fail(Error::InvalidParameter(
        "Missing value for required parameter 'name'. See the API docs for more information "
        "about request parameters."));
  }
  if (artifact_location && artifact_location->starts_with("runs:")) {
    return Fail(Error::InvalidParameter(
        fmt::format("Artifact location cannot be a runs:/ URI. Given: '{}'", *artifact_location)));
  }
  for (const auto& tag : tags) MLTF_TRY(ValidateExperimentTag(tag));
  return store_.CreateExperiment({name, artifact_location, tags, NowMillis()});
}

Result<Experiment> TrackingService::GetExperiment(const std::string& experiment_id) {
  return store_.GetExperiment(experiment_id);
}

Result<Experiment> TrackingService::GetExperimentByName(const std::string& name) {
  return store_.GetExperimentByName(name);
}

Result<void> TrackingService::DeleteExperiment(const std::string& experiment_id) {
  return store_.DeleteExperiment(experiment_id, NowMillis());
}

Result<void> TrackingService::RestoreExperiment(const std::string& experiment_id) {
  return store_.RestoreExperiment(experiment_id, NowMillis());
}

Result<void> TrackingService::RenameExperiment(const std::string& experiment_id,
                                               const std::string& new_name) {
  if (new_name.empty()) {
    return Fail(Error::InvalidParameter(
        "Missing value for required parameter 'new_name'. See the API docs for more "
        "information about request parameters."));
  }
  return store_.RenameExperiment(experiment_id, new_name, NowMillis());
}

Result<void> TrackingService::SetExperimentTag(const std::string& experiment_id, const Tag& tag) {
  MLTF_TRY(ValidateExperimentTag(tag));
  return store_.SetExperimentTag(experiment_id, tag);
}

Result<ExperimentPage> TrackingService::SearchExperiments(const SearchExperimentsRequest& request) {
  MLTF_TRY(ValidateMaxResults(request.max_results));
  MLTF_ASSIGN_OR_RETURN(offset, OffsetOf(request.page_token));
  MLTF_ASSIGN_OR_RETURN(
      experiments, store_.SearchExperiments({request.view_type, request.filter, request.order_by,
                                             request.max_results, offset, request.restriction}));
  ExperimentPage page;
  page.next_page_token = NextToken(offset, experiments.size(), request.max_results);
  page.experiments = std::move(experiments);
  return page;
}

Result<Run> TrackingService::CreateRun(CreateRunRequest request) {
  return AwaitCallback<Run>(
      [&](Callback<Run> done) { CreateRunAsync(std::move(request), std::move(done)); });
}

void TrackingService::CreateRunAsync(CreateRunRequest request, Callback<Run> done) {
  auto run = NewRunOf(std::move(request));
  if (!run) return done(Fail(std::move(run).error()));
  store_.CreateRunAsync(std::move(*run), std::move(done));
}

Result<Run> TrackingService::GetRun(const std::string& run_id) { return store_.GetRun(run_id); }

Result<RunInfo> TrackingService::UpdateRun(const std::string& run_id,
                                           const store::RunUpdate& update) {
  return AwaitCallback<RunInfo>(
      [&](Callback<RunInfo> done) { UpdateRunAsync(run_id, update, std::move(done)); });
}

void TrackingService::UpdateRunAsync(std::string run_id, store::RunUpdate update,
                                     Callback<RunInfo> done) {
  store_.UpdateRunAsync(std::move(run_id), std::move(update), std::move(done));
}

Result<void> TrackingService::DeleteRun(const std::string& run_id) {
  return store_.DeleteRun(run_id, NowMillis());
}

Result<void> TrackingService::RestoreRun(const std::string& run_id) {
  return store_.RestoreRun(run_id);
}

Result<void> TrackingService::LogMetric(const std::string& run_id, const Metric& metric) {
  return AwaitCallback<void>(
      [&](Callback<void> done) { LogMetricAsync(run_id, metric, std::move(done)); });
}

void TrackingService::LogMetricAsync(std::string run_id, Metric metric, Callback<void> done) {
  if (auto valid = ValidateMetric(metric); !valid) return done(std::move(valid));
  std::vector<Metric> metrics;
  metrics.push_back(std::move(metric));
  store_.LogBatchAsync(std::move(run_id), std::move(metrics), {}, {}, std::move(done));
}

Result<void> TrackingService::LogParam(const std::string& run_id, const Param& param) {
  return AwaitCallback<void>(
      [&](Callback<void> done) { LogParamAsync(run_id, param, std::move(done)); });
}

void TrackingService::LogParamAsync(std::string run_id, Param param, Callback<void> done) {
  if (auto valid = ValidateParam(param); !valid) return done(std::move(valid));
  std::vector<Param> params;
  params.push_back(std::move(param));
  store_.LogBatchAsync(std::move(run_id), {}, std::move(params), {}, std::move(done));
}

Result<void> TrackingService::SetTag(const std::string& run_id, const Tag& tag) {
  return AwaitCallback<void>(
      [&](Callback<void> done) { SetTagAsync(run_id, tag, std::move(done)); });
}

void TrackingService::SetTagAsync(std::string run_id, Tag tag, Callback<void> done) {
  if (auto valid = ValidateTag(tag); !valid) return done(std::move(valid));
  std::vector<Tag> tags;
  tags.push_back(std::move(tag));
  store_.LogBatchAsync(std::move(run_id), {}, {}, std::move(tags), std::move(done));
}

Result<void> TrackingService::DeleteTag(const std::string& run_id, const std::string& key) {
  return store_.DeleteTag(run_id, key);
}

Result<void> TrackingService::LogBatch(const std::string& run_id,
                                       const std::vector<Metric>& metrics,
                                       const std::vector<Param>& params,
                                       const std::vector<Tag>& tags) {
  return AwaitCallback<void>(
      [&](Callback<void> done) { LogBatchAsync(run_id, metrics, params, tags, std::move(done)); });
}

void TrackingService::LogBatchAsync(std::string run_id, std::vector<Metric> metrics,
                                    std::vector<Param> params, std::vector<Tag> tags,
                                    Callback<void> done) {
  if (auto valid = ValidateBatch(metrics, params, tags); !valid) return done(std::move(valid));
  store_.LogBatchAsync(std::move(run_id), std::move(metrics), std::move(params), std::move(tags),
                       std::move(done));
}

Result<void> TrackingService::LogModel(const std::string& run_id, const std::string& model_json) {
  simdjson::dom::parser parser;
  simdjson::dom::object model;
  if (parser.parse(model_json).get_object().get(model) != simdjson::SUCCESS) {
    return Fail(
        Error::InvalidParameter("Malformed model info. `model_json` must be a JSON object."));
  }
  std::vector<std::string_view> missing;
  for (std::string_view field : {"artifact_path", "flavors", "utc_time_created", "run_id"}) {
    simdjson::dom::element ignored;
    if (model.at_key(field).get(ignored) != simdjson::SUCCESS) missing.push_back(field);
  }
  if (!missing.empty()) {
    return Fail(Error::InvalidParameter(fmt::format(
        "Model json is missing mandatory fields: {{'{}'}}", fmt::join(missing, "', '"))));
  }
  return store_.RecordLoggedModel(run_id, model_json);
}

Result<void> TrackingService::LogInputs(const std::string& run_id,
                                        const std::vector<DatasetInput>& inputs) {
  for (const auto& input : inputs) {
    const Dataset& dataset = input.dataset;
    if (dataset.name.empty() || dataset.digest.empty() || dataset.source_type.empty() ||
        dataset.source.empty()) {
      return Fail(
          Error::InvalidParameter("A dataset needs a name, a digest, a source_type and a source."));
    }
    if (dataset.name.size() > 500 || dataset.digest.size() > 36 || dataset.source.size() > 65535 ||
        (dataset.schema && dataset.schema->size() > 65535) ||
        (dataset.profile && dataset.profile->size() > 16777215)) {
      return Fail(Error::InvalidParameter(
          "A dataset field exceeds its limit (name 500, digest 36, source and schema 65535, "
          "profile 16777215 characters)."));
    }
    for (const auto& tag : input.tags) {
      if (tag.key.empty() || tag.key.size() > 255 || tag.value.size() > 500) {
        return Fail(Error::InvalidParameter(
            "An input tag needs a key of at most 255 characters and a value of at most 500."));
      }
    }
  }
  return store_.LogInputs(run_id, inputs);
}

Result<MetricHistory> TrackingService::GetMetricHistory(const std::string& run_id,
                                                        const std::string& metric_key,
                                                        std::optional<std::int64_t> max_results,
                                                        const std::string& page_token) {
  if (max_results) MLTF_TRY(ValidateMaxResults(*max_results, 1'000'000'000));
  MLTF_ASSIGN_OR_RETURN(offset, OffsetOf(page_token));
  MLTF_ASSIGN_OR_RETURN(page, store_.GetMetricHistory({run_id, metric_key, max_results, offset}));
  MetricHistory history{metric_key, std::move(page.points), std::nullopt};
  if (page.more && max_results) {
    history.next_page_token = search::EncodePageToken(offset + *max_results);
  }
  return history;
}

Result<RunPage> TrackingService::SearchRuns(const SearchRunsRequest& request) {
  MLTF_TRY(ValidateMaxResults(request.max_results));
  MLTF_ASSIGN_OR_RETURN(offset, OffsetOf(request.page_token));
  MLTF_ASSIGN_OR_RETURN(runs,
                        store_.SearchRuns({request.experiment_ids, request.filter, request.order_by,
                                           request.view_type, request.max_results, offset}));
  RunPage page;
  page.next_page_token = NextToken(offset, runs.size(), request.max_results);
  page.runs = std::move(runs);
  return page;
}

Result<std::vector<DatasetSummary>> TrackingService::SearchDatasets(
    const std::vector<std::string>& experiment_ids) {
  if (experiment_ids.size() > 20) {
    return Fail(Error::InvalidParameter(
        "experiment_ids must contain at most 20 experiment ids to search datasets."));
  }
  return store_.SearchDatasets(experiment_ids);
}

}  // namespace mltf::tracking
