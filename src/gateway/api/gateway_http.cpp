// gateway_http.cpp - small pieces the gateway's handlers share, and the route table.
#include "gateway/api/gateway_http.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace mltf::gateway::api {

http::Response JsonResponse(const nlohmann::json& body, int status) {
  // Invalid UTF-8 from a task's output must not make dump() throw.
  return http::Response::Json(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                              status);
}

Result<nlohmann::json> ParseJsonBody(const http::Request& request) {
  if (request.body.empty())
    return Fail(Error::InvalidParameter("the request body is empty: send a JSON object"));
  auto parsed = nlohmann::json::parse(request.body, nullptr, false);
  if (parsed.is_discarded()) {
    return Fail(Error::InvalidParameter("Malformed JSON request body"));
  }
  return parsed;
}

http::Response NotFound(const http::Request& request) {
  return http::ErrorResponse(
      Error{ErrorCode::ENDPOINT_NOT_FOUND,
            fmt::format("No API endpoint {} {}", http::MethodName(request.method), request.path)});
}

http::Response Guarded(const std::function<http::Response()>& handler) {
  try {
    return handler();
  } catch (const std::exception& error) {
    spdlog::error("gateway: a handler failed: {}", error.what());
    return http::ErrorResponse(Error::Internal("internal error"));
  }
}

const Identity& CallerOf(const GatewayApi& api, const http::Request& request) {
  return request.caller ? *request.caller : api.local_caller;
}

tasks::TaskService::ExperimentAdmission AdmissionOf(const GatewayApi& api, const Identity& caller) {
  if (api.policy == nullptr) return {};
  return [policy = api.policy, caller](const std::string& experiment_id,
                                       bool created) -> Result<void> {
    if (created) {
      return policy->GrantCreator(caller, auth::ResourceKind::EXPERIMENT, experiment_id);
    }
    return policy->CheckExperiment(caller, experiment_id, auth::Action::UPDATE);
  };
}

Result<void> CheckNotTaskToken(const Identity& caller) {
  if (caller.task) {
    return Fail(Error{ErrorCode::PERMISSION_DENIED,
                      "a task's own token may only track its run; use a personal token"});
  }
  return {};
}

Result<void> CheckOwner(const GatewayApi& api, const http::Request& request,
                        const tasks::Task& task) {
  const Identity& caller = CallerOf(api, request);
  MLTF_TRY(CheckNotTaskToken(caller));
  if (task.user != caller.user && !caller.admin) {
    return Fail(Error{ErrorCode::PERMISSION_DENIED,
                      fmt::format("Task {} belongs to another user", task.task_id)});
  }
  return {};
}

void RegisterGatewayRoutes(http::Router& router, GatewayApi& api) {
  RegisterTaskRoutes(router, api);
  RegisterJobRoutes(router, api);
}

}  // namespace mltf::gateway::api
