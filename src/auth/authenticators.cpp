// authenticators.cpp - credentials from the Authorization header to an Identity.
#include "auth/authenticators.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>

#include "auth/api_tokens.hpp"
#include "auth/base64url.hpp"

namespace mltf::auth {
namespace {

Error Refused(std::string reason) { return Error{ErrorCode::UNAUTHENTICATED, std::move(reason)}; }

bool StartsWithScheme(std::string_view header, std::string_view scheme) {
  if (header.size() <= scheme.size() || header[scheme.size()] != ' ') return false;
  return std::equal(scheme.begin(), scheme.end(), header.begin(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

/// Standard base64 (RFC 4648 section 4, padded), as basic auth sends it.
std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  std::string url(text);
  for (char& ch : url) {
    if (ch == '+') {
      ch = '-';
    } else if (ch == '/') {
      ch = '_';
    } else if (ch == '-' || ch == '_') {
      return std::nullopt;  // not in the standard alphabet
    }
  }
  return Base64UrlDecode(url);
}

}  // namespace

LocalAuthenticator::LocalAuthenticator(std::string user)
    : identity_(
          std::make_shared<const Identity>(Identity{.user = std::move(user), .admin = true})) {}

Result<std::shared_ptr<const Identity>> LocalAuthenticator::Authenticate(
    const http::Request&) const {
  return identity_;
}

// Never sent: nobody is refused.
std::string LocalAuthenticator::Challenge() const { return {}; }

CredentialAuthenticator::CredentialAuthenticator(ApiTokenService& tokens,
                                                 CredentialAuthenticatorOptions options)
    : tokens_(tokens), options_(std::move(options)) {}

std::string CredentialAuthenticator::Challenge() const { return R"(Bearer realm="mltf")"; }

Result<CredentialAuthenticator::Credential> CredentialAuthenticator::ParseAuthorization(
    std::string_view header) {
  header = Trim(header);
  if (header.empty()) {
    return Fail(Refused("a credential is required: send 'Authorization: Bearer <token>'"));
  }
  if (StartsWithScheme(header, "Bearer")) {
    std::string_view token = Trim(header.substr(7));
    if (token.empty() || token.find(' ') != std::string_view::npos) {
      return Fail(Refused("malformed bearer token"));
    }
    return Credential{.secret = std::string(token)};
  }
  if (StartsWithScheme(header, "Basic")) {
    auto decoded = Base64Decode(Trim(header.substr(6)));
    std::size_t colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos) return Fail(Refused("malformed basic credentials"));
    return Credential{.secret = decoded->substr(colon + 1),
                      .basic_user = decoded->substr(0, colon)};
  }
  return Fail(Refused("unsupported authorization scheme: use Bearer (or Basic)"));
}

Result<std::shared_ptr<const Identity>> CredentialAuthenticator::Authenticate(
    const http::Request& request) const {
  MLTF_ASSIGN_OR_RETURN(credential, ParseAuthorization(request.Header("authorization")));
  Result<std::shared_ptr<const Identity>> identity =
      std::string_view(credential.secret).starts_with(kApiTokenPrefix)
          ? tokens_.Verify(credential.secret)
          : VerifyJwtCredential(credential.secret);
  if (!identity) return identity;
  if (credential.basic_user && *credential.basic_user != (*identity)->user) {
    return Fail(Refused("the user name does not match the credential"));
  }
  const Identity& found = **identity;
  const bool promoted =
      !found.admin && !found.task &&
      (options_.admin_users.contains(found.user) ||
       (!options_.admin_group.empty() && std::find(found.groups.begin(), found.groups.end(),
                                                   options_.admin_group) != found.groups.end()));
  if (!promoted) return identity;
  auto admin = std::make_shared<Identity>(found);
  admin->admin = true;
  return std::shared_ptr<const Identity>(std::move(admin));
}

Result<std::shared_ptr<const Identity>> CredentialAuthenticator::VerifyJwtCredential(
    std::string_view token) const {
  if (!options_.oidc) return Fail(Refused("not an API token of this server"));
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  if (auto known = verified_jwts_.Find(token, now)) return known;
  auto verified = options_.oidc->keys->Verify(token, options_.oidc->policy, now);
  if (!verified) {
    // The provider's keys could not be fetched: the credential may be fine, the server cannot
    // tell. Still a 401 (the request is not served), with the reason.
    if (verified.error().code != ErrorCode::UNAUTHENTICATED) {
      return Fail(Refused("cannot verify the token now: " + verified.error().message));
    }
    return Fail(verified.error());
  }
  auto identity = std::make_shared<const Identity>(
      Identity{.user = std::move(verified->user), .groups = std::move(verified->groups)});
  verified_jwts_.Remember(token, identity, verified->expires_at, now);
  return identity;
}

}  // namespace mltf::auth
