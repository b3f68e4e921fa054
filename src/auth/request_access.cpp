// request_access.cpp - access rules applied to parsed requests.
#include "auth/request_access.hpp"

namespace mltf::auth {

Result<const Identity*> CallerOf(const http::Request& request) {
  if (!request.caller) return Fail(Error::Internal("the request has no authenticated caller"));
  return request.caller.get();
}

Result<void> CheckRequest(AccessPolicy& policy, const AccessRule& rule,
                          const http::RequestMessage& message, const http::Request& request) {
  MLTF_ASSIGN_OR_RETURN(caller, CallerOf(request));
  switch (rule.target) {
    case Target::ANY_CALLER:
      return {};
    case Target::CREATOR:
      return AccessPolicy::CheckMayCreate(*caller);
    case Target::EXPERIMENT_ID: {
      MLTF_ASSIGN_OR_RETURN(experiment_id, message.String(rule.field));
      const std::string id = experiment_id && !experiment_id->empty() ? *experiment_id : "0";
      return policy.CheckExperiment(*caller, id, rule.action);
    }
    case Target::RUN_ID: {
      MLTF_ASSIGN_OR_RETURN(run_id, message.String("run_id"));
      if (!run_id || run_id->empty()) {
        MLTF_ASSIGN_OR_RETURN(run_uuid, message.String("run_uuid"));
        run_id = std::move(run_uuid);
      }
      if (!run_id || run_id->empty()) return {};
      return policy.CheckRun(*caller, *run_id, rule.action);
    }
    case Target::MODEL_NAME: {
      MLTF_ASSIGN_OR_RETURN(name, message.String(rule.field));
      if (!name || name->empty()) return {};
      return policy.CheckModel(*caller, *name, rule.action);
    }
  }
  return {};
}

Result<void> CheckExperimentAccess(AccessPolicy* policy, const http::Request& request,
                                   const std::string& experiment_id, Action action) {
  if (policy == nullptr) return {};
  MLTF_ASSIGN_OR_RETURN(caller, CallerOf(request));
  return policy->CheckExperiment(*caller, experiment_id, action);
}

Result<void> CheckRunAccess(AccessPolicy* policy, const http::Request& request,
                            const std::string& run_id, Action action) {
  if (policy == nullptr) return {};
  MLTF_ASSIGN_OR_RETURN(caller, CallerOf(request));
  return policy->CheckRun(*caller, run_id, action);
}

Result<void> CheckModelAccess(AccessPolicy* policy, const http::Request& request,
                              const std::string& name, Action action) {
  if (policy == nullptr) return {};
  MLTF_ASSIGN_OR_RETURN(caller, CallerOf(request));
  return policy->CheckModel(*caller, name, action);
}

Result<std::vector<std::string>> ReadableExperimentIds(AccessPolicy* policy,
                                                       const http::Request& request,
                                                       std::vector<std::string> experiment_ids) {
  if (policy == nullptr) return experiment_ids;
  MLTF_ASSIGN_OR_RETURN(caller, CallerOf(request));
  std::vector<std::string> readable;
  for (auto& id : experiment_ids) {
    MLTF_ASSIGN_OR_RETURN(permission, policy->Effective(*caller, ResourceKind::EXPERIMENT, id));
    if (Grants(permission, Action::READ)) readable.push_back(std::move(id));
  }
  return readable;
}

Result<std::optional<ReadableSet>> ReadableOf(AccessPolicy* policy, const http::Request& request,
                                              ResourceKind kind) {
  if (policy == nullptr) return std::optional<ReadableSet>{};
  MLTF_ASSIGN_OR_RETURN(caller, CallerOf(request));
  return policy->Readable(*caller, kind);
}

Result<void> GrantToCreator(AccessPolicy* policy, const http::Request& request, ResourceKind kind,
                            const std::string& resource) {
  if (policy == nullptr) return {};
  MLTF_ASSIGN_OR_RETURN(caller, CallerOf(request));
  return policy->GrantCreator(*caller, kind, resource);
}

void AddGuardedRoute(http::Router& router, AccessPolicy* policy, http::Method method,
                     std::string_view path, AccessRule rule, http::JsonHandler handler) {
  http::AddApiRoute(router, method, path,
                    http::JsonEndpoint(Guarded(policy, rule, std::move(handler))));
}

http::JsonHandler Guarded(AccessPolicy* policy, AccessRule rule, http::JsonHandler handler) {
  if (policy == nullptr) return handler;
  return [policy, rule, handler = std::move(handler)](
             const http::RequestMessage& message, http::Request& request) -> Result<std::string> {
    MLTF_TRY(CheckRequest(*policy, rule, message, request));
    return handler(message, request);
  };
}

http::AsyncJsonHandler Guarded(AccessPolicy* policy, AccessRule rule,
                               http::AsyncJsonHandler handler) {
  if (policy == nullptr) return handler;
  return [policy, rule, handler = std::move(handler)](
             const http::RequestMessage& message, http::Request& request, http::JsonReply reply) {
    if (auto allowed = CheckRequest(*policy, rule, message, request); !allowed) {
      return reply(Fail(std::move(allowed).error()));
    }
    handler(message, request, std::move(reply));
  };
}

}  // namespace mltf::auth
