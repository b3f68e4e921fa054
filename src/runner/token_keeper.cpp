// token_keeper.cpp - the renewal loop.
#include "runner/token_keeper.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "client/http_client.hpp"

namespace mltf::runner {
namespace {

constexpr std::string_view kRenewPath = "/api/mltf/v1/task-token/renew";
constexpr std::chrono::milliseconds kRequestTimeout{10000};
constexpr std::chrono::milliseconds kMaxRetryPause{5000};

}  // namespace

TokenKeeper::TokenKeeper(std::string tracking_uri, std::string token,
                         std::chrono::milliseconds interval, Note note)
    : tracking_uri_(std::move(tracking_uri)),
      token_(std::move(token)),
      interval_(interval),
      note_(std::move(note)) {
  if (token_.empty() || interval_.count() <= 0) return;
  thread_ = std::jthread([this](const std::stop_token& stop) { Loop(stop); });
}

TokenKeeper::~TokenKeeper() {
  if (thread_.joinable()) {
    thread_.request_stop();
    wake_.notify_all();
  }
}

int TokenKeeper::renewals() const {
  std::lock_guard lock(mutex_);
  return renewals_;
}

void TokenKeeper::Loop(const std::stop_token& stop) {
  client::HttpClient http(tracking_uri_, token_);
  http.SetTimeout(kRequestTimeout);
  std::chrono::milliseconds pause = interval_;
  bool failing = false;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      if (wake_.wait_for(lock, stop, pause, [] { return false; }) || stop.stop_requested()) {
        return;
      }
    }
    auto answer = http.PostJson(kRenewPath, nlohmann::json::object());
    std::string problem;
    if (!answer) {
      problem = answer.error().message;
    } else if (answer->status != 200) {
      problem = fmt::format("the server answered {}", answer->status);
    }
    if (problem.empty()) {
      std::lock_guard lock(mutex_);
      ++renewals_;
      failing = false;
      pause = interval_;
      continue;
    }
    if (!failing) note_("cannot renew the task's token (will retry): " + problem);
    failing = true;
    pause = std::min(interval_, kMaxRetryPause);
  }
}

}  // namespace mltf::runner
