// device_login.cpp - form posts to the provider's endpoints (absolute URLs on another host than
// the MLTF server), their OAuth answers, and the polling loop of the device flow.
#include "client/device_login.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string_view>
#include <thread>
#include <utility>

#include "client/http_client.hpp"

namespace mltf::client {
namespace {

using nlohmann::json;

constexpr auto kProviderTimeout = std::chrono::seconds(30);
constexpr const char* kFormType = "application/x-www-form-urlencoded";
constexpr const char* kDeviceCodeGrant = "urn:ietf:params:oauth:grant-type:device_code";
// RFC 8628 section 3.2: without `interval` the client waits 5 s; slow_down adds 5 s.
constexpr std::int64_t kDefaultIntervalSeconds = 5;
constexpr std::int64_t kSlowDownSeconds = 5;
// Used when a provider omits the (required) expires_in of its device code.
constexpr std::int64_t kDefaultCodeLifetimeSeconds = 600;
// Polls in a row without an answer before giving up, and the longest pause between them
// (section 3.5 asks for back-off when the provider does not answer).
constexpr int kMaxPollsWithoutAnswer = 5;
constexpr std::int64_t kMaxIntervalSeconds = 60;
// How much of a provider's error_description a message quotes.
constexpr std::size_t kQuotedChars = 300;

/// `fields` as application/x-www-form-urlencoded. PercentEncode escapes all but RFC 3986's
/// unreserved characters, which the form encoding leaves as they are too.
std::string FormBody(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  std::string body;
  for (const auto& [name, value] : fields) {
    if (!body.empty()) body += '&';
    body += PercentEncode(name);
    body += '=';
    body += PercentEncode(value);
  }
  return body;
}

bool IsHttpUrl(std::string_view url) {
  auto starts = [url](std::string_view prefix) {
    return url.size() > prefix.size() &&
           std::equal(prefix.begin(), prefix.end(), url.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) == b;
           });
  };
  return starts("http://") || starts("https://");
}

// `text` with control bytes blanked, so that a hostile provider cannot drive the terminal.
std::string Printable(std::string text) {
  for (char& c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) c = ' ';
  }
  return text;
}

// Text from the provider, fit for a message: printable, length capped, and any of `secrets`
// (a device code, a refresh token) masked in case the provider echoes them.
std::string Quote(std::string text, std::initializer_list<std::string_view> secrets) {
  for (const auto secret : secrets) {
    if (secret.empty()) continue;
    for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
      text.replace(at, secret.size(), "***");
    }
  }
  if (text.size() > kQuotedChars) text = text.substr(0, kQuotedChars) + "...";
  return Printable(std::move(text));
}

/// One answer of an OAuth endpoint: the JSON of a 2xx, or the `error` of RFC 6749 5.2.
struct OAuthAnswer {
  long status = 0;
  json success;             ///< A JSON object when the call succeeded, else null.
  std::string error;        ///< The OAuth error code; empty when none was given.
  std::string description;  ///< error_description, quoted safely.
};

/// POSTs `body` to the absolute `url`. Fails only when no answer arrives (or the URL is not
/// http(s)); `what` names the endpoint in messages.
Result<OAuthAnswer> PostForm(const std::string& url, const std::string& body, std::string_view what,
                             std::initializer_list<std::string_view> secrets) {
  if (!IsHttpUrl(url)) {
    return Fail(Error::InvalidParameter(
        fmt::format("the OpenID provider's {} '{}' is not an http(s) URL; ask the server's "
                    "operator to check its OIDC settings",
                    what, Quote(RedactUrl(url), {}))));
  }
  // The whole URL is the "base": HttpClient appends the (empty) path to it.
  HttpClient http(url);
  http.SetTimeout(kProviderTimeout);
  http.SetPeerName("the OpenID provider");
  auto response = http.Send("POST", "", body, kFormType);
  if (!response) {
    return Fail(Error::Unavailable(fmt::format("the OpenID provider's {} did not answer: {}", what,
                                               response.error().message)));
  }
  OAuthAnswer answer;
  answer.status = response->status;
  // Without exceptions: a parse error's message would quote the body, which may hold tokens.
  auto parsed = json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return answer;
  if (answer.status >= 200 && answer.status < 300) {
    answer.success = std::move(parsed);
    return answer;
  }
  if (const auto it = parsed.find("error"); it != parsed.end() && it->is_string()) {
    answer.error = Quote(it->get<std::string>(), secrets);
  }
  if (const auto it = parsed.find("error_description"); it != parsed.end() && it->is_string()) {
    answer.description = Quote(it->get<std::string>(), secrets);
  }
  return answer;
}

