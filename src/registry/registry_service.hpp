// registry_service.hpp - the rules of MLflow's model registry API that hold for every store.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "registry/entities/entities.hpp"
#include "registry/store/registry_store.hpp"

namespace mltf::registry {

/// registered-models/search: default and largest page (MLflow's proto default and handler limit).
inline constexpr std::int64_t kDefaultRegisteredModelResults = 100;
inline constexpr std::int64_t kMaxRegisteredModelResults = 1000;
/// model-versions/search: default and largest page.
inline constexpr std::int64_t kDefaultModelVersionResults = 200000;
inline constexpr std::int64_t kMaxModelVersionResults = 200000;

struct RegistrySearchRequest {
  std::string filter;
  std::int64_t max_results = kDefaultRegisteredModelResults;
  std::vector<std::string> order_by;
  std::string page_token;
  std::optional<store::NameRestriction> restriction;  ///< what the caller may read; none: all
};

struct RegisteredModelSearchPage {
  std::vector<RegisteredModel> registered_models;
  std::optional<std::string> next_page_token;  ///< set only when another result follows
};

struct ModelVersionSearchPage {
  std::vector<ModelVersion> model_versions;
  std::optional<std::string> next_page_token;
};

struct CreateModelVersionRequest {
  std::string name;
  std::string source;
  std::string run_id;  ///< "" when not given, stored as such (as MLflow does)
  std::vector<Tag> tags;
  std::string run_link;
  std::string description;
};

/// The artifact URI of a run, or the tracking store's error (RESOURCE_DOES_NOT_EXIST).
using RunArtifactUriLookup = std::function<Result<std::string>(const std::string& run_id)>;

/// Validates requests as MLflow's handlers and store do (names, versions, tags, aliases, stages,
/// model version sources, search limits), turns page tokens into offsets and back, stamps times,
/// and calls the store. Every method fails with INVALID_PARAMETER_VALUE on a bad argument and
/// otherwise with the store's errors (RESOURCE_DOES_NOT_EXIST, RESOURCE_ALREADY_EXISTS).
/// Thread-safe.
class RegistryService {
 public:
  /// `run_artifact_uri` is asked only for model versions whose source is a local path.
  RegistryService(store::RegistryStore& store, RunArtifactUriLookup run_artifact_uri)
      : store_(store), run_artifact_uri_(std::move(run_artifact_uri)) {}

  Result<RegisteredModel> CreateRegisteredModel(const std::string& name,
                                                const std::vector<Tag>& tags,
                                                const std::string& description);
  Result<RegisteredModel> GetRegisteredModel(const std::string& name);
  Result<RegisteredModel> RenameRegisteredModel(const std::string& name,
                                                const std::string& new_name);
  Result<RegisteredModel> UpdateRegisteredModel(const std::string& name,
                                                const std::string& description);
  Result<void> DeleteRegisteredModel(const std::string& name);
  /// max_results must be 1..1000.
  Result<RegisteredModelSearchPage> SearchRegisteredModels(const RegistrySearchRequest& request);
  /// `stages` in any case; empty means every stage. Fails on an unknown stage.
  Result<std::vector<ModelVersion>> GetLatestVersions(const std::string& name,
                                                      const std::vector<std::string>& stages);
  Result<void> SetRegisteredModelTag(const std::string& name, const Tag& tag);
  Result<void> DeleteRegisteredModelTag(const std::string& name, const std::string& key);

  /// Rejects sources that could reach the server's files: a local path or file URI outside the
  /// artifact directory of `run_id`'s run, and any URI whose path is relative or has `.`/`..`
  /// segments (also percent-encoded).
  Result<ModelVersion> CreateModelVersion(const CreateModelVersionRequest& request);
  /// `version` is the decimal text the API carries ("3").
  Result<ModelVersion> GetModelVersion(const std::string& name, const std::string& version);
  /// nullopt clears the description, as MLflow does when the field is absent.
  Result<ModelVersion> UpdateModelVersion(const std::string& name, const std::string& version,
                                          const std::optional<std::string>& description);
  /// `stage` in any case. archive_existing_versions is only allowed for Staging and Production.
  Result<ModelVersion> TransitionModelVersionStage(const std::string& name,
                                                   const std::string& version,
                                                   const std::string& stage,
                                                   bool archive_existing_versions);
  Result<void> DeleteModelVersion(const std::string& name, const std::string& version);
  /// max_results must be 1..200000.
  Result<ModelVersionSearchPage> SearchModelVersions(const RegistrySearchRequest& request);
  /// The version's source (MLTF does not copy model artifacts).
  Result<std::string> GetModelVersionDownloadUri(const std::string& name,
                                                 const std::string& version);
  Result<void> SetModelVersionTag(const std::string& name, const std::string& version,
                                  const Tag& tag);
  Result<void> DeleteModelVersionTag(const std::string& name, const std::string& version,
                                     const std::string& key);

  /// Alias names are `[\w-]+`, at most 255 characters, not "latest" nor `v<digits>`.
  Result<void> SetRegisteredModelAlias(const std::string& name, const std::string& alias,
                                       const std::string& version);
  Result<void> DeleteRegisteredModelAlias(const std::string& name, const std::string& alias);
  Result<ModelVersion> GetModelVersionByAlias(const std::string& name, const std::string& alias);

 private:
  Result<void> ValidateSource(const std::string& source, const std::string& run_id);

  store::RegistryStore& store_;
  RunArtifactUriLookup run_artifact_uri_;
};

/// A model version number from its text: optional blanks and sign around decimal digits, as
/// Python's int() reads it. Fails with INVALID_PARAMETER_VALUE otherwise.
Result<std::int64_t> ParseModelVersion(std::string_view version);

/// Checks an alias name (see SetRegisteredModelAlias). Fails with INVALID_PARAMETER_VALUE.
Result<void> ValidateAliasName(std::string_view alias);

}  // namespace mltf::registry
