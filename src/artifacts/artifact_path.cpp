// artifact_path.cpp - the spelling rules for client-supplied artifact paths.
//
// The rules follow MLflow's `validate_path_is_safe` (mlflow/utils/uri.py): decode
// percent-escapes until the text stops changing, then refuse '#', separators other than '/',
// '..' components and absolute paths (POSIX or Windows). MLTF is stricter in a few places,
// because a POSIX server never needs them and they only serve attacks or confusion:
// any backslash (MLflow on POSIX refuses only Windows-absolute forms), any leading drive
// letter ("c:x" too), NUL and other control characters, invalid UTF-8, over-long paths, and
// names reserved for upload temporaries.
#include "artifacts/artifact_path.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <optional>
#include <utility>

namespace mltf::artifacts {
namespace {

// MLflow's `_decode` gives up after ten rounds; so do we.
constexpr int kMaxDecodeRounds = 10;

// Client text quoted in messages is cut to this many bytes.
constexpr std::size_t kMaxQuotedLength = 200;

bool IsValidUtf8(std::string_view text) {
  std::size_t idx = 0;
  while (idx < text.size()) {
    const auto lead = static_cast<unsigned char>(text[idx]);
    if (lead < 0x80) {
      ++idx;
      continue;
    }
    std::size_t length = 0;
    std::uint32_t code_point = 0;
    if ((lead & 0xE0U) == 0xC0U) {
      length = 2;
      code_point = lead & 0x1FU;
    } else if ((lead & 0xF0U) == 0xE0U) {
      length = 3;
      code_point = lead & 0x0FU;
    } else if ((lead & 0xF8U) == 0xF0U) {
      length = 4;
      code_point = lead & 0x07U;
    } else {
      return false;
    }
    if (idx + length > text.size()) {
      return false;
    }
    for (std::size_t offset = 1; offset < length; ++offset) {
      const auto next = static_cast<unsigned char>(text[idx + offset]);
      if ((next & 0xC0U) != 0x80U) {
        return false;
      }
      code_point = (code_point << 6U) | (next & 0x3FU);
    }
    constexpr std::uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < kMinForLength[length] || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return false;
    }
    idx += length;
  }
  return true;
}

// Client text made safe to quote in a message: control characters (and, if the text is not
// UTF-8, every non-ASCII byte) become \xNN, and long text is cut, at a character boundary.
std::string Quote(std::string_view text) {
  const bool utf8 = IsValidUtf8(text);
  std::size_t cut = std::min(text.size(), kMaxQuotedLength);
  while (utf8 && cut > 0 && cut < text.size() &&
         (static_cast<unsigned char>(text[cut]) & 0xC0U) == 0x80U) {
    --cut;
  }
  std::string quoted;
  for (const char c : text.substr(0, cut)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F || (!utf8 && byte >= 0x80)) {
      quoted += fmt::format("\\x{:02x}", byte);
    } else {
      quoted += c;
    }
  }
  if (cut < text.size()) {
    quoted += "...";
  }
  return quoted;
}

Error InvalidPath(std::string_view raw, std::string_view reason) {
  return Error::InvalidParameter(fmt::format("Invalid artifact path '{}': {}", Quote(raw), reason));
}

int HexValue(char digit) {
  if (digit >= '0' && digit <= '9') return digit - '0';
  if (digit >= 'a' && digit <= 'f') return digit - 'a' + 10;
  if (digit >= 'A' && digit <= 'F') return digit - 'A' + 10;
  return -1;
}

// One round of percent-decoding, as Python's `urllib.parse.unquote`: "%XX" with two hex
// digits becomes that byte, anything else (a lone '%', '+') is kept as it is.
std::string PercentDecode(std::string_view text) {
  std::string decoded;
  decoded.reserve(text.size());
  for (std::size_t idx = 0; idx < text.size(); ++idx) {
    if (text[idx] == '%' && idx + 2 < text.size()) {
      const int high = HexValue(text[idx + 1]);
      const int low = HexValue(text[idx + 2]);
      if (high >= 0 && low >= 0) {
        decoded += static_cast<char>(high * 16 + low);
        idx += 2;
        continue;
      }
    }
    decoded += text[idx];
  }
  return decoded;
}

