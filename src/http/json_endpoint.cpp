// json_endpoint.cpp - message parsing and error rendering around JSON handlers.
#include "http/json_endpoint.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace mltf::http {

namespace {

/// MLflow (handlers._validate_content_type) takes POST and PUT bodies only as JSON.
std::optional<Error> CheckContentType(const Request& request) {
  if (request.method != Method::POST && request.method != Method::PUT) return std::nullopt;
  std::string_view content_type = request.Header("content-type");
  if (content_type.empty()) {
    return Error::InvalidParameter("Bad Request. Content-Type header is missing.");
  }
  std::string_view media_type = content_type.substr(0, content_type.find(';'));
  while (!media_type.empty() && media_type.back() == ' ') media_type.remove_suffix(1);
  if (media_type != "application/json") {
    return Error::InvalidParameter(
        "Bad Request. Content-Type must be one of ['application/json'].");
  }
  return std::nullopt;
}

}  // namespace

Handler JsonEndpoint(JsonHandler handler) {
  return [handler = std::move(handler)](Request& request) -> Response {
    if (auto error = CheckContentType(request)) return ErrorResponse(*error);
    auto message = RequestMessage::From(request);
    if (!message) return ErrorResponse(message.error());
    auto body = handler(*message, request);
    if (!body) return ErrorResponse(body.error());
    return Response::Json(std::move(*body));
  };
}

void JsonReply::operator()(Result<std::string> body) noexcept {
  try {
    reply_(body ? Response::Json(std::move(*body)) : ErrorResponse(body.error()));
  } catch (const std::exception& error) {
    // Only allocation can fail here; the dropped reply then answers 500 by itself.
    spdlog::error("cannot build a response error={}", error.what());
  }
}

AsyncHandler AsyncJsonEndpoint(AsyncJsonHandler handler) {
  return [handler = std::move(handler)](Request& request, Reply reply) {
    if (auto error = CheckContentType(request)) return reply(ErrorResponse(*error));
    auto message = RequestMessage::From(request);
    if (!message) return reply(ErrorResponse(message.error()));
    handler(*message, request, JsonReply(std::move(reply)));
  };
}

void AddApiRoute(Router& router, Method method, std::string_view path, AsyncHandler handler,
                 Execution execution) {
  router.AddAsync(method, fmt::format("/ajax-api/2.0{}", path), handler, execution);
  router.AddAsync(method, fmt::format("/api/2.0{}", path), std::move(handler), execution);
}

void AddApiRoute(Router& router, Method method, std::string_view path, Handler handler) {
  router.Add(method, fmt::format("/ajax-api/2.0{}", path), handler);
  router.Add(method, fmt::format("/api/2.0{}", path), std::move(handler));
}

}  // namespace mltf::http
