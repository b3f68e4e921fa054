// json_render.cpp - registered models and model versions as MLflow renders them.
#include "registry/api/json_render.hpp"

#include "tracking/api/json_render.hpp"

namespace mltf::registry::api {
using tracking::api::WriteTags;

void WriteModelVersion(JsonWriter& json, const ModelVersion& version) {
  json.BeginObject();
  json.Field("name", version.name);
  json.Field("version", std::to_string(version.version));
  json.Field("creation_timestamp", version.creation_timestamp);
  json.Field("last_updated_timestamp", version.last_updated_timestamp);
  if (version.user_id) json.Field("user_id", *version.user_id);
  json.Field("current_stage", version.current_stage);
  if (version.description) json.Field("description", *version.description);
  if (version.source) json.Field("source", *version.source);
  if (version.run_id) json.Field("run_id", *version.run_id);
  json.Field("status", version.status);
  if (version.status_message && !version.status_message->empty()) {
    json.Field("status_message", *version.status_message);
  }
  WriteTags(json, "tags", version.tags);
  if (version.run_link) json.Field("run_link", *version.run_link);
  if (!version.aliases.empty()) {
    json.Key("aliases");
    json.BeginArray();
    for (const std::string& alias : version.aliases) json.String(alias);
    json.EndArray();
  }
  json.EndObject();
}

void WriteRegisteredModel(JsonWriter& json, const RegisteredModel& model) {
  json.BeginObject();
  json.Field("name", model.name);
  json.Field("creation_timestamp", model.creation_timestamp);
  json.Field("last_updated_timestamp", model.last_updated_timestamp);
  if (model.description && !model.description->empty()) {
    json.Field("description", *model.description);
  }
  if (!model.latest_versions.empty()) {
    json.Key("latest_versions");
    json.BeginArray();
    for (const ModelVersion& version : model.latest_versions) WriteModelVersion(json, version);
    json.EndArray();
  }
  WriteTags(json, "tags", model.tags);
  if (!model.aliases.empty()) {
    json.Key("aliases");
    json.BeginArray();
    for (const RegisteredModelAlias& alias : model.aliases) {
      json.BeginObject();
      json.Field("alias", alias.alias);
      json.Field("version", std::to_string(alias.version));
      json.EndObject();
    }
    json.EndArray();
  }
  json.EndObject();
}

}  // namespace mltf::registry::api
