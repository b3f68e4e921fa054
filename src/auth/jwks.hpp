// jwks.hpp - JSON Web Key Sets (RFC 7517): the public signing keys an OpenID provider publishes.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header.

namespace mltf::auth {

struct EvpPkeyDeleter {
  void operator()(evp_pkey_st* key) const;
};
/// An owned OpenSSL public key.
using EvpPkeyPtr = std::unique_ptr<evp_pkey_st, EvpPkeyDeleter>;

/// What a key is, which decides the JWS algorithms it may verify (RFC 7518 section 3.1).
enum class KeyFamily {
  RSA,      ///< RS256/384/512 and PS256/384/512.
  EC_P256,  ///< ES256 only.
  EC_P384,  ///< ES384 only.
};

/// One signature verification key of a JWKS.
struct JsonWebKey {
  std::string kid;  ///< Empty when the JWK has none.
  /// The JWK's "alg" member, empty when absent; when set, the only algorithm the key verifies.
  std::string alg;
  KeyFamily family = KeyFamily::RSA;
  EvpPkeyPtr key;
};

/// The usable signing keys of a JWKS document. Immutable once parsed, so one instance may be
/// shared by threads verifying tokens concurrently.
class Jwks {
 public:
  /// Parses a JWKS document (at most 1 MiB, at most 100 keys). Keys whose "use" is not "sig",
  /// and key types other than RSA and EC (e.g. symmetric "oct" keys) are skipped. Fails with
  /// INVALID_PARAMETER_VALUE when the document is not a JSON object with a "keys" array, when
  /// a kept key is malformed (the message names its kid: bad base64url, an RSA modulus under
  /// 2048 bits, a curve other than P-256 or P-384, a point off the curve), or when two kept
  /// keys share a kid.
  static Result<Jwks> Parse(std::string_view document);

  /// The key with this non-empty kid, or nullptr. Does not fail.
  const JsonWebKey* Find(std::string_view kid) const;

  const std::vector<JsonWebKey>& keys() const { return keys_; }

 private:
  std::vector<JsonWebKey> keys_;
};

}  // namespace mltf::auth
