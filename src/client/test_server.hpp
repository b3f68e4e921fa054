// test_server.hpp - a scripted HTTP server for the client's tests: a small Python process on
// 127.0.0.1 that answers from a table of canned replies and records every request.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace mltf::client::testing {

/// Starts `python3` (env MLTF_TEST_PYTHON, else /usr/bin/python3) serving on a free port of
/// 127.0.0.1. `routes` maps "METHOD /path" (no query) to a list of answers, used in turn (the
/// last repeats): {"status": 200, "body": JSON or string, "headers": {...},
/// "chunks": [strings sent as a chunked body], "delay_ms": N}. Unlisted routes answer 200 `{}`.
/// The server exits when this object is destroyed or when the test process dies (it watches
/// its stdin). Throws std::runtime_error when it cannot start.
class TestServer {
 public:
  explicit TestServer(const nlohmann::json& routes = nlohmann::json::object());
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  /// "http://127.0.0.1:<port>".
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  /// The requests seen so far: [{"method", "path" (raw, with query), "headers" (lower-case),
  /// "body" (text, when under 4 MiB), "size", "sha256", "client_port"}].
  nlohmann::json Requests() const;

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int port_ = 0;
};

/// A port of 127.0.0.1 on which nothing listens (bound, then closed).
int UnusedPort();

}  // namespace mltf::client::testing
