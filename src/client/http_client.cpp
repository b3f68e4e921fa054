// http_client.cpp - libcurl behind HttpClient: one easy handle per client, reset between requests
// so its connection cache (keep-alive) survives, and curl errors turned into Errors that say
// which server could not be reached and how to point the CLI at another.
#include "client/http_client.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <mutex>
#include <utility>

#include "version.hpp"

namespace mltf::client {
namespace {

// Answers larger than this are refused: the CLI reads JSON and log pages, never bulk data.
constexpr std::size_t kMaxBodyBytes = std::size_t{256} << 20;
// The error excerpt of a body quoted in messages.
constexpr std::size_t kExcerptBytes = 200;
constexpr long kConnectTimeoutMs = 10000;
// Uploads and streams have no total limit; an upload that moves no byte for this long fails.
constexpr long kStallSeconds = 120;

void EnsureCurlInitialised() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

void CleanupHandle(void* handle) {
  if (handle != nullptr) {
    curl_easy_cleanup(static_cast<CURL*>(handle));
  }
}

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' ||
                           text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}

// The start of a body for a message, with control bytes replaced so a hostile server cannot
// drive the terminal.
std::string Excerpt(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, kExcerptBytes)) {
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(byte < 0x20 || byte == 0x7f ? ' ' : c);
  }
  if (body.size() > kExcerptBytes) out += "...";
  return out;
}

ErrorCode CodeForStatus(long status) {
  switch (status) {
    case 400:
      return ErrorCode::BAD_REQUEST;
    case 401:
      return ErrorCode::UNAUTHENTICATED;
    case 403:
      return ErrorCode::PERMISSION_DENIED;
    case 404:
      return ErrorCode::ENDPOINT_NOT_FOUND;
    case 409:
      return ErrorCode::RESOURCE_CONFLICT;
    case 429:
      return ErrorCode::REQUEST_LIMIT_EXCEEDED;
    case 501:
      return ErrorCode::NOT_IMPLEMENTED;
    case 502:
    case 503:
    case 504:
      return ErrorCode::TEMPORARILY_UNAVAILABLE;
    default:
      return ErrorCode::INTERNAL_ERROR;
  }
}

}  // namespace

// Everything one request needs, reachable from curl's C callbacks through one pointer.
struct HttpClient::Transfer {
  std::string method;
  std::string url;
  std::string_view body;
  std::string content_type;
  bool has_body = false;
  bool total_timeout = true;
  // An upload from disk.
  std::FILE* file = nullptr;
  std::uint64_t file_size = 0;
  std::uint64_t file_read = 0;
  const std::function<void(std::uint64_t, std::uint64_t)>* progress = nullptr;
  // A streamed download.
  const std::function<bool(std::string_view)>* on_chunk = nullptr;
  bool stopped_by_caller = false;

  CURL* handle = nullptr;
  HttpResponse response;
  std::string callback_error;  // Set by a callback that aborts the transfer.

  static std::size_t OnHeader(char* data, std::size_t size, std::size_t count, void* user) {
    auto* self = static_cast<Transfer*>(user);
    const std::string_view line(data, size * count);
    if (line.starts_with("HTTP/")) {
      self->response.headers.clear();  // A new response (after 100 Continue): start over.
      return line.size();
    }
    const auto colon = line.find(':');
    if (colon != std::string_view::npos) {
      self->response.headers[Lower(Trim(line.substr(0, colon)))] =
          std::string(Trim(line.substr(colon + 1)));
    }
    return line.size();
  }

  static std::size_t OnBody(char* data, std::size_t size, std::size_t count, void* user) {
    auto* self = static_cast<Transfer*>(user);
    const std::string_view chunk(data, size * count);
    long status = 0;
    curl_easy_getinfo(self->handle, CURLINFO_RESPONSE_CODE, &status);
    if (self->on_chunk != nullptr && status >= 200 && status < 300) {
      try {
        if (!(*self->on_chunk)(chunk)) {
          self->stopped_by_caller = true;
          return 0;
        }
      } catch (const std::exception& error) {
        self->callback_error = fmt::format("reading the answer failed: {}", error.what());
        return 0;
      }
      return chunk.size();
    }
    if (self->response.body.size() + chunk.size() > kMaxBodyBytes) {
      self->callback_error =
          fmt::format("the answer from {} is larger than {} MiB", self->url, kMaxBodyBytes >> 20);
      return 0;
    }
    self->response.body.append(chunk);
    return chunk.size();
  }

  static std::size_t OnRead(char* buffer, std::size_t size, std::size_t count, void* user) {
    auto* self = static_cast<Transfer*>(user);
    const std::size_t wanted = size * count;
    const std::size_t got = std::fread(buffer, 1, wanted, self->file);
    self->file_read += got;
    if (got < wanted && self->file_read != self->file_size) {
      self->callback_error = "the file changed size or could not be read while it was uploaded";
      return CURL_READFUNC_ABORT;
    }
    return got;
  }

