// sql_registry_store.cpp - registered models, model versions, their tags and aliases in SQL.
//
// Every statement is written once, with `?` placeholders, in SQL that SQLite and PostgreSQL both
// accept. Child rows reference a model by its integer `model_key`, so a rename touches one row.
// Existence checks and the rules that must be atomic with a write (unique names, the next version
// number, archiving the other versions of a stage) run inside the write transaction. Foreign
// keys are off (as for the tracking schema): deletes remove child rows explicitly.
#include "registry/store/sql/sql_registry_store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <unordered_map>
#include <utility>

#include "registry/search/filter_parser.hpp"
#include "registry/search/order_by.hpp"
#include "registry/store/sql/registry_search_sql.hpp"

namespace mltf::registry::store::sql {
namespace {

using tracking::store::sql::SqlConnection;
using tracking::store::sql::SqlStatement;

constexpr std::string_view kModelColumns =
    "m.model_key, m.name, m.description, m.creation_time, m.last_updated_time";
constexpr std::string_view kVersionColumns =
    "v.model_key, m.name, v.version, v.creation_time, v.last_updated_time, v.description, "
    "v.user_id, v.current_stage, v.source, v.run_id, v.run_link, v.status, v.status_message";
/// Values a deleted version keeps instead of its own, as MLflow redacts them.
constexpr std::string_view kRedactedSource = "REDACTED-SOURCE-PATH";
constexpr std::string_view kRedactedRunId = "REDACTED-RUN-ID";
constexpr std::string_view kRedactedRunLink = "REDACTED-RUN-LINK";
/// Keys bound per `IN (...)` list.
constexpr std::size_t kChunk = 500;

Error NoModel(std::string_view name) {
  return Error::ResourceDoesNotExist(fmt::format("Registered Model with name={} not found", name));
}

Error NoVersion(std::string_view name, std::int64_t version) {
  return Error::ResourceDoesNotExist(
      fmt::format("Model Version (name={}, version={}) not found", name, version));
}

Error NameTaken(std::string_view name) {
  return Error::ResourceAlreadyExists(
      fmt::format("Registered Model (name={}) already exists.", name));
}

std::optional<std::string> OptionalText(SqlStatement& row, int column) {
  if (row.IsNull(column)) return std::nullopt;
  return std::string(row.Text(column));
}

void BindOptionalText(SqlStatement& statement, int index, const std::optional<std::string>& text) {
  if (text) {
    statement.BindText(index, *text);
  } else {
    statement.BindNull(index);
  }
}

std::string Placeholders(std::size_t count) {
  std::string out;
  for (std::size_t idx = 0; idx < count; ++idx) out += idx == 0 ? "?" : ",?";
  return out;
}

/// A model's row, with its internal key.
struct ModelRow {
  std::int64_t model_key = 0;
  RegisteredModel model;
};

ModelRow ReadModelRow(SqlStatement& row) {
  ModelRow read;
  read.model_key = row.Int(0);
  read.model.name = row.Text(1);
  read.model.description = OptionalText(row, 2);
  read.model.creation_timestamp = row.Int(3);
  read.model.last_updated_timestamp = row.Int(4);
  return read;
}

/// A version's row (kVersionColumns), with its model's key.
struct VersionRow {
  std::int64_t model_key = 0;
  ModelVersion version;
};

VersionRow ReadVersionRow(SqlStatement& row) {
  VersionRow read;
  read.model_key = row.Int(0);
  ModelVersion& version = read.version;
  version.name = row.Text(1);
  version.version = row.Int(2);
  version.creation_timestamp = row.Int(3);
  version.last_updated_timestamp = row.Int(4);
  version.description = OptionalText(row, 5);
  version.user_id = OptionalText(row, 6);
  version.current_stage = row.Text(7);
  version.source = OptionalText(row, 8);
  version.run_id = OptionalText(row, 9);
  version.run_link = OptionalText(row, 10);
  version.status = row.Text(11);
  version.status_message = OptionalText(row, 12);
  return read;
}

Result<std::optional<ModelRow>> FindModel(SqlConnection& db, std::string_view name) {
  static const std::string kSelectModel =
      fmt::format("SELECT {} FROM registered_models m WHERE m.name = ?", kModelColumns);
  MLTF_ASSIGN_OR_RETURN(query, db.Prepare(kSelectModel));
  query->BindText(1, name);
  MLTF_ASSIGN_OR_RETURN(has_row, query->Step());
  if (!has_row) return std::optional<ModelRow>{};
  return std::optional<ModelRow>{ReadModelRow(*query)};
}

Result<ModelRow> RequireModel(SqlConnection& db, std::string_view name) {
  MLTF_ASSIGN_OR_RETURN(found, FindModel(db, name));
  if (!found) return Fail(NoModel(name));
  return std::move(*found);
}

/// A version that is not deleted.
Result<VersionRow> RequireVersion(SqlConnection& db, std::string_view name, std::int64_t version) {
  static const std::string kSelectVersion = fmt::format(
      "SELECT {} FROM model_versions v JOIN registered_models m ON m.model_key = v.model_key "
      "WHERE m.name = ? AND v.version = ? AND v.current_stage <> 'Deleted_Internal'",
      kVersionColumns);
  MLTF_ASSIGN_OR_RETURN(query, db.Prepare(kSelectVersion));
  query->BindText(1, name);
  query->BindInt(2, version);
  MLTF_ASSIGN_OR_RETURN(has_row, query->Step());
  if (!has_row) return Fail(NoVersion(name, version));
  return ReadVersionRow(*query);
}

/// Fills the tags of `versions` (any models), one query per chunk of model keys.
Result<void> LoadVersionTags(SqlConnection& db, std::vector<VersionRow>& versions) {
  if (versions.empty()) return {};
  std::map<std::pair<std::int64_t, std::int64_t>, std::size_t> index;
  std::vector<std::int64_t> keys;
  for (std::size_t idx = 0; idx < versions.size(); ++idx) {
    index.emplace(std::pair{versions[idx].model_key, versions[idx].version.version}, idx);
    if (std::find(keys.begin(), keys.end(), versions[idx].model_key) == keys.end()) {
      keys.push_back(versions[idx].model_key);
    }
  }
  for (std::size_t first = 0; first < keys.size(); first += kChunk) {
    const std::size_t count = std::min(kChunk, keys.size() - first);
    MLTF_ASSIGN_OR_RETURN(tags, db.Prepare(fmt::format("SELECT model_key, version, key, value FROM "
                                                       "model_version_tags WHERE model_key IN ({}) "
                                                       "ORDER BY model_key, version, key",
                                                       Placeholders(count))));
    for (std::size_t idx = 0; idx < count; ++idx) {
      tags->BindInt(static_cast<int>(idx + 1), keys[first + idx]);
    }
    while (true) {
      MLTF_ASSIGN_OR_RETURN(has_row, tags->Step());
      if (!has_row) break;
      auto found = index.find({tags->Int(0), tags->Int(1)});
      if (found == index.end()) continue;
      versions[found->second].version.tags.push_back(
          {std::string(tags->Text(2)), std::string(tags->Text(3))});
    }
  }
  return {};
}

Result<void> LoadVersionAliases(SqlConnection& db, VersionRow& row) {
  MLTF_ASSIGN_OR_RETURN(aliases,
                        db.Prepare("SELECT alias FROM registered_model_aliases WHERE model_key = ? "
                                   "AND version = ? ORDER BY alias"));
  aliases->BindInt(1, row.model_key);
  aliases->BindInt(2, row.version.version);
  while (true) {
    MLTF_ASSIGN_OR_RETURN(has_row, aliases->Step());
    if (!has_row) break;
    row.version.aliases.emplace_back(aliases->Text(0));
  }
  return {};
}

/// One version as a single read answers it: with tags and aliases.
Result<ModelVersion> LoadVersion(SqlConnection& db, std::string_view name, std::int64_t version) {
  MLTF_ASSIGN_OR_RETURN(row, RequireVersion(db, name, version));
  std::vector<VersionRow> rows;
  rows.push_back(std::move(row));
  MLTF_TRY(LoadVersionTags(db, rows));
  MLTF_TRY(LoadVersionAliases(db, rows.front()));
  return std::move(rows.front().version);
}

/// Fills tags, aliases and latest versions (one per stage, with tags) of `rows`.
Result<std::vector<RegisteredModel>> LoadModels(SqlConnection& db, std::vector<ModelRow>& rows) {
  std::vector<RegisteredModel> models;
  models.reserve(rows.size());
  std::unordered_map<std::int64_t, std::size_t> index;
  for (auto& row : rows) {
    index.emplace(row.model_key, models.size());
    models.push_back(std::move(row.model));
  }
  for (std::size_t first = 0; first < rows.size(); first += kChunk) {
    const std::size_t count = std::min(kChunk, rows.size() - first);
    const std::string placeholders = Placeholders(count);
    auto bind_keys = [&](SqlStatement& statement) {
      for (std::size_t idx = 0; idx < count; ++idx) {
        statement.BindInt(static_cast<int>(idx + 1), rows[first + idx].model_key);
      }
    };
    {
      MLTF_ASSIGN_OR_RETURN(
          tags, db.Prepare(fmt::format("SELECT model_key, key, value FROM registered_model_tags "
                                       "WHERE model_key IN ({}) ORDER BY model_key, key",
                                       placeholders)));
      bind_keys(*tags);
      while (true) {
        MLTF_ASSIGN_OR_RETURN(has_row, tags->Step());
        if (!has_row) break;
        models[index[tags->Int(0)]].tags.push_back(
            {std::string(tags->Text(1)), std::string(tags->Text(2))});
      }
    }
    {
      MLTF_ASSIGN_OR_RETURN(
          aliases,
          db.Prepare(fmt::format("SELECT model_key, alias, version FROM registered_model_aliases "
                                 "WHERE model_key IN ({}) ORDER BY model_key, alias",
                                 placeholders)));
      bind_keys(*aliases);
      while (true) {
        MLTF_ASSIGN_OR_RETURN(has_row, aliases->Step());
        if (!has_row) break;
        models[index[aliases->Int(0)]].aliases.push_back(
            {std::string(aliases->Text(1)), aliases->Int(2)});
      }
    }
    // The newest version of each stage, stages in the order MLflow lists them: by the first
    // (lowest-numbered) version that entered the stage.
    std::vector<VersionRow> latest;
    {
      MLTF_ASSIGN_OR_RETURN(
          versions,
          db.Prepare(fmt::format(
              "SELECT {} FROM model_versions v JOIN registered_models m ON m.model_key = "
              "v.model_key WHERE v.model_key IN ({}) AND v.current_stage <> 'Deleted_Internal' "
              "AND v.version = (SELECT MAX(l.version) FROM model_versions l WHERE l.model_key = "
              "v.model_key AND l.current_stage = v.current_stage) ORDER BY v.model_key, "
              "(SELECT MIN(f.version) FROM model_versions f WHERE f.model_key = v.model_key AND "
              "f.current_stage = v.current_stage)",
              kVersionColumns, placeholders)));
      bind_keys(*versions);
      while (true) {
        MLTF_ASSIGN_OR_RETURN(has_row, versions->Step());
        if (!has_row) break;
        latest.push_back(ReadVersionRow(*versions));
      }
    }
    MLTF_TRY(LoadVersionTags(db, latest));
    for (auto& row : latest) {
      models[index[row.model_key]].latest_versions.push_back(std::move(row.version));
    }
  }
  return models;
}

Result<RegisteredModel> LoadModel(SqlConnection& db, std::string_view name) {
  MLTF_ASSIGN_OR_RETURN(row, RequireModel(db, name));
  std::vector<ModelRow> rows;
  rows.push_back(std::move(row));
  MLTF_ASSIGN_OR_RETURN(models, LoadModels(db, rows));
  return std::move(models.front());
}

Result<void> TouchModel(SqlConnection& db, std::int64_t model_key, std::int64_t now) {
  MLTF_ASSIGN_OR_RETURN(
      touch, db.Prepare("UPDATE registered_models SET last_updated_time = ? WHERE model_key = ?"));
  touch->BindInt(1, now);
  touch->BindInt(2, model_key);
  return touch->Run();
}

Result<void> UpsertModelTag(SqlConnection& db, std::int64_t model_key, const Tag& tag) {
  MLTF_ASSIGN_OR_RETURN(
      upsert, db.Prepare("INSERT INTO registered_model_tags (model_key, key, value) VALUES "
                         "(?, ?, ?) ON CONFLICT (model_key, key) DO UPDATE SET "
                         "value = excluded.value"));
  upsert->BindInt(1, model_key);
  upsert->BindText(2, tag.key);
  upsert->BindText(3, tag.value);
  return upsert->Run();
}

Result<void> UpsertVersionTag(SqlConnection& db, std::int64_t model_key, std::int64_t version,
                              const Tag& tag) {
  MLTF_ASSIGN_OR_RETURN(
      upsert, db.Prepare("INSERT INTO model_version_tags (model_key, version, key, value) VALUES "
                         "(?, ?, ?, ?) ON CONFLICT (model_key, version, key) DO UPDATE SET "
                         "value = excluded.value"));
  upsert->BindInt(1, model_key);
  upsert->BindInt(2, version);
  upsert->BindText(3, tag.key);
  upsert->BindText(4, tag.value);
  return upsert->Run();
}

/// Runs `statement`, whose one parameter is the model key, as a plain write.
Result<void> RunForModel(SqlConnection& db, std::string_view statement, std::int64_t model_key) {
  MLTF_ASSIGN_OR_RETURN(write, db.Prepare(statement));
  write->BindInt(1, model_key);
  return write->Run();
}

}  // namespace

Result<RegisteredModel> SqlRegistryStore::CreateRegisteredModel(const NewRegisteredModel& model) {
  RegisteredModel created;
  MLTF_TRY(database_.Write([&](SqlConnection& db) -> Result<void> {
    // Checked first, so the insert never fails mid-transaction on PostgreSQL.
    MLTF_ASSIGN_OR_RETURN(existing, FindModel(db, model.name));
    if (existing) return Fail(NameTaken(model.name));
    std::int64_t model_key = 0;
    {
      MLTF_ASSIGN_OR_RETURN(
          insert, db.Prepare("INSERT INTO registered_models (name, description, creation_time, "
                             "last_updated_time) VALUES (?, ?, ?, ?)"));
      insert->BindText(1, model.name);
      BindOptionalText(*insert, 2, model.description);
      insert->BindInt(3, model.now);
      insert->BindInt(4, model.now);
      if (auto inserted = insert->Run(); !inserted) {
        if (inserted.error().code == ErrorCode::RESOURCE_ALREADY_EXISTS) {
          return Fail(NameTaken(model.name));
        }
        return inserted;
      }
      model_key = db.LastInsertId();
    }
    for (const Tag& tag : model.tags) MLTF_TRY(UpsertModelTag(db, model_key, tag));
    MLTF_ASSIGN_OR_RETURN(loaded, LoadModel(db, model.name));
    created = std::move(loaded);
    return {};
  }));
  return created;
}

Result<RegisteredModel> SqlRegistryStore::GetRegisteredModel(std::string_view name) {
  RegisteredModel model;
  MLTF_TRY(database_.Read([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(loaded, LoadModel(db, name));
    model = std::move(loaded);
    return {};
  }));
  return model;
}

Result<RegisteredModel> SqlRegistryStore::RenameRegisteredModel(std::string_view name,
                                                                std::string_view new_name,
                                                                std::int64_t now) {
  RegisteredModel renamed;
  MLTF_TRY(database_.Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(row, RequireModel(db, name));
    MLTF_ASSIGN_OR_RETURN(other, FindModel(db, new_name));
    if (other && other->model_key != row.model_key) return Fail(NameTaken(new_name));
    {
      MLTF_ASSIGN_OR_RETURN(
          rename, db.Prepare("UPDATE registered_models SET name = ?, last_updated_time = ? "
                             "WHERE model_key = ?"));
      rename->BindText(1, new_name);
      rename->BindInt(2, now);
      rename->BindInt(3, row.model_key);
      if (auto renamed_row = rename->Run(); !renamed_row) {
        if (renamed_row.error().code == ErrorCode::RESOURCE_ALREADY_EXISTS) {
          return Fail(NameTaken(new_name));
        }
        return renamed_row;
      }
    }
    {
      MLTF_ASSIGN_OR_RETURN(touch, db.Prepare("UPDATE model_versions SET last_updated_time = ? "
                                              "WHERE model_key = ?"));
      touch->BindInt(1, now);
      touch->BindInt(2, row.model_key);
      MLTF_TRY(touch->Run());
    }
    MLTF_ASSIGN_OR_RETURN(loaded, LoadModel(db, new_name));
    renamed = std::move(loaded);
    return {};
  }));
  return renamed;
}

