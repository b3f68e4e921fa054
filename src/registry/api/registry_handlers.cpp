// registry_handlers.cpp - registered-models/{create,rename,update,delete,get,search,
// get-latest-versions,set-tag,delete-tag,alias} and model-versions/{create,update,
// transition-stage,delete,get,search,get-download-uri,set-tag,delete-tag}.
#include "auth/request_access.hpp"
#include "http/json_endpoint.hpp"
#include "registry/api/json_render.hpp"
#include "registry/api/registry_routes.hpp"

namespace mltf::registry::api {
namespace {

using http::Method;
using http::RequestMessage;

Result<std::vector<Tag>> TagsField(const RequestMessage& message) {
  MLTF_ASSIGN_OR_RETURN(pairs, message.KeyValues("tags"));
  std::vector<Tag> tags;
  tags.reserve(pairs.size());
  for (auto& pair : pairs) tags.push_back({std::move(pair.key), std::move(pair.value)});
  return tags;
}

/// filter, max_results, order_by (repeated) and page_token of a registry search.
Result<RegistrySearchRequest> SearchFields(const RequestMessage& message,
                                           std::int64_t default_max_results) {
  RegistrySearchRequest request;
  MLTF_ASSIGN_OR_RETURN(filter, message.String("filter"));
  request.filter = filter.value_or("");
  MLTF_ASSIGN_OR_RETURN(max_results, message.Int64("max_results"));
  request.max_results = max_results.value_or(default_max_results);
  MLTF_ASSIGN_OR_RETURN(order_by, message.StringList("order_by"));
  request.order_by = std::move(order_by);
  MLTF_ASSIGN_OR_RETURN(page_token, message.String("page_token"));
  request.page_token = page_token.value_or("");
  return request;
}

std::string RenderModel(const RegisteredModel& model) {
  JsonWriter json;
  json.BeginObject();
  json.Key("registered_model");
  WriteRegisteredModel(json, model);
  json.EndObject();
  return json.Take();
}

std::string RenderVersion(const ModelVersion& version) {
  JsonWriter json;
  json.BeginObject();
  json.Key("model_version");
  WriteModelVersion(json, version);
  json.EndObject();
  return json.Take();
}

std::string RenderVersions(const std::vector<ModelVersion>& versions,
                           const std::optional<std::string>& next_page_token) {
  JsonWriter json;
  json.BeginObject();
  if (!versions.empty()) {
    json.Key("model_versions");
    json.BeginArray();
    for (const ModelVersion& version : versions) WriteModelVersion(json, version);
    json.EndArray();
  }
  if (next_page_token) json.Field("next_page_token", *next_page_token);
  json.EndObject();
  return json.Take();
}

// Every registry endpoint names its registered model in `name`.
constexpr auth::AccessRule kRead{auth::Target::MODEL_NAME, auth::Action::READ, "name"};
constexpr auth::AccessRule kUpdate{auth::Target::MODEL_NAME, auth::Action::UPDATE, "name"};
constexpr auth::AccessRule kDelete{auth::Target::MODEL_NAME, auth::Action::DELETE, "name"};
constexpr auth::AccessRule kAnyCaller{auth::Target::ANY_CALLER};

/// The registered models the caller may read, for a search to filter by (none: all).
Result<std::optional<store::NameRestriction>> RestrictionOf(auth::AccessPolicy* policy,
                                                            const http::Request& request) {
  MLTF_ASSIGN_OR_RETURN(readable,
                        auth::ReadableOf(policy, request, auth::ResourceKind::REGISTERED_MODEL));
  if (!readable) return std::optional<store::NameRestriction>{};
  return std::optional<store::NameRestriction>{
      store::NameRestriction{.only_listed = readable->only_listed, .names = readable->listed}};
}

void RegisterRegisteredModelRoutes(http::Router& router, RegistryService& service,
                                   auth::AccessPolicy* policy) {
  auto route = [&](Method method, std::string_view path, auth::AccessRule rule,
                   http::JsonHandler handler) {
    auth::AddGuardedRoute(router, policy, method, path, rule, std::move(handler));
  };

  route(
      Method::POST, "/mlflow/registered-models/create", {auth::Target::CREATOR},
      [&service, policy](const RequestMessage& message,
                         http::Request& request) -> Result<std::string> {
        MLTF_ASSIGN_OR_RETURN(name, message.RequiredString("name"));
        MLTF_ASSIGN_OR_RETURN(tags, TagsField(message));
        MLTF_ASSIGN_OR_RETURN(description, message.String("description"));
        MLTF_ASSIGN_OR_RETURN(model,
                              service.CreateRegisteredModel(name, tags, description.value_or("")));
        MLTF_TRY(auth::GrantToCreator(policy, request, auth::ResourceKind::REGISTERED_MODEL, name));
        return RenderModel(model);
      });

  route(Method::GET, "/mlflow/registered-models/get", kRead,
        [&service](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(name, message.RequiredString("name"));
          MLTF_ASSIGN_OR_RETURN(model, service.GetRegisteredModel(name));
          return RenderModel(model);
        });

  route(Method::POST, "/mlflow/registered-models/rename", kUpdate,
        [&service, policy](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(name, message.RequiredString("name"));
          MLTF_ASSIGN_OR_RETURN(new_name, message.RequiredString("new_name"));
          MLTF_ASSIGN_OR_RETURN(model, service.RenameRegisteredModel(name, new_name));
          // The model's permissions follow it to its new name.
          if (policy != nullptr) {
            MLTF_TRY(policy->store().RenameModel(name, new_name));
            policy->Forget(auth::ResourceKind::REGISTERED_MODEL, name);
            policy->Forget(auth::ResourceKind::REGISTERED_MODEL, new_name);
          }
          return RenderModel(model);
        });

  route(Method::PATCH, "/mlflow/registered-models/update", kUpdate,
        [&service](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(name, message.RequiredString("name"));
          MLTF_ASSIGN_OR_RETURN(description, message.String("description"));
          MLTF_ASSIGN_OR_RETURN(model,
                                service.UpdateRegisteredModel(name, description.value_or("")));
          return RenderModel(model);
        });

  route(Method::DELETE, "/mlflow/registered-models/delete", kDelete,
        [&service, policy](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(name, message.RequiredString("name"));
          MLTF_TRY(service.DeleteRegisteredModel(name));
          // A model created again under the name starts without the old one's grants.
          if (policy != nullptr) {
            MLTF_TRY(policy->store().DeleteResource(auth::ResourceKind::REGISTERED_MODEL, name));
            policy->Forget(auth::ResourceKind::REGISTERED_MODEL, name);
          }
          return http::EmptyJson();
        });

  route(Method::GET, "/mlflow/registered-models/search", kAnyCaller,
        [&service, policy](const RequestMessage& message,
                           http::Request& http_request) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(request, SearchFields(message, kDefaultRegisteredModelResults));
          MLTF_ASSIGN_OR_RETURN(restriction, RestrictionOf(policy, http_request));
          request.restriction = std::move(restriction);
          MLTF_ASSIGN_OR_RETURN(page, service.SearchRegisteredModels(request));
          JsonWriter json;
          json.BeginObject();
          if (!page.registered_models.empty()) {
            json.Key("registered_models");
            json.BeginArray();
            for (const RegisteredModel& model : page.registered_models) {
              WriteRegisteredModel(json, model);
            }
            json.EndArray();
          }
          if (page.next_page_token) json.Field("next_page_token", *page.next_page_token);
          json.EndObject();
          return json.Take();
        });

