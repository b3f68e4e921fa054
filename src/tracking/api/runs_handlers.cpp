// runs_handlers.cpp - runs/{create,get,update,delete,restore,log-metric,log-parameter,set-tag,
// delete-tag,log-batch,log-model,log-inputs,search}.
#include <fmt/format.h>

#include "auth/request_access.hpp"
#include "http/json_endpoint.hpp"
#include "tracking/api/json_render.hpp"
#include "tracking/api/request_fields.hpp"
#include "tracking/api/tracking_routes.hpp"

namespace mltf::tracking::api {
namespace {

using http::Method;
using http::RequestMessage;

Result<Metric> ParseMetric(simdjson::dom::element element) {
  simdjson::dom::object object;
  if (element.get_object().get(object) != simdjson::SUCCESS) {
    return Fail(Error::InvalidParameter("Each metric must be a JSON object."));
  }
  Metric metric;
  MLTF_ASSIGN_OR_RETURN(key, http::JsonStringField(object, "key"));
  if (!key || key->empty()) return Fail(http::MissingParameter("key"));
  metric.key = std::string(*key);
  simdjson::dom::element field;
  if (object.at_key("value").get(field) == simdjson::SUCCESS && !field.is_null()) {
    MLTF_ASSIGN_OR_RETURN(value, http::JsonToDouble(field, "value"));
    metric.value = value;
  }
  if (object.at_key("timestamp").get(field) == simdjson::SUCCESS && !field.is_null()) {
    MLTF_ASSIGN_OR_RETURN(timestamp, http::JsonToInt64(field, "timestamp"));
    metric.timestamp = timestamp;
  }
  if (object.at_key("step").get(field) == simdjson::SUCCESS && !field.is_null()) {
    MLTF_ASSIGN_OR_RETURN(step, http::JsonToInt64(field, "step"));
    metric.step = step;
  }
  return metric;
}

Result<std::vector<DatasetInput>> ParseDatasetInputs(const RequestMessage& message) {
  std::vector<DatasetInput> inputs;
  MLTF_ASSIGN_OR_RETURN(array, message.Array("datasets"));
  if (!array) return inputs;
  for (simdjson::dom::element item : *array) {
    simdjson::dom::object object;
    if (item.get_object().get(object) != simdjson::SUCCESS) {
      return Fail(Error::InvalidParameter("Each dataset input must be a JSON object."));
    }
    DatasetInput input;
    simdjson::dom::array tags;
    if (object.at_key("tags").get_array().get(tags) == simdjson::SUCCESS) {
      for (simdjson::dom::element tag_item : tags) {
        simdjson::dom::object tag;
        if (tag_item.get_object().get(tag) != simdjson::SUCCESS) {
          return Fail(Error::InvalidParameter("Each input tag must be a JSON object."));
        }
        MLTF_ASSIGN_OR_RETURN(key, http::JsonStringField(tag, "key"));
        MLTF_ASSIGN_OR_RETURN(value, http::JsonStringField(tag, "value"));
        if (!key || key->empty()) return Fail(http::MissingParameter("key"));
        input.tags.push_back({std::string(*key), std::string(value.value_or(""))});
      }
    }
    simdjson::dom::object dataset;
    if (object.at_key("dataset").get_object().get(dataset) != simdjson::SUCCESS) {
      return Fail(http::MissingParameter("dataset"));
    }
    auto text = [&](std::string_view name) -> Result<std::optional<std::string>> {
      MLTF_ASSIGN_OR_RETURN(value, http::JsonStringField(dataset, name));
      if (!value) return std::optional<std::string>{};
      return std::optional<std::string>{std::string(*value)};
    };
    MLTF_ASSIGN_OR_RETURN(name, text("name"));
    MLTF_ASSIGN_OR_RETURN(digest, text("digest"));
    MLTF_ASSIGN_OR_RETURN(source_type, text("source_type"));
    MLTF_ASSIGN_OR_RETURN(source, text("source"));
    MLTF_ASSIGN_OR_RETURN(schema, text("schema"));
    MLTF_ASSIGN_OR_RETURN(profile, text("profile"));
    input.dataset = {name.value_or(""),   digest.value_or(""), source_type.value_or(""),
                     source.value_or(""), std::move(schema),   std::move(profile)};
    inputs.push_back(std::move(input));
  }
  return inputs;
}

std::string RenderRun(std::string_view field, const Run& run, bool with_inputs) {
  JsonWriter json;
  json.BeginObject();
  json.Key(field);
  WriteRun(json, run, with_inputs);
  json.EndObject();
  return json.Take();
}

std::string RenderRunInfo(const RunInfo& info) {
  JsonWriter json;
  json.BeginObject();
  json.Key("run_info");
  WriteRunInfo(json, info);
  json.EndObject();
  return json.Take();
}

/// A callback that answers `reply` with "{}", or with the error.
Callback<void> AnswerEmpty(http::JsonReply reply) {
  return [reply = std::move(reply)](Result<void> outcome) mutable {
    if (!outcome) return reply(Fail(std::move(outcome).error()));
    reply(http::EmptyJson());
  };
}

/// A callback that answers `reply` with `render(value)`, or with the error. `render` runs on
/// the thread that completes the write.
template <typename T, typename Render>
Callback<T> AnswerWith(http::JsonReply reply, Render render) {
  return [reply = std::move(reply), render = std::move(render)](Result<T> outcome) mutable {
    if (!outcome) return reply(Fail(std::move(outcome).error()));
    reply(render(*outcome));
  };
}

/// The fields of runs/log-metric.
Result<Metric> LogMetricFields(const RequestMessage& message) {
  Metric metric;
  MLTF_ASSIGN_OR_RETURN(key, message.RequiredString("key"));
  metric.key = std::move(key);
  MLTF_ASSIGN_OR_RETURN(value, message.Double("value"));
  if (!value) return Fail(http::MissingParameter("value"));
  metric.value = *value;
  MLTF_ASSIGN_OR_RETURN(timestamp, message.Int64("timestamp"));
  if (!timestamp) return Fail(http::MissingParameter("timestamp"));
  metric.timestamp = *timestamp;
  MLTF_ASSIGN_OR_RETURN(step, message.Int64("step"));
  metric.step = step.value_or(0);
  return metric;
}

/// The `{key, value}` of runs/log-parameter and runs/set-tag; `value` is required (may be "").
Result<std::pair<std::string, std::string>> KeyValueFields(const RequestMessage& message) {
  MLTF_ASSIGN_OR_RETURN(key, message.RequiredString("key"));
  MLTF_ASSIGN_OR_RETURN(value, message.String("value"));
  if (!value) return Fail(http::MissingParameter("value"));
  return std::pair{std::move(key), std::move(*value)};
}

/// The fields of runs/create.
Result<CreateRunRequest> CreateRunFields(const RequestMessage& message) {
  CreateRunRequest request;
  MLTF_ASSIGN_OR_RETURN(experiment_id, message.String("experiment_id"));
  request.experiment_id = experiment_id.value_or("");
  MLTF_ASSIGN_OR_RETURN(user_id, message.String("user_id"));
  request.user_id = user_id.value_or("");
  MLTF_ASSIGN_OR_RETURN(run_name, message.String("run_name"));
  request.run_name = run_name.value_or("");
  MLTF_ASSIGN_OR_RETURN(start_time, message.Int64("start_time"));
  request.start_time = start_time;
  MLTF_ASSIGN_OR_RETURN(tags, TagsField(message, "tags"));
  request.tags = std::move(tags);
  return request;
}

/// The fields of runs/update.
Result<store::RunUpdate> RunUpdateFields(const RequestMessage& message) {
  store::RunUpdate update;
  MLTF_ASSIGN_OR_RETURN(status, RunStatusField(message, "status"));
  update.status = status;
  MLTF_ASSIGN_OR_RETURN(end_time, message.Int64("end_time"));
  update.end_time = end_time;
  MLTF_ASSIGN_OR_RETURN(run_name, message.String("run_name"));
  update.run_name = run_name;
  return update;
}

/// The metrics of runs/log-batch.
Result<std::vector<Metric>> BatchMetricsField(const RequestMessage& message) {
  std::vector<Metric> metrics;
  MLTF_ASSIGN_OR_RETURN(metric_array, message.Array("metrics"));
  if (metric_array) {
    metrics.reserve(metric_array->size());
    for (simdjson::dom::element item : *metric_array) {
      MLTF_ASSIGN_OR_RETURN(metric, ParseMetric(item));
      metrics.push_back(std::move(metric));
    }
  }
  return metrics;
}

}  // namespace

void RegisterRunRoutes(http::Router& router, TrackingService& service, auth::AccessPolicy* policy) {
  using auth::Action;
  using auth::Target;
  auto route = [&](Method method, std::string_view path, auth::AccessRule rule,
                   http::JsonHandler handler) {
    auth::AddGuardedRoute(router, policy, method, path, rule, std::move(handler));
  };
  constexpr auth::AccessRule kRead{Target::RUN_ID, Action::READ};
  constexpr auth::AccessRule kUpdate{Target::RUN_ID, Action::UPDATE};
  constexpr auth::AccessRule kDelete{Target::RUN_ID, Action::DELETE};
  // The hot writes answer when their write commits. Their handlers only parse, validate and
  // queue, so when the store's queueing never blocks they run on the I/O thread: no hand-off to
  // a worker and back for each request.
  // With auth on, the checks answer from memory but for a short store read now and then (a
  // resource's rows every two seconds, a run's experiment once), which the I/O thread affords.
  auto write_route = [&](Method method, std::string_view path, auth::AccessRule rule,
                         http::AsyncJsonHandler handler) {
    http::AddApiRoute(
        router, method, path,
        http::AsyncJsonEndpoint(auth::Guarded(policy, rule, std::move(handler))),
        service.AsyncWritesNeverBlock() ? http::Execution::INLINE : http::Execution::WORKER);
  };

  write_route(Method::POST, "/mlflow/runs/create",
              {Target::EXPERIMENT_ID, Action::UPDATE, "experiment_id"},
              [&service](const RequestMessage& message, http::Request&, http::JsonReply reply) {
                auto request = CreateRunFields(message);
                if (!request) return reply(Fail(std::move(request).error()));
                service.CreateRunAsync(std::move(*request),
                                       AnswerWith<Run>(std::move(reply), [](const Run& run) {
                                         return RenderRun("run", run, false);
                                       }));
              });

  route(Method::GET, "/mlflow/runs/get", kRead,
        [&service](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(run_id, RunIdField(message));
          MLTF_ASSIGN_OR_RETURN(run, service.GetRun(run_id));
          return RenderRun("run", run, true);
        });

  write_route(Method::POST, "/mlflow/runs/update", kUpdate,
              [&service](const RequestMessage& message, http::Request&, http::JsonReply reply) {
                auto run_id = RunIdField(message);
                if (!run_id) return reply(Fail(std::move(run_id).error()));
                auto update = RunUpdateFields(message);
                if (!update) return reply(Fail(std::move(update).error()));
                service.UpdateRunAsync(std::move(*run_id), std::move(*update),
                                       AnswerWith<RunInfo>(std::move(reply), RenderRunInfo));
              });

  route(Method::POST, "/mlflow/runs/delete", kDelete,
        [&service](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(run_id, message.RequiredString("run_id"));
          MLTF_TRY(service.DeleteRun(run_id));
          return http::EmptyJson();
        });

  route(Method::POST, "/mlflow/runs/restore", kDelete,
        [&service](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(run_id, message.RequiredString("run_id"));
          MLTF_TRY(service.RestoreRun(run_id));
          return http::EmptyJson();
        });

  write_route(Method::POST, "/mlflow/runs/log-metric", kUpdate,
              [&service](const RequestMessage& message, http::Request&, http::JsonReply reply) {
                auto run_id = RunIdField(message);
                if (!run_id) return reply(Fail(std::move(run_id).error()));
                auto metric = LogMetricFields(message);
                if (!metric) return reply(Fail(std::move(metric).error()));
                service.LogMetricAsync(std::move(*run_id), std::move(*metric),
                                       AnswerEmpty(std::move(reply)));
              });

  write_route(Method::POST, "/mlflow/runs/log-parameter", kUpdate,
              [&service](const RequestMessage& message, http::Request&, http::JsonReply reply) {
                auto run_id = RunIdField(message);
                if (!run_id) return reply(Fail(std::move(run_id).error()));
                auto fields = KeyValueFields(message);
                if (!fields) return reply(Fail(std::move(fields).error()));
                service.LogParamAsync(std::move(*run_id),
                                      Param{std::move(fields->first), std::move(fields->second)},
                                      AnswerEmpty(std::move(reply)));
              });

  write_route(Method::POST, "/mlflow/runs/set-tag", kUpdate,
              [&service](const RequestMessage& message, http::Request&, http::JsonReply reply) {
                auto run_id = RunIdField(message);
                if (!run_id) return reply(Fail(std::move(run_id).error()));
                auto fields = KeyValueFields(message);
                if (!fields) return reply(Fail(std::move(fields).error()));
                service.SetTagAsync(std::move(*run_id),
                                    Tag{std::move(fields->first), std::move(fields->second)},
                                    AnswerEmpty(std::move(reply)));
              });

  route(Method::POST, "/mlflow/runs/delete-tag", kUpdate,
        [&service](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(run_id, message.RequiredString("run_id"));
          MLTF_ASSIGN_OR_RETURN(key, message.RequiredString("key"));
          MLTF_TRY(service.DeleteTag(run_id, key));
          return http::EmptyJson();
        });

  write_route(Method::POST, "/mlflow/runs/log-batch", kUpdate,
              [&service](const RequestMessage& message, http::Request&, http::JsonReply reply) {
                auto run_id = RunIdField(message);
                if (!run_id) return reply(Fail(std::move(run_id).error()));
                auto metrics = BatchMetricsField(message);
                if (!metrics) return reply(Fail(std::move(metrics).error()));
                auto params = TagsField(message, "params");
                if (!params) return reply(Fail(std::move(params).error()));
                auto tags = TagsField(message, "tags");
                if (!tags) return reply(Fail(std::move(tags).error()));
                service.LogBatchAsync(std::move(*run_id), std::move(*metrics), std::move(*params),
                                      std::move(*tags), AnswerEmpty(std::move(reply)));
              });

  route(Method::POST, "/mlflow/runs/log-model", kUpdate,
        [&service](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(run_id, RunIdField(message));
          MLTF_ASSIGN_OR_RETURN(model_json, message.RequiredString("model_json"));
          MLTF_TRY(service.LogModel(run_id, model_json));
          return http::EmptyJson();
        });

  route(Method::POST, "/mlflow/runs/log-inputs", kUpdate,
        [&service](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(run_id, message.RequiredString("run_id"));
          MLTF_ASSIGN_OR_RETURN(inputs, ParseDatasetInputs(message));
          MLTF_TRY(service.LogInputs(run_id, inputs));
          return http::EmptyJson();
        });

  route(Method::POST, "/mlflow/runs/search", {Target::ANY_CALLER},
        [&service, policy](const RequestMessage& message,
                           http::Request& http_request) -> Result<std::string> {
          SearchRunsRequest request;
          MLTF_ASSIGN_OR_RETURN(asked, message.StringList("experiment_ids"));
          // Unreadable experiments are dropped before the query, so their runs never match.
          MLTF_ASSIGN_OR_RETURN(
              experiment_ids, auth::ReadableExperimentIds(policy, http_request, std::move(asked)));
          request.experiment_ids = std::move(experiment_ids);
          MLTF_ASSIGN_OR_RETURN(filter, message.String("filter"));
          request.filter = filter.value_or("");
          MLTF_ASSIGN_OR_RETURN(view_type, ViewTypeField(message, "run_view_type"));
          request.view_type = view_type;
          MLTF_ASSIGN_OR_RETURN(max_results, message.Int64("max_results"));
          if (max_results) request.max_results = *max_results;
          MLTF_ASSIGN_OR_RETURN(order_by, message.StringList("order_by"));
          request.order_by = std::move(order_by);
          MLTF_ASSIGN_OR_RETURN(page_token, message.String("page_token"));
          request.page_token = page_token.value_or("");
          MLTF_ASSIGN_OR_RETURN(page, service.SearchRuns(request));
          JsonWriter json;
          json.BeginObject();
          if (!page.runs.empty()) {
            json.Key("runs");
            json.BeginArray();
            for (const auto& run : page.runs) WriteRun(json, run, true);
            json.EndArray();
          }
          if (page.next_page_token) json.Field("next_page_token", *page.next_page_token);
          json.EndObject();
          return json.Take();
        });
}

}  // namespace mltf::tracking::api