// A positive number of seconds, also when sent as a string (some providers do); else 0.
std::int64_t SecondsOf(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end()) return 0;
  std::int64_t value = 0;
  if (it->is_number()) {
    value = static_cast<std::int64_t>(it->get<double>());
  } else if (it->is_string()) {
    const std::string text = it->get<std::string>();
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) value = 0;
  }
  return std::max<std::int64_t>(value, 0);
}

// "error (description)" or "error" or "HTTP status" for messages.
std::string DescribeRefusal(const OAuthAnswer& answer) {
  if (answer.error.empty()) {
    return fmt::format("HTTP {} without an OAuth error", answer.status);
  }
  if (answer.description.empty()) return answer.error;
  return fmt::format("{}: {}", answer.error, answer.description);
}

Result<TokenGrant> GrantOf(const OAuthAnswer& answer, std::int64_t now) {
  TokenGrant grant;
  grant.access_token = JsonString(answer.success, "access_token");
  if (grant.access_token.empty()) {
    return Fail(
        Error::Internal("the OpenID provider's token endpoint answered without an access_token"));
  }
  grant.refresh_token = JsonString(answer.success, "refresh_token");
  if (const std::int64_t lifetime = SecondsOf(answer.success, "expires_in"); lifetime > 0) {
    grant.expires_at = now + lifetime;
  }
  return grant;
}

bool IsServerError(const OAuthAnswer& answer) {
  return answer.status >= 500 && answer.error.empty();
}

}  // namespace

OAuthClock SystemOAuthClock() {
  return {.now =
              [] {
                return std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                    .count();
              },
          .sleep = [](std::chrono::seconds pause) { std::this_thread::sleep_for(pause); }};
}

Result<TokenGrant> RunDeviceFlow(const OAuthProvider& provider,
                                 const std::function<void(const DeviceVerification&)>& show,
                                 const OAuthClock& clock) {
  if (provider.device_authorization_url.empty()) {
    return Fail(Error::InvalidParameter(
        "the server's OpenID provider offers no device authorization endpoint, which `mltf "
        "login` needs; ask the server's operator to enable the device flow"));
  }
  if (provider.client_id.empty()) {
    return Fail(Error::InvalidParameter(
        "the server advertises no OAuth client_id for `mltf login`; ask its operator to set "
        "oidc_client_id"));
  }
  // Checked before the user is sent to the browser, not after.
  if (!IsHttpUrl(provider.token_url)) {
    return Fail(Error::InvalidParameter(fmt::format(
        "the OpenID provider's token endpoint '{}' is not an http(s) URL; ask the server's "
        "operator to check its OIDC settings",
        Quote(RedactUrl(provider.token_url), {}))));
  }
  std::string scope;
  for (const auto& name : provider.scopes) {
    if (!scope.empty()) scope += ' ';
    scope += name;
  }
  MLTF_ASSIGN_OR_RETURN(started,
                        PostForm(provider.device_authorization_url,
                                 FormBody({{"client_id", provider.client_id}, {"scope", scope}}),
                                 "device authorization endpoint", {}));
  if (started.success.is_null()) {
    return Fail(Error::BadRequest(fmt::format("the OpenID provider refused to start the login ({})",
                                              DescribeRefusal(started))));
  }
  const std::string device_code = JsonString(started.success, "device_code");
  DeviceVerification verification;
  verification.user_code = Printable(JsonString(started.success, "user_code"));
  verification.verification_uri = Printable(JsonString(started.success, "verification_uri"));
  if (verification.verification_uri.empty()) {
    // The name of drafts before RFC 8628, still sent by some providers.
    verification.verification_uri = Printable(JsonString(started.success, "verification_url"));
  }
  verification.verification_uri_complete =
      Printable(JsonString(started.success, "verification_uri_complete"));
  verification.expires_in = SecondsOf(started.success, "expires_in");
  if (verification.expires_in == 0) verification.expires_in = kDefaultCodeLifetimeSeconds;
  if (device_code.empty() || verification.user_code.empty() ||
      verification.verification_uri.empty()) {
    return Fail(Error::Internal(
        "the OpenID provider's device authorization answer lacks device_code, user_code or "
        "verification_uri"));
  }
  std::int64_t interval = SecondsOf(started.success, "interval");
  if (interval == 0) interval = kDefaultIntervalSeconds;

  show(verification);
  const std::int64_t deadline = clock.now() + verification.expires_in;
  const std::string poll_body = FormBody({{"grant_type", kDeviceCodeGrant},
                                          {"device_code", device_code},
                                          {"client_id", provider.client_id}});
  const Error expired{ErrorCode::UNAUTHENTICATED,
                      "the login code expired before the login was approved; run `mltf login` "
                      "again and approve it within the time the provider allows"};
  int polls_without_answer = 0;
  for (;;) {
    clock.sleep(std::chrono::seconds(interval));
    if (clock.now() >= deadline) return Fail(expired);
    auto polled = PostForm(provider.token_url, poll_body, "token endpoint", {device_code});
    if (polled && !IsServerError(*polled)) {
      polls_without_answer = 0;
    } else if (!polled && polled.error().code != ErrorCode::TEMPORARILY_UNAVAILABLE) {
      return Fail(polled.error());
    } else {
      if (++polls_without_answer >= kMaxPollsWithoutAnswer) {
        return Fail(polled ? Error::Unavailable(fmt::format(
                                 "the OpenID provider's token endpoint keeps failing ({}); "
                                 "run `mltf login` again later",
                                 DescribeRefusal(*polled)))
                           : polled.error());
      }
      interval = std::min(interval * 2, kMaxIntervalSeconds);
      continue;
    }
    const OAuthAnswer& answer = *polled;
    if (!answer.success.is_null()) return GrantOf(answer, clock.now());
    if (answer.error == "authorization_pending") continue;
    if (answer.error == "slow_down") {
      interval += kSlowDownSeconds;
      continue;
    }
    if (answer.error == "access_denied") {
      return Fail(Error{ErrorCode::UNAUTHENTICATED,
                        "the login was refused at the OpenID provider (access_denied); run "
                        "`mltf login` to try again"});
    }
    if (answer.error == "expired_token") return Fail(expired);
    return Fail(Error::BadRequest(fmt::format(
        "the OpenID provider's token endpoint refused the login ({})", DescribeRefusal(answer))));
  }
}