  http::JsonHandler latest = [&service](const RequestMessage& message,
                                        http::Request&) -> Result<std::string> {
    MLTF_ASSIGN_OR_RETURN(name, message.RequiredString("name"));
    MLTF_ASSIGN_OR_RETURN(stages, message.StringList("stages"));
    MLTF_ASSIGN_OR_RETURN(versions, service.GetLatestVersions(name, stages));
    return RenderVersions(versions, std::nullopt);
  };
  route(Method::POST, "/mlflow/registered-models/get-latest-versions", kRead, latest);
  route(Method::GET, "/mlflow/registered-models/get-latest-versions", kRead, latest);

  route(Method::POST, "/mlflow/registered-models/set-tag", kUpdate,
        [&service](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(name, message.RequiredString("name"));
          MLTF_ASSIGN_OR_RETURN(key, message.RequiredString("key"));
          MLTF_ASSIGN_OR_RETURN(value, message.String("value"));
          MLTF_TRY(service.SetRegisteredModelTag(name, Tag{key, value.value_or("")}));
          return http::EmptyJson();
        });

  route(Method::DELETE, "/mlflow/registered-models/delete-tag", kUpdate,
        [&service](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(name, message.RequiredString("name"));
          MLTF_ASSIGN_OR_RETURN(key, message.RequiredString("key"));
          MLTF_TRY(service.DeleteRegisteredModelTag(name, key));
          return http::EmptyJson();
        });

