// multipart.cpp - a streaming multipart/form-data reader (RFC 7578, RFC 2046).
//
// The body is scanned for the delimiter CRLF "--" boundary. Two bytes "\r\n" are put in front of
// the body so that a body opening directly with "--boundary" matches like any other delimiter and
// the preamble is skipped as content. Content is released only up to the point where a delimiter
// could still begin, so a delimiter split across reads of any size is still found; the buffer
// therefore never holds more than a fixed chunk plus the delimiter.
#include "http/multipart.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <utility>

namespace mltf::http {
namespace {

constexpr std::size_t kChunkSize = std::size_t{8} * 1024;
constexpr std::size_t kMaxBoundaryLength = 70;  // RFC 2046 section 5.1.1
constexpr std::size_t kMaxEchoedLength = 80;    // of client text quoted in error messages

Error Malformed(std::string_view what) {
  return Error::InvalidParameter("Malformed multipart/form-data body: " + std::string(what));
}

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && IsSpace(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return Lower(x) == Lower(y); });
}

// RFC 7230 tchar.
bool IsTokenChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsControl(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte < 0x20 || byte == 0x7f;
}

// RFC 2046 bchars.
bool IsBoundaryChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

// Client text for an error message: cut short, control bytes replaced.
std::string Echo(std::string_view text) {
  std::string out(text.substr(0, kMaxEchoedLength));
  std::replace_if(out.begin(), out.end(), IsControl, '?');
  if (text.size() > kMaxEchoedLength) {
    out += "...";
  }
  return out;
}

struct HeaderParam {
  std::string name;  // lower case
  std::string value;
};

// Parses `; name=value; name="quoted \"value\""` after a header's main value. Names are
// lower-cased; `name*` (RFC 8187) parameters come back under that name for callers to ignore.
Result<std::vector<HeaderParam>> ParseParams(std::string_view text, std::string_view header) {
  std::vector<HeaderParam> params;
  std::size_t pos = 0;
  const auto skip_space = [&] {
    while (pos < text.size() && IsSpace(text[pos])) {
      ++pos;
    }
  };
  const auto bad = [&](std::string_view why) {
    return Error::InvalidParameter(std::string(header) + " header is malformed (" +
                                   std::string(why) + "): '" + Echo(text) + "'");
  };
  while (true) {
    skip_space();
    if (pos == text.size()) {
      return params;
    }
    if (text[pos] != ';') {
      return tl::unexpected(bad("expected ';' between parameters"));
    }
    ++pos;
    skip_space();
    if (pos == text.size()) {
      return params;  // a trailing ';' is harmless
    }
    HeaderParam param;
    while (pos < text.size() && IsTokenChar(text[pos])) {
      param.name += Lower(text[pos]);
      ++pos;
    }
    if (param.name.empty()) {
      return tl::unexpected(bad("parameter without a name"));
    }
    skip_space();
    if (pos == text.size() || text[pos] != '=') {
      return tl::unexpected(bad("parameter '" + param.name + "' without '='"));
    }
    ++pos;
    skip_space();
    if (pos < text.size() && text[pos] == '"') {
      ++pos;
      bool closed = false;
      while (pos < text.size()) {
        char c = text[pos++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\' && pos < text.size()) {
          c = text[pos++];
        }
        param.value += c;
      }
      if (!closed) {
        return tl::unexpected(bad("unterminated quoted value of '" + param.name + "'"));
      }
    } else {
      // Lenient: any printable run, since clients leave e.g. '/' or '=' in boundaries unquoted.
      while (pos < text.size() && text[pos] != ';' && !IsSpace(text[pos])) {
        if (text[pos] == '"') {
          return tl::unexpected(bad("stray '\"' in the value of '" + param.name + "'"));
        }
        param.value += text[pos++];
      }
      if (param.value.empty()) {
        return tl::unexpected(bad("empty value of '" + param.name + "'"));
      }
    }
    const bool duplicate = std::any_of(params.begin(), params.end(),
                                       [&](const HeaderParam& p) { return p.name == param.name; });
    if (duplicate) {
      return tl::unexpected(bad("parameter '" + param.name + "' given twice"));
    }
    params.push_back(std::move(param));
  }
}

