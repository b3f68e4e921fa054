// entities.cpp - stage names.
#include "registry/entities/entities.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace mltf::registry {

std::optional<std::string_view> CanonicalStage(std::string_view stage) {
  static constexpr std::array kStages = {kStageNone, kStageStaging, kStageProduction,
                                         kStageArchived};
  for (std::string_view canonical : kStages) {
    if (canonical.size() == stage.size() &&
        std::equal(canonical.begin(), canonical.end(), stage.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return canonical;
    }
  }
  return std::nullopt;
}

bool IsActiveStage(std::string_view canonical_stage) {
  return canonical_stage == kStageStaging || canonical_stage == kStageProduction;
}

}  // namespace mltf::registry
