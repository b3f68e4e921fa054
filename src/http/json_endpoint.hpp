// json_endpoint.hpp - adapts a function "request message -> JSON text" into an HTTP handler.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "http/request_message.hpp"
#include "http/router.hpp"

namespace mltf::http {

using JsonHandler = std::function<Result<std::string>(const RequestMessage&, Request&)>;

/// Answers an asynchronous JSON request once, from any thread: its JSON text, or MLflow's error
/// body. Move-only; dropping it unanswered answers 500 (see Reply).
class JsonReply {
 public:
  explicit JsonReply(Reply reply) : reply_(std::move(reply)) {}

  /// Sends `body` as the answer. Does not throw.
  void operator()(Result<std::string> body) noexcept;

 private:
  Reply reply_;
};

/// A JSON handler that answers through `reply`, now or later. It must copy what it needs from
/// the message: the message is gone once the handler returns.
using AsyncJsonHandler = std::function<void(const RequestMessage&, Request&, JsonReply reply)>;

/// Parses the request's message (JSON body or query), calls `handler`, and answers its JSON or
/// MLflow's error body. Never throws into the server.
Handler JsonEndpoint(JsonHandler handler);
/// The same for an asynchronous handler. A malformed message is answered before `handler` runs.
AsyncHandler AsyncJsonEndpoint(AsyncJsonHandler handler);

/// Registers `handler` under both `/api/2.0<path>` and `/ajax-api/2.0<path>`, as MLflow does.
void AddApiRoute(Router& router, Method method, std::string_view path, Handler handler);
/// The same for an asynchronous handler, run as `execution` says.
void AddApiRoute(Router& router, Method method, std::string_view path, AsyncHandler handler,
                 Execution execution);

/// "{}" - the answer of every mutation without a result.
inline std::string EmptyJson() { return "{}"; }

}  // namespace mltf::http