Result<void> CheckBoundary(std::string_view boundary) {
  if (boundary.empty() || boundary.size() > kMaxBoundaryLength) {
    return tl::unexpected(
        Error::InvalidParameter("multipart boundary must be 1 to 70 characters long, got " +
                                std::to_string(boundary.size())));
  }
  if (!std::all_of(boundary.begin(), boundary.end(), IsBoundaryChar) || boundary.back() == ' ') {
    return tl::unexpected(Error::InvalidParameter(
        "multipart boundary has characters RFC 2046 does not allow: '" + Echo(boundary) + "'"));
  }
  return {};
}

Result<void> ParseDisposition(std::string_view value, MultipartPart& part) {
  const std::size_t semicolon = value.find(';');
  const std::string_view type = Trim(value.substr(0, semicolon));
  if (!EqualsIgnoreCase(type, "form-data")) {
    return tl::unexpected(
        Malformed("part Content-Disposition must be 'form-data', got '" + Echo(type) + "'"));
  }
  const std::string_view rest =
      semicolon == std::string_view::npos ? std::string_view() : value.substr(semicolon);
  MLTF_ASSIGN_OR_RETURN(params, ParseParams(rest, "Content-Disposition"));
  bool has_name = false;
  for (auto& param : params) {
    if (param.name == "name") {
      part.name = std::move(param.value);
      has_name = true;
    } else if (param.name == "filename") {
      part.filename = std::move(param.value);
    }
    // `filename*` (RFC 7578 section 4.2 says senders must not use it) and others are ignored.
  }
  if (!has_name || part.name.empty()) {
    return tl::unexpected(Malformed("part Content-Disposition has no 'name' parameter"));
  }
  return {};
}

}  // namespace

Result<std::string> MultipartBoundary(std::string_view content_type) {
  const std::size_t semicolon = content_type.find(';');
  const std::string_view type = Trim(content_type.substr(0, semicolon));
  if (!EqualsIgnoreCase(type, "multipart/form-data")) {
    return tl::unexpected(Error::InvalidParameter(
        "Content-Type must be multipart/form-data with a boundary, got '" + Echo(type) + "'"));
  }
  const std::string_view rest =
      semicolon == std::string_view::npos ? std::string_view() : content_type.substr(semicolon);
  MLTF_ASSIGN_OR_RETURN(params, ParseParams(rest, "Content-Type"));
  for (auto& param : params) {
    if (param.name == "boundary") {
      MLTF_TRY(CheckBoundary(param.value));
      return std::move(param.value);
    }
  }
  return tl::unexpected(
      Error::InvalidParameter("Content-Type multipart/form-data has no boundary parameter"));
}

MultipartReader::MultipartReader(BodyReader& body, std::string_view boundary,
                                 MultipartLimits limits)
    : body_(&body),
      delimiter_("\r\n--" + std::string(boundary)),
      limits_(limits),
      buffer_(kChunkSize + delimiter_.size()) {
  buffer_[0] = '\r';
  buffer_[1] = '\n';
  end_ = 2;
}

Error MultipartReader::Remember(Error error) {
  error_ = error;
  return error;
}

Result<std::optional<MultipartPart>> MultipartReader::NextPart() {
  if (error_) {
    return tl::unexpected(*error_);
  }
  auto result = NextPartImpl();
  if (!result) {
    return tl::unexpected(Remember(std::move(result).error()));
  }
  return result;
}

Result<std::size_t> MultipartReader::Read(std::span<char> buffer) {
  if (error_) {
    return tl::unexpected(*error_);
  }
  auto result = ReadImpl(buffer);
  if (!result) {
    return tl::unexpected(Remember(std::move(result).error()));
  }
  return result;
}

