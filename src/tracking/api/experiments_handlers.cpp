// experiments_handlers.cpp - experiments/{create,get,get-by-name,search,update,delete,restore,
// set-experiment-tag} and experiments/search-datasets.
#include "auth/request_access.hpp"
#include "http/json_endpoint.hpp"
#include "tracking/api/json_render.hpp"
#include "tracking/api/request_fields.hpp"
#include "tracking/api/tracking_routes.hpp"

namespace mltf::tracking::api {

using auth::AccessRule;
using auth::Action;
using auth::Target;
using http::Method;
using http::RequestMessage;

void RegisterExperimentRoutes(http::Router& router, TrackingService& service,
                              auth::AccessPolicy* policy) {
  auto route = [&](Method method, std::string_view path, auth::AccessRule rule,
                   http::JsonHandler handler) {
    auth::AddGuardedRoute(router, policy, method, path, rule, std::move(handler));
  };
  constexpr AccessRule kRead{Target::EXPERIMENT_ID, Action::READ, "experiment_id"};
  constexpr AccessRule kUpdate{Target::EXPERIMENT_ID, Action::UPDATE, "experiment_id"};
  constexpr AccessRule kDelete{Target::EXPERIMENT_ID, Action::DELETE, "experiment_id"};
  constexpr AccessRule kAnyCaller{Target::ANY_CALLER};

  route(Method::POST, "/mlflow/experiments/create", {Target::CREATOR},
        [&service, policy](const RequestMessage& message,
                           http::Request& request) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(name, message.RequiredString("name"));
          MLTF_ASSIGN_OR_RETURN(artifact_location, message.String("artifact_location"));
          MLTF_ASSIGN_OR_RETURN(tags, TagsField(message, "tags"));
          MLTF_ASSIGN_OR_RETURN(id, service.CreateExperiment(name, artifact_location, tags));
          MLTF_TRY(auth::GrantToCreator(policy, request, auth::ResourceKind::EXPERIMENT, id));
          JsonWriter json;
          json.BeginObject();
          json.Field("experiment_id", id);
          json.EndObject();
          return json.Take();
        });

  auto render_experiment = [](const Experiment& experiment) {
    JsonWriter json;
    json.BeginObject();
    json.Key("experiment");
    WriteExperiment(json, experiment);
    json.EndObject();
    return json.Take();
  };

  route(Method::GET, "/mlflow/experiments/get", kRead,
        [&service, render_experiment](const RequestMessage& message,
                                      http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(id, message.RequiredString("experiment_id"));
          MLTF_ASSIGN_OR_RETURN(experiment, service.GetExperiment(id));
          return render_experiment(experiment);
        });

  route(Method::GET, "/mlflow/experiments/get-by-name", kAnyCaller,
        [&service, render_experiment, policy](const RequestMessage& message,
                                              http::Request& request) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(name, message.RequiredString("experiment_name"));
          MLTF_ASSIGN_OR_RETURN(experiment, service.GetExperimentByName(name));
          MLTF_TRY(
              auth::CheckExperimentAccess(policy, request, experiment.experiment_id, Action::READ));
          return render_experiment(experiment);
        });

  http::JsonHandler search = [&service, policy](
                                 const RequestMessage& message,
                                 http::Request& http_request) -> Result<std::string> {
    SearchExperimentsRequest request;
    // Filtered in the query, not after it: pages stay full and nothing unreadable leaks.
    MLTF_ASSIGN_OR_RETURN(readable,
                          auth::ReadableOf(policy, http_request, auth::ResourceKind::EXPERIMENT));
    if (readable) {
      request.restriction =
          store::IdRestriction{.only_listed = readable->only_listed, .ids = readable->listed};
    }
    MLTF_ASSIGN_OR_RETURN(max_results, message.Int64("max_results"));
    if (max_results) request.max_results = *max_results;
    MLTF_ASSIGN_OR_RETURN(page_token, message.String("page_token"));
    request.page_token = page_token.value_or("");
    MLTF_ASSIGN_OR_RETURN(filter, message.String("filter"));
    request.filter = filter.value_or("");
    MLTF_ASSIGN_OR_RETURN(order_by, message.StringList("order_by"));
    request.order_by = std::move(order_by);
    MLTF_ASSIGN_OR_RETURN(view_type, ViewTypeField(message, "view_type"));
    request.view_type = view_type;
    MLTF_ASSIGN_OR_RETURN(page, service.SearchExperiments(request));
    JsonWriter json;
    json.BeginObject();
    if (!page.experiments.empty()) {
      json.Key("experiments");
      json.BeginArray();
      for (const auto& experiment : page.experiments) WriteExperiment(json, experiment);
      json.EndArray();
    }
    if (page.next_page_token) json.Field("next_page_token", *page.next_page_token);
    json.EndObject();
    return json.Take();
  };
  route(Method::POST, "/mlflow/experiments/search", kAnyCaller, search);
  route(Method::GET, "/mlflow/experiments/search", kAnyCaller, search);

  route(Method::POST, "/mlflow/experiments/delete", kDelete,
        [&service](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(id, message.RequiredString("experiment_id"));
          MLTF_TRY(service.DeleteExperiment(id));
          return http::EmptyJson();
        });

  route(Method::POST, "/mlflow/experiments/restore", kDelete,
        [&service](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(id, message.RequiredString("experiment_id"));
          MLTF_TRY(service.RestoreExperiment(id));
          return http::EmptyJson();
        });

  route(Method::POST, "/mlflow/experiments/update", kUpdate,
        [&service](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(id, message.RequiredString("experiment_id"));
          MLTF_ASSIGN_OR_RETURN(new_name, message.String("new_name"));
          MLTF_TRY(service.RenameExperiment(id, new_name.value_or("")));
          return http::EmptyJson();
        });

  route(Method::POST, "/mlflow/experiments/set-experiment-tag", kUpdate,
        [&service](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(id, message.RequiredString("experiment_id"));
          MLTF_ASSIGN_OR_RETURN(key, message.RequiredString("key"));
          MLTF_ASSIGN_OR_RETURN(value, message.String("value"));
          if (!value) return Fail(http::MissingParameter("value"));
          MLTF_TRY(service.SetExperimentTag(id, Tag{key, *value}));
          return http::EmptyJson();
        });

  // The proto path of search-datasets lacks its leading slash; MLflow serves it with one.
  route(Method::POST, "/mlflow/experiments/search-datasets", kAnyCaller,
        [&service, policy](const RequestMessage& message,
                           http::Request& request) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(asked, message.StringList("experiment_ids"));
          MLTF_ASSIGN_OR_RETURN(ids,
                                auth::ReadableExperimentIds(policy, request, std::move(asked)));
          MLTF_ASSIGN_OR_RETURN(summaries, service.SearchDatasets(ids));
          JsonWriter json;
          json.BeginObject();
          if (!summaries.empty()) {
            json.Key("dataset_summaries");
            json.BeginArray();
            for (const auto& summary : summaries) {
              json.BeginObject();
              json.Field("experiment_id", summary.experiment_id);
              json.Field("name", summary.name);
              json.Field("digest", summary.digest);
              if (summary.context) json.Field("context", *summary.context);
              json.EndObject();
            }
            json.EndArray();
          }
          json.EndObject();
          return json.Take();
        });
}

}  // namespace mltf::tracking::api