Result<RegisteredModel> SqlRegistryStore::UpdateRegisteredModel(
    std::string_view name, const std::optional<std::string>& description, std::int64_t now) {
  RegisteredModel updated;
  MLTF_TRY(database_.Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(row, RequireModel(db, name));
    {
      MLTF_ASSIGN_OR_RETURN(
          update, db.Prepare("UPDATE registered_models SET description = ?, last_updated_time = ? "
                             "WHERE model_key = ?"));
      BindOptionalText(*update, 1, description);
      update->BindInt(2, now);
      update->BindInt(3, row.model_key);
      MLTF_TRY(update->Run());
    }
    MLTF_ASSIGN_OR_RETURN(loaded, LoadModel(db, name));
    updated = std::move(loaded);
    return {};
  }));
  return updated;
}

Result<void> SqlRegistryStore::DeleteRegisteredModel(std::string_view name) {
  return database_.Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(row, RequireModel(db, name));
    for (std::string_view statement : {
             "DELETE FROM model_version_tags WHERE model_key = ?",
             "DELETE FROM registered_model_aliases WHERE model_key = ?",
             "DELETE FROM registered_model_tags WHERE model_key = ?",
             "DELETE FROM model_versions WHERE model_key = ?",
             "DELETE FROM registered_models WHERE model_key = ?",
         }) {
      MLTF_TRY(RunForModel(db, statement, row.model_key));
    }
    return {};
  });
}

