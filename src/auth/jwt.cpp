// jwt.cpp - JWT verification: the order of checks is the protocol.
//
// 1. Shape: bounded length, exactly three base64url segments, a JSON object header.
// 2. Algorithm: "alg" must be accepted by the policy and implemented here (asymmetric only).
// 3. Key: chosen by "kid" from the JWKS (or the single key of a one-key set), and its family
//    must be the algorithm's: an RSA key never verifies ES256, an EC key never verifies RS256.
// 4. Signature over "<header>.<payload>" with EVP_DigestVerify. Only then is the payload read.
// 5. Claims: exp (required), nbf and iat with leeway; iss and aud; the user and groups claims.
// Every refusal is UNAUTHENTICATED with a fixed reason; only alg, kid and claim names (short
// and quoted) may appear in it, never the token's segments.
#include "auth/jwt.hpp"

#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "auth/base64url.hpp"
#include "auth/openssl_handles.hpp"
#include "common/shell_text.hpp"

namespace mltf::auth {
namespace {

using Json = nlohmann::json;

constexpr std::int64_t kMaxLeewaySeconds = std::int64_t{24} * 60 * 60;
/// 9999-12-31T23:59:59Z: later (or negative) NumericDates are refused, which also keeps the
/// leeway arithmetic far from overflow.
constexpr std::int64_t kMaxNumericDate = 253402300799;
constexpr std::size_t kMaxQuotedLength = 40;

enum class Padding { PKCS1, PSS, NONE };

/// A JWS algorithm implemented here (RFC 7518 section 3.1).
struct Algorithm {
  std::string_view name;
  const EVP_MD* (*digest)();
  Padding padding;  ///< NONE for ECDSA.
  KeyFamily family;
  std::size_t ecdsa_coordinate_bytes;  ///< Size of r and of s in the JWS form; 0 for RSA.
};

constexpr std::array<Algorithm, 8> kAlgorithms = {{
    {"RS256", EVP_sha256, Padding::PKCS1, KeyFamily::RSA, 0},
    {"RS384", EVP_sha384, Padding::PKCS1, KeyFamily::RSA, 0},
    {"RS512", EVP_sha512, Padding::PKCS1, KeyFamily::RSA, 0},
    {"PS256", EVP_sha256, Padding::PSS, KeyFamily::RSA, 0},
    {"PS384", EVP_sha384, Padding::PSS, KeyFamily::RSA, 0},
    {"PS512", EVP_sha512, Padding::PSS, KeyFamily::RSA, 0},
    {"ES256", EVP_sha256, Padding::NONE, KeyFamily::EC_P256, 32},
    {"ES384", EVP_sha384, Padding::NONE, KeyFamily::EC_P384, 48},
}};

Error Refused(std::string reason) { return {ErrorCode::UNAUTHENTICATED, std::move(reason)}; }

std::string Quoted(std::string_view text) {
  return fmt::format("'{}'", QuoteForMessage(text, kMaxQuotedLength));
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

/// "none" and the HMAC family, in any spelling: never accepted whatever the policy lists.
bool IsAlwaysRefused(std::string_view alg) {
  return EqualsIgnoringCase(alg, "none") ||
         (alg.size() >= 2 && EqualsIgnoringCase(alg.substr(0, 2), "HS"));
}

const Algorithm* AcceptedAlgorithm(std::string_view alg, const JwtPolicy& policy) {
  if (IsAlwaysRefused(alg) ||
      std::find(policy.allowed_algorithms.begin(), policy.allowed_algorithms.end(), alg) ==
          policy.allowed_algorithms.end()) {
    return nullptr;
  }
  for (const Algorithm& algorithm : kAlgorithms) {
    if (algorithm.name == alg) {
      return &algorithm;
    }
  }
  return nullptr;
}

/// A base64url segment holding a JSON object, or nullopt.
std::optional<Json> DecodeJsonObject(std::string_view segment) {
  const auto bytes = Base64UrlDecode(segment);
  if (!bytes) {
    return std::nullopt;
  }
  Json value = Json::parse(*bytes, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded() || !value.is_object()) {
    return std::nullopt;
  }
  return value;
}

/// The JWS form of an ECDSA signature (r || s, fixed width) in the DER form OpenSSL verifies.
std::optional<std::string> EcdsaSignatureToDer(std::string_view raw) {
  const std::size_t half = raw.size() / 2;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  BignumPtr r(BN_bin2bn(bytes, static_cast<int>(half), nullptr));
  BignumPtr s(BN_bin2bn(bytes + half, static_cast<int>(half), nullptr));
  const EcdsaSigPtr signature(ECDSA_SIG_new());
  if (!r || !s || !signature || ECDSA_SIG_set0(signature.get(), r.get(), s.get()) != 1) {
    return std::nullopt;
  }
  static_cast<void>(r.release());  // owned by signature now
  static_cast<void>(s.release());
  unsigned char* der = nullptr;
  const int der_length = i2d_ECDSA_SIG(signature.get(), &der);
  if (der_length <= 0) {
    return std::nullopt;
  }
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(der_length));
  OPENSSL_free(der);
  return out;
}

bool SignatureVerifies(const Algorithm& algorithm, EVP_PKEY* key, std::string_view signing_input,
                       std::string_view signature) {
  std::string der;
  if (algorithm.padding == Padding::NONE) {
    if (signature.size() != 2 * algorithm.ecdsa_coordinate_bytes) {
      return false;
    }
    auto converted = EcdsaSignatureToDer(signature);
    if (!converted) {
      return false;
    }
    der = std::move(*converted);
    signature = der;
  } else if (signature.size() != static_cast<std::size_t>(EVP_PKEY_get_size(key))) {
    return false;  // RFC 7518 section 3.3: exactly the modulus length
  }
  const MdContextPtr context(EVP_MD_CTX_new());
  EVP_PKEY_CTX* key_context = nullptr;  // owned by context
  bool verified = context != nullptr && EVP_DigestVerifyInit(context.get(), &key_context,
                                                             algorithm.digest(), nullptr, key) == 1;
  if (verified && algorithm.padding == Padding::PSS) {
    // RFC 7518 section 3.5: MGF1 with the same hash, salt as long as the hash.
    verified = EVP_PKEY_CTX_set_rsa_padding(key_context, RSA_PKCS1_PSS_PADDING) == 1 &&
               EVP_PKEY_CTX_set_rsa_pss_saltlen(key_context, RSA_PSS_SALTLEN_DIGEST) == 1;
  } else if (verified && algorithm.padding == Padding::PKCS1) {
    verified = EVP_PKEY_CTX_set_rsa_padding(key_context, RSA_PKCS1_PADDING) == 1;
  }
  verified =
      verified &&
      EVP_DigestVerify(
          context.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
          reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
  ERR_clear_error();  // a failed verification leaves entries no one else should see
  return verified;
}

/// A NumericDate claim (RFC 7519 section 2): nullopt when absent, an error when not a number
/// within [0, kMaxNumericDate]. Fractions are dropped.
Result<std::optional<std::int64_t>> NumericDate(const Json& claims, const char* name) {
  const auto found = claims.find(name);
  if (found == claims.end()) {
    return std::optional<std::int64_t>();
  }
  const Error invalid = Refused(fmt::format("claim '{}' is not a valid time", name));
  double seconds = 0;
  if (found->is_number_unsigned()) {
    const auto value = found->get<std::uint64_t>();
    if (value > static_cast<std::uint64_t>(kMaxNumericDate)) {
      return Fail(invalid);
    }
    return std::optional<std::int64_t>(static_cast<std::int64_t>(value));
  }
  if (found->is_number_integer()) {
    seconds = static_cast<double>(found->get<std::int64_t>());
  } else if (found->is_number_float()) {
    seconds = std::floor(found->get<double>());
  } else {
    return Fail(invalid);
  }
  if (!(seconds >= 0 && seconds <= static_cast<double>(kMaxNumericDate))) {  // NaN too
    return Fail(invalid);
  }
  return std::optional<std::int64_t>(static_cast<std::int64_t>(seconds));
}

bool AudienceMatches(const Json& claims, const std::string& audience) {
  const auto aud = claims.find("aud");
  if (aud == claims.end()) {
    return false;
  }
  if (aud->is_string()) {
    return aud->get_ref<const std::string&>() == audience;
  }
  if (!aud->is_array()) {
    return false;
  }
  return std::any_of(aud->begin(), aud->end(), [&](const Json& element) {
    return element.is_string() && element.get_ref<const std::string&>() == audience;
  });
}

Result<std::vector<std::string>> Groups(const Json& claims, const std::string& claim) {
  std::vector<std::string> groups;
  const auto found = claims.find(claim);
  if (found == claims.end() || found->is_null()) {
    return groups;
  }
  const Error invalid =
      Refused(fmt::format("claim {} is not a string or an array of strings", Quoted(claim)));
  if (found->is_string()) {
    groups.push_back(found->get<std::string>());
    return groups;
  }
  if (!found->is_array()) {
    return Fail(invalid);
  }
  for (const Json& group : *found) {
    if (!group.is_string()) {
      return Fail(invalid);
    }
    groups.push_back(group.get<std::string>());
  }
  return groups;
}

/// The key that must verify the token: by kid, or the only key of the set when there is no kid.
Result<const JsonWebKey*> SelectKey(const Json& header, const Jwks& keys,
                                    const Algorithm& algorithm) {
  const JsonWebKey* key = nullptr;
  std::string key_name;
  const auto kid = header.find("kid");
  if (kid == header.end()) {
    if (keys.keys().size() != 1) {
      return Fail(Refused("token has no kid and the key set does not have exactly one key"));
    }
    key = &keys.keys().front();
    key_name = key->kid.empty() ? "of the key set" : Quoted(key->kid);
  } else {
    if (!kid->is_string()) {
      return Fail(Refused("token kid is not a string"));
    }
    key = keys.Find(kid->get_ref<const std::string&>());
    key_name = Quoted(kid->get_ref<const std::string&>());
    if (key == nullptr) {
      return Fail(Refused(fmt::format("no key with kid {}", key_name)));
    }
  }
  if (key->family != algorithm.family || (!key->alg.empty() && key->alg != algorithm.name)) {
    return Fail(
        Refused(fmt::format("key {} cannot verify algorithm '{}'", key_name, algorithm.name)));
  }
  return key;
}

Result<VerifiedToken> CheckClaims(const Json& claims, const JwtPolicy& policy,
                                  std::int64_t now_seconds) {
  const std::int64_t leeway = std::clamp<std::int64_t>(policy.leeway_seconds, 0, kMaxLeewaySeconds);
  MLTF_ASSIGN_OR_RETURN(expires_at, NumericDate(claims, "exp"));
  MLTF_ASSIGN_OR_RETURN(not_before, NumericDate(claims, "nbf"));
  MLTF_ASSIGN_OR_RETURN(issued_at, NumericDate(claims, "iat"));
  if (!expires_at) {
    return Fail(Refused("token has no expiry (exp)"));
  }
  // Bounded dates and leeway: neither side of these comparisons can overflow.
  if (now_seconds >= *expires_at + leeway) {
    return Fail(Refused("token expired"));
  }
  if (not_before && *not_before - leeway > now_seconds) {
    return Fail(Refused("token is not yet valid"));
  }
  if (issued_at && *issued_at - leeway > now_seconds) {
    return Fail(Refused("token is issued in the future"));
  }
  const auto iss = claims.find("iss");
  if (iss == claims.end() || !iss->is_string() ||
      iss->get_ref<const std::string&>() != policy.issuer) {
    return Fail(Refused("token issuer is not accepted"));
  }
  if (!AudienceMatches(claims, policy.audience)) {
    return Fail(Refused("token audience is not accepted"));
  }
  const auto user = claims.find(policy.user_claim);
  if (user == claims.end() || !user->is_string() || user->get_ref<const std::string&>().empty()) {
    return Fail(Refused(
        fmt::format("claim {} is missing or not a non-empty string", Quoted(policy.user_claim))));
  }
  MLTF_ASSIGN_OR_RETURN(groups, Groups(claims, policy.groups_claim));
  VerifiedToken verified;
  verified.user = user->get<std::string>();
  verified.groups = std::move(groups);
  verified.expires_at = *expires_at;
  verified.issuer = policy.issuer;
  return verified;
}

}  // namespace

Result<VerifiedToken> VerifyJwt(std::string_view token, const Jwks& keys, const JwtPolicy& policy,
                                std::int64_t now_seconds) {
  if (policy.issuer.empty() || policy.audience.empty() || policy.user_claim.empty()) {
    return Fail(Error::Internal("token policy needs an issuer, an audience and a user claim"));
  }
  if (token.size() > kMaxJwtBytes) {
    return Fail(Refused("token is too long"));
  }
  const std::size_t first_dot = token.find('.');
  const std::size_t second_dot =
      first_dot == std::string_view::npos ? first_dot : token.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos ||
      token.find('.', second_dot + 1) != std::string_view::npos) {
    return Fail(Refused("token is not a signed JWT (expected three segments)"));
  }
  const std::string_view header_segment = token.substr(0, first_dot);
  const std::string_view payload_segment = token.substr(first_dot + 1, second_dot - first_dot - 1);
  const std::string_view signature_segment = token.substr(second_dot + 1);

