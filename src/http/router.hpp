// router.hpp - maps (method, path) to handlers: exact paths by hash, then path prefixes.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "http/reply.hpp"
#include "http/request.hpp"
#include "http/response.hpp"

namespace mltf::http {

/// A handler answers one request. It runs on a worker thread and may block.
using Handler = std::function<Response(Request&)>;

/// A handler that answers through `reply`, now or later and from any thread (e.g. once a write
/// is committed). `request` stays valid until the reply is sent, but a JSON message parsed from
/// it lives only during the call: copy what the answer needs.
using AsyncHandler = std::function<void(Request& request, Reply reply)>;

enum class BodyMode {
  BUFFERED,  ///< the server reads the whole body (bounded) into Request::body
  STREAMED,  ///< the handler reads it through Request::body_reader
};

/// Where an asynchronous handler runs.
enum class Execution {
  WORKER,  ///< on the worker pool: the handler may block
  INLINE,  ///< on the connection's I/O thread: the handler never blocks (it only parses,
           ///< validates and hands work on), which saves a thread hand-off per request
};

/// A route table, built at start-up and read-only afterwards (then thread-safe).
class Router {
 public:
  /// What a lookup found: at most one of `handler` and `async_handler` is set, neither when
  /// nothing matched; `path_known` tells a 404 from a 405.
  struct Match {
    const Handler* handler = nullptr;
    const AsyncHandler* async_handler = nullptr;
    BodyMode body_mode = BodyMode::BUFFERED;
    Execution execution = Execution::WORKER;
    bool path_known = false;
    bool anonymous = false;        ///< the path needs no credential (AllowAnonymous)
    std::string_view path_suffix;  ///< for prefix routes: the path after the prefix

    [[nodiscard]] bool found() const { return handler != nullptr || async_handler != nullptr; }
  };

  /// Registers `handler` for `method` on exactly `path`.
  void Add(Method method, std::string path, Handler handler,
           BodyMode body_mode = BodyMode::BUFFERED);
  /// Registers an asynchronous `handler` (buffered body) for `method` on exactly `path`.
  void AddAsync(Method method, std::string path, AsyncHandler handler,
                Execution execution = Execution::WORKER);
  /// Registers `handler` for `method` on every path that starts with `prefix`.
  void AddPrefix(Method method, std::string prefix, Handler handler,
                 BodyMode body_mode = BodyMode::BUFFERED);

  /// Registers an asynchronous `handler` (buffered body) for `method` on every path that starts
  /// with `prefix`.
  void AddPrefixAsync(Method method, std::string prefix, AsyncHandler handler,
                      Execution execution = Execution::WORKER);

  /// Lets callers without a credential reach the routes on exactly `path` (health checks,
  /// version, the client configuration that says how to log in). Everything else requires one
  /// when the server has an authenticator.
  void AllowAnonymous(std::string path);

  [[nodiscard]] Match Find(Method method, std::string_view path) const;

 private:
  struct Endpoint {
    Method method;
    Handler handler;
    AsyncHandler async_handler;
    BodyMode body_mode;
    Execution execution;
  };
  struct PrefixRoute {
    std::string prefix;
    std::vector<Endpoint> endpoints;
  };

  /// Hashes std::string and std::string_view alike, so a lookup does not copy the path.
  struct PathHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view path) const {
      return std::hash<std::string_view>{}(path);
    }
  };

  void AddPrefixEndpoint(std::string prefix, Endpoint endpoint);

  std::unordered_map<std::string, std::vector<Endpoint>, PathHash, std::equal_to<>> exact_;
  std::vector<PrefixRoute> prefixes_;
  std::unordered_set<std::string, PathHash, std::equal_to<>> anonymous_paths_;
};

}  // namespace mltf::http
