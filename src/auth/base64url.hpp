// base64url.hpp - unpadded base64url (RFC 4648 section 5), the encoding of JOSE segments.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mltf::auth {

/// Encodes bytes as base64url without padding. Does not fail.
std::string Base64UrlEncode(std::string_view bytes);

/// Decodes unpadded base64url. Returns nullopt for any byte outside the alphabet (padding
/// included), an impossible length, or non-zero trailing bits, so each value has exactly one
/// accepted encoding.
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace mltf::auth
