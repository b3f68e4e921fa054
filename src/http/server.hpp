// server.hpp - the HTTP/1.1 server: keep-alive, chunked bodies, bounded sizes, graceful shutdown.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/error.hpp"
#include "http/authenticator.hpp"
#include "http/router.hpp"

namespace mltf::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 5000;  ///< 0 picks a free port (see Server::port())
  int io_threads = 2;         ///< threads that parse and frame HTTP; never block
  int worker_threads = 32;    ///< threads that run blocking handlers; may block on the store
  std::size_t max_header_bytes = std::size_t{64} * 1024;
  std::uint64_t max_body_bytes = 64ULL * 1024 * 1024;  ///< for buffered routes
  std::chrono::seconds idle_timeout{120};
  std::chrono::seconds shutdown_grace{30};
  bool access_log = true;
  /// Who may call: every route but the router's anonymous ones answers 401 without a
  /// credential it accepts. Null: nobody is asked (Request::caller stays null). Not owned; must
  /// outlive the server.
  const Authenticator* authenticator = nullptr;
};

/// Serves a Router. Protocol: Listen() binds; Run() serves until SIGINT/SIGTERM or Stop(), then
/// stops accepting, lets in-flight requests finish (up to shutdown_grace), and returns once all
/// handler threads have been joined. Handlers run on the worker pool, I/O on the I/O threads;
/// an asynchronous handler whose route never blocks runs on the I/O thread (Execution::INLINE).
class Server {
 public:
  Server(ServerOptions options, const Router& router);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds and listens. Fails if the address is invalid or the port is taken.
  Result<void> Listen();
  /// The port bound by Listen().
  [[nodiscard]] std::uint16_t port() const;
  /// Serves until a signal or Stop(); returns after a graceful shutdown.
  void Run();
  /// Asks Run() to shut down gracefully. Thread-safe; may be called before Run().
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mltf::http
