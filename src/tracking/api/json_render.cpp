// json_render.cpp - empty lists and unset fields are left out, int64 are numbers.
#include "tracking/api/json_render.hpp"

namespace mltf::tracking::api {
void WriteTags(JsonWriter& json, std::string_view name, const std::vector<Tag>& tags) {
  if (tags.empty()) return;
  json.Key(name);
  json.BeginArray();
  for (const auto& tag : tags) {
    json.BeginObject();
    json.Field("key", tag.key);
    json.Field("value", tag.value);
    json.EndObject();
  }
  json.EndArray();
}

void WriteExperiment(JsonWriter& json, const Experiment& experiment) {
  json.BeginObject();
  json.Field("experiment_id", experiment.experiment_id);
  json.Field("name", experiment.name);
  json.Field("artifact_location", experiment.artifact_location);
  json.Field("lifecycle_stage", LifecycleStageName(experiment.lifecycle_stage));
  json.Field("last_update_time", experiment.last_update_time);
  json.Field("creation_time", experiment.creation_time);
  WriteTags(json, "tags", experiment.tags);
  json.EndObject();
}

void WriteRunInfo(JsonWriter& json, const RunInfo& info) {
  json.BeginObject();
  json.Field("run_uuid", info.run_id);
  json.Field("experiment_id", info.experiment_id);
  json.Field("run_name", info.run_name);
  json.Field("user_id", info.user_id);
  json.Field("status", RunStatusName(info.status));
  if (info.start_time) json.Field("start_time", *info.start_time);
  if (info.end_time) json.Field("end_time", *info.end_time);
  json.Field("artifact_uri", info.artifact_uri);
  json.Field("lifecycle_stage", LifecycleStageName(info.lifecycle_stage));
  json.Field("run_id", info.run_id);
  json.EndObject();
}

void WriteMetric(JsonWriter& json, const Metric& metric) {
  json.BeginObject();
  json.Field("key", metric.key);
  json.Key("value");
  json.MetricDouble(metric.value);
  json.Field("timestamp", metric.timestamp);
  json.Field("step", metric.step);
  json.EndObject();
}

void WriteMetricPoints(JsonWriter& json, std::string_view key,
                       std::span<const store::MetricPoint> points, std::string_view run_id) {
  std::string head = "{\"key\":";
  AppendJsonString(head, key);
  head += ",\"value\":";
  std::string tail;
  if (!run_id.empty()) {
    tail = ",\"run_id\":";
    AppendJsonString(tail, run_id);
  }
  tail += "}";
  json.Reserve(points.size() * (head.size() + tail.size() + 56));
  for (const auto& point : points) {
    json.BeginObject();  // places the separating comma; the members follow verbatim
    json.AppendVerbatim(std::string_view(head).substr(1));
    json.AppendMetricDouble(point.value);
    json.AppendVerbatim(",\"timestamp\":");
    json.AppendInt(point.timestamp);
    json.AppendVerbatim(",\"step\":");
    json.AppendInt(point.step);
    json.AppendVerbatim(tail);
    json.ValueWritten();
  }
}

void WriteRun(JsonWriter& json, const Run& run, bool with_inputs) {
  json.BeginObject();
  json.Key("info");
  WriteRunInfo(json, run.info);
  json.Key("data");
  json.BeginObject();
  if (!run.data.metrics.empty()) {
    json.Key("metrics");
    json.BeginArray();
    for (const auto& metric : run.data.metrics) WriteMetric(json, metric);
    json.EndArray();
  }
  WriteTags(json, "params", run.data.params);
  WriteTags(json, "tags", run.data.tags);
  json.EndObject();
  if (with_inputs) {
    json.Key("inputs");
    json.BeginObject();
    if (!run.inputs.empty()) {
      json.Key("dataset_inputs");
      json.BeginArray();
      for (const auto& input : run.inputs) {
        json.BeginObject();
        WriteTags(json, "tags", input.tags);
        json.Key("dataset");
        json.BeginObject();
        json.Field("name", input.dataset.name);
        json.Field("digest", input.dataset.digest);
        json.Field("source_type", input.dataset.source_type);
        json.Field("source", input.dataset.source);
        if (input.dataset.schema) json.Field("schema", *input.dataset.schema);
        if (input.dataset.profile) json.Field("profile", *input.dataset.profile);
        json.EndObject();
        json.EndObject();
      }
      json.EndArray();
    }
    json.EndObject();
  }
  json.EndObject();
}

}  // namespace mltf::tracking::api
