// metrics_handlers.cpp - metrics/get-history, get-history-bulk and get-history-bulk-interval.
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "auth/request_access.hpp"
#include "http/json_endpoint.hpp"
#include "tracking/api/json_render.hpp"
#include "tracking/api/request_fields.hpp"
#include "tracking/api/tracking_routes.hpp"

namespace mltf::tracking::api {
namespace {

using http::Method;
using http::RequestMessage;

constexpr std::size_t kMaxBulkRuns = 100;
constexpr std::int64_t kMaxBulkResults = 25000;
constexpr std::int64_t kDefaultIntervalResults = 320;
constexpr std::int64_t kMaxIntervalResults = 1000;

Result<std::vector<std::string>> BulkRunIds(const RequestMessage& message, std::string_view name) {
  MLTF_ASSIGN_OR_RETURN(run_ids, message.StringList(name));
  if (run_ids.empty()) {
    return Fail(Error::InvalidParameter(
        fmt::format("GetMetricHistoryBulk request must specify at least one {}.", name)));
  }
  if (run_ids.size() > kMaxBulkRuns) {
    return Fail(Error::InvalidParameter(fmt::format(
        "GetMetricHistoryBulk request cannot specify more than {} {}s. Received {} {}s.",
        kMaxBulkRuns, name, run_ids.size(), name)));
  }
  return run_ids;
}

/// Up to `max_results` steps of `steps` (sorted, distinct), evenly spaced, always keeping the
/// first and the last: what a chart of the metric needs.
std::set<std::int64_t> SampleSteps(const std::vector<std::int64_t>& steps,
                                   std::int64_t max_results) {
  std::set<std::int64_t> chosen;
  if (steps.empty()) return chosen;
  auto count = static_cast<std::int64_t>(steps.size());
  if (count <= max_results) return {steps.begin(), steps.end()};
  for (std::int64_t idx = 0; idx < max_results; ++idx) {
    chosen.insert(steps[static_cast<std::size_t>(idx * (count - 1) /
                                                 std::max<std::int64_t>(max_results - 1, 1))]);
  }
  chosen.insert(steps.front());
  chosen.insert(steps.back());
  return chosen;
}

}  // namespace

void RegisterMetricRoutes(http::Router& router, TrackingService& service,
                          auth::AccessPolicy* policy) {
  auto route = [&](Method method, std::string_view path, auth::AccessRule rule,
                   http::JsonHandler handler) {
    auth::AddGuardedRoute(router, policy, method, path, rule, std::move(handler));
  };
  // The bulk reads name several runs: each is checked before it is read.
  constexpr auth::AccessRule kEachRunChecked{auth::Target::ANY_CALLER};

  route(Method::GET, "/mlflow/metrics/get-history", {auth::Target::RUN_ID, auth::Action::READ},
        [&service](const RequestMessage& message, http::Request&) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(run_id, RunIdField(message));
          MLTF_ASSIGN_OR_RETURN(metric_key, message.RequiredString("metric_key"));
          MLTF_ASSIGN_OR_RETURN(max_results, message.Int64("max_results"));
          MLTF_ASSIGN_OR_RETURN(page_token, message.String("page_token"));
          MLTF_ASSIGN_OR_RETURN(history, service.GetMetricHistory(run_id, metric_key, max_results,
                                                                  page_token.value_or("")));
          JsonWriter json;
          json.BeginObject();
          if (!history.points.empty()) {
            json.Key("metrics");
            json.BeginArray();
            WriteMetricPoints(json, history.key, history.points);
            json.EndArray();
          }
          if (history.next_page_token) json.Field("next_page_token", *history.next_page_token);
          json.EndObject();
          return json.Take();
        });

  route(Method::GET, "/mlflow/metrics/get-history-bulk", kEachRunChecked,
        [&service, policy](const RequestMessage& message,
                           http::Request& request) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(run_ids, BulkRunIds(message, "run_id"));
          for (const auto& run_id : run_ids) {
            MLTF_TRY(auth::CheckRunAccess(policy, request, run_id, auth::Action::READ));
          }
          MLTF_ASSIGN_OR_RETURN(metric_key, message.RequiredString("metric_key"));
          MLTF_ASSIGN_OR_RETURN(max_results, message.Int64("max_results"));
          std::int64_t remaining = std::min(max_results.value_or(kMaxBulkResults), kMaxBulkResults);
          if (remaining < 1) {
            return Fail(Error::InvalidParameter("max_results must be a positive integer."));
          }
          JsonWriter json;
          json.BeginObject();
          json.Key("metrics");
          json.BeginArray();
          for (const auto& run_id : run_ids) {
            if (remaining <= 0) break;
            MLTF_ASSIGN_OR_RETURN(history,
                                  service.GetMetricHistory(run_id, metric_key, remaining, ""));
            WriteMetricPoints(json, history.key, history.points, run_id);
            remaining -= static_cast<std::int64_t>(history.points.size());
          }
          json.EndArray();
          json.EndObject();
          return json.Take();
        });

  route(Method::GET, "/mlflow/metrics/get-history-bulk-interval", kEachRunChecked,
        [&service, policy](const RequestMessage& message,
                           http::Request& request) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(run_ids, BulkRunIds(message, "run_ids"));
          for (const auto& run_id : run_ids) {
            MLTF_TRY(auth::CheckRunAccess(policy, request, run_id, auth::Action::READ));
          }
          MLTF_ASSIGN_OR_RETURN(metric_key, message.RequiredString("metric_key"));
          MLTF_ASSIGN_OR_RETURN(start_step, message.Int64("start_step"));
          MLTF_ASSIGN_OR_RETURN(end_step, message.Int64("end_step"));
          MLTF_ASSIGN_OR_RETURN(max_results, message.Int64("max_results"));
          std::int64_t wanted = max_results.value_or(kDefaultIntervalResults);
          if (wanted < 1 || wanted > kMaxIntervalResults) {
            return Fail(Error::InvalidParameter(fmt::format(
                "max_results must be between 1 and {}, got {}", kMaxIntervalResults, wanted)));
          }
          if (start_step.has_value() != end_step.has_value()) {
            return Fail(Error::InvalidParameter(
                "If either start step or end step are specified, both must be specified."));
          }
          if (start_step && *start_step > *end_step) {
            return Fail(Error::InvalidParameter("end_step must be greater than start_step."));
          }
          JsonWriter json;
          json.BeginObject();
          json.Key("metrics");
          json.BeginArray();
          for (const auto& run_id : run_ids) {
            MLTF_ASSIGN_OR_RETURN(history,
                                  service.GetMetricHistory(run_id, metric_key, std::nullopt, ""));
            std::vector<std::int64_t> steps;
            for (const auto& point : history.points) {
              if (start_step && (point.step < *start_step || point.step > *end_step)) continue;
              if (steps.empty() || steps.back() != point.step) steps.push_back(point.step);
            }
            auto chosen = SampleSteps(steps, wanted);
            std::vector<store::MetricPoint> sampled;
            for (const auto& point : history.points) {
              if (chosen.contains(point.step)) sampled.push_back(point);
            }
            WriteMetricPoints(json, history.key, sampled, run_id);
          }
          json.EndArray();
          json.EndObject();
          return json.Take();
        });
}

}  // namespace mltf::tracking::api