Result<RegisteredModelPage> SqlRegistryStore::SearchRegisteredModels(const RegistryQuery& query) {
  MLTF_ASSIGN_OR_RETURN(filter, search::ParseRegisteredModelFilter(query.filter));
  MLTF_ASSIGN_OR_RETURN(order_by, search::ParseRegisteredModelOrderBy(query.order_by));
  MLTF_ASSIGN_OR_RETURN(compiled, CompileRegisteredModelSearch(filter, order_by));
  // One row more than asked tells whether another page follows.
  auto statement =
      RegisteredModelSearchStatement(kModelColumns, compiled, query.max_results + 1, query.offset,
                                     query.restriction ? &*query.restriction : nullptr);
  RegisteredModelPage page;
  MLTF_TRY(database_.Read([&](SqlConnection& db) -> Result<void> {
    std::vector<ModelRow> rows;
    {
      MLTF_ASSIGN_OR_RETURN(select, db.PrepareOnce(statement.sql));
      select->BindAll(statement.params);
      while (true) {
        MLTF_ASSIGN_OR_RETURN(has_row, select->Step());
        if (!has_row) break;
        rows.push_back(ReadModelRow(*select));
      }
    }
    if (rows.size() > static_cast<std::size_t>(query.max_results)) {
      rows.pop_back();
      page.more = true;
    }
    MLTF_ASSIGN_OR_RETURN(models, LoadModels(db, rows));
    page.registered_models = std::move(models);
    return {};
  }));
  return page;
}

