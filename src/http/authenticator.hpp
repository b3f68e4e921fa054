// authenticator.hpp - the seam that tells the server who sent a request (DESIGN: listener ->
// router -> auth -> permission -> handler). The server asks it once per request, after routing
// and before reading the body, so a refused request costs no body and reaches no handler.
#pragma once

#include <memory>
#include <string>

#include "common/error.hpp"
#include "common/identity.hpp"
#include "http/request.hpp"

namespace mltf::http {

class Authenticator {
 public:
  virtual ~Authenticator() = default;

  /// The caller of `request`, from its headers (the body is not read yet). Fails with
  /// UNAUTHENTICATED and a short reason when the credential is missing, malformed, unknown,
  /// expired or revoked; the reason never repeats the credential. Runs on an I/O thread for
  /// every request: it must answer from memory, or after a short bounded wait. Thread-safe.
  [[nodiscard]] virtual Result<std::shared_ptr<const Identity>> Authenticate(
      const Request& request) const = 0;

  /// The `WWW-Authenticate` challenge a 401 carries (RFC 9110 section 11.6.1).
  [[nodiscard]] virtual std::string Challenge() const = 0;
};

}  // namespace mltf::http