  const auto header = DecodeJsonObject(header_segment);
  if (!header) {
    return Fail(Refused("token header is not a base64url JSON object"));
  }
  const auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string()) {
    return Fail(Refused("token header has no algorithm"));
  }
  const Algorithm* algorithm = AcceptedAlgorithm(alg->get_ref<const std::string&>(), policy);
  if (algorithm == nullptr) {
    return Fail(Refused(
        fmt::format("algorithm {} is not accepted", Quoted(alg->get_ref<const std::string&>()))));
  }
  // RFC 7515 section 4.1.11: extensions marked critical must be understood; none are here.
  if (header->contains("crit")) {
    return Fail(Refused("token header has critical extensions, which are not supported"));
  }
  MLTF_ASSIGN_OR_RETURN(key, SelectKey(*header, keys, *algorithm));

  const auto signature = Base64UrlDecode(signature_segment);
  const std::string_view signing_input = token.substr(0, second_dot);
  if (!signature || !SignatureVerifies(*algorithm, key->key.get(), signing_input, *signature)) {
    return Fail(Refused("signature does not verify"));
  }

  auto claims_json = Base64UrlDecode(payload_segment);
  if (!claims_json) {
    return Fail(Refused("token payload is not a base64url JSON object"));
  }
  const Json claims = Json::parse(*claims_json, nullptr, /*allow_exceptions=*/false);
  if (claims.is_discarded() || !claims.is_object()) {
    return Fail(Refused("token payload is not a base64url JSON object"));
  }
  MLTF_ASSIGN_OR_RETURN(verified, CheckClaims(claims, policy, now_seconds));
  verified.claims_json = std::move(*claims_json);
  return verified;
}

std::optional<std::string> JwtKeyId(std::string_view token) {
  if (token.size() > kMaxJwtBytes) return std::nullopt;
  const auto header = DecodeJsonObject(token.substr(0, token.find('.')));
  if (!header) return std::nullopt;
  const auto kid = header->find("kid");
  if (kid == header->end() || !kid->is_string()) return std::nullopt;
  return kid->get<std::string>();
}

}  // namespace mltf::auth
