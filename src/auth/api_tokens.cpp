// api_tokens.cpp - token generation with RAND_bytes, digests with EVP SHA-256.
#include "auth/api_tokens.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>

#include "auth/base64url.hpp"

namespace mltf::auth {
namespace {

constexpr std::size_t kIdBytes = 8;
constexpr std::size_t kSecretBytes = 32;
constexpr std::size_t kIdChars = kIdBytes * 2;
constexpr std::size_t kSecretChars = 43;  // base64url of 32 bytes, unpadded

std::string Hex(const unsigned char* bytes, std::size_t size) {
  static constexpr std::string_view kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += kDigits[bytes[i] >> 4U];
    out += kDigits[bytes[i] & 0x0FU];
  }
  return out;
}

bool IsLowerHex(std::string_view text) {
  return text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

bool IsBase64Url(std::string_view text) {
  return text.find_first_not_of(
             "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
         std::string_view::npos;
}

}  // namespace

Result<NewApiToken> GenerateApiToken() {
  std::array<unsigned char, kIdBytes + kSecretBytes> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    return Fail(Error::Internal("the random number generator failed"));
  }
  NewApiToken issued;
  issued.token_id = Hex(random.data(), kIdBytes);
  const std::string secret = Base64UrlEncode(
      std::string_view(reinterpret_cast<const char*>(random.data() + kIdBytes), kSecretBytes));
  issued.token = fmt::format("{}{}_{}", kApiTokenPrefix, issued.token_id, secret);
  issued.secret_sha256 = SecretSha256(secret);
  return issued;
}

std::optional<ApiTokenParts> ParseApiToken(std::string_view token) {
  if (token.size() != kApiTokenPrefix.size() + kIdChars + 1 + kSecretChars ||
      !token.starts_with(kApiTokenPrefix)) {
    return std::nullopt;
  }
  token.remove_prefix(kApiTokenPrefix.size());
  std::string_view id = token.substr(0, kIdChars);
  std::string_view secret = token.substr(kIdChars + 1);
  if (token[kIdChars] != '_' || !IsLowerHex(id) || !IsBase64Url(secret)) return std::nullopt;
  return ApiTokenParts{std::string(id), std::string(secret)};
}

std::string SecretSha256(std::string_view secret) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  // One-shot digest; it fails only without memory, and then the empty digest matches nothing.
  if (EVP_Digest(secret.data(), secret.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1) {
    return {};
  }
  return Hex(digest.data(), size);
}

}  // namespace mltf::auth
