// response.hpp - what a handler answers: a status, headers and a body held in memory or a file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"

namespace mltf::http {

/// An open file sent as the body, streamed by the server (the descriptor is owned and closed).
class FileBody {
 public:
  FileBody(int fd, std::uint64_t size) : fd_(fd), size_(size) {}
  FileBody(const FileBody&) = delete;
  FileBody& operator=(const FileBody&) = delete;
  FileBody(FileBody&& other) noexcept : fd_(std::exchange(other.fd_, -1)), size_(other.size_) {}
  FileBody& operator=(FileBody&& other) noexcept;
  ~FileBody();

  /// Gives up ownership of the descriptor.
  int Release() { return std::exchange(fd_, -1); }
  [[nodiscard]] int fd() const { return fd_; }
  [[nodiscard]] std::uint64_t size() const { return size_; }

 private:
  int fd_;
  std::uint64_t size_;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<FileBody> file;  ///< when set, the body is this file, sent chunked

  static Response Json(std::string json, int status = 200) {
    Response response;
    response.status = status;
    response.body = std::move(json);
    return response;
  }
  static Response Text(std::string text, int status = 200) {
    Response response;
    response.status = status;
    response.content_type = "text/plain; charset=utf-8";
    response.body = std::move(text);
    return response;
  }
};

/// The HTTP status MLflow answers for an error code (MLflow's ERROR_CODE_TO_HTTP_STATUS).
int HttpStatusFor(ErrorCode code);

/// `{"error_code": ..., "message": ...}` with the status of its code.
Response ErrorResponse(const Error& error);

/// The same body with an explicit transport-level status (413, 405, 431...).
Response ErrorResponse(const Error& error, int status);

}  // namespace mltf::http
