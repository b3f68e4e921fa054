// json_render.hpp - registry entities to MLflow's proto JSON: field names, order and omission as
// MLflow 2.9.2 answers them.
#pragma once

#include "common/json_writer.hpp"
#include "registry/entities/entities.hpp"

namespace mltf::registry::api {

/// Unset optional fields and empty lists are left out; `description` is also left out when
/// empty (MLflow sets it only when truthy). Does not fail.
void WriteRegisteredModel(JsonWriter& json, const RegisteredModel& model);
/// `version` is written as a string; `description`, `run_id` and `run_link` are written whenever
/// set, even when empty (MLflow sets them when not None). Does not fail.
void WriteModelVersion(JsonWriter& json, const ModelVersion& version);

}  // namespace mltf::registry::api
