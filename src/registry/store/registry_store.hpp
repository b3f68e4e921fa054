// registry_store.hpp - the operations of MLflow's model registry store, as MLTF's service needs
// them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "registry/entities/entities.hpp"

namespace mltf::registry::store {

struct NewRegisteredModel {
  std::string name;
  std::vector<Tag> tags;  ///< a repeated key keeps its last value
  std::optional<std::string> description;
  std::int64_t now = 0;
};

struct NewModelVersion {
  std::string name;
  std::string source;
  std::optional<std::string> run_id;
  std::vector<Tag> tags;  ///< a repeated key keeps its last value
  std::optional<std::string> run_link;
  std::optional<std::string> description;
  std::int64_t now = 0;
};

/// A search of registered models or model versions: the raw filter and order_by clauses (the
/// store parses them) and the page as an offset.
/// Limits a search to the registered models the caller may see. Applied in the query itself,
/// so that pages stay full.
struct NameRestriction {
  bool only_listed = true;  ///< true: only these models; false: every model but these
  std::vector<std::string> names;
};

struct RegistryQuery {
  std::string filter;
  std::vector<std::string> order_by;
  std::int64_t max_results = 100;
  std::int64_t offset = 0;
  std::optional<NameRestriction> restriction;  ///< none: every model
};

struct RegisteredModelPage {
  std::vector<RegisteredModel> registered_models;
  bool more = false;  ///< true when results remain after this page
};

struct ModelVersionPage {
  std::vector<ModelVersion> model_versions;  ///< without aliases, as MLflow's search answers
  bool more = false;
};

/// Storage of registered models, their versions, tags and aliases. Implementations hold no
/// MLflow rules beyond those that must be atomic with a write (names are unique, version numbers
/// are never reused, archiving other versions on a transition). Names and versions are taken as
/// given (the service validates them). A deleted model version is invisible to every method.
/// Versions are returned with their tags; single-version reads also carry their aliases. All
/// methods are thread-safe and fail with MLflow's error codes: RESOURCE_DOES_NOT_EXIST for an
/// unknown model ("Registered Model with name=... not found") or version ("Model Version
/// (name=..., version=...) not found"), INTERNAL_ERROR for database failures.
class RegistryStore {
 public:
  virtual ~RegistryStore() = default;

  /// Fails with RESOURCE_ALREADY_EXISTS if the name is taken.
  virtual Result<RegisteredModel> CreateRegisteredModel(const NewRegisteredModel& model) = 0;
  virtual Result<RegisteredModel> GetRegisteredModel(std::string_view name) = 0;
  /// Renames the model and bumps its and its versions' last_updated_timestamp. Fails with
  /// RESOURCE_ALREADY_EXISTS if `new_name` is taken by another model.
  virtual Result<RegisteredModel> RenameRegisteredModel(std::string_view name,
                                                        std::string_view new_name,
                                                        std::int64_t now) = 0;
  /// Sets (or, with nullopt, clears) the description and bumps last_updated_timestamp.
  virtual Result<RegisteredModel> UpdateRegisteredModel(
      std::string_view name, const std::optional<std::string>& description, std::int64_t now) = 0;
  /// Deletes the model with its versions, tags and aliases.
  virtual Result<void> DeleteRegisteredModel(std::string_view name) = 0;
  /// Fails with INVALID_PARAMETER_VALUE on a malformed filter or order_by.
  virtual Result<RegisteredModelPage> SearchRegisteredModels(const RegistryQuery& query) = 0;
  /// The newest version of each of `stages` (canonical names; empty means all four).
  virtual Result<std::vector<ModelVersion>> GetLatestVersions(
      std::string_view name, const std::vector<std::string>& stages) = 0;
  virtual Result<void> SetRegisteredModelTag(std::string_view name, const Tag& tag) = 0;
  /// Deleting a tag the model does not have is not an error.
  virtual Result<void> DeleteRegisteredModelTag(std::string_view name, std::string_view key) = 0;

  /// Gives the version the next number of its model (1, 2, ...; numbers of deleted versions are
  /// not reused), stage None, status READY, and bumps the model's last_updated_timestamp.
  virtual Result<ModelVersion> CreateModelVersion(const NewModelVersion& version) = 0;
  virtual Result<ModelVersion> GetModelVersion(std::string_view name, std::int64_t version) = 0;
  /// Sets (or clears) the description and bumps the version's last_updated_timestamp.
  virtual Result<ModelVersion> UpdateModelVersion(std::string_view name, std::int64_t version,
                                                  const std::optional<std::string>& description,
                                                  std::int64_t now) = 0;
  /// Moves the version to `stage` (canonical). With `archive_existing_versions`, the model's
  /// other versions in that stage move to Archived in the same transaction. Bumps the
  /// timestamps of every version changed and of the model.
  virtual Result<ModelVersion> TransitionModelVersionStage(std::string_view name,
                                                           std::int64_t version,
                                                           std::string_view stage,
                                                           bool archive_existing_versions,
                                                           std::int64_t now) = 0;
  /// Deletes the version with its tags and the aliases pointing at it, and bumps the model's
  /// last_updated_timestamp.
  virtual Result<void> DeleteModelVersion(std::string_view name, std::int64_t version,
                                          std::int64_t now) = 0;
  /// Fails with INVALID_PARAMETER_VALUE on a malformed filter or order_by.
  virtual Result<ModelVersionPage> SearchModelVersions(const RegistryQuery& query) = 0;
  virtual Result<void> SetModelVersionTag(std::string_view name, std::int64_t version,
                                          const Tag& tag) = 0;
  /// Deleting a tag the version does not have is not an error.
  virtual Result<void> DeleteModelVersionTag(std::string_view name, std::int64_t version,
                                             std::string_view key) = 0;

  /// Points `alias` at the version (moving it if it pointed elsewhere).
  virtual Result<void> SetRegisteredModelAlias(std::string_view name, std::string_view alias,
                                               std::int64_t version) = 0;
  /// Deleting an alias the model does not have is not an error.
  virtual Result<void> DeleteRegisteredModelAlias(std::string_view name,
                                                  std::string_view alias) = 0;
  /// Fails with INVALID_PARAMETER_VALUE "Registered model alias ... not found." when the model
  /// has no such alias (MLflow's code, even when the model itself does not exist).
  virtual Result<ModelVersion> GetModelVersionByAlias(std::string_view name,
                                                      std::string_view alias) = 0;
};

}  // namespace mltf::registry::store
