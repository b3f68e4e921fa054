// request_fields.hpp - request fields shared by tracking handlers: run ids, enums, key/values.
#pragma once

#include <string>

#include "http/request_message.hpp"
#include "tracking/entities/entities.hpp"

namespace mltf::tracking::api {

/// `run_id`, or its deprecated alias `run_uuid`; one of them is required.
Result<std::string> RunIdField(const http::RequestMessage& message);
/// A ViewType given by name ("ACTIVE_ONLY") or proto number (1..3); absent is ACTIVE_ONLY.
Result<ViewType> ViewTypeField(const http::RequestMessage& message, std::string_view name);
/// A RunStatus given by name ("FINISHED") or proto number (1..5).
Result<std::optional<RunStatus>> RunStatusField(const http::RequestMessage& message,
                                                std::string_view name);
/// A repeated {key, value} field as tags.
Result<std::vector<Tag>> TagsField(const http::RequestMessage& message, std::string_view name);

}  // namespace mltf::tracking::api
