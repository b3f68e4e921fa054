// token_keeper.hpp - keeps the task's own token alive while the attempt runs. The server gives a
// task's token a short life and the runner renews it (POST /api/mltf/v1/task-token/renew) on a
// thread of its own, so a task may run for days while a token taken from it, or left behind by a
// runner that died, soon stops working.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace mltf::runner {

class TokenKeeper {
 public:
  using Note = std::function<void(const std::string&)>;

  /// Renews `token` at `tracking_uri` every `interval`, starting one interval from now; a failed
  /// renewal is noted (once until one succeeds again) and retried sooner. Does nothing when the
  /// token is empty or the interval is not positive.
  TokenKeeper(std::string tracking_uri, std::string token, std::chrono::milliseconds interval,
              Note note);
  /// Stops renewing, at once.
  ~TokenKeeper();
  TokenKeeper(const TokenKeeper&) = delete;
  TokenKeeper& operator=(const TokenKeeper&) = delete;

  /// Renewals that succeeded so far (for tests).
  [[nodiscard]] int renewals() const;

 private:
  void Loop(const std::stop_token& stop);

  std::string tracking_uri_;
  std::string token_;
  std::chrono::milliseconds interval_;
  Note note_;
  mutable std::mutex mutex_;
  std::condition_variable_any wake_;
  int renewals_ = 0;
  std::jthread thread_;  // last: stopped and joined first
};

}  // namespace mltf::runner
