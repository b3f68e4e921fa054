// sql_registry_store.hpp - the one SQL implementation of RegistryStore, on the tracking store's
// Database (same file, same group-commit writer, same migrations).
#pragma once

#include <memory>

#include "registry/store/registry_store.hpp"
#include "tracking/store/sql/database.hpp"

namespace mltf::registry::store::sql {

/// RegistryStore over a Database shared with the tracking store. Writes go through the
/// group-commit writer; reads run on pooled connections. Thread-safe.
class SqlRegistryStore final : public RegistryStore {
 public:
  /// Uses `database` (schema version 2 or later), which must outlive the store. Does not fail.
  explicit SqlRegistryStore(tracking::store::sql::Database& database) : database_(database) {}

  Result<RegisteredModel> CreateRegisteredModel(const NewRegisteredModel& model) override;
  Result<RegisteredModel> GetRegisteredModel(std::string_view name) override;
  Result<RegisteredModel> RenameRegisteredModel(std::string_view name, std::string_view new_name,
                                                std::int64_t now) override;
  Result<RegisteredModel> UpdateRegisteredModel(std::string_view name,
                                                const std::optional<std::string>& description,
                                                std::int64_t now) override;
  Result<void> DeleteRegisteredModel(std::string_view name) override;
  Result<RegisteredModelPage> SearchRegisteredModels(const RegistryQuery& query) override;
  Result<std::vector<ModelVersion>> GetLatestVersions(
      std::string_view name, const std::vector<std::string>& stages) override;
  Result<void> SetRegisteredModelTag(std::string_view name, const Tag& tag) override;
  Result<void> DeleteRegisteredModelTag(std::string_view name, std::string_view key) override;

  Result<ModelVersion> CreateModelVersion(const NewModelVersion& version) override;
  Result<ModelVersion> GetModelVersion(std::string_view name, std::int64_t version) override;
  Result<ModelVersion> UpdateModelVersion(std::string_view name, std::int64_t version,
                                          const std::optional<std::string>& description,
                                          std::int64_t now) override;
  Result<ModelVersion> TransitionModelVersionStage(std::string_view name, std::int64_t version,
                                                   std::string_view stage,
                                                   bool archive_existing_versions,
                                                   std::int64_t now) override;
  Result<void> DeleteModelVersion(std::string_view name, std::int64_t version,
                                  std::int64_t now) override;
  Result<ModelVersionPage> SearchModelVersions(const RegistryQuery& query) override;
  Result<void> SetModelVersionTag(std::string_view name, std::int64_t version,
                                  const Tag& tag) override;
  Result<void> DeleteModelVersionTag(std::string_view name, std::int64_t version,
                                     std::string_view key) override;

  Result<void> SetRegisteredModelAlias(std::string_view name, std::string_view alias,
                                       std::int64_t version) override;
  Result<void> DeleteRegisteredModelAlias(std::string_view name, std::string_view alias) override;
  Result<ModelVersion> GetModelVersionByAlias(std::string_view name,
                                              std::string_view alias) override;

 private:
  tracking::store::sql::Database& database_;
};

}  // namespace mltf::registry::store::sql
