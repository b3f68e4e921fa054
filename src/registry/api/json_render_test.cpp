// json_render_test.cpp - registry JSON as MLflow 2.9.2 renders it (recorded traces in
// ../shared/conformance/mlflow-2.9.2/registry.*.json).
#include "registry/api/json_render.hpp"

#include <gtest/gtest.h>

namespace mltf::registry::api {
namespace {

ModelVersion Version() {
  ModelVersion version;
  version.name = "m";
  version.version = 2;
  version.creation_timestamp = 10;
  version.last_updated_timestamp = 11;
  version.description = "";
  version.source = "mlflow-artifacts:/1/r/artifacts/model";
  version.run_id = "r";
  version.run_link = "";
  return version;
}

TEST(RegistryJson, ModelVersionKeepsEmptyStringsAndOmitsUnsetFields) {
  JsonWriter json;
  WriteModelVersion(json, Version());
  EXPECT_EQ(json.str(),
            R"({"name":"m","version":"2","creation_timestamp":10,"last_updated_timestamp":11,)"
            R"("current_stage":"None","description":"","source":"mlflow-artifacts:/1/r/)"
            R"(artifacts/model","run_id":"r","status":"READY","run_link":""})");
}

TEST(RegistryJson, ModelVersionWithTagsAndAliases) {
  ModelVersion version = Version();
  version.description.reset();
  version.tags = {{"via", "client"}};
  version.aliases = {"challenger", "champion"};
  JsonWriter json;
  WriteModelVersion(json, version);
  EXPECT_EQ(json.str(),
            R"({"name":"m","version":"2","creation_timestamp":10,"last_updated_timestamp":11,)"
            R"("current_stage":"None","source":"mlflow-artifacts:/1/r/artifacts/model",)"
            R"("run_id":"r","status":"READY","tags":[{"key":"via","value":"client"}],)"
            R"("run_link":"","aliases":["challenger","champion"]})");
}

TEST(RegistryJson, RegisteredModelOmitsEmptyDescriptionAndLists) {
  RegisteredModel model;
  model.name = "m";
  model.creation_timestamp = 1;
  model.last_updated_timestamp = 2;
  model.description = "";
  JsonWriter json;
  WriteRegisteredModel(json, model);
  EXPECT_EQ(json.str(), R"({"name":"m","creation_timestamp":1,"last_updated_timestamp":2})");
}

TEST(RegistryJson, RegisteredModelWithEverything) {
  RegisteredModel model;
  model.name = "m";
  model.creation_timestamp = 1;
  model.last_updated_timestamp = 2;
  model.description = "first";
  model.latest_versions = {Version()};
  model.tags = {{"owner", "team-a"}};
  model.aliases = {{"champion", 2}};
  JsonWriter json;
  WriteRegisteredModel(json, model);
  EXPECT_EQ(json.str(),
            R"({"name":"m","creation_timestamp":1,"last_updated_timestamp":2,)"
            R"("description":"first","latest_versions":[{"name":"m","version":"2",)"
            R"("creation_timestamp":10,"last_updated_timestamp":11,"current_stage":"None",)"
            R"("description":"","source":"mlflow-artifacts:/1/r/artifacts/model","run_id":"r",)"
            R"("status":"READY","run_link":""}],"tags":[{"key":"owner","value":"team-a"}],)"
            R"("aliases":[{"alias":"champion","version":"2"}]})");
}

}  // namespace
}  // namespace mltf::registry::api
