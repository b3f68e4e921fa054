// http_client.hpp - a small blocking HTTP client (libcurl) for the `mltf` CLI and task runner.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace mltf::client {

/// One HTTP answer, whatever its status.
struct HttpResponse {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  ///< Names lower-cased; the last value wins.

  /// The value of header `name` (lower-case), if present. Does not fail.
  std::optional<std::string> Header(std::string_view name) const;
};

/// Talks HTTP(S) to one server (`base_url`, e.g. "http://host:5000"), reusing one connection
/// (keep-alive) between requests. Paths given to the methods start with '/' and are already
/// percent-encoded.
///
/// A Result error means no HTTP answer arrived (connection refused, timeout, TLS failure,
/// answer too large): TEMPORARILY_UNAVAILABLE with a message naming the URL and what to do.
/// Any HTTP status, 4xx and 5xx included, is a successful Result; see ParseJsonResponse().
///
/// Not thread-safe: one client per thread.
class HttpClient {
 public:
  /// Does not fail; a bad `base_url` shows up on the first request.
  explicit HttpClient(std::string base_url, std::string bearer_token = {});
  ~HttpClient();
  HttpClient(HttpClient&& other) noexcept;
  HttpClient& operator=(HttpClient&& other) noexcept;
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// The limit on a whole request for Get, PostJson and Send (default 120 s; zero: none).
  /// Uploads and streams are limited by a stall timeout instead. Does not fail.
  void SetTimeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }

  /// Names the peer in messages when it is not the MLTF server (e.g. "the OpenID provider"),
  /// which also drops the advice to set --server or MLTF_SERVER. Does not fail.
  void SetPeerName(std::string name) { peer_name_ = std::move(name); }

  /// The server's base URL as given. Does not fail.
  const std::string& base_url() const { return base_url_; }

  /// GET `path_and_query`. Fails only when no answer arrives.
  Result<HttpResponse> Get(std::string_view path_and_query);
  /// POST `body` as application/json. Fails only when no answer arrives.
  Result<HttpResponse> PostJson(std::string_view path, const nlohmann::json& body);
  /// Any method with an in-memory body (none when `content_type` is empty and `body` is
  /// empty). Fails only when no answer arrives.
  Result<HttpResponse> Send(std::string_view method, std::string_view path, std::string_view body,
                            std::string_view content_type);
  /// Sends the file at `file` as the body of `method` (PUT, POST), streamed from disk with a
  /// known Content-Length. `progress` (may be empty) sees bytes sent and the total. Fails when
  /// the file cannot be read, changes size while it is sent, or no answer arrives.
  Result<HttpResponse> UploadFile(
      std::string_view method, std::string_view path, const std::filesystem::path& file,
      std::string content_type,
      const std::function<void(std::uint64_t sent, std::uint64_t total)>& progress);
  /// GETs `path` and hands the body to `on_chunk` as it arrives; `on_chunk` returns false to
  /// stop early (not an error). Returns the HTTP status of a 2xx answer. A non-2xx answer is
  /// not passed to `on_chunk`: it fails with the server's error (as ParseJsonResponse()).
  Result<long> Stream(std::string_view path, const std::function<bool(std::string_view)>& on_chunk);

 private:
  struct Transfer;
  Result<HttpResponse> Perform(Transfer& transfer);

  std::string base_url_;
  std::string bearer_token_;
  std::string peer_name_;  // empty: the MLTF server
  std::chrono::milliseconds timeout_{std::chrono::seconds(120)};
  std::unique_ptr<void, void (*)(void*)> handle_;  // CURL*, created on first use.
};

/// The ErrorCode whose wire name is `name` ("RESOURCE_DOES_NOT_EXIST"), if any. Does not fail.
std::optional<ErrorCode> ErrorCodeFromName(std::string_view name);

/// The JSON body of a 2xx answer (an empty body reads as `{}`). A non-2xx answer becomes the
/// server's MLflow error `{"error_code", "message"}`; an answer without that shape becomes an
/// error chosen by the HTTP status, quoting the start of the body. A 2xx body that is not JSON
/// is INTERNAL_ERROR.
Result<nlohmann::json> ParseJsonResponse(const HttpResponse& response);

/// The string member `key` of a JSON object from a peer; empty when it is absent, null or not
/// a string (peers' optional fields are read leniently). Does not fail.
std::string JsonString(const nlohmann::json& object, const char* key);

/// `segment` with every byte outside RFC 3986's unreserved set percent-encoded ("a b/c" ->
/// "a%20b%2Fc"), for one path segment or query value. Does not fail.
std::string PercentEncode(std::string_view segment);

/// `url` without any "user:password@" part, for messages. Does not fail.
std::string RedactUrl(std::string_view url);

}  // namespace mltf::client
