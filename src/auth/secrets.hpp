// secrets.hpp - comparison of secrets (API tokens) that does not leak where they differ.
#pragma once

#include <string_view>

namespace mltf::auth {

/// True when both strings are equal. The time taken depends on the lengths only, never on the
/// content, so a caller comparing a presented token with a stored one reveals no prefix.
/// Lengths are not secret (a token format fixes them). Does not fail.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace mltf::auth
