// test_keys.hpp - test-only key generation, public JWKs and token signing with OpenSSL.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "auth/jwks.hpp"

namespace mltf::auth::testing {

/// A fresh RSA key pair of `bits` bits. Aborts the test binary on failure.
EvpPkeyPtr GenerateRsaKey(unsigned bits = 2048);

/// A fresh EC key pair on `curve` ("P-256", "P-384").
EvpPkeyPtr GenerateEcKey(const char* curve);

/// The public JWK of an RSA or EC key pair: kty, kid, use "sig", and n/e or crv/x/y.
nlohmann::json PublicJwk(evp_pkey_st* key, std::string_view kid);

/// The JWS signature bytes of `input` for RS*, PS* or ES* (raw r || s) with a private key.
std::string Sign(std::string_view alg, evp_pkey_st* key, std::string_view input);

/// HMAC-SHA256 of `input` keyed with `secret`.
std::string HmacSha256(std::string_view secret, std::string_view input);

/// The public key in PEM (SubjectPublicKeyInfo) and DER forms.
std::string PublicKeyPem(evp_pkey_st* key);
std::string PublicKeyDer(evp_pkey_st* key);

/// "<b64(header)>.<b64(claims)>": the signing input of a token.
std::string SigningInput(const nlohmann::json& header, const nlohmann::json& claims);

/// A complete compact token signed with `key` under header["alg"].
std::string SignToken(const nlohmann::json& header, const nlohmann::json& claims, evp_pkey_st* key);

}  // namespace mltf::auth::testing
