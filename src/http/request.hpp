// request.hpp - an HTTP request as handlers see it: decoded path and query, body or body stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "common/identity.hpp"

namespace mltf::http {

enum class Method { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, OTHER };

std::string_view MethodName(Method method);

/// Decoded `name=value` pairs of a query string, in the order sent (names may repeat).
using QueryParams = std::vector<std::pair<std::string, std::string>>;

/// The body of a request whose route asked for streaming (e.g. an artifact upload), read in
/// pieces instead of held in memory. Not thread-safe; valid only during the handler call.
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  /// Reads up to `buffer.size()` bytes; 0 means the body is complete. Fails on a broken
  /// connection or a malformed chunked encoding.
  virtual Result<std::size_t> Read(std::span<char> buffer) = 0;
  /// The declared length, when the client sent Content-Length.
  [[nodiscard]] virtual std::optional<std::uint64_t> ContentLength() const = 0;
};

struct Request {
  Method method = Method::GET;
  std::string target;  ///< as sent on the wire: path and query, percent-encoded
  std::string path;    ///< percent-decoded path, without the query
  QueryParams query;
  std::vector<std::pair<std::string, std::string>> headers;  ///< names in lower case
  std::string body;                                          ///< empty for streamed routes
  BodyReader* body_reader = nullptr;                         ///< set only for streamed routes
  std::string remote_address;
  /// Filled by the router for prefix routes: the rest of the path after the prefix, decoded.
  std::string path_suffix;
  /// Who sent it, set by the server's authenticator before the handler runs; null only on
  /// routes open to anonymous callers, or when the server has no authenticator.
  std::shared_ptr<const Identity> caller;

  /// The first value of header `name` (lower case), or empty.
  [[nodiscard]] std::string_view Header(std::string_view name) const;
  /// The first value of query parameter `name`, if present.
  [[nodiscard]] std::optional<std::string_view> QueryValue(std::string_view name) const;
};

/// Splits and percent-decodes a query string ('+' is a space, as HTML forms and Python send it).
/// Malformed escapes are kept literally, as Werkzeug does.
QueryParams ParseQueryString(std::string_view query);

/// Percent-decodes a path ('+' stays '+'). Returns nullopt if the result has a NUL byte.
std::optional<std::string> DecodePath(std::string_view path);

}  // namespace mltf::http