Result<std::string> MultipartReader::ReadText(std::size_t max_bytes) {
  std::string text;
  std::array<char, 4096> chunk{};
  while (true) {
    MLTF_ASSIGN_OR_RETURN(count, Read(chunk));
    if (count == 0) {
      return text;
    }
    if (count > max_bytes - text.size()) {
      return tl::unexpected(Error::InvalidParameter("multipart/form-data field is longer than " +
                                                    std::to_string(max_bytes) + " bytes"));
    }
    text.append(chunk.data(), count);
  }
}

// Moves the unread bytes to the front and reads once from the body; returns the bytes read,
// 0 at the end of the body.
Result<std::size_t> MultipartReader::Fill() {
  if (body_ended_) {
    return 0;
  }
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    content_end_ = content_end_ >= begin_ ? content_end_ - begin_ : 0;
    begin_ = 0;
  }
  const std::span<char> space(buffer_.data() + end_, buffer_.size() - end_);
  if (space.empty()) {
    return tl::unexpected(Error::Internal("multipart reader buffer is full"));
  }
  MLTF_ASSIGN_OR_RETURN(count, body_->Read(space));
  if (count > space.size()) {
    return tl::unexpected(Error::Internal("body reader returned more bytes than asked for"));
  }
  if (count == 0) {
    body_ended_ = true;
  }
  end_ += count;
  return count;
}

// True when content is available at begin_ (up to content_end_); false when the delimiter
// starts at begin_, which it then consumes.
Result<bool> MultipartReader::FindContent() {
  while (true) {
    if (begin_ < content_end_) {
      return true;
    }
    if (delimiter_at_content_end_) {
      begin_ += delimiter_.size();
      content_end_ = begin_;
      delimiter_at_content_end_ = false;
      return false;
    }
    const std::string_view data(buffer_.data() + begin_, end_ - begin_);
    const std::size_t found = data.find(delimiter_);
    if (found != std::string_view::npos) {
      content_end_ = begin_ + found;
      delimiter_at_content_end_ = true;
      continue;
    }
    if (data.size() >= delimiter_.size()) {
      // The last size-1 bytes may be the start of a delimiter; all before them is content.
      content_end_ = end_ - (delimiter_.size() - 1);
      continue;
    }
    MLTF_ASSIGN_OR_RETURN(count, Fill());
    if (count == 0) {
      return tl::unexpected(
          Malformed(state_ == State::PREAMBLE
                        ? "the body does not contain the boundary given in Content-Type"
                        : "the body ended before the closing boundary; was the upload cut short?"));
    }
  }
}

Result<std::size_t> MultipartReader::ReadImpl(std::span<char> buffer) {
  if (state_ != State::IN_PART || buffer.empty()) {
    return 0;
  }
  MLTF_ASSIGN_OR_RETURN(has_content, FindContent());
  if (!has_content) {
    state_ = State::AFTER_DELIMITER;
    return 0;
  }
  const std::size_t count = std::min(content_end_ - begin_, buffer.size());
  std::memcpy(buffer.data(), buffer_.data() + begin_, count);
  begin_ += count;
  return count;
}

// Reads one line ending in LF (a CR before it is dropped), charging its bytes to `budget`.
Result<std::string> MultipartReader::ReadLine(std::size_t& budget) {
  std::string line;
  while (true) {
    if (begin_ == end_) {
      MLTF_ASSIGN_OR_RETURN(count, Fill());
      if (count == 0) {
        return tl::unexpected(Malformed("the body ended inside the headers of a part"));
      }
    }
    const std::string_view data(buffer_.data() + begin_, end_ - begin_);
    const std::size_t newline = data.find('\n');
    const std::size_t take = newline == std::string_view::npos ? data.size() : newline + 1;
    if (take > budget) {
      return tl::unexpected(Malformed("the headers of a part are longer than " +
                                      std::to_string(limits_.max_header_bytes) + " bytes"));
    }
    budget -= take;
    line.append(data.substr(0, take));
    begin_ += take;
    if (newline != std::string_view::npos) {
      line.pop_back();
      if (!line.empty() && line.back() == '\r') {
        line.pop_back();
      }
      return line;
    }
  }
}

