// error_response.cpp - the only table from MLflow error codes to HTTP statuses, and error bodies.
#include <unistd.h>

#include "common/json_writer.hpp"
#include "http/response.hpp"

namespace mltf::http {

FileBody& FileBody::operator=(FileBody&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = other.size_;
  }
  return *this;
}

FileBody::~FileBody() {
  if (fd_ >= 0) ::close(fd_);
}

int HttpStatusFor(ErrorCode code) {
  // MLflow 2.9.2 mlflow/exceptions.py; note RESOURCE_ALREADY_EXISTS is 400, not 409.
  switch (code) {
    case ErrorCode::INTERNAL_ERROR:
    case ErrorCode::INVALID_STATE:
      return 500;
    case ErrorCode::NOT_IMPLEMENTED:
      return 501;
    case ErrorCode::TEMPORARILY_UNAVAILABLE:
      return 503;
    case ErrorCode::REQUEST_LIMIT_EXCEEDED:
    case ErrorCode::RESOURCE_EXHAUSTED:
      return 429;
    case ErrorCode::RESOURCE_CONFLICT:
      return 409;
    case ErrorCode::RESOURCE_DOES_NOT_EXIST:
    case ErrorCode::ENDPOINT_NOT_FOUND:
      return 404;
    case ErrorCode::PERMISSION_DENIED:
      return 403;
    case ErrorCode::UNAUTHENTICATED:
      return 401;
    case ErrorCode::BAD_REQUEST:
    case ErrorCode::INVALID_PARAMETER_VALUE:
    case ErrorCode::RESOURCE_ALREADY_EXISTS:
      return 400;
  }
  return 500;
}

Response ErrorResponse(const Error& error) {
  return ErrorResponse(error, HttpStatusFor(error.code));
}

Response ErrorResponse(const Error& error, int status) {
  JsonWriter json;
  json.BeginObject();
  json.Field("error_code", ErrorCodeName(error.code));
  json.Field("message", error.message);
  json.EndObject();
  return Response::Json(json.Take(), status);
}

}  // namespace mltf::http
