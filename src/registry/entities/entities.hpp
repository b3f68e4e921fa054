// entities.hpp - the model registry domain: registered models, model versions, tags, aliases.
// Field names follow MLflow's model_registry.proto so code reads side by side with MLflow.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tracking/entities/entities.hpp"

namespace mltf::registry {

/// A key/value pair: registered model tags and model version tags (same limits as run tags).
using Tag = tracking::Tag;

/// MLflow's model version stages. `Deleted_Internal` marks a deleted version that keeps its row
/// so that its number is never reused; it never reaches a client.
inline constexpr std::string_view kStageNone = "None";
inline constexpr std::string_view kStageStaging = "Staging";
inline constexpr std::string_view kStageProduction = "Production";
inline constexpr std::string_view kStageArchived = "Archived";
inline constexpr std::string_view kStageDeletedInternal = "Deleted_Internal";

/// The only status MLTF gives a version: registration is synchronous.
inline constexpr std::string_view kStatusReady = "READY";

/// The canonical spelling of a stage given in any case ("production" -> "Production"), or
/// nullopt when it is none of None, Staging, Production, Archived. Does not fail.
std::optional<std::string_view> CanonicalStage(std::string_view stage);

/// True for Staging and Production, the stages whose other versions transition-stage may archive.
bool IsActiveStage(std::string_view canonical_stage);

struct ModelVersion {
  std::string name;
  std::int64_t version = 0;
  std::int64_t creation_timestamp = 0;
  std::int64_t last_updated_timestamp = 0;
  std::optional<std::string> description;  ///< "" when created without one
  std::optional<std::string> user_id;      ///< never set by MLTF's API
  std::string current_stage{kStageNone};
  std::optional<std::string> source;
  std::optional<std::string> run_id;    ///< "" when created without one, as MLflow stores it
  std::optional<std::string> run_link;  ///< "" when created without one
  std::string status{kStatusReady};
  std::optional<std::string> status_message;
  std::vector<Tag> tags;
  std::vector<std::string> aliases;  ///< alias names pointing at this version, when loaded
};

struct RegisteredModelAlias {
  std::string alias;
  std::int64_t version = 0;
  bool operator==(const RegisteredModelAlias&) const = default;
};

struct RegisteredModel {
  std::string name;
  std::int64_t creation_timestamp = 0;
  std::int64_t last_updated_timestamp = 0;
  std::optional<std::string> description;
  /// The newest version in each stage (Deleted_Internal excluded), without aliases.
  std::vector<ModelVersion> latest_versions;
  std::vector<Tag> tags;
  std::vector<RegisteredModelAlias> aliases;
};

}  // namespace mltf::registry
