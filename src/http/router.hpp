// router.hpp - maps (method, path) to handlers: exact paths by hash, then path prefixes.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http/request.hpp"
#include "http/response.hpp"

namespace mltf::http {

/// A handler answers one request. It runs on a worker thread and may block.
using Handler = std::function<Response(Request&)>;

enum class BodyMode {
  BUFFERED,  ///< the server reads the whole body (bounded) into Request::body
  STREAMED,  ///< the handler reads it through Request::body_reader
};

/// A route table, built at start-up and read-only afterwards (then thread-safe).
class Router {
 public:
  /// What a lookup found. `handler` is null when nothing matched; `method_allowed` tells a 404
  /// from a 405.
  struct Match {
    const Handler* handler = nullptr;
    BodyMode body_mode = BodyMode::BUFFERED;
    bool path_known = false;
    std::string_view path_suffix;  ///< for prefix routes: the path after the prefix
  };

  /// Registers `handler` for `method` on exactly `path`.
  void Add(Method method, std::string path, Handler handler,
           BodyMode body_mode = BodyMode::BUFFERED);
  /// Registers `handler` for `method` on every path that starts with `prefix`.
  void AddPrefix(Method method, std::string prefix, Handler handler,
                 BodyMode body_mode = BodyMode::BUFFERED);

  [[nodiscard]] Match Find(Method method, std::string_view path) const;

 private:
  struct Endpoint {
    Method method;
    Handler handler;
    BodyMode body_mode;
  };
  struct PrefixRoute {
    std::string prefix;
    std::vector<Endpoint> endpoints;
  };

  std::unordered_map<std::string, std::vector<Endpoint>> exact_;
  std::vector<PrefixRoute> prefixes_;
};

}  // namespace mltf::http