Result<std::vector<ModelVersion>> SqlRegistryStore::GetLatestVersions(
    std::string_view name, const std::vector<std::string>& stages) {
  MLTF_ASSIGN_OR_RETURN(model, GetRegisteredModel(name));
  std::vector<ModelVersion> latest;
  for (auto& version : model.latest_versions) {
    if (stages.empty() ||
        std::find(stages.begin(), stages.end(), version.current_stage) != stages.end()) {
      latest.push_back(std::move(version));
    }
  }
  return latest;
}

Result<void> SqlRegistryStore::SetRegisteredModelTag(std::string_view name, const Tag& tag) {
  return database_.Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(row, RequireModel(db, name));
    return UpsertModelTag(db, row.model_key, tag);
  });
}

Result<void> SqlRegistryStore::DeleteRegisteredModelTag(std::string_view name,
                                                        std::string_view key) {
  return database_.Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(row, RequireModel(db, name));
    MLTF_ASSIGN_OR_RETURN(
        remove, db.Prepare("DELETE FROM registered_model_tags WHERE model_key = ? AND key = ?"));
    remove->BindInt(1, row.model_key);
    remove->BindText(2, key);
    return remove->Run();
  });
}

Result<ModelVersion> SqlRegistryStore::CreateModelVersion(const NewModelVersion& version) {
  ModelVersion created;
  MLTF_TRY(database_.Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(model, RequireModel(db, version.name));
    std::int64_t number = 1;
    {
      // Deleted versions keep their rows, so their numbers are counted too.
      MLTF_ASSIGN_OR_RETURN(
          next, db.Prepare("SELECT MAX(version) FROM model_versions WHERE model_key = ?"));
      next->BindInt(1, model.model_key);
      MLTF_ASSIGN_OR_RETURN(has_row, next->Step());
      if (has_row && !next->IsNull(0)) number = next->Int(0) + 1;
    }
    {
      MLTF_ASSIGN_OR_RETURN(
          insert, db.Prepare("INSERT INTO model_versions (model_key, version, creation_time, "
                             "last_updated_time, description, user_id, current_stage, source, "
                             "run_id, run_link, status, status_message) "
                             "VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, NULL)"));
      insert->BindInt(1, model.model_key);
      insert->BindInt(2, number);
      insert->BindInt(3, version.now);
      insert->BindInt(4, version.now);
      BindOptionalText(*insert, 5, version.description);
      insert->BindText(6, kStageNone);
      insert->BindText(7, version.source);
      BindOptionalText(*insert, 8, version.run_id);
      BindOptionalText(*insert, 9, version.run_link);
      insert->BindText(10, kStatusReady);
      MLTF_TRY(insert->Run());
    }
    for (const Tag& tag : version.tags) {
      MLTF_TRY(UpsertVersionTag(db, model.model_key, number, tag));
    }
    MLTF_TRY(TouchModel(db, model.model_key, version.now));
    MLTF_ASSIGN_OR_RETURN(loaded, LoadVersion(db, version.name, number));
    created = std::move(loaded);
    return {};
  }));
  return created;
}

