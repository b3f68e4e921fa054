// page_token.cpp - encodes and strictly decodes MLflow-compatible search page tokens.
#include "tracking/search/page_token.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <array>
#include <optional>

namespace mltf::tracking::search {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Tokens are tiny; anything longer is not ours.
constexpr std::size_t kMaxTokenLength = 1024;

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const auto chunk = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i]) << 16 |
                                                  static_cast<unsigned char>(bytes[i + 1]) << 8 |
                                                  static_cast<unsigned char>(bytes[i + 2]));
    out += kAlphabet[(chunk >> 18) & 0x3f];
    out += kAlphabet[(chunk >> 12) & 0x3f];
    out += kAlphabet[(chunk >> 6) & 0x3f];
    out += kAlphabet[chunk & 0x3f];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t chunk = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i]) << 16);
    if (rest == 2) {
      chunk |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1]) << 8);
    }
    out += kAlphabet[(chunk >> 18) & 0x3f];
    out += kAlphabet[(chunk >> 12) & 0x3f];
    out += rest == 2 ? kAlphabet[(chunk >> 6) & 0x3f] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::uint32_t> SextetOf(char c) {
  const std::size_t index = kAlphabet.find(c);
  if (index == std::string_view::npos) {
    return std::nullopt;
  }
  return static_cast<std::uint32_t>(index);
}

// Standard alphabet, length a multiple of 4, '=' only as the last one or two characters, and
// no stray bits in the last sextet (so each byte string has exactly one encoding).
std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) {
    return std::nullopt;
  }
  std::size_t padding = 0;
  if (text.back() == '=') {
    padding = text[text.size() - 2] == '=' ? 2 : 1;
  }
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const std::size_t data_chars = last ? 4 - padding : 4;
    std::uint32_t chunk = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      std::uint32_t sextet = 0;
      if (j < data_chars) {
        const auto value = SextetOf(text[i + j]);
        if (!value) {
          return std::nullopt;
        }
        sextet = *value;
      }
      chunk = chunk << 6 | sextet;
    }
    if ((padding == 1 && last && (chunk & 0xff) != 0) ||
        (padding == 2 && last && (chunk & 0xffff) != 0)) {
      return std::nullopt;
    }
    out += static_cast<char>((chunk >> 16) & 0xff);
    if (data_chars > 2) {
      out += static_cast<char>((chunk >> 8) & 0xff);
    }
    if (data_chars > 3) {
      out += static_cast<char>(chunk & 0xff);
    }
  }
  return out;
}

Error InvalidToken(std::string_view why) {
  return Error::InvalidParameter(fmt::format("Invalid page token, {}", why));
}

}  // namespace

std::string EncodePageToken(std::int64_t offset) {
  // Python's json.dumps({"offset": n}) puts one space after the colon.
  return Base64Encode(fmt::format("{{\"offset\": {}}}", offset));
}

Result<std::int64_t> DecodePageToken(std::string_view token) {
  if (token.empty()) {
    return 0;
  }
  if (token.size() > kMaxTokenLength) {
    return Fail(InvalidToken("too long"));
  }
  const std::optional<std::string> decoded = Base64Decode(token);
  if (!decoded) {
    return Fail(InvalidToken("could not base64-decode"));
  }
  simdjson::dom::parser parser;
  simdjson::dom::element document;
  if (parser.parse(decoded->data(), decoded->size()).get(document) != simdjson::SUCCESS) {
    return Fail(InvalidToken("could not parse the decoded value as JSON"));
  }
  simdjson::dom::object object;
  if (document.get_object().get(object) != simdjson::SUCCESS) {
    return Fail(InvalidToken("decoded value is not a JSON object"));
  }
  simdjson::dom::element offset_element;
  if (object.at_key("offset").get(offset_element) != simdjson::SUCCESS) {
    return Fail(InvalidToken("no offset"));
  }
  std::int64_t offset = 0;
  if (offset_element.get_int64().get(offset) != simdjson::SUCCESS) {
    return Fail(InvalidToken("offset is not an integer"));
  }
  if (offset < 1) {
    return Fail(InvalidToken(fmt::format("offset {} is not positive", offset)));
  }
  return offset;
}

}  // namespace mltf::tracking::search
