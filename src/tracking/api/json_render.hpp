// json_render.hpp - entities to MLflow's proto3 JSON: field names, order and omission as MLflow.
#pragma once

#include <span>
#include <string_view>

#include "common/json_writer.hpp"
#include "tracking/entities/entities.hpp"
#include "tracking/store/tracking_store.hpp"

namespace mltf::tracking::api {

/// `"<name>": [{"key", "value"}, ...]`, or nothing when `tags` is empty (proto3 leaves empty
/// lists out). Shared by every entity with tags or params.
void WriteTags(JsonWriter& json, std::string_view name, const std::vector<Tag>& tags);
void WriteExperiment(JsonWriter& json, const Experiment& experiment);
void WriteRunInfo(JsonWriter& json, const RunInfo& info);
void WriteMetric(JsonWriter& json, const Metric& metric);
/// The points of one metric as `{"key", "value", "timestamp", "step"[, "run_id"]}` objects,
/// without an enclosing array: the hot path of metric history, so the constant text of every
/// object is escaped once, not per point.
void WriteMetricPoints(JsonWriter& json, std::string_view key,
                       std::span<const store::MetricPoint> points, std::string_view run_id = {});
/// `with_inputs`: runs/get and runs/search answer `"inputs": {}` even when empty; runs/create
/// leaves the field out.
void WriteRun(JsonWriter& json, const Run& run, bool with_inputs = true);

}  // namespace mltf::tracking::api