  static int OnProgress(void* user, curl_off_t /*dltotal*/, curl_off_t /*dlnow*/,
                        curl_off_t /*ultotal*/, curl_off_t ulnow) {
    auto* self = static_cast<Transfer*>(user);
    if (self->progress != nullptr && *self->progress) {
      try {
        (*self->progress)(static_cast<std::uint64_t>(ulnow), self->file_size);
      } catch (const std::exception& error) {
        self->callback_error = fmt::format("progress report failed: {}", error.what());
        return 1;
      }
    }
    return 0;
  }
};

std::optional<std::string> HttpResponse::Header(std::string_view name) const {
  const auto it = headers.find(std::string(name));
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

HttpClient::HttpClient(std::string base_url, std::string bearer_token)
    : base_url_(std::move(base_url)),
      bearer_token_(std::move(bearer_token)),
      handle_(nullptr, &CleanupHandle) {}

HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&& other) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&& other) noexcept = default;

Result<HttpResponse> HttpClient::Get(std::string_view path_and_query) {
  Transfer transfer;
  transfer.method = "GET";
  transfer.url = base_url_ + std::string(path_and_query);
  return Perform(transfer);
}

Result<HttpResponse> HttpClient::PostJson(std::string_view path, const nlohmann::json& body) {
  const std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return Send("POST", path, text, "application/json");
}

Result<HttpResponse> HttpClient::Send(std::string_view method, std::string_view path,
                                      std::string_view body, std::string_view content_type) {
  Transfer transfer;
  transfer.method = std::string(method);
  transfer.url = base_url_ + std::string(path);
  transfer.body = body;
  transfer.content_type = std::string(content_type);
  transfer.has_body = !body.empty() || !content_type.empty();
  return Perform(transfer);
}

Result<HttpResponse> HttpClient::UploadFile(
    std::string_view method, std::string_view path, const std::filesystem::path& file,
    std::string content_type,
    const std::function<void(std::uint64_t sent, std::uint64_t total)>& progress) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  if (ec) {
    return Fail(
        Error::InvalidParameter(fmt::format("cannot upload {}: {}", file.string(), ec.message())));
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> stream(std::fopen(file.c_str(), "rb"),
                                                         &std::fclose);
  if (!stream) {
    return Fail(Error::InvalidParameter(fmt::format("cannot open {} to upload it", file.string())));
  }
  Transfer transfer;
  transfer.method = std::string(method);
  transfer.url = base_url_ + std::string(path);
  transfer.content_type = std::move(content_type);
  transfer.total_timeout = false;
  transfer.file = stream.get();
  transfer.file_size = size;
  transfer.progress = &progress;
  auto response = Perform(transfer);
  if (response && progress) {
    progress(transfer.file_read, size);
  }
  return response;
}

Result<long> HttpClient::Stream(std::string_view path,
                                const std::function<bool(std::string_view)>& on_chunk) {
  Transfer transfer;
  transfer.method = "GET";
  transfer.url = base_url_ + std::string(path);
  transfer.total_timeout = false;
  transfer.on_chunk = &on_chunk;
  MLTF_ASSIGN_OR_RETURN(response, Perform(transfer));
  if (response.status < 200 || response.status >= 300) {
    MLTF_TRY(ParseJsonResponse(response));
  }
  return response.status;
}

