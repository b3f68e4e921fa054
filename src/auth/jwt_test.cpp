// jwt_test.cpp - JWT verification against keys generated here: accepted tokens, and each way a
// token is refused (forgery, key confusion, timing, claims, malformed input).
#include "auth/jwt.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "auth/base64url.hpp"
#include "auth/test_keys.hpp"

namespace mltf::auth {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr std::int64_t kNow = 1'800'000'000;
constexpr char kIssuer[] = "https://idp.example.org/realms/ml";
constexpr char kAudience[] = "mltf";

struct Keys {
  EvpPkeyPtr rsa = testing::GenerateRsaKey();
  EvpPkeyPtr ec256 = testing::GenerateEcKey("P-256");
  EvpPkeyPtr ec384 = testing::GenerateEcKey("P-384");
  Jwks jwks = MakeJwks();

  Jwks MakeJwks() const {
    const json document = {{"keys", json::array({testing::PublicJwk(rsa.get(), "rsa-1"),
                                                 testing::PublicJwk(ec256.get(), "ec-1"),
                                                 testing::PublicJwk(ec384.get(), "ec-2")})}};
    auto parsed = Jwks::Parse(document.dump());
    EXPECT_TRUE(parsed.has_value());
    return std::move(*parsed);
  }
};

const Keys& SharedKeys() {
  static const Keys kKeys;  // generating an RSA key takes a while: once per binary
  return kKeys;
}

JwtPolicy Policy() {
  JwtPolicy policy;
  policy.issuer = kIssuer;
  policy.audience = kAudience;
  return policy;
}

json Header(std::string_view alg, std::string_view kid) {
  return {{"alg", alg}, {"kid", kid}, {"typ", "JWT"}};
}

json Claims() {
  return {{"iss", kIssuer},    {"aud", kAudience}, {"sub", "alice"},   {"groups", {"ml", "ops"}},
          {"exp", kNow + 600}, {"iat", kNow - 10}, {"nbf", kNow - 10}, {"email", "a@x.org"}};
}

/// The key that signs under `kid` in these tests.
evp_pkey_st* SigningKey(std::string_view kid) {
  if (kid == "rsa-1") {
    return SharedKeys().rsa.get();
  }
  return kid == "ec-2" ? SharedKeys().ec384.get() : SharedKeys().ec256.get();
}

std::string Token(std::string_view alg, std::string_view kid, const json& claims) {
  return testing::SignToken(Header(alg, kid), claims, SigningKey(kid));
}

Result<VerifiedToken> Verify(std::string_view token, const JwtPolicy& policy = Policy(),
                             std::int64_t now = kNow) {
  return VerifyJwt(token, SharedKeys().jwks, policy, now);
}

/// Refused with UNAUTHENTICATED, a reason containing `reason`, and no part of the token.
void ExpectRefused(const std::string& token, const Result<VerifiedToken>& result,
                   std::string_view reason) {
  ASSERT_FALSE(result.has_value()) << "accepted, expected: " << reason;
  EXPECT_EQ(result.error().code, ErrorCode::UNAUTHENTICATED);
  EXPECT_THAT(result.error().message, HasSubstr(std::string(reason)));
  std::size_t start = 0;
  while (start < token.size()) {
    const std::size_t dot = std::min(token.find('.', start), token.size());
    const std::string segment = token.substr(start, dot - start);
    if (segment.size() >= 8) {
      EXPECT_THAT(result.error().message, ::testing::Not(HasSubstr(segment)));
    }
    start = dot + 1;
  }
}

TEST(VerifyJwt, AcceptsEachAlgorithm) {
  for (const auto& [alg, kid] :
       std::vector<std::pair<std::string, std::string>>{{"RS256", "rsa-1"},
                                                        {"RS384", "rsa-1"},
                                                        {"RS512", "rsa-1"},
                                                        {"PS256", "rsa-1"},
                                                        {"ES256", "ec-1"},
                                                        {"ES384", "ec-2"}}) {
    const std::string token = Token(alg, kid, Claims());
    const auto verified = Verify(token);
    ASSERT_TRUE(verified.has_value()) << alg << ": " << verified.error().message;
    EXPECT_EQ(verified->user, "alice") << alg;
    EXPECT_THAT(verified->groups, ElementsAre("ml", "ops")) << alg;
    EXPECT_EQ(verified->expires_at, kNow + 600) << alg;
    EXPECT_EQ(verified->issuer, kIssuer) << alg;
    EXPECT_EQ(json::parse(verified->claims_json), Claims()) << alg;
  }
}

TEST(VerifyJwt, PolicyChoosesClaimsAndAlgorithms) {
  json claims = Claims();
  claims["preferred_username"] = "alice.smith";
  claims["roles"] = "admin";
  claims.erase("groups");
  JwtPolicy policy = Policy();
  policy.user_claim = "preferred_username";
  policy.groups_claim = "roles";
  auto verified = Verify(Token("RS256", "rsa-1", claims), policy);
  ASSERT_TRUE(verified.has_value()) << verified.error().message;
  EXPECT_EQ(verified->user, "alice.smith");
  EXPECT_THAT(verified->groups, ElementsAre("admin"));

  policy.allowed_algorithms = {"ES256"};
  const std::string rs256 = Token("RS256", "rsa-1", claims);
  ExpectRefused(rs256, Verify(rs256, policy), "algorithm 'RS256' is not accepted");
  // PS384 is implemented but not in the default list.
  const std::string ps384 = Token("PS384", "rsa-1", Claims());
  ExpectRefused(ps384, Verify(ps384), "algorithm 'PS384' is not accepted");
  policy = Policy();
  policy.allowed_algorithms.emplace_back("PS384");
  EXPECT_TRUE(Verify(ps384, policy).has_value());
}

TEST(VerifyJwt, AcceptsOptionalClaimShapes) {
  json claims = Claims();
  claims.erase("groups");
  claims.erase("nbf");
  claims.erase("iat");
  claims["aud"] = {"other", kAudience};
  claims["exp"] = static_cast<double>(kNow) + 0.5;
  auto verified = Verify(Token("ES256", "ec-1", claims));
  ASSERT_TRUE(verified.has_value()) << verified.error().message;
  EXPECT_THAT(verified->groups, IsEmpty());
  EXPECT_EQ(verified->expires_at, kNow);

  claims["groups"] = nullptr;
  verified = Verify(Token("ES256", "ec-1", claims));
  ASSERT_TRUE(verified.has_value()) << verified.error().message;
  EXPECT_THAT(verified->groups, IsEmpty());
}

TEST(VerifyJwt, UsesTheOnlyKeyWhenTheTokenHasNoKid) {
  const json document = {
      {"keys", json::array({testing::PublicJwk(SharedKeys().ec256.get(), "ec-1")})}};
  const auto single = Jwks::Parse(document.dump());
  ASSERT_TRUE(single.has_value());
  const json header = {{"alg", "ES256"}};
  const std::string token = testing::SignToken(header, Claims(), SharedKeys().ec256.get());
  EXPECT_TRUE(VerifyJwt(token, *single, Policy(), kNow).has_value());
  ExpectRefused(token, Verify(token), "token has no kid");
}

/// A token built by the test, and the reason it must be refused for.
struct RefusalCase {
  std::string name;
  std::function<std::string()> token;
  std::string reason;
  std::function<JwtPolicy()> policy = Policy;
  std::int64_t now = kNow;
};

// Test names, not the bytes gtest would otherwise print for a parameter.
void PrintTo(const RefusalCase& test_case, std::ostream* out) { *out << test_case.name; }

json ClaimsWith(const std::function<void(json&)>& change) {
  json claims = Claims();
  change(claims);
  return claims;
}

/// Replaces the payload after signing: the signature no longer covers it.
std::string SwapPayload(const std::string& token, const json& claims) {
  const std::size_t first = token.find('.');
  const std::size_t second = token.find('.', first + 1);
  return token.substr(0, first + 1) + Base64UrlEncode(claims.dump()) + token.substr(second);
}

std::string Unsigned(const json& header) { return testing::SigningInput(header, Claims()) + "."; }

/// HS256 "signed" with the RSA public key's bytes as the HMAC secret: key confusion.
std::string HmacWithPublicKey(const std::string& secret) {
  const std::string input = testing::SigningInput(Header("HS256", "rsa-1"), Claims());
  return input + "." + Base64UrlEncode(testing::HmacSha256(secret, input));
}

JwtPolicy PolicyListing(std::vector<std::string> algorithms) {
  JwtPolicy policy = Policy();
  policy.allowed_algorithms = std::move(algorithms);
  return policy;
}

std::string SignedHeader(const json& header, const json& claims, std::string_view kid) {
  return testing::SignToken(header, claims, SigningKey(kid));
}

std::string SignedPayloadText(const std::string& payload) {
  const std::string input =
      Base64UrlEncode(Header("RS256", "rsa-1").dump()) + "." + Base64UrlEncode(payload);
  return input + "." + Base64UrlEncode(testing::Sign("RS256", SharedKeys().rsa.get(), input));
}

class Refusal : public ::testing::TestWithParam<RefusalCase> {};

TEST_P(Refusal, IsUnauthenticatedWithoutLeakingTheToken) {
  const RefusalCase& test_case = GetParam();
  const std::string token = test_case.token();
  ExpectRefused(token, VerifyJwt(token, SharedKeys().jwks, test_case.policy(), test_case.now),
                test_case.reason);
}

INSTANTIATE_TEST_SUITE_P(
    VerifyJwt, Refusal,
    ::testing::Values(
        // Forgery and key confusion.
        RefusalCase{"PayloadChangedAfterSigning",
                    [] {
                      return SwapPayload(Token("RS256", "rsa-1", Claims()),
                                         ClaimsWith([](json& c) { c["sub"] = "mallory"; }));
                    },
                    "signature does not verify"},
        RefusalCase{"EcPayloadChangedAfterSigning",
                    [] {
                      return SwapPayload(Token("ES256", "ec-1", Claims()),
                                         ClaimsWith([](json& c) { c["groups"] = "admins"; }));
                    },
                    "signature does not verify"},
        RefusalCase{"PssSignatureBitFlipped",
                    [] {
                      std::string token = Token("PS256", "rsa-1", Claims());
                      token[token.size() - 5] = token[token.size() - 5] == 'A' ? 'B' : 'A';
                      return token;
                    },
                    "signature does not verify"},
        RefusalCase{"Pkcs1SignatureUnderPssHeader",
                    [] {
                      const std::string input =
                          testing::SigningInput(Header("PS256", "rsa-1"), Claims());
                      return input + "." +
                             Base64UrlEncode(testing::Sign("RS256", SharedKeys().rsa.get(), input));
                    },
                    "signature does not verify"},
        RefusalCase{"SignedByAnotherKeyUnderTheSameKid",
                    [] {
                      const EvpPkeyPtr other = testing::GenerateEcKey("P-256");
                      return testing::SignToken(Header("ES256", "ec-1"), Claims(), other.get());
                    },
                    "signature does not verify"},
        RefusalCase{"EcdsaSignatureTruncated",
                    [] {
                      const std::string token = Token("ES256", "ec-1", Claims());
                      return token.substr(0, token.size() - 4);
                    },
                    "signature does not verify"},
        RefusalCase{"AlgNoneWithEmptySignature",
                    [] {
                      return Unsigned({{"alg", "none"}});
                    },
                    "algorithm 'none' is not accepted"},
        RefusalCase{"AlgNoneEvenWhenListed",
                    [] {
                      return Unsigned({{"alg", "none"}});
                    },
                    "algorithm 'none' is not accepted", [] { return PolicyListing({"none"}); }},
        RefusalCase{"AlgNoneOtherSpelling",
                    [] {
                      return Unsigned({{"alg", "nOnE"}, {"kid", "rsa-1"}});
                    },
                    "algorithm 'nOnE' is not accepted",
                    [] {
                      return PolicyListing({"nOnE", "RS256"});
                    }},
        RefusalCase{"Hs256KeyedWithPublicKeyPem",
                    [] { return HmacWithPublicKey(testing::PublicKeyPem(SharedKeys().rsa.get())); },
                    "algorithm 'HS256' is not accepted",
                    [] {
                      return PolicyListing({"HS256", "RS256"});
                    }},
        RefusalCase{"Hs256KeyedWithPublicKeyDer",
                    [] { return HmacWithPublicKey(testing::PublicKeyDer(SharedKeys().rsa.get())); },
                    "algorithm 'HS256' is not accepted",
                    [] {
                      return PolicyListing({"HS256", "RS256"});
                    }},
        RefusalCase{"UnknownAlgorithm",
                    [] {
                      return Unsigned({{"alg", "EdDSA"}});
                    },
                    "algorithm 'EdDSA' is not accepted", [] { return PolicyListing({"EdDSA"}); }},
        RefusalCase{"AlgorithmNotString",
                    [] {
                      return Unsigned({{"alg", 256}});
                    },
                    "token header has no algorithm"},
        RefusalCase{
            "RsaKeyWithEs256Header",
            [] {
              // Signed with the EC key, but the header points at the RSA key.
              const std::string input = testing::SigningInput(Header("ES256", "rsa-1"), Claims());
              return input + "." +
                     Base64UrlEncode(testing::Sign("ES256", SharedKeys().ec256.get(), input));
            },
            "key 'rsa-1' cannot verify algorithm 'ES256'"},
        RefusalCase{"EcKeyWithRs256Header",
                    [] { return SignedHeader(Header("RS256", "ec-1"), Claims(), "rsa-1"); },
                    "key 'ec-1' cannot verify algorithm 'RS256'"},
        RefusalCase{"P256KeyWithEs384Header",
                    [] { return SignedHeader(Header("ES384", "ec-1"), Claims(), "ec-2"); },
                    "key 'ec-1' cannot verify algorithm 'ES384'"},
        RefusalCase{"CriticalExtension",
                    [] {
                      json header = Header("RS256", "rsa-1");
                      header["crit"] = {"b64"};
                      header["b64"] = false;
                      return SignedHeader(header, Claims(), "rsa-1");
                    },
                    "critical extensions"},
        RefusalCase{"KidNotString",
                    [] {
                      json header = Header("RS256", "rsa-1");
                      header["kid"] = 1;
                      return SignedHeader(header, Claims(), "rsa-1");
                    },
                    "kid is not a string"},
        // Time.
        RefusalCase{"Expired", [] { return Token("RS256", "rsa-1", Claims()); }, "token expired",
                    Policy, kNow + 600 + 60},
        RefusalCase{"ExpiredWithoutLeeway", [] { return Token("RS256", "rsa-1", Claims()); },
                    "token expired",
                    [] {
                      JwtPolicy policy = Policy();
                      policy.leeway_seconds = 0;
                      return policy;
                    },
                    kNow + 600},
        RefusalCase{"NotYetValid",
                    [] {
                      return Token("ES256", "ec-1",
                                   ClaimsWith([](json& c) { c["nbf"] = kNow + 61; }));
                    },
                    "token is not yet valid"},
        RefusalCase{"IssuedInTheFuture",
                    [] {
                      return Token("ES256", "ec-1",
                                   ClaimsWith([](json& c) { c["iat"] = kNow + 3600; }));
                    },
                    "issued in the future"},
        RefusalCase{
            "MissingExp",
            [] { return Token("RS256", "rsa-1", ClaimsWith([](json& c) { c.erase("exp"); })); },
            "token has no expiry"},
        RefusalCase{"ExpNotANumber",
                    [] {
                      return Token("RS256", "rsa-1",
                                   ClaimsWith([](json& c) { c["exp"] = "1800000600"; }));
                    },
                    "claim 'exp' is not a valid time"},
        RefusalCase{
            "ExpBeyondYear9999",
            [] { return Token("RS256", "rsa-1", ClaimsWith([](json& c) { c["exp"] = 1e300; })); },
            "claim 'exp' is not a valid time"},
        RefusalCase{
            "NbfNegative",
            [] { return Token("RS256", "rsa-1", ClaimsWith([](json& c) { c["nbf"] = -1; })); },
            "claim 'nbf' is not a valid time"},
        // Issuer, audience, identity.
        RefusalCase{"WrongIssuer",
                    [] {
                      return Token("RS256", "rsa-1",
                                   ClaimsWith([](json& c) { c["iss"] = "https://evil.example"; }));
                    },
                    "token issuer is not accepted"},
        RefusalCase{"IssuerPrefixOnly",
                    [] {
                      return Token("RS256", "rsa-1", ClaimsWith([](json& c) {
                                     c["iss"] = std::string(kIssuer) + "/other";
                                   }));
                    },
                    "token issuer is not accepted"},
        RefusalCase{
            "MissingIssuer",
            [] { return Token("RS256", "rsa-1", ClaimsWith([](json& c) { c.erase("iss"); })); },
            "token issuer is not accepted"},
        RefusalCase{"WrongAudience",
                    [] {
                      return Token("RS256", "rsa-1",
                                   ClaimsWith([](json& c) { c["aud"] = "grafana"; }));
                    },
                    "token audience is not accepted"},
        RefusalCase{"AudienceArrayWithoutUs",
                    [] {
                      return Token("RS256", "rsa-1", ClaimsWith([](json& c) {
                                     c["aud"] = {"grafana", 7};
                                   }));
                    },
                    "token audience is not accepted"},
        RefusalCase{
            "MissingAudience",
            [] { return Token("RS256", "rsa-1", ClaimsWith([](json& c) { c.erase("aud"); })); },
            "token audience is not accepted"},
        RefusalCase{
            "MissingUserClaimDespiteEmail",
            [] { return Token("RS256", "rsa-1", ClaimsWith([](json& c) { c.erase("sub"); })); },
            "claim 'sub' is missing or not a non-empty string"},
        RefusalCase{
            "UserClaimNotString",
            [] { return Token("RS256", "rsa-1", ClaimsWith([](json& c) { c["sub"] = 42; })); },
            "claim 'sub' is missing or not a non-empty string"},
        RefusalCase{
            "UserClaimEmpty",
            [] { return Token("RS256", "rsa-1", ClaimsWith([](json& c) { c["sub"] = ""; })); },
            "claim 'sub' is missing or not a non-empty string"},
        RefusalCase{"GroupsNotStrings",
                    [] {
                      return Token("RS256", "rsa-1", ClaimsWith([](json& c) {
                                     c["groups"] = {"ml", 1};
                                   }));
                    },
                    "claim 'groups' is not a string or an array of strings"},
        RefusalCase{"GroupsObject",
                    [] {
                      return Token("RS256", "rsa-1", ClaimsWith([](json& c) {
                                     c["groups"] = json::object({{"ml", true}});
                                   }));
                    },
                    "claim 'groups' is not a string or an array of strings"},
        // Malformed input.
        RefusalCase{"OneSegment", [] { return std::string("eyJhbGciOiJSUzI1NiJ9"); },
                    "expected three segments"},
        RefusalCase{"TwoSegments", [] { return std::string("eyJhbGciOiJSUzI1NiJ9.e30"); },
                    "expected three segments"},
        RefusalCase{"FourSegments", [] { return Token("RS256", "rsa-1", Claims()) + ".AAAA"; },
                    "expected three segments"},
        RefusalCase{"Empty", [] { return std::string(); }, "expected three segments"},
        RefusalCase{"HeaderNotBase64",
                    [] {
                      const std::string token = Token("RS256", "rsa-1", Claims());
                      return "eyJhbGciOiJSUzI1NiJ9=" + token.substr(token.find('.'));
                    },
                    "token header is not a base64url JSON object"},
        RefusalCase{"HeaderNotJson", [] { return Base64UrlEncode("{\"alg\":") + ".e30.AAAA"; },
                    "token header is not a base64url JSON object"},
        RefusalCase{"HeaderArray", [] { return Base64UrlEncode("[\"RS256\"]") + ".e30.AAAA"; },
                    "token header is not a base64url JSON object"},
        RefusalCase{"HeaderDeeplyNested",
                    [] { return Base64UrlEncode(std::string(5000, '[')) + ".e30.AAAA"; },
                    "token header is not a base64url JSON object"},
        RefusalCase{"SignatureNotBase64",
                    [] {
                      std::string token = Token("RS256", "rsa-1", Claims());
                      token.back() = '+';
                      return token;
                    },
                    "signature does not verify"},
        RefusalCase{"PayloadNotJsonButSigned", [] { return SignedPayloadText("{\"sub\":"); },
                    "token payload is not a base64url JSON object"},
        RefusalCase{"PayloadArrayButSigned", [] { return SignedPayloadText("[1,2]"); },
                    "token payload is not a base64url JSON object"},
        RefusalCase{"OverLongToken",
                    [] {
                      return Token("RS256", "rsa-1", ClaimsWith([](json& c) {
                                     c["padding"] = std::string(kMaxJwtBytes, 'x');
                                   }));
                    },
                    "token is too long"}),
    [](const ::testing::TestParamInfo<RefusalCase>& param_info) { return param_info.param.name; });

TEST(VerifyJwt, UnknownKidIsNamed) {
  const std::string token =
      testing::SignToken(Header("RS256", "rsa-9"), Claims(), SharedKeys().rsa.get());
  ExpectRefused(token, Verify(token), "no key with kid 'rsa-9'");
}

TEST(VerifyJwt, LeewayIsHonouredAtTheBoundary) {
  const std::string token = Token("RS256", "rsa-1", Claims());  // exp = kNow + 600
  EXPECT_TRUE(Verify(token, Policy(), kNow + 600 + 59).has_value());
  ExpectRefused(token, Verify(token, Policy(), kNow + 600 + 60), "token expired");

  const std::string not_before =
      Token("ES256", "ec-1", ClaimsWith([](json& c) { c["nbf"] = kNow + 60; }));
  EXPECT_TRUE(Verify(not_before).has_value());
  ExpectRefused(not_before, Verify(not_before, Policy(), kNow - 1), "token is not yet valid");

  const std::string issued =
      Token("ES256", "ec-1", ClaimsWith([](json& c) { c["iat"] = kNow + 60; }));
  EXPECT_TRUE(Verify(issued).has_value());
  ExpectRefused(issued, Verify(issued, Policy(), kNow - 1), "issued in the future");

  JwtPolicy strict = Policy();
  strict.leeway_seconds = 0;
  EXPECT_TRUE(Verify(token, strict, kNow + 599).has_value());
  ExpectRefused(not_before, Verify(not_before, strict), "token is not yet valid");
}

TEST(VerifyJwt, TokenAtTheLengthLimitIsRead) {
  // ES256 signatures have a fixed size, so the token length depends on header and claims
  // alone. A base64url segment is never 1 (mod 4) long, so the header varies too.
  const std::size_t unpadded = Token("ES256", "ec-1", Claims()).size();
  const std::size_t first_guess = (kMaxJwtBytes - unpadded) * 3 / 4 - 64;
  std::string token;
  for (std::size_t extra = 0; extra < 3 && token.size() != kMaxJwtBytes; ++extra) {
    json header = Header("ES256", "ec-1");
    header["x"] = std::string(extra, 'x');
    json claims = Claims();
    token.clear();
    for (std::size_t padding = first_guess; token.size() < kMaxJwtBytes; ++padding) {
      claims["padding"] = std::string(padding, 'p');
      token = SignedHeader(header, claims, "ec-1");
    }
  }
  ASSERT_EQ(token.size(), kMaxJwtBytes);
  EXPECT_TRUE(Verify(token).has_value());
  ExpectRefused(token + "A", Verify(token + "A"), "token is too long");
}

TEST(VerifyJwt, MisconfiguredPolicyIsAnInternalError) {
  const std::string token = Token("RS256", "rsa-1", Claims());
  for (const auto& change : std::vector<std::function<void(JwtPolicy&)>>{
           [](JwtPolicy& p) { p.issuer.clear(); }, [](JwtPolicy& p) { p.audience.clear(); },
           [](JwtPolicy& p) { p.user_claim.clear(); }}) {
    JwtPolicy policy = Policy();
    change(policy);
    const auto result = Verify(token, policy);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().code, ErrorCode::INTERNAL_ERROR);
  }
}

}  // namespace
}  // namespace mltf::auth
