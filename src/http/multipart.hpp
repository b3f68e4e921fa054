// multipart.hpp - a streaming multipart/form-data reader (RFC 7578, RFC 2046) over a BodyReader,
// for uploads too large to hold in memory.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "http/request.hpp"

namespace mltf::http {

/// The boundary parameter of a multipart/form-data Content-Type (type and parameter names are
/// case-insensitive, the value may be quoted). Fails with INVALID_PARAMETER_VALUE if the type is
/// not multipart/form-data or the boundary is missing or invalid (RFC 2046: 1-70 characters from
/// its set, not ending in a space).
Result<std::string> MultipartBoundary(std::string_view content_type);

/// The headers of one part, as Content-Disposition and Content-Type name them.
struct MultipartPart {
  std::string name;          ///< the form field name
  std::string filename;      ///< as the client sent it, empty if none; never use it as a path
  std::string content_type;  ///< the part's Content-Type, empty if none
};

/// Bounds on what a client may make the reader hold or do.
struct MultipartLimits {
  std::size_t max_header_bytes =
      std::size_t{16} * 1024;  ///< per part, the header block with line ends
  std::size_t max_parts = 100;
};

/// Reads the parts of a multipart/form-data body one after the other, each part's content in
/// pieces, with a fixed buffer of a few KiB plus the boundary whatever the input. The preamble
/// and epilogue are ignored. After a failure every call returns the same error.
/// Not thread-safe; `body` must outlive the reader.
class MultipartReader {
 public:
  /// `boundary` as MultipartBoundary returns it; an invalid one makes NextPart fail.
  MultipartReader(BodyReader& body, std::string_view boundary, MultipartLimits limits = {});

  /// Advances to the next part, skipping what is left of the current one; nullopt after the
  /// closing boundary. Fails with INVALID_PARAMETER_VALUE on malformed input (no boundary in the
  /// body, bad or oversized headers, too many parts, body ended before the closing boundary),
  /// or with the body reader's error.
  Result<std::optional<MultipartPart>> NextPart();

  /// Reads up to `buffer.size()` bytes of the current part's content; 0 at its end (or when no
  /// part is current). Fails like NextPart if the body ends inside the part.
  Result<std::size_t> Read(std::span<char> buffer);

  /// Reads the rest of the current part into a string. Fails with INVALID_PARAMETER_VALUE if it
  /// is longer than `max_bytes`.
  Result<std::string> ReadText(std::size_t max_bytes);

 private:
  enum class State { PREAMBLE, IN_PART, AFTER_DELIMITER, DONE };

  Result<std::optional<MultipartPart>> NextPartImpl();
  Result<std::size_t> ReadImpl(std::span<char> buffer);
  Result<bool> FindContent();
  Result<std::size_t> Fill();
  Result<std::string> ReadLine(std::size_t& budget);
  Result<MultipartPart> ReadHeaders();
  Error Remember(Error error);

  BodyReader* body_;
  std::string delimiter_;  // CRLF "--" boundary
  MultipartLimits limits_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;        // first unread byte in buffer_
  std::size_t end_ = 0;          // one past the last byte read from the body
  std::size_t content_end_ = 0;  // [begin_, content_end_) is known to be content
  bool delimiter_at_content_end_ = false;
  bool body_ended_ = false;
  std::size_t parts_ = 0;
  State state_ = State::PREAMBLE;
  std::optional<Error> error_;
};

}  // namespace mltf::http