Result<ModelVersion> SqlRegistryStore::GetModelVersion(std::string_view name,
                                                       std::int64_t version) {
  ModelVersion found;
  MLTF_TRY(database_.Read([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(loaded, LoadVersion(db, name, version));
    found = std::move(loaded);
    return {};
  }));
  return found;
}

Result<ModelVersion> SqlRegistryStore::UpdateModelVersion(
    std::string_view name, std::int64_t version, const std::optional<std::string>& description,
    std::int64_t now) {
  ModelVersion updated;
  MLTF_TRY(database_.Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(row, RequireVersion(db, name, version));
    {
      MLTF_ASSIGN_OR_RETURN(
          update, db.Prepare("UPDATE model_versions SET description = ?, last_updated_time = ? "
                             "WHERE model_key = ? AND version = ?"));
      BindOptionalText(*update, 1, description);
      update->BindInt(2, now);
      update->BindInt(3, row.model_key);
      update->BindInt(4, version);
      MLTF_TRY(update->Run());
    }
    MLTF_ASSIGN_OR_RETURN(loaded, LoadVersion(db, name, version));
    updated = std::move(loaded);
    return {};
  }));
  return updated;
}

Result<ModelVersion> SqlRegistryStore::TransitionModelVersionStage(std::string_view name,
                                                                   std::int64_t version,
                                                                   std::string_view stage,
                                                                   bool archive_existing_versions,
                                                                   std::int64_t now) {
  ModelVersion moved;
  MLTF_TRY(database_.Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(row, RequireVersion(db, name, version));
    if (archive_existing_versions) {
      MLTF_ASSIGN_OR_RETURN(
          archive, db.Prepare("UPDATE model_versions SET current_stage = ?, last_updated_time = ? "
                              "WHERE model_key = ? AND version <> ? AND current_stage = ?"));
      archive->BindText(1, kStageArchived);
      archive->BindInt(2, now);
      archive->BindInt(3, row.model_key);
      archive->BindInt(4, version);
      archive->BindText(5, stage);
      MLTF_TRY(archive->Run());
    }
    {
      MLTF_ASSIGN_OR_RETURN(
          update, db.Prepare("UPDATE model_versions SET current_stage = ?, last_updated_time = ? "
                             "WHERE model_key = ? AND version = ?"));
      update->BindText(1, stage);
      update->BindInt(2, now);
      update->BindInt(3, row.model_key);
      update->BindInt(4, version);
      MLTF_TRY(update->Run());
    }
    MLTF_TRY(TouchModel(db, row.model_key, now));
    MLTF_ASSIGN_OR_RETURN(loaded, LoadVersion(db, name, version));
    moved = std::move(loaded);
    return {};
  }));
  return moved;
}

