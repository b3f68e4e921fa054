// jwks_test.cpp - JWKS parsing: which keys are kept, skipped, or refused.
#include "auth/jwks.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "auth/base64url.hpp"
#include "auth/test_keys.hpp"

namespace mltf::auth {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

struct Keys {
  EvpPkeyPtr rsa = testing::GenerateRsaKey();
  EvpPkeyPtr ec256 = testing::GenerateEcKey("P-256");
  EvpPkeyPtr ec384 = testing::GenerateEcKey("P-384");
};

const Keys& SharedKeys() {
  static const Keys kKeys;  // generating an RSA key takes a while: once per binary
  return kKeys;
}

std::string Document(const json& jwk) { return json{{"keys", json::array({jwk})}}.dump(); }

TEST(Jwks, ParsesRsaAndEcKeys) {
  const Keys& keys = SharedKeys();
  json rsa = testing::PublicJwk(keys.rsa.get(), "rsa-1");
  rsa["alg"] = "RS256";
  const json document = {{"keys", json::array({rsa, testing::PublicJwk(keys.ec256.get(), "ec-256"),
                                               testing::PublicJwk(keys.ec384.get(), "ec-384")})}};
  const auto jwks = Jwks::Parse(document.dump());
  ASSERT_TRUE(jwks.has_value()) << jwks.error().message;
  ASSERT_EQ(jwks->keys().size(), 3U);
  ASSERT_NE(jwks->Find("rsa-1"), nullptr);
  EXPECT_EQ(jwks->Find("rsa-1")->family, KeyFamily::RSA);
  EXPECT_EQ(jwks->Find("rsa-1")->alg, "RS256");
  EXPECT_EQ(jwks->Find("ec-256")->family, KeyFamily::EC_P256);
  EXPECT_EQ(jwks->Find("ec-384")->family, KeyFamily::EC_P384);
  EXPECT_TRUE(jwks->Find("ec-384")->alg.empty());
  EXPECT_EQ(jwks->Find("other"), nullptr);
  EXPECT_EQ(jwks->Find(""), nullptr);
}

TEST(Jwks, KeepsKeysWithoutUseOrKid) {
  json jwk = testing::PublicJwk(SharedKeys().ec256.get(), "");
  jwk.erase("use");
  jwk.erase("kid");
  const auto jwks = Jwks::Parse(Document(jwk));
  ASSERT_TRUE(jwks.has_value()) << jwks.error().message;
  ASSERT_EQ(jwks->keys().size(), 1U);
  EXPECT_TRUE(jwks->keys().front().kid.empty());
}

TEST(Jwks, SkipsEncryptionKeysAndUnknownTypes) {
  json encryption = testing::PublicJwk(SharedKeys().rsa.get(), "enc-1");
  encryption["use"] = "enc";
  const json symmetric = {{"kty", "oct"}, {"kid", "hmac"}, {"k", "c2VjcmV0"}};
  const json okp = {{"kty", "OKP"}, {"kid", "ed"}, {"crv", "Ed25519"}, {"x", "AAAA"}};
  const json document = {
      {"keys", json::array({encryption, symmetric, okp,
                            testing::PublicJwk(SharedKeys().ec256.get(), "ec-1")})}};
  const auto jwks = Jwks::Parse(document.dump());
  ASSERT_TRUE(jwks.has_value()) << jwks.error().message;
  ASSERT_EQ(jwks->keys().size(), 1U);
  EXPECT_EQ(jwks->keys().front().kid, "ec-1");
  EXPECT_EQ(jwks->Find("enc-1"), nullptr);
  EXPECT_EQ(jwks->Find("hmac"), nullptr);
}

TEST(Jwks, EmptyKeySetIsValid) {
  const auto jwks = Jwks::Parse(R"({"keys": []})");
  ASSERT_TRUE(jwks.has_value());
  EXPECT_TRUE(jwks->keys().empty());
}

struct MalformedCase {
  std::string name;
  std::function<void(json&)> change;  // applied to a valid public JWK with kid "bad-key"
  std::string message;
};

// Test names, not the bytes gtest would otherwise print for a parameter.
void PrintTo(const MalformedCase& test_case, std::ostream* out) { *out << test_case.name; }

class MalformedKey : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedKey, IsRefusedNamingTheKid) {
  const MalformedCase& test_case = GetParam();
  const bool is_ec = test_case.name.starts_with("Ec");
  json jwk =
      testing::PublicJwk(is_ec ? SharedKeys().ec256.get() : SharedKeys().rsa.get(), "bad-key");
  test_case.change(jwk);
  const auto jwks = Jwks::Parse(Document(jwk));
  ASSERT_FALSE(jwks.has_value());
  EXPECT_EQ(jwks.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_THAT(jwks.error().message, HasSubstr("'bad-key'"));
  EXPECT_THAT(jwks.error().message, HasSubstr(test_case.message));
}

INSTANTIATE_TEST_SUITE_P(
    Jwks, MalformedKey,
    ::testing::Values(
        MalformedCase{"RsaModulusNotBase64", [](json& jwk) { jwk["n"] = "!!!"; }, "'n'"},
        MalformedCase{"RsaModulusPadded",
                      [](json& jwk) { jwk["n"] = jwk["n"].get<std::string>() + "=="; }, "'n'"},
        MalformedCase{"RsaModulusMissing", [](json& jwk) { jwk.erase("n"); }, "'n'"},
        MalformedCase{"RsaModulusNotString", [](json& jwk) { jwk["n"] = 65537; }, "'n'"},
        MalformedCase{"RsaExponentEmpty", [](json& jwk) { jwk["e"] = ""; }, "'e'"},
        MalformedCase{"RsaExponentNotBase64", [](json& jwk) { jwk["e"] = "AQ+B"; }, "'e'"},
        MalformedCase{"RsaExponentEven", [](json& jwk) { jwk["e"] = "AQAA"; }, "exponent"},
        MalformedCase{"RsaExponentOne", [](json& jwk) { jwk["e"] = "AQ"; }, "exponent"},
        MalformedCase{"RsaModulusTooShort",
                      [](json& jwk) { jwk["n"] = Base64UrlEncode(std::string(128, '\xff')); },
                      "1024 bits"},
        MalformedCase{"RsaKtyMissing", [](json& jwk) { jwk.erase("kty"); }, "kty"},
        MalformedCase{"RsaUseNotString", [](json& jwk) { jwk["use"] = 1; }, "'use'"},
        MalformedCase{"EcUnknownCurve", [](json& jwk) { jwk["crv"] = "secp256k1"; },
                      "unsupported curve 'secp256k1'"},
        MalformedCase{"EcP521", [](json& jwk) { jwk["crv"] = "P-521"; }, "unsupported curve"},
        MalformedCase{"EcCurveMissing", [](json& jwk) { jwk.erase("crv"); }, "'crv'"},
        MalformedCase{"EcShortCoordinate",
                      [](json& jwk) { jwk["x"] = Base64UrlEncode(std::string(31, '\x01')); },
                      "32 bytes"},
        MalformedCase{"EcYMissing", [](json& jwk) { jwk.erase("y"); }, "'y'"},
        MalformedCase{"EcPointOffCurve",
                      [](json& jwk) { jwk["y"] = Base64UrlEncode(std::string(32, '\x01')); },
                      "not a valid public key"}),
    [](const ::testing::TestParamInfo<MalformedCase>& param_info) {
      return param_info.param.name;
    });

TEST(Jwks, RefusesDuplicateKids) {
  const json document = {
      {"keys", json::array({testing::PublicJwk(SharedKeys().rsa.get(), "k"),
                            testing::PublicJwk(SharedKeys().ec256.get(), "k")})}};
  const auto jwks = Jwks::Parse(document.dump());
  ASSERT_FALSE(jwks.has_value());
  EXPECT_THAT(jwks.error().message, HasSubstr("'k' appears twice"));
}

TEST(Jwks, RefusesDocumentsThatAreNotKeySets) {
  for (const std::string document :
       {"", "not json", "[]", "{}", R"({"keys": {}})", R"({"keys": [1]})",
        R"({"keys": [{"kty": "RSA", "kid": 7}]})"}) {
    const auto jwks = Jwks::Parse(document);
    EXPECT_FALSE(jwks.has_value()) << document;
  }
  const auto entry = Jwks::Parse(R"({"keys": [{"kid": "a", "kty": "RSA"}, 1]})");
  ASSERT_FALSE(entry.has_value());
  EXPECT_THAT(entry.error().message, HasSubstr("'a'"));  // the first key is already malformed
  EXPECT_FALSE(Jwks::Parse(std::string(2 << 20, ' ')).has_value());
}

}  // namespace
}  // namespace mltf::auth
