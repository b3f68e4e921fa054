// log_follower.cpp - log slices by offset, with long polling for followers.
#include "gateway/api/log_follower.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace mltf::gateway::api {
namespace {

/// The file's size, 0 if it does not exist yet (the runner has not started writing).
std::uint64_t SizeOf(const std::filesystem::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return 0;
  return static_cast<std::uint64_t>(info.st_size);
}

http::Response Slice(const LogRequest& request) {
  std::string bytes;
  const int fd = ::open(request.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    const std::uint64_t size = SizeOf(request.path);
    if (size > request.offset) {
      bytes.resize(static_cast<std::size_t>(std::min(size - request.offset, request.max_bytes)));
      const ssize_t got =
          ::pread(fd, bytes.data(), bytes.size(), static_cast<off_t>(request.offset));
      bytes.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
    }
    ::close(fd);
  }
  http::Response response = http::Response::Text(std::move(bytes));
  response.headers.emplace_back("X-MLTF-Log-Offset",
                                std::to_string(request.offset + response.body.size()));
  response.headers.emplace_back("X-MLTF-Task-State", request.state());
  return response;
}

}  // namespace

LogFollower::LogFollower(std::chrono::milliseconds poll_interval)
    : poll_interval_(poll_interval), thread_([this](const std::stop_token& stop) { Loop(stop); }) {}

LogFollower::~LogFollower() { Close(); }

void LogFollower::Close() {
  thread_.request_stop();
  parked_ready_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::vector<Parked> parked;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    parked.swap(parked_);
  }
  // Whoever still waits gets what there is.
  for (auto& entry : parked) entry.reply(Slice(entry.request));
}

std::optional<http::Response> LogFollower::TryAnswer(const LogRequest& request, bool force) {
  if (force || SizeOf(request.path) > request.offset || request.finished()) return Slice(request);
  return std::nullopt;
}

void LogFollower::Serve(LogRequest request, http::Reply reply) {
  try {
    bool closed = false;
    {
      std::lock_guard lock(mutex_);
      closed = closed_;
    }
    if (auto answer = TryAnswer(request, closed || request.wait.count() <= 0)) {
      reply(std::move(*answer));
      return;
    }
    const auto deadline = std::chrono::steady_clock::now() + request.wait;
    {
      std::lock_guard lock(mutex_);
      parked_.push_back({std::move(request), std::move(reply), deadline});
    }
    parked_ready_.notify_one();
  } catch (const std::exception& error) {
    reply(http::ErrorResponse(Error::Internal(error.what())));
  }
}

void LogFollower::Loop(const std::stop_token& stop) {
  while (!stop.stop_requested()) {
    std::vector<Parked> parked;
    {
      std::unique_lock lock(mutex_);
      parked_ready_.wait(lock, stop, [this] { return !parked_.empty(); });
      parked.swap(parked_);
    }
    std::vector<Parked> still_waiting;
    const auto now = std::chrono::steady_clock::now();
    for (auto& entry : parked) {
      try {
        if (auto answer = TryAnswer(entry.request, now >= entry.deadline)) {
          entry.reply(std::move(*answer));
        } else {
          still_waiting.push_back(std::move(entry));
        }
      } catch (const std::exception& error) {
        entry.reply(http::ErrorResponse(Error::Internal(error.what())));
      }
    }
    {
      std::lock_guard lock(mutex_);
      for (auto& entry : still_waiting) parked_.push_back(std::move(entry));
    }
    if (!still_waiting.empty()) {
      std::unique_lock lock(mutex_);
      parked_ready_.wait_for(lock, stop, poll_interval_, [] { return false; });
    }
  }
}

}  // namespace mltf::gateway::api