Result<void> SqlRegistryStore::DeleteModelVersion(std::string_view name, std::int64_t version,
                                                  std::int64_t now) {
  return database_.Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(row, RequireVersion(db, name, version));
    MLTF_TRY(TouchModel(db, row.model_key, now));
    for (std::string_view statement : {
             "DELETE FROM registered_model_aliases WHERE model_key = ? AND version = ?",
             "DELETE FROM model_version_tags WHERE model_key = ? AND version = ?",
         }) {
      MLTF_ASSIGN_OR_RETURN(remove, db.Prepare(statement));
      remove->BindInt(1, row.model_key);
      remove->BindInt(2, version);
      MLTF_TRY(remove->Run());
    }
    // The row stays, redacted, so that the number is never given out again.
    MLTF_ASSIGN_OR_RETURN(
        redact, db.Prepare("UPDATE model_versions SET current_stage = 'Deleted_Internal', "
                           "last_updated_time = ?, description = NULL, user_id = NULL, source = ?, "
                           "run_id = ?, run_link = ?, status_message = NULL "
                           "WHERE model_key = ? AND version = ?"));
    redact->BindInt(1, now);
    redact->BindText(2, kRedactedSource);
    redact->BindText(3, kRedactedRunId);
    redact->BindText(4, kRedactedRunLink);
    redact->BindInt(5, row.model_key);
    redact->BindInt(6, version);
    return redact->Run();
  });
}