// Splits on '/', dropping empty and "." components.
std::vector<std::string_view> SplitComponents(std::string_view text) {
  std::vector<std::string_view> components;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('/', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    const std::string_view component = text.substr(start, end - start);
    if (!component.empty() && component != ".") {
      components.push_back(component);
    }
    start = end + 1;
  }
  return components;
}

bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// The rules that must hold for the text and for each of its percent-decodings. Returns why
// `form` is unsafe, or nothing if it is safe.
std::optional<std::string_view> UnsafeSpelling(std::string_view form) {
  for (const char c : form) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte == 0) {
      return "it contains a NUL byte";
    }
    if (byte < 0x20 || byte == 0x7F) {
      return "it contains a control character";
    }
    if (c == '\\') {
      return "it contains a backslash; separate components with '/'";
    }
    if (c == '#') {
      return "it contains '#'";
    }
  }
  if (!form.empty() && form.front() == '/') {
    return "it is absolute; artifact paths are relative";
  }
  const std::vector<std::string_view> components = SplitComponents(form);
  if (!components.empty() && components.front().size() >= 2 &&
      IsAsciiLetter(components.front()[0]) && components.front()[1] == ':') {
    return "it starts with a drive letter; artifact paths are relative";
  }
  for (const std::string_view component : components) {
    if (component == "..") {
      return "it contains a '..' component";
    }
  }
  return std::nullopt;
}

}  // namespace

Result<ArtifactPath> ArtifactPath::Parse(std::string_view raw) {
  if (!IsValidUtf8(raw)) {
    return Fail(InvalidPath(raw, "it is not valid UTF-8"));
  }
  std::string form(raw);
  for (int round = 0;; ++round) {
    if (const auto reason = UnsafeSpelling(form)) {
      if (round == 0) {
        return Fail(InvalidPath(raw, *reason));
      }
      return Fail(InvalidPath(raw, fmt::format("after percent-decoding, {}", *reason)));
    }
    std::string decoded = PercentDecode(form);
    if (decoded == form) {
      break;
    }
    if (round + 1 == kMaxDecodeRounds) {
      return Fail(InvalidPath(raw, "it has too many levels of percent-encoding"));
    }
    form = std::move(decoded);
  }

  ArtifactPath path;
  for (const std::string_view component : SplitComponents(raw)) {
    if (component.size() > kMaxArtifactNameLength) {
      return Fail(InvalidPath(
          raw, fmt::format("a component is longer than {} bytes", kMaxArtifactNameLength)));
    }
    if (component.starts_with(kUploadTempPrefix)) {
      return Fail(InvalidPath(
          raw, fmt::format("names starting with '{}' are reserved", kUploadTempPrefix)));
    }
    path.components_.emplace_back(component);
  }
  if (path.components_.size() > kMaxArtifactPathDepth) {
    return Fail(
        InvalidPath(raw, fmt::format("it has more than {} components", kMaxArtifactPathDepth)));
  }
  for (const std::string& component : path.components_) {
    if (!path.path_.empty()) {
      path.path_ += '/';
    }
    path.path_ += component;
  }
  if (path.path_.size() > kMaxArtifactPathLength) {
    return Fail(
        InvalidPath(raw, fmt::format("it is longer than {} bytes", kMaxArtifactPathLength)));
  }
  return path;
}

std::string_view ArtifactPath::Name() const {
  return components_.empty() ? std::string_view() : std::string_view(components_.back());
}

ArtifactPath ArtifactPath::Child(std::string_view name) const {
  assert(!name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos);
  ArtifactPath child = *this;
  if (!child.path_.empty()) {
    child.path_ += '/';
  }
  child.path_ += name;
  child.components_.emplace_back(name);
  return child;
}

}  // namespace mltf::artifacts
