// jwks.cpp - JWKS parsing: JWK members (RFC 7518 section 6) to OpenSSL 3 public keys.
//
// Keys are built with EVP_PKEY_fromdata from their public parameters and then checked with
// EVP_PKEY_public_check, so a key that is kept is one OpenSSL considers valid. A malformed key
// fails the whole document rather than being dropped: a provider publishing a broken key is a
// configuration problem to report, not something to paper over.
#include "auth/jwks.hpp"

#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "auth/base64url.hpp"
#include "auth/openssl_handles.hpp"
#include "common/shell_text.hpp"

namespace mltf::auth {

void EvpPkeyDeleter::operator()(evp_pkey_st* key) const { EVP_PKEY_free(key); }

namespace {

using Json = nlohmann::json;

constexpr std::size_t kMaxDocumentBytes = std::size_t{1} << 20;
constexpr std::size_t kMaxKeys = 100;
constexpr int kMinRsaModulusBits = 2048;
constexpr int kMaxRsaModulusBits = 16384;  // verification cost grows with the modulus
constexpr int kMaxRsaExponentBits = 64;

/// How messages name a key: its kid when it has one, else its position in "keys".
std::string KeyName(std::string_view kid, std::size_t index) {
  if (kid.empty()) {
    return fmt::format("#{}", index);
  }
  return fmt::format("'{}'", QuoteForMessage(kid, 64));
}

Error Malformed(const std::string& key_name, std::string_view reason) {
  return Error::InvalidParameter(fmt::format("JWKS key {} {}", key_name, reason));
}

/// The bytes of a required base64url member of a JWK.
Result<std::string> DecodedMember(const Json& jwk, const char* member,
                                  const std::string& key_name) {
  const auto found = jwk.find(member);
  if (found == jwk.end() || !found->is_string()) {
    return Fail(Malformed(key_name, fmt::format("has no string member '{}'", member)));
  }
  auto bytes = Base64UrlDecode(found->get_ref<const std::string&>());
  if (!bytes || bytes->empty()) {
    return Fail(
        Malformed(key_name, fmt::format("has a member '{}' that is not base64url", member)));
  }
  return std::move(*bytes);
}

BignumPtr ToBignum(const std::string& bytes) {
  return BignumPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                             static_cast<int>(bytes.size()), nullptr));
}

/// Builds a public key of `type` ("RSA", "EC") from built parameters and lets OpenSSL check it.
Result<EvpPkeyPtr> PublicKeyFromParams(const char* type, OSSL_PARAM_BLD* builder,
                                       const std::string& key_name) {
  const ParamsPtr params(OSSL_PARAM_BLD_to_param(builder));
  const PkeyContextPtr context(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw_key = nullptr;
  if (!params || !context || EVP_PKEY_fromdata_init(context.get()) != 1 ||
      EVP_PKEY_fromdata(context.get(), &raw_key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    ERR_clear_error();
    return Fail(Malformed(key_name, "is not a valid public key"));
  }
  EvpPkeyPtr key(raw_key);
  const PkeyContextPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    ERR_clear_error();
    return Fail(Malformed(key_name, "is not a valid public key"));
  }
  return key;
}

Result<EvpPkeyPtr> RsaKey(const Json& jwk, const std::string& key_name) {
  MLTF_ASSIGN_OR_RETURN(modulus_bytes, DecodedMember(jwk, "n", key_name));
  MLTF_ASSIGN_OR_RETURN(exponent_bytes, DecodedMember(jwk, "e", key_name));
  if (modulus_bytes.size() > kMaxRsaModulusBits / 8 + 1 ||
      exponent_bytes.size() > kMaxRsaExponentBits / 8) {
    return Fail(Malformed(key_name, "has an RSA modulus or exponent that is too large"));
  }
  const BignumPtr modulus = ToBignum(modulus_bytes);
  const BignumPtr exponent = ToBignum(exponent_bytes);
  if (!modulus || !exponent) {
    return Fail(Error::Internal("out of memory while reading a JWKS"));
  }
  const int modulus_bits = BN_num_bits(modulus.get());
  if (modulus_bits < kMinRsaModulusBits || modulus_bits > kMaxRsaModulusBits) {
    return Fail(
        Malformed(key_name, fmt::format("has an RSA modulus of {} bits (2048 to {} allowed)",
                                        modulus_bits, kMaxRsaModulusBits)));
  }
  if (!BN_is_odd(exponent.get()) || BN_is_one(exponent.get())) {
    return Fail(Malformed(key_name, "has an invalid RSA exponent"));
  }
  const ParamBuilderPtr builder(OSSL_PARAM_BLD_new());
  if (!builder ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, modulus.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, exponent.get()) != 1) {
    return Fail(Error::Internal("out of memory while reading a JWKS"));
  }
  return PublicKeyFromParams("RSA", builder.get(), key_name);
}

struct Curve {
  std::string_view jwk_name;
  const char* openssl_name;
  std::size_t coordinate_bytes;
  KeyFamily family;
};
constexpr Curve kCurves[] = {
    {"P-256", "prime256v1", 32, KeyFamily::EC_P256},
    {"P-384", "secp384r1", 48, KeyFamily::EC_P384},
};