Result<ModelVersionPage> SqlRegistryStore::SearchModelVersions(const RegistryQuery& query) {
  MLTF_ASSIGN_OR_RETURN(filter, search::ParseModelVersionFilter(query.filter));
  MLTF_ASSIGN_OR_RETURN(order_by, search::ParseModelVersionOrderBy(query.order_by));
  MLTF_ASSIGN_OR_RETURN(compiled, CompileModelVersionSearch(filter, order_by));
  auto statement =
      ModelVersionSearchStatement(kVersionColumns, compiled, query.max_results + 1, query.offset,
                                  query.restriction ? &*query.restriction : nullptr);
  ModelVersionPage page;
  MLTF_TRY(database_.Read([&](SqlConnection& db) -> Result<void> {
    std::vector<VersionRow> rows;
    {
      MLTF_ASSIGN_OR_RETURN(select, db.PrepareOnce(statement.sql));
      select->BindAll(statement.params);
      while (true) {
        MLTF_ASSIGN_OR_RETURN(has_row, select->Step());
        if (!has_row) break;
        rows.push_back(ReadVersionRow(*select));
      }
    }
    if (rows.size() > static_cast<std::size_t>(query.max_results)) {
      rows.pop_back();
      page.more = true;
    }
    MLTF_TRY(LoadVersionTags(db, rows));
    page.model_versions.reserve(rows.size());
    for (auto& row : rows) page.model_versions.push_back(std::move(row.version));
    return {};
  }));
  return page;
}

