// reply.cpp - one-shot replies; a dropped reply answers 500.
#include "http/reply.hpp"

#include <spdlog/spdlog.h>

namespace mltf::http {

Reply& Reply::operator=(Reply&& other) noexcept {
  if (this != &other) {
    AnswerLost();
    target_ = std::move(other.target_);
  }
  return *this;
}

Reply::~Reply() { AnswerLost(); }

void Reply::operator()(Response response) noexcept {
  if (auto target = std::move(target_)) target->Send(std::move(response));
}

void Reply::AnswerLost() noexcept {
  auto target = std::move(target_);
  if (!target) return;
  try {
    spdlog::error("a request handler dropped its reply without answering");
    target->Send(ErrorResponse(Error::Internal("Internal server error.")));
  } catch (...) {
    // Building the error response failed (out of memory): answer an empty 500 instead.
    Response response;
    response.status = 500;
    target->Send(std::move(response));
  }
}

}  // namespace mltf::http
