// secrets.cpp - constant-time comparison of secrets with OpenSSL's CRYPTO_memcmp.
#include "auth/secrets.hpp"

#include <openssl/crypto.h>

namespace mltf::auth {

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  if (a.empty()) {
    return true;
  }
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace mltf::auth