Result<std::pair<EvpPkeyPtr, KeyFamily>> EcKey(const Json& jwk, const std::string& key_name) {
  const auto crv = jwk.find("crv");
  if (crv == jwk.end() || !crv->is_string()) {
    return Fail(Malformed(key_name, "has no string member 'crv'"));
  }
  const Curve* curve = nullptr;
  for (const Curve& candidate : kCurves) {
    if (crv->get_ref<const std::string&>() == candidate.jwk_name) {
      curve = &candidate;
    }
  }
  if (curve == nullptr) {
    return Fail(Malformed(
        key_name, fmt::format("has an unsupported curve '{}' (P-256 and P-384 are supported)",
                              QuoteForMessage(crv->get_ref<const std::string&>(), 32))));
  }
  MLTF_ASSIGN_OR_RETURN(x, DecodedMember(jwk, "x", key_name));
  MLTF_ASSIGN_OR_RETURN(y, DecodedMember(jwk, "y", key_name));
  // RFC 7518 section 6.2.1.2: coordinates are the full field size, leading zeros kept.
  if (x.size() != curve->coordinate_bytes || y.size() != curve->coordinate_bytes) {
    return Fail(Malformed(key_name, fmt::format("has coordinates that are not {} bytes long",
                                                curve->coordinate_bytes)));
  }
  const std::string point = '\x04' + x + y;  // SEC 1 uncompressed point
  const ParamBuilderPtr builder(OSSL_PARAM_BLD_new());
  if (!builder ||
      OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME,
                                      curve->openssl_name, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return Fail(Error::Internal("out of memory while reading a JWKS"));
  }
  MLTF_ASSIGN_OR_RETURN(key, PublicKeyFromParams("EC", builder.get(), key_name));
  return std::make_pair(std::move(key), curve->family);
}

/// An optional string member; fails when it is present with another type.
Result<std::optional<std::string>> OptionalString(const Json& jwk, const char* member,
                                                  const std::string& key_name) {
  const auto found = jwk.find(member);
  if (found == jwk.end()) {
    return std::optional<std::string>();
  }
  if (!found->is_string()) {
    return Fail(Malformed(key_name, fmt::format("has a member '{}' that is not a string", member)));
  }
  return std::optional<std::string>(found->get<std::string>());
}

}  // namespace

Result<Jwks> Jwks::Parse(std::string_view document) {
  if (document.size() > kMaxDocumentBytes) {
    return Fail(Error::InvalidParameter("JWKS document is too large"));
  }
  const Json root = Json::parse(document, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    return Fail(Error::InvalidParameter("JWKS document is not a JSON object"));
  }
  const auto entries = root.find("keys");
  if (entries == root.end() || !entries->is_array()) {
    return Fail(Error::InvalidParameter("JWKS document has no 'keys' array"));
  }
  if (entries->size() > kMaxKeys) {
    return Fail(Error::InvalidParameter("JWKS document has too many keys"));
  }
  Jwks jwks;
  for (std::size_t index = 0; index < entries->size(); ++index) {
    const Json& jwk = (*entries)[index];
    if (!jwk.is_object()) {
      return Fail(Malformed(KeyName("", index), "is not a JSON object"));
    }
    MLTF_ASSIGN_OR_RETURN(kid, OptionalString(jwk, "kid", KeyName("", index)));
    const std::string key_name = KeyName(kid.value_or(""), index);
    MLTF_ASSIGN_OR_RETURN(use, OptionalString(jwk, "use", key_name));
    MLTF_ASSIGN_OR_RETURN(alg, OptionalString(jwk, "alg", key_name));
    MLTF_ASSIGN_OR_RETURN(kty, OptionalString(jwk, "kty", key_name));
    if (!kty) {
      return Fail(Malformed(key_name, "has no 'kty'"));
    }
    if (use && *use != "sig") {
      continue;  // encryption keys never verify signatures
    }
    JsonWebKey key{.kid = kid.value_or(""), .alg = alg.value_or("")};
    if (*kty == "RSA") {
      MLTF_ASSIGN_OR_RETURN(rsa, RsaKey(jwk, key_name));
      key.key = std::move(rsa);
      key.family = KeyFamily::RSA;
    } else if (*kty == "EC") {
      MLTF_ASSIGN_OR_RETURN(ec, EcKey(jwk, key_name));
      key.key = std::move(ec.first);
      key.family = ec.second;
    } else {
      continue;  // "oct" (symmetric) and OKP keys: no accepted algorithm uses them
    }
    if (!key.kid.empty() && jwks.Find(key.kid) != nullptr) {
      return Fail(Malformed(key_name, "appears twice"));
    }
    jwks.keys_.push_back(std::move(key));
  }
  return jwks;
}

const JsonWebKey* Jwks::Find(std::string_view kid) const {
  if (kid.empty()) {
    return nullptr;  // keys without a kid are only chosen as the single key of a set
  }
  for (const JsonWebKey& key : keys_) {
    if (key.kid == kid) {
      return &key;
    }
  }
  return nullptr;
}

}  // namespace mltf::auth
