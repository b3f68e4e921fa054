// gateway_http.hpp - small pieces the gateway's handlers share: JSON in and out, errors, owners.
#pragma once

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "gateway/api/gateway_routes.hpp"
#include "http/request.hpp"
#include "http/response.hpp"

// Evaluates `expr` (a Result) in a handler; on failure answers its error in MLflow's shape.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define MLTF_ASSIGN_OR_RESPOND(var, expr) \
  MLTF_ASSIGN_OR_RESPOND_IMPL(var, expr, MLTF_CONCAT(mltf_respond_, __COUNTER__))
#define MLTF_ASSIGN_OR_RESPOND_IMPL(var, expr, tmp)          \
  auto tmp = (expr);                                         \
  if (!tmp) return ::mltf::http::ErrorResponse(tmp.error()); \
  auto var = std::move(*tmp)
// NOLINTEND(bugprone-macro-parentheses)

namespace mltf::gateway::api {

/// 200 with `body` as JSON.
http::Response JsonResponse(const nlohmann::json& body, int status = 200);
/// The request body as JSON; INVALID_PARAMETER_VALUE saying what is wrong with it.
Result<nlohmann::json> ParseJsonBody(const http::Request& request);
/// MLflow's 404 for a path no route serves.
http::Response NotFound(const http::Request& request);
/// Runs a handler; what it throws becomes INTERNAL_ERROR, so nothing escapes into the server.
http::Response Guarded(const std::function<http::Response()>& handler);
/// Who sent the request: its authenticated caller, else the server's local user.
const Identity& CallerOf(const GatewayApi& api, const http::Request& request);
/// The rule for the experiment a submission's run goes into: the submitter needs EDIT on an
/// existing one and gets MANAGE on one the submission created. Empty without a policy.
tasks::TaskService::ExperimentAdmission AdmissionOf(const GatewayApi& api, const Identity& caller);
/// PERMISSION_DENIED for a task's own token: it may track its run, not drive tasks.
Result<void> CheckNotTaskToken(const Identity& caller);
/// PERMISSION_DENIED unless the caller owns the task or is an admin.
Result<void> CheckOwner(const GatewayApi& api, const http::Request& request,
                        const tasks::Task& task);

/// Registers /api/mltf/v1 (task_handlers.cpp).
void RegisterTaskRoutes(http::Router& router, GatewayApi& api);
/// Registers the existing MLTF client's routes (job_handlers.cpp).
void RegisterJobRoutes(http::Router& router, GatewayApi& api);

}  // namespace mltf::gateway::api
