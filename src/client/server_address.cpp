// server_address.cpp - resolving the server URL from flag, environment and default, and the
// credential from the environment or the stored login (refreshed when about to expire).
#include "client/server_address.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <utility>

#include "client/device_login.hpp"
#include "client/http_client.hpp"

namespace mltf::client {
namespace {

constexpr const char* kDefaultServer = "http://127.0.0.1:5000";
// A stored access token is renewed when it expires within this many seconds.
constexpr std::int64_t kRefreshMarginSeconds = 60;

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

std::optional<ResolvedCredential> CredentialFromEnvironment() {
  for (const char* name : {"MLTF_TOKEN", "MLFLOW_TRACKING_TOKEN"}) {
    if (auto token = Env(name); !token.empty()) {
      return ResolvedCredential{.token = std::move(token), .source = name, .login = {}};
    }
  }
  return std::nullopt;
}

// Whether `login` needs a new access token before use: it has none, or it expires within the
// margin (so that a request under way does not meet an expired token).
bool NeedsRefresh(const StoredLogin& login, std::int64_t now) {
  if (login.kind != "oidc") return false;
  if (login.access_token.empty()) return true;
  return login.access_expires_at != 0 && login.access_expires_at - now < kRefreshMarginSeconds;
}

// `loaded`, or the entry with a new access token when it needs one. The refresh runs under
// the file's lock on the entry as re-read there: another process may have refreshed it first,
// and a rotated refresh token must not be used twice.
Result<StoredLogin> FreshLogin(CredentialStore& store, const std::string& server,
                               const StoredLogin& loaded, std::int64_t now) {
  if (!NeedsRefresh(loaded, now)) return loaded;
  const std::string where = RedactUrl(server);
  auto updated = store.Update(
      server, [&](const std::optional<StoredLogin>& current) -> Result<std::optional<StoredLogin>> {
        if (!current) {
          return Fail(
              Error{ErrorCode::UNAUTHENTICATED,
                    fmt::format("you logged out of {} meanwhile; run `mltf login`", where)});
        }
        if (!NeedsRefresh(*current, now)) return current;
        if (current->refresh_token.empty() || current->token_url.empty()) {
          return Fail(Error{ErrorCode::UNAUTHENTICATED,
                            fmt::format("your login to {} has expired and cannot be renewed here; "
                                        "run `mltf login`",
                                        where)});
        }
        MLTF_ASSIGN_OR_RETURN(grant, RefreshAccessToken(current->token_url, current->client_id,
                                                        current->refresh_token, server, now));
        StoredLogin next = *current;
        next.access_token = std::move(grant.access_token);
        next.access_expires_at = grant.expires_at;
        next.refresh_token = std::move(grant.refresh_token);
        return next;
      });
  if (!updated) {
    // A provider down for a moment need not stop work while the access token still lasts.
    if (updated.error().code == ErrorCode::TEMPORARILY_UNAVAILABLE &&
        !loaded.access_token.empty() && loaded.access_expires_at > now) {
      return loaded;
    }
    return Fail(std::move(updated).error());
  }
  if (!*updated) {
    return Fail(Error{ErrorCode::UNAUTHENTICATED,
                      fmt::format("you logged out of {} meanwhile; run `mltf login`", where)});
  }
  return std::move(**updated);
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

Result<ResolvedCredential> ResolveCredential(const std::string& server, CredentialStore& store,
                                             std::int64_t now) {
  if (auto from_environment = CredentialFromEnvironment()) return *from_environment;
  MLTF_ASSIGN_OR_RETURN(stored, store.Load(server));
  if (!stored) return ResolvedCredential{};
  MLTF_ASSIGN_OR_RETURN(login, FreshLogin(store, server, *stored, now));
  return ResolvedCredential{
      .token = login.access_token, .source = store.file().string(), .login = login};
}

Result<ResolvedCredential> ResolveCredential(const std::string& server) {
  if (auto from_environment = CredentialFromEnvironment()) return *from_environment;
  auto store = CredentialStore::ForCurrentUser();
  // Without XDG_CONFIG_HOME and HOME nothing can have been stored.
  if (!store) return ResolvedCredential{};
  return ResolveCredential(server, *store, SystemOAuthClock().now());
}

Result<std::string> ResolveToken(const std::string& server) {
  MLTF_ASSIGN_OR_RETURN(credential, ResolveCredential(server));
  return std::move(credential.token);
}

}  // namespace mltf::client