Result<HttpResponse> HttpClient::Perform(Transfer& transfer) {
  if (!handle_) {
    EnsureCurlInitialised();
    handle_.reset(curl_easy_init());
    if (!handle_) return Fail(Error::Internal("libcurl could not create a handle"));
  }
  CURL* curl = static_cast<CURL*>(handle_.get());
  curl_easy_reset(curl);  // Keeps the connection cache: the next request reuses the socket.
  transfer.handle = curl;

  std::unique_ptr<curl_slist, void (*)(curl_slist*)> headers(nullptr, &curl_slist_free_all);
  auto add_header = [&headers](const std::string& line) {
    headers.reset(curl_slist_append(headers.release(), line.c_str()));
  };
  if (!bearer_token_.empty()) add_header("Authorization: Bearer " + bearer_token_);
  if (!transfer.content_type.empty()) add_header("Content-Type: " + transfer.content_type);
  add_header("Expect:");  // No 100-continue round trip before a body.
  const std::string user_agent = fmt::format("mltf/{}", kVersion);
  char error_buffer[CURL_ERROR_SIZE] = {};

  curl_easy_setopt(curl, CURLOPT_URL, transfer.url.c_str());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, kConnectTimeoutMs);
  if (transfer.total_timeout && timeout_.count() > 0) {
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
  }
  curl_easy_setopt(curl, CURLOPT_USERAGENT, user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &Transfer::OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Transfer::OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);

  if (transfer.file != nullptr) {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, &Transfer::OnRead);
    curl_easy_setopt(curl, CURLOPT_READDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(transfer.file_size));
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &Transfer::OnProgress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, kStallSeconds);
    if (transfer.method != "PUT") {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, transfer.method.c_str());
    }
  } else if (transfer.has_body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, transfer.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(transfer.body.size()));
    if (transfer.method != "POST") {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, transfer.method.c_str());
    }
  } else if (transfer.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, transfer.method.c_str());
  } else {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  }

  const CURLcode code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &transfer.response.status);
  // The handle must not keep pointers into this frame past the call.
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);

  if (code == CURLE_OK || (code == CURLE_WRITE_ERROR && transfer.stopped_by_caller)) {
    return std::move(transfer.response);
  }
  const std::string where = RedactUrl(transfer.url);
  if (!transfer.callback_error.empty()) {
    return Fail(Error::Unavailable(
        fmt::format("{} {}: {}", transfer.method, where, transfer.callback_error)));
  }
  const std::string detail =
      error_buffer[0] != '\0' ? std::string(error_buffer) : std::string(curl_easy_strerror(code));
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      if (!peer_name_.empty()) {
        return Fail(Error::Unavailable(
            fmt::format("cannot reach {} at {} ({})", peer_name_, RedactUrl(base_url_), detail)));
      }
      return Fail(Error::Unavailable(fmt::format(
          "cannot reach the MLTF server at {} ({}). Is `mltf server` running? Set --server or "
          "MLTF_SERVER to its address.",
          RedactUrl(base_url_), detail)));
    case CURLE_OPERATION_TIMEDOUT:
      if (!peer_name_.empty()) {
        return Fail(Error::Unavailable(fmt::format("{} {} timed out ({}); is {} overloaded?",
                                                   transfer.method, where, detail, peer_name_)));
      }
      return Fail(Error::Unavailable(fmt::format(
          "{} {} timed out ({}). Is the server at {} overloaded or unreachable? Set --server or "
          "MLTF_SERVER to point at another.",
          transfer.method, where, detail, RedactUrl(base_url_))));
    default:
      return Fail(
          Error::Unavailable(fmt::format("{} {} failed: {}", transfer.method, where, detail)));
  }
}

std::optional<ErrorCode> ErrorCodeFromName(std::string_view name) {
  for (int value = 0; value <= static_cast<int>(ErrorCode::RESOURCE_CONFLICT); ++value) {
    const auto code = static_cast<ErrorCode>(value);
    if (ErrorCodeName(code) == name) return code;
  }
  return std::nullopt;
}

std::string JsonString(const nlohmann::json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<nlohmann::json> ParseJsonResponse(const HttpResponse& response) {
  const bool ok = response.status >= 200 && response.status < 300;
  if (ok) {
    if (Trim(response.body).empty()) return nlohmann::json::object();
    auto parsed = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) {
      return Fail(Error::Internal(
          fmt::format("the server answered HTTP {} with a body that is not JSON: {}",
                      response.status, Excerpt(response.body))));
    }
    return parsed;
  }
  auto parsed = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object()) {
    const auto code_it = parsed.find("error_code");
    const auto message_it = parsed.find("message");
    if (code_it != parsed.end() && code_it->is_string()) {
      const auto code = ErrorCodeFromName(code_it->get<std::string>());
      std::string message = message_it != parsed.end() && message_it->is_string()
                                ? message_it->get<std::string>()
                                : fmt::format("HTTP {}", response.status);
      if (code) return Fail(Error{*code, std::move(message)});
      return Fail(Error{CodeForStatus(response.status),
                        fmt::format("{} ({})", message, Excerpt(code_it->get<std::string>()))});
    }
  }
  const std::string excerpt = Excerpt(response.body);
  return Fail(Error{
      CodeForStatus(response.status),
      excerpt.empty() ? fmt::format("the server answered HTTP {}", response.status)
                      : fmt::format("the server answered HTTP {}: {}", response.status, excerpt)});
}

std::string PercentEncode(std::string_view segment) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(segment.size());
  for (char c : segment) {
    const auto byte = static_cast<unsigned char>(c);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0x0f]);
    }
  }
  return out;
}

std::string RedactUrl(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  const auto authority_start = scheme_end + 3;
  const auto authority_end = url.find_first_of("/?#", authority_start);
  const auto authority = url.substr(authority_start, authority_end == std::string_view::npos
                                                         ? std::string_view::npos
                                                         : authority_end - authority_start);
  const auto at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  return std::string(url.substr(0, authority_start)) + "***@" +
         std::string(url.substr(authority_start + at + 1));
}

}  // namespace mltf::client
