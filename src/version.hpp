// version.hpp - the version of MLTF, reported by `mltf version` and GET /version.
#pragma once

#include <string_view>

namespace mltf {

inline constexpr std::string_view kVersion = "0.1.0";

}  // namespace mltf
