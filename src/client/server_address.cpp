// server_address.cpp - resolving the server URL from flag, environment and default.
#include "client/server_address.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "client/http_client.hpp"

namespace mltf::client {
namespace {

constexpr const char* kDefaultServer = "http://127.0.0.1:5000";

std::string Env(const char* name) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read at startup.
  return value == nullptr ? std::string() : std::string(value);
}

std::string LowerPrefix(const std::string& text, std::size_t count) {
  std::string out = text.substr(0, count);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::size_t SchemeLength(const std::string& url) {
  if (LowerPrefix(url, 7) == "http://") return 7;
  if (LowerPrefix(url, 8) == "https://") return 8;
  return 0;
}

}  // namespace

Result<std::string> NormaliseServerUrl(const std::string& url, const std::string& source) {
  std::string trimmed = url;
  auto blank = [](unsigned char c) { return std::isspace(c) != 0; };
  trimmed.erase(trimmed.begin(), std::find_if_not(trimmed.begin(), trimmed.end(), blank));
  trimmed.erase(std::find_if_not(trimmed.rbegin(), trimmed.rend(), blank).base(), trimmed.end());
  while (!trimmed.empty() && trimmed.back() == '/') trimmed.pop_back();

  const std::size_t scheme = SchemeLength(trimmed);
  if (scheme == 0) {
    return Fail(Error::InvalidParameter(fmt::format(
        "{} is '{}', which is not an http:// or https:// URL; give the server's address, e.g. "
        "http://127.0.0.1:5000",
        source, RedactUrl(trimmed))));
  }
  const std::string host = trimmed.substr(scheme);
  const auto bad = std::find_if(host.begin(), host.end(), [](unsigned char c) {
    return std::isspace(c) != 0 || std::iscntrl(c) != 0;
  });
  if (host.empty() || host.front() == '/' || host.front() == ':' || bad != host.end()) {
    return Fail(Error::InvalidParameter(fmt::format(
        "{} is '{}', which names no host; give the server's address, e.g. http://127.0.0.1:5000",
        source, RedactUrl(trimmed))));
  }
  return trimmed;
}

Result<std::string> ResolveServer(const std::string& flag_value) {
  if (!flag_value.empty()) return NormaliseServerUrl(flag_value, "--server");
  if (auto value = Env("MLTF_SERVER"); !value.empty()) {
    return NormaliseServerUrl(value, "MLTF_SERVER");
  }
  if (auto value = Env("MLFLOW_TRACKING_URI"); SchemeLength(value) != 0) {
    return NormaliseServerUrl(value, "MLFLOW_TRACKING_URI");
  }
  return std::string(kDefaultServer);
}

std::string ResolveToken() {
  if (auto token = Env("MLTF_TOKEN"); !token.empty()) return token;
  return Env("MLFLOW_TRACKING_TOKEN");
}

}  // namespace mltf::client