  route(Method::POST, "/mlflow/registered-models/alias", kUpdate,
        [&service](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(name, message.RequiredString("name"));
          MLTF_ASSIGN_OR_RETURN(alias, message.RequiredString("alias"));
          MLTF_ASSIGN_OR_RETURN(version, message.RequiredString("version"));
          MLTF_TRY(service.SetRegisteredModelAlias(name, alias, version));
          return http::EmptyJson();
        });

  route(Method::DELETE, "/mlflow/registered-models/alias", kUpdate,
        [&service](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(name, message.RequiredString("name"));
          MLTF_ASSIGN_OR_RETURN(alias, message.RequiredString("alias"));
          MLTF_TRY(service.DeleteRegisteredModelAlias(name, alias));
          return http::EmptyJson();
        });

  route(Method::GET, "/mlflow/registered-models/alias", kRead,
        [&service](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(name, message.RequiredString("name"));
          MLTF_ASSIGN_OR_RETURN(alias, message.RequiredString("alias"));
          MLTF_ASSIGN_OR_RETURN(version, service.GetModelVersionByAlias(name, alias));
          return RenderVersion(version);
        });
}

void RegisterModelVersionRoutes(http::Router& router, RegistryService& service,
                                auth::AccessPolicy* policy) {
  auto route = [&](Method method, std::string_view path, auth::AccessRule rule,
                   http::JsonHandler handler) {
    auth::AddGuardedRoute(router, policy, method, path, rule, std::move(handler));
  };

  route(Method::POST, "/mlflow/model-versions/create", kUpdate,
        [&service](const RequestMessage& message, http::Request&) -> Result<std::string> {
          CreateModelVersionRequest request;
          MLTF_ASSIGN_OR_RETURN(name, message.RequiredString("name"));
          request.name = std::move(name);
          MLTF_ASSIGN_OR_RETURN(source, message.RequiredString("source"));
          request.source = std::move(source);
          // Unset strings read as "" and are stored as such, as MLflow's proto2 handler does.
          MLTF_ASSIGN_OR_RETURN(run_id, message.String("run_id"));
          request.run_id = run_id.value_or("");
          MLTF_ASSIGN_OR_RETURN(tags, TagsField(message));
          request.tags = std::move(tags);
          MLTF_ASSIGN_OR_RETURN(run_link, message.String("run_link"));
          request.run_link = run_link.value_or("");
          MLTF_ASSIGN_OR_RETURN(description, message.String("description"));
          request.description = description.value_or("");
          MLTF_ASSIGN_OR_RETURN(version, service.CreateModelVersion(request));
          return RenderVersion(version);
        });

  route(Method::GET, "/mlflow/model-versions/get", kRead,
        [&service](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(name, message.RequiredString("name"));
          MLTF_ASSIGN_OR_RETURN(number, message.RequiredString("version"));
          MLTF_ASSIGN_OR_RETURN(version, service.GetModelVersion(name, number));
          return RenderVersion(version);
        });

  route(Method::PATCH, "/mlflow/model-versions/update", kUpdate,
        [&service](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(name, message.RequiredString("name"));
          MLTF_ASSIGN_OR_RETURN(number, message.RequiredString("version"));
          // Absent clears the description (MLflow passes None).
          MLTF_ASSIGN_OR_RETURN(description, message.String("description"));
          MLTF_ASSIGN_OR_RETURN(version, service.UpdateModelVersion(name, number, description));
          return RenderVersion(version);
        });

  route(Method::POST, "/mlflow/model-versions/transition-stage", kUpdate,
        [&service](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(name, message.RequiredString("name"));
          MLTF_ASSIGN_OR_RETURN(number, message.RequiredString("version"));
          MLTF_ASSIGN_OR_RETURN(stage, message.RequiredString("stage"));
          MLTF_ASSIGN_OR_RETURN(archive, message.Bool("archive_existing_versions"));
          MLTF_ASSIGN_OR_RETURN(version, service.TransitionModelVersionStage(
                                             name, number, stage, archive.value_or(false)));
          return RenderVersion(version);
        });

  route(Method::DELETE, "/mlflow/model-versions/delete", kDelete,
        [&service](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(name, message.RequiredString("name"));
          MLTF_ASSIGN_OR_RETURN(number, message.RequiredString("version"));
          MLTF_TRY(service.DeleteModelVersion(name, number));
          return http::EmptyJson();
        });

  route(Method::GET, "/mlflow/model-versions/search", kAnyCaller,
        [&service, policy](const RequestMessage& message,
                           http::Request& http_request) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(request, SearchFields(message, kDefaultModelVersionResults));
          MLTF_ASSIGN_OR_RETURN(restriction, RestrictionOf(policy, http_request));
          request.restriction = std::move(restriction);
          MLTF_ASSIGN_OR_RETURN(page, service.SearchModelVersions(request));
          return RenderVersions(page.model_versions, page.next_page_token);
        });

