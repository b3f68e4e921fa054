// log_follower.hpp - answers "the log after offset N" requests, waiting for new bytes when
// there are none yet (long polling), without holding a worker thread per follower.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/reply.hpp"

namespace mltf::gateway::api {

/// One request for a slice of a task log.
struct LogRequest {
  std::filesystem::path path;
  std::uint64_t offset = 0;
  std::uint64_t max_bytes = 1 << 20;
  std::chrono::milliseconds wait{0};
  /// Whether the task has ended (then no more bytes will come); called on the follower thread.
  std::function<bool()> finished;
  /// The task's state, for the X-MLTF-Task-State header.
  std::function<std::string()> state;
};

/// Answers log requests: at once when bytes are there, the task ended, or no wait was asked;
/// otherwise it parks the request and a single thread looks at the parked requests' files every
/// `poll_interval` until one of those holds or the wait ran out. Thread-safe.
class LogFollower {
 public:
  explicit LogFollower(std::chrono::milliseconds poll_interval = std::chrono::milliseconds(100));
  ~LogFollower();
  LogFollower(const LogFollower&) = delete;
  LogFollower& operator=(const LogFollower&) = delete;

  /// Answers `request` through `reply`, now or later. Does not throw.
  void Serve(LogRequest request, http::Reply reply);
  /// Answers every parked request with what there is and stops the thread; later requests are
  /// answered at once. Call before the HTTP server goes away. Idempotent.
  void Close();

 private:
  struct Parked {
    LogRequest request;
    http::Reply reply;
    std::chrono::steady_clock::time_point deadline;
  };
  /// The answer if it is due (bytes there, task ended, or `force`), else nullopt.
  static std::optional<http::Response> TryAnswer(const LogRequest& request, bool force);
  void Loop(const std::stop_token& stop);

  std::chrono::milliseconds poll_interval_;
  std::mutex mutex_;
  std::condition_variable_any parked_ready_;
  std::vector<Parked> parked_;  // guarded by mutex_
  bool closed_ = false;         // guarded by mutex_
  std::jthread thread_;
};

}  // namespace mltf::gateway::api