Result<MultipartPart> MultipartReader::ReadHeaders() {
  std::size_t budget = limits_.max_header_bytes;
  MultipartPart part;
  bool has_disposition = false;
  while (true) {
    MLTF_ASSIGN_OR_RETURN(line, ReadLine(budget));
    if (line.empty()) {
      break;
    }
    if (IsSpace(line.front())) {
      return tl::unexpected(Malformed("folded (continued) header lines are not supported"));
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) {
      return tl::unexpected(Malformed("part header line without ':': '" + Echo(line) + "'"));
    }
    const std::string_view name = std::string_view(line).substr(0, colon);
    if (name.empty() || !std::all_of(name.begin(), name.end(), IsTokenChar)) {
      return tl::unexpected(Malformed("invalid part header name '" + Echo(name) + "'"));
    }
    const std::string_view value = Trim(std::string_view(line).substr(colon + 1));
    if (std::any_of(value.begin(), value.end(), [](char c) { return IsControl(c) && c != '\t'; })) {
      return tl::unexpected(Malformed("control character in part header '" + Echo(name) + "'"));
    }
    if (EqualsIgnoreCase(name, "content-disposition")) {
      if (has_disposition) {
        return tl::unexpected(Malformed("part has two Content-Disposition headers"));
      }
      has_disposition = true;
      MLTF_TRY(ParseDisposition(value, part));
    } else if (EqualsIgnoreCase(name, "content-type")) {
      part.content_type = std::string(value);
    }
  }
  if (!has_disposition) {
    return tl::unexpected(Malformed("part without a Content-Disposition header"));
  }
  return part;
}

Result<std::optional<MultipartPart>> MultipartReader::NextPartImpl() {
  if (state_ == State::DONE) {
    return std::nullopt;
  }
  if (state_ == State::PREAMBLE) {
    MLTF_TRY(CheckBoundary(std::string_view(delimiter_).substr(4)));
  }
  if (state_ == State::PREAMBLE || state_ == State::IN_PART) {
    while (true) {
      MLTF_ASSIGN_OR_RETURN(has_content, FindContent());
      if (!has_content) {
        break;
      }
      begin_ = content_end_;
    }
    state_ = State::AFTER_DELIMITER;
  }
  // After a delimiter: "--" closes the body; else transport padding, then CRLF.
  while (end_ - begin_ < 2) {
    MLTF_ASSIGN_OR_RETURN(count, Fill());
    if (count == 0) {
      return tl::unexpected(
          Malformed("the body ended before the closing boundary; was the upload cut short?"));
    }
  }
  if (buffer_[begin_] == '-' && buffer_[begin_ + 1] == '-') {
    begin_ += 2;
    state_ = State::DONE;
    return std::nullopt;  // the epilogue is ignored and left unread
  }
  std::size_t padding_budget = limits_.max_header_bytes;
  MLTF_ASSIGN_OR_RETURN(padding, ReadLine(padding_budget));
  if (!std::all_of(padding.begin(), padding.end(), IsSpace)) {
    return tl::unexpected(Malformed(
        "the boundary is followed by other text on its line; content must not contain it"));
  }
  if (parts_ == limits_.max_parts) {
    return tl::unexpected(Malformed("more than " + std::to_string(limits_.max_parts) + " parts"));
  }
  ++parts_;
  MLTF_ASSIGN_OR_RETURN(part, ReadHeaders());
  state_ = State::IN_PART;
  content_end_ = begin_;
  delimiter_at_content_end_ = false;
  return part;
}

}  // namespace mltf::http
