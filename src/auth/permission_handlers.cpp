// permission_handlers.cpp - create, get, update and delete permission rows.
#include "auth/permission_handlers.hpp"

#include <fmt/format.h>

#include "auth/request_access.hpp"
#include "common/json_writer.hpp"
#include "http/json_endpoint.hpp"

namespace mltf::auth {
namespace {

using http::Method;
using http::RequestMessage;

/// Where one kind of resource is named in requests and answers.
struct Kind {
  ResourceKind kind;
  std::string_view path;          ///< "/mlflow/experiments/permissions"
  std::string_view id_field;      ///< "experiment_id" or "name"
  std::string_view answer_field;  ///< "experiment_permission" or "registered_model_permission"
};

constexpr Kind kExperiments{ResourceKind::EXPERIMENT, "/mlflow/experiments/permissions",
                            "experiment_id", "experiment_permission"};
constexpr Kind kModels{ResourceKind::REGISTERED_MODEL, "/mlflow/registered-models/permissions",
                       "name", "registered_model_permission"};

/// The principal a request names: `username` or `group_name`, exactly one.
Result<std::pair<PrincipalKind, std::string>> PrincipalOf(const RequestMessage& message) {
  MLTF_ASSIGN_OR_RETURN(user, message.String("username"));
  MLTF_ASSIGN_OR_RETURN(group, message.String("group_name"));
  const bool has_user = user && !user->empty();
  const bool has_group = group && !group->empty();
  if (has_user == has_group) {
    return Fail(Error::InvalidParameter("Name exactly one of 'username' and 'group_name'."));
  }
  if (has_user) return std::pair{PrincipalKind::USER, std::move(*user)};
  return std::pair{PrincipalKind::GROUP, std::move(*group)};
}

Result<Permission> PermissionField(const RequestMessage& message) {
  MLTF_ASSIGN_OR_RETURN(name, message.RequiredString("permission"));
  auto permission = ParsePermission(name);
  if (!permission) {
    return Fail(Error::InvalidParameter(fmt::format(
        "Invalid permission '{}'. Valid permissions are: READ, EDIT, MANAGE, NO_PERMISSIONS",
        name)));
  }
  return *permission;
}

/// The request's row: resource, principal and (when `with_permission`) permission. Checks that
/// the caller may MANAGE the resource.
Result<PermissionRow> RowOf(AccessPolicy& policy, const Kind& kind, const RequestMessage& message,
                            const http::Request& request, bool with_permission) {
  MLTF_ASSIGN_OR_RETURN(resource, message.RequiredString(kind.id_field));
  MLTF_ASSIGN_OR_RETURN(caller, CallerOf(request));
  if (kind.kind == ResourceKind::EXPERIMENT) {
    MLTF_TRY(policy.CheckExperiment(*caller, resource, Action::MANAGE));
  } else {
    MLTF_TRY(policy.CheckModel(*caller, resource, Action::MANAGE));
  }
  MLTF_ASSIGN_OR_RETURN(principal, PrincipalOf(message));
  PermissionRow row{.resource = std::move(resource),
                    .principal_kind = principal.first,
                    .principal = std::move(principal.second)};
  if (with_permission) {
    MLTF_ASSIGN_OR_RETURN(permission, PermissionField(message));
    row.permission = permission;
  }
  return row;
}

std::string Render(const Kind& kind, const PermissionRow& row) {
  JsonWriter json;
  json.BeginObject();
  json.Key(kind.answer_field);
  json.BeginObject();
  json.Field(kind.id_field, row.resource);
  // MLflow names users by a numeric user_id; MLTF's users are their names.
  if (row.principal_kind == PrincipalKind::USER) {
    json.Field("user_id", row.principal);
    json.Field("username", row.principal);
  } else {
    json.Field("group_name", row.principal);
  }
  json.Field("permission", PermissionName(row.permission));
  json.EndObject();
  json.EndObject();
  return json.Take();
}

void RegisterKind(http::Router& router, AccessPolicy& policy, const Kind& kind) {
  auto route = [&](Method method, std::string_view action, http::JsonHandler handler) {
    http::AddApiRoute(router, method, fmt::format("{}/{}", kind.path, action),
                      http::JsonEndpoint(std::move(handler)));
  };
  route(Method::POST, "create",
        [&policy, kind](const RequestMessage& message,
                        http::Request& request) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(row, RowOf(policy, kind, message, request, true));
          MLTF_TRY(policy.store().Create(kind.kind, row));
          policy.Forget(kind.kind, row.resource);
          return Render(kind, row);
        });
  route(Method::GET, "get",
        [&policy, kind](const RequestMessage& message,
                        http::Request& request) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(wanted, RowOf(policy, kind, message, request, false));
          MLTF_ASSIGN_OR_RETURN(rows, policy.store().ForResource(kind.kind, wanted.resource));
          for (const auto& row : rows) {
            if (row.principal_kind == wanted.principal_kind && row.principal == wanted.principal) {
              return Render(kind, row);
            }
          }
          return Fail(Error::ResourceDoesNotExist(
              fmt::format("No permission of '{}' on '{}'", wanted.principal, wanted.resource)));
        });
  route(Method::PATCH, "update",
        [&policy, kind](const RequestMessage& message,
                        http::Request& request) -> Result<std::string> {
          MLTF_ASSIGN_OR_RETURN(row, RowOf(policy, kind, message, request, true));
          MLTF_TRY(policy.store().Update(kind.kind, row));
          policy.Forget(kind.kind, row.resource);
          return http::EmptyJson();
        });
  route(
      Method::DELETE, "delete",
      [&policy, kind](const RequestMessage& message,
                      http::Request& request) -> Result<std::string> {
        MLTF_ASSIGN_OR_RETURN(row, RowOf(policy, kind, message, request, false));
        MLTF_TRY(policy.store().Delete(kind.kind, row.resource, row.principal_kind, row.principal));
        policy.Forget(kind.kind, row.resource);
        return http::EmptyJson();
      });
}

}  // namespace

void RegisterPermissionRoutes(http::Router& router, AccessPolicy& policy) {
  RegisterKind(router, policy, kExperiments);
  RegisterKind(router, policy, kModels);
}

}  // namespace mltf::auth
