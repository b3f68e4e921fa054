// test_keys.cpp - test-only key generation, public JWKs and token signing with OpenSSL.
#include "auth/test_keys.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <memory>
#include <vector>

#include "auth/base64url.hpp"
#include "auth/openssl_handles.hpp"

namespace mltf::auth::testing {
namespace {

void Require(bool ok) {
  if (!ok) {
    std::abort();  // a test helper failing is a broken test environment, not a test result
  }
}

/// A big-endian BN parameter of the key, left-padded to `width` bytes when width > 0.
std::string BignumParam(EVP_PKEY* key, const char* name, int width) {
  BIGNUM* raw = nullptr;
  Require(EVP_PKEY_get_bn_param(key, name, &raw) == 1);
  const BignumPtr number(raw);
  const int size = width > 0 ? width : BN_num_bytes(number.get());
  std::string bytes(static_cast<std::size_t>(size), '\0');
  Require(BN_bn2binpad(number.get(), reinterpret_cast<unsigned char*>(bytes.data()), size) == size);
  return bytes;
}

const EVP_MD* DigestOf(std::string_view alg) {
  if (alg.ends_with("384")) {
    return EVP_sha384();
  }
  if (alg.ends_with("512")) {
    return EVP_sha512();
  }
  return EVP_sha256();
}

}  // namespace

EvpPkeyPtr GenerateRsaKey(unsigned bits) {
  EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(bits)));
  Require(key != nullptr);
  return key;
}

EvpPkeyPtr GenerateEcKey(const char* curve) {
  EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
  Require(key != nullptr);
  return key;
}

nlohmann::json PublicJwk(evp_pkey_st* key, std::string_view kid) {
  nlohmann::json jwk = {{"kid", kid}, {"use", "sig"}};
  if (EVP_PKEY_is_a(key, "RSA") == 1) {
    jwk["kty"] = "RSA";
    jwk["n"] = Base64UrlEncode(BignumParam(key, OSSL_PKEY_PARAM_RSA_N, 0));
    jwk["e"] = Base64UrlEncode(BignumParam(key, OSSL_PKEY_PARAM_RSA_E, 0));
    return jwk;
  }
  const int coordinate_bytes = (EVP_PKEY_get_bits(key) + 7) / 8;
  jwk["kty"] = "EC";
  jwk["crv"] = coordinate_bytes == 32 ? "P-256" : "P-384";
  jwk["x"] = Base64UrlEncode(BignumParam(key, OSSL_PKEY_PARAM_EC_PUB_X, coordinate_bytes));
  jwk["y"] = Base64UrlEncode(BignumParam(key, OSSL_PKEY_PARAM_EC_PUB_Y, coordinate_bytes));
  return jwk;
}

std::string Sign(std::string_view alg, evp_pkey_st* key, std::string_view input) {
  const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                        &EVP_MD_CTX_free);
  EVP_PKEY_CTX* key_context = nullptr;
  Require(context != nullptr &&
          EVP_DigestSignInit(context.get(), &key_context, DigestOf(alg), nullptr, key) == 1);
  if (alg.starts_with("PS")) {
    Require(EVP_PKEY_CTX_set_rsa_padding(key_context, RSA_PKCS1_PSS_PADDING) == 1 &&
            EVP_PKEY_CTX_set_rsa_pss_saltlen(key_context, RSA_PSS_SALTLEN_DIGEST) == 1);
  }
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  std::size_t length = 0;
  Require(EVP_DigestSign(context.get(), nullptr, &length, data, input.size()) == 1);
  std::vector<unsigned char> signature(length);
  Require(EVP_DigestSign(context.get(), signature.data(), &length, data, input.size()) == 1);
  signature.resize(length);
  if (!alg.starts_with("ES")) {
    return {signature.begin(), signature.end()};
  }
  // OpenSSL signs ECDSA in DER; JWS wants r || s, each the curve's size.
  const unsigned char* cursor = signature.data();
  const std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> parsed(
      d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(signature.size())), &ECDSA_SIG_free);
  Require(parsed != nullptr);
  const int width = (EVP_PKEY_get_bits(key) + 7) / 8;
  std::string raw(static_cast<std::size_t>(2 * width), '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  Require(BN_bn2binpad(ECDSA_SIG_get0_r(parsed.get()), out, width) == width &&
          BN_bn2binpad(ECDSA_SIG_get0_s(parsed.get()), out + width, width) == width);
  return raw;
}

std::string HmacSha256(std::string_view secret, std::string_view input) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  Require(HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
               reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac,
               &length) != nullptr);
  return {reinterpret_cast<const char*>(mac), length};
}

std::string PublicKeyPem(evp_pkey_st* key) {
  const std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  Require(bio != nullptr && PEM_write_bio_PUBKEY(bio.get(), key) == 1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return {data, static_cast<std::size_t>(length)};
}

std::string PublicKeyDer(evp_pkey_st* key) {
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(key, &der);
  Require(length > 0);
  std::string bytes(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
  OPENSSL_free(der);
  return bytes;
}

std::string SigningInput(const nlohmann::json& header, const nlohmann::json& claims) {
  return Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(claims.dump());
}

std::string SignToken(const nlohmann::json& header, const nlohmann::json& claims,
                      evp_pkey_st* key) {
  const std::string input = SigningInput(header, claims);
  return input + "." + Base64UrlEncode(Sign(header.at("alg").get<std::string>(), key, input));
}

}  // namespace mltf::auth::testing
