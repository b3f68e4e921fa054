// json_render.hpp - entities to MLflow's proto3 JSON: field names, order and omission as MLflow.
#pragma once

#include "common/json_writer.hpp"
#include "tracking/entities/entities.hpp"

namespace mltf::tracking::api {

void WriteExperiment(JsonWriter& json, const Experiment& experiment);
void WriteRunInfo(JsonWriter& json, const RunInfo& info);
void WriteMetric(JsonWriter& json, const Metric& metric);
/// `with_inputs`: runs/get and runs/search answer `"inputs": {}` even when empty; runs/create
/// leaves the field out.
void WriteRun(JsonWriter& json, const Run& run, bool with_inputs = true);

}  // namespace mltf::tracking::api