Result<TokenGrant> RefreshAccessToken(const std::string& token_url, const std::string& client_id,
                                      const std::string& refresh_token, const std::string& server,
                                      std::int64_t now) {
  auto polled = PostForm(token_url,
                         FormBody({{"grant_type", "refresh_token"},
                                   {"refresh_token", refresh_token},
                                   {"client_id", client_id}}),
                         "token endpoint", {refresh_token});
  if (!polled) {
    return Fail(Error{polled.error().code,
                      fmt::format("cannot refresh the login to {}: {}; try again later, or "
                                  "run `mltf login` if this persists",
                                  RedactUrl(server), polled.error().message)});
  }
  const OAuthAnswer& answer = *polled;
  if (!answer.success.is_null()) {
    MLTF_ASSIGN_OR_RETURN(grant, GrantOf(answer, now));
    // RFC 6749 section 6: without a new refresh token the old one stays valid.
    if (grant.refresh_token.empty()) grant.refresh_token = refresh_token;
    return grant;
  }
  if (answer.error == "invalid_grant") {
    return Fail(Error{ErrorCode::UNAUTHENTICATED,
                      fmt::format("your login to {} has expired or was revoked; run `mltf login`",
                                  RedactUrl(server))});
  }
  return Fail(
      Error{IsServerError(answer) ? ErrorCode::TEMPORARILY_UNAVAILABLE : ErrorCode::BAD_REQUEST,
            fmt::format("the OpenID provider did not refresh the login to {} ({}); if "
                        "this persists, run `mltf login`",
                        RedactUrl(server), DescribeRefusal(answer))});
}

Result<void> RevokeRefreshToken(const std::string& revocation_url, const std::string& client_id,
                                const std::string& refresh_token) {
  MLTF_ASSIGN_OR_RETURN(answer, PostForm(revocation_url,
                                         FormBody({{"token", refresh_token},
                                                   {"token_type_hint", "refresh_token"},
                                                   {"client_id", client_id}}),
                                         "revocation endpoint", {refresh_token}));
  // RFC 7009 section 2.2: 200, also for a token that was already invalid.
  if (answer.status != 200) {
    return Fail(Error::Unavailable(
        fmt::format("the OpenID provider did not revoke the login ({})", DescribeRefusal(answer))));
  }
  return {};
}

}  // namespace mltf::client
