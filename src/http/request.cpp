// request.cpp - query string and path decoding.
#include "http/request.hpp"

namespace mltf::http {
namespace {

int HexValue(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t idx = 0; idx < text.size(); ++idx) {
    char ch = text[idx];
    if (ch == '%' && idx + 2 < text.size()) {
      int high = HexValue(text[idx + 1]);
      int low = HexValue(text[idx + 2]);
      if (high >= 0 && low >= 0) {
        out.push_back(static_cast<char>(high * 16 + low));
        idx += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && ch == '+' ? ' ' : ch);
  }
  return out;
}

}  // namespace

std::string_view MethodName(Method method) {
  switch (method) {
    case Method::GET:
      return "GET";
    case Method::HEAD:
      return "HEAD";
    case Method::POST:
      return "POST";
    case Method::PUT:
      return "PUT";
    case Method::PATCH:
      return "PATCH";
    case Method::DELETE:
      return "DELETE";
    case Method::OPTIONS:
      return "OPTIONS";
    case Method::OTHER:
      return "OTHER";
  }
  return "OTHER";
}

std::string_view Request::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return {};
}

std::optional<std::string_view> Request::QueryValue(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

QueryParams ParseQueryString(std::string_view query) {
  QueryParams params;
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    std::size_t eq = pair.find('=');
    std::string_view name = pair.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    params.emplace_back(PercentDecode(name, true), PercentDecode(value, true));
  }
  return params;
}

std::optional<std::string> DecodePath(std::string_view path) {
  std::string decoded = PercentDecode(path, false);
  if (decoded.find('\0') != std::string::npos) return std::nullopt;
  return decoded;
}

}  // namespace mltf::http