Result<void> SqlRegistryStore::SetModelVersionTag(std::string_view name, std::int64_t version,
                                                  const Tag& tag) {
  return database_.Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(row, RequireVersion(db, name, version));
    return UpsertVersionTag(db, row.model_key, version, tag);
  });
}

Result<void> SqlRegistryStore::DeleteModelVersionTag(std::string_view name, std::int64_t version,
                                                     std::string_view key) {
  return database_.Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(row, RequireVersion(db, name, version));
    MLTF_ASSIGN_OR_RETURN(remove, db.Prepare("DELETE FROM model_version_tags WHERE model_key = ? "
                                             "AND version = ? AND key = ?"));
    remove->BindInt(1, row.model_key);
    remove->BindInt(2, version);
    remove->BindText(3, key);
    return remove->Run();
  });
}

Result<void> SqlRegistryStore::SetRegisteredModelAlias(std::string_view name,
                                                       std::string_view alias,
                                                       std::int64_t version) {
  return database_.Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(row, RequireVersion(db, name, version));
    MLTF_ASSIGN_OR_RETURN(
        upsert, db.Prepare("INSERT INTO registered_model_aliases (model_key, alias, version) "
                           "VALUES (?, ?, ?) ON CONFLICT (model_key, alias) DO UPDATE SET "
                           "version = excluded.version"));
    upsert->BindInt(1, row.model_key);
    upsert->BindText(2, alias);
    upsert->BindInt(3, version);
    return upsert->Run();
  });
}

Result<void> SqlRegistryStore::DeleteRegisteredModelAlias(std::string_view name,
                                                          std::string_view alias) {
  return database_.Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(row, RequireModel(db, name));
    MLTF_ASSIGN_OR_RETURN(remove, db.Prepare("DELETE FROM registered_model_aliases WHERE "
                                             "model_key = ? AND alias = ?"));
    remove->BindInt(1, row.model_key);
    remove->BindText(2, alias);
    return remove->Run();
  });
}

Result<ModelVersion> SqlRegistryStore::GetModelVersionByAlias(std::string_view name,
                                                              std::string_view alias) {
  ModelVersion found;
  MLTF_TRY(database_.Read([&](SqlConnection& db) -> Result<void> {
    std::int64_t version = 0;
    {
      MLTF_ASSIGN_OR_RETURN(lookup,
                            db.Prepare("SELECT a.version FROM registered_model_aliases a JOIN "
                                       "registered_models m ON m.model_key = a.model_key "
                                       "WHERE m.name = ? AND a.alias = ?"));
      lookup->BindText(1, name);
      lookup->BindText(2, alias);
      MLTF_ASSIGN_OR_RETURN(has_row, lookup->Step());
      if (!has_row) {
        return Fail(
            Error::InvalidParameter(fmt::format("Registered model alias {} not found.", alias)));
      }
      version = lookup->Int(0);
    }
    MLTF_ASSIGN_OR_RETURN(loaded, LoadVersion(db, name, version));
    found = std::move(loaded);
    return {};
  }));
  return found;
}

}  // namespace mltf::registry::store::sql
