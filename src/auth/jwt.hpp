// jwt.hpp - verification of signed JSON Web Tokens (RFC 7519, JWS compact form) from an
// OpenID provider, as sent in `Authorization: Bearer <token>`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/jwks.hpp"
#include "common/error.hpp"

namespace mltf::auth {

/// Longest token VerifyJwt reads; longer ones are refused before any decoding.
inline constexpr std::size_t kMaxJwtBytes = std::size_t{16} * 1024;

/// What a token must satisfy besides a valid signature.
struct JwtPolicy {
  std::string issuer;    ///< Exact value of "iss". Must be set.
  std::string audience;  ///< Must be "aud" or one element of it. Must be set.
  /// Allowed clock skew for exp, nbf and iat; negative counts as 0, capped at one day.
  std::int64_t leeway_seconds = 60;
  /// Accepted "alg" values. "none" and HS* are refused even when listed: the JWKS only holds
  /// public keys, and an HMAC keyed with one is the classic key-confusion forgery.
  std::vector<std::string> allowed_algorithms = {"RS256", "RS384", "RS512",
                                                 "PS256", "ES256", "ES384"};
  std::string user_claim = "sub";       ///< Claim naming the user; a non-empty string.
  std::string groups_claim = "groups";  ///< Claim listing groups; a string or string array.
};

/// The identity a verified token carries.
struct VerifiedToken {
  std::string user;
  std::vector<std::string> groups;  ///< Empty when the token has no groups claim.
  std::int64_t expires_at = 0;      ///< "exp", seconds since the epoch.
  std::string issuer;
  std::string claims_json;  ///< The decoded payload, exactly as signed.
};

/// Verifies a compact JWS token against the keys and the policy at `now_seconds` (Unix time).
/// Fails with UNAUTHENTICATED and a short reason fit for a 401 body, e.g. "token expired",
/// "signature does not verify", "algorithm 'HS256' is not accepted"; reasons never contain
/// the token or its signature. Fails with INTERNAL_ERROR when the policy lacks an issuer,
/// audience or user claim. Keys named by the token header (jku, x5u, jwk) are never used.
/// Does not throw.
Result<VerifiedToken> VerifyJwt(std::string_view token, const Jwks& keys, const JwtPolicy& policy,
                                std::int64_t now_seconds);

/// The "kid" of a token's header, read without verifying anything: only to choose the key set
/// to verify it with (e.g. to notice that the provider rotated its keys). Empty when the token
/// is malformed or names no kid. Does not fail.
std::optional<std::string> JwtKeyId(std::string_view token);

}  // namespace mltf::auth