  route(Method::GET, "/mlflow/model-versions/get-download-uri", kRead,
        [&service](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(name, message.RequiredString("name"));
          MLTF_ASSIGN_OR_RETURN(number, message.RequiredString("version"));
          MLTF_ASSIGN_OR_RETURN(uri, service.GetModelVersionDownloadUri(name, number));
          JsonWriter json;
          json.BeginObject();
          json.Field("artifact_uri", uri);
          json.EndObject();
          return json.Take();
        });

  route(Method::POST, "/mlflow/model-versions/set-tag", kUpdate,
        [&service](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(name, message.RequiredString("name"));
          MLTF_ASSIGN_OR_RETURN(number, message.RequiredString("version"));
          MLTF_ASSIGN_OR_RETURN(key, message.RequiredString("key"));
          MLTF_ASSIGN_OR_RETURN(value, message.String("value"));
          MLTF_TRY(service.SetModelVersionTag(name, number, Tag{key, value.value_or("")}));
          return http::EmptyJson();
        });

  route(Method::DELETE, "/mlflow/model-versions/delete-tag", kUpdate,
        [&service](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(name, message.RequiredString("name"));
          MLTF_ASSIGN_OR_RETURN(number, message.RequiredString("version"));
          MLTF_ASSIGN_OR_RETURN(key, message.RequiredString("key"));
          MLTF_TRY(service.DeleteModelVersionTag(name, number, key));
          return http::EmptyJson();
        });
}

}  // namespace

void RegisterRegistryRoutes(http::Router& router, RegistryService& service,
                            auth::AccessPolicy* policy) {
  RegisterRegisteredModelRoutes(router, service, policy);
  RegisterModelVersionRoutes(router, service, policy);
}

}  // namespace mltf::registry::api
