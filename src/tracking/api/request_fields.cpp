// request_fields.cpp - enum and id fields with MLflow's wording of errors.
#include "tracking/api/request_fields.hpp"

#include <fmt/format.h>

namespace mltf::tracking::api {

Result<std::string> RunIdField(const http::RequestMessage& message) {
  MLTF_ASSIGN_OR_RETURN(run_id, message.String("run_id"));
  if (run_id && !run_id->empty()) return std::move(*run_id);
  MLTF_ASSIGN_OR_RETURN(run_uuid, message.String("run_uuid"));
  if (run_uuid && !run_uuid->empty()) return std::move(*run_uuid);
  return Fail(http::MissingParameter("run_id"));
}

Result<ViewType> ViewTypeField(const http::RequestMessage& message, std::string_view name) {
  if (!message.Has(name)) return ViewType::ACTIVE_ONLY;
  if (auto text = message.String(name); text && *text) {
    if (auto parsed = ParseViewType(**text)) return *parsed;
    if (auto number = message.Int64(name); number && *number) {
      if (**number >= 1 && **number <= 3) return static_cast<ViewType>(**number - 1);
    }
    return Fail(Error::InvalidParameter(
        fmt::format("Invalid value '{}' for parameter '{}': expected ACTIVE_ONLY, DELETED_ONLY "
                    "or ALL.",
                    **text, name)));
  }
  MLTF_ASSIGN_OR_RETURN(number, message.Int64(name));
  if (number && *number >= 1 && *number <= 3) return static_cast<ViewType>(*number - 1);
  return Fail(Error::InvalidParameter(fmt::format(
      "Invalid value for parameter '{}': expected ACTIVE_ONLY, DELETED_ONLY or ALL.", name)));
}

Result<std::optional<RunStatus>> RunStatusField(const http::RequestMessage& message,
                                                std::string_view name) {
  if (!message.Has(name)) return std::optional<RunStatus>{};
  auto bad = [&] {
    return Fail(Error::InvalidParameter(fmt::format(
        "Invalid value for parameter '{}': expected RUNNING, SCHEDULED, FINISHED, FAILED or "
        "KILLED.",
        name)));
  };
  if (auto text = message.String(name); text && *text) {
    if (auto parsed = ParseRunStatus(**text)) return std::optional<RunStatus>{*parsed};
  }
  auto number = message.Int64(name);
  if (number && *number && **number >= 1 && **number <= 5) {
    return std::optional<RunStatus>{static_cast<RunStatus>(**number - 1)};
  }
  return bad();
}

Result<std::vector<Tag>> TagsField(const http::RequestMessage& message, std::string_view name) {
  MLTF_ASSIGN_OR_RETURN(pairs, message.KeyValues(name));
  std::vector<Tag> tags;
  tags.reserve(pairs.size());
  for (auto& pair : pairs) tags.push_back({std::move(pair.key), std::move(pair.value)});
  return tags;
}

}  // namespace mltf::tracking::api
