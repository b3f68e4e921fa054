// json_endpoint.hpp - adapts a function "request message -> JSON text" into an HTTP handler.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "http/request_message.hpp"
#include "http/router.hpp"

namespace mltf::http {

using JsonHandler = std::function<Result<std::string>(const RequestMessage&, Request&)>;

/// Parses the request's message (JSON body or query), calls `handler`, and answers its JSON or
/// MLflow's error body. Never throws into the server.
Handler JsonEndpoint(JsonHandler handler);

/// Registers `handler` under both `/api/2.0<path>` and `/ajax-api/2.0<path>`, as MLflow does.
void AddApiRoute(Router& router, Method method, std::string_view path, Handler handler);

/// "{}" - the answer of every mutation without a result.
inline std::string EmptyJson() { return "{}"; }

}  // namespace mltf::http
