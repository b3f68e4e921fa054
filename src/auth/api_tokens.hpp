// api_tokens.hpp - the API tokens the server issues: their format, their generation, and the
// digest that is stored instead of them.
//
// A token reads `mltf_<id>_<secret>`. The id (16 hex digits) is public: it names the token in
// listings and finds its row. The secret (32 random bytes, base64url) is shown once, when the
// token is created, and stored only as its SHA-256: a stolen database yields no usable token.
// A plain hash suffices because the secret has 256 bits of entropy; a slow password hash
// would only slow down every request.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace mltf::auth {

inline constexpr std::string_view kApiTokenPrefix = "mltf_";

struct NewApiToken {
  std::string token_id;
  std::string token;          ///< the whole credential, for the user only
  std::string secret_sha256;  ///< what is stored (lower-case hex)
};

/// A fresh token from the operating system's CSPRNG. Fails with INTERNAL_ERROR only when the
/// CSPRNG does.
Result<NewApiToken> GenerateApiToken();

struct ApiTokenParts {
  std::string token_id;
  std::string secret;
};

/// Splits a presented token; nullopt unless it has exactly the issued shape (prefix, 16 hex
/// digits, '_', 43 base64url characters). Does not fail.
std::optional<ApiTokenParts> ParseApiToken(std::string_view token);

/// Lower-case hex SHA-256 of `secret`. Does not fail.
std::string SecretSha256(std::string_view secret);

}  // namespace mltf::auth
