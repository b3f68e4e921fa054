// sql_tracking_store.cpp - experiments, runs, metrics, params, tags and datasets in SQL.
//
// Every statement is written once, with `?` placeholders, in SQL that SQLite and PostgreSQL both
// accept. Rules that must be atomic with their write (a param keeps its value, only active runs
// take data) are checked inside the write transaction.
#include "tracking/store/sql/sql_tracking_store.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <unordered_map>

#include "tracking/search/filter_parser.hpp"
#include "tracking/search/order_by.hpp"
#include "tracking/store/sql/search_sql.hpp"

namespace mltf::tracking::store::sql {
namespace {

constexpr std::string_view kExperimentColumns =
    "experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time";
constexpr std::string_view kRunColumns =
    "r.run_key, r.run_uuid, r.experiment_id, r.name, r.user_id, r.status, r.start_time, "
    "r.end_time, r.artifact_uri, r.lifecycle_stage";

std::optional<std::int64_t> ParseId(std::string_view text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

Error NoExperiment(std::string_view experiment_id) {
  return Error::ResourceDoesNotExist(fmt::format("No Experiment with id={} exists", experiment_id));
}

Error NoRun(std::string_view run_id) {
  return Error::ResourceDoesNotExist(fmt::format("Run with id={} not found", run_id));
}

/// Metric values as stored: NaN as (0, is_nan), ±inf clamped to ±DBL_MAX as MLflow answers them.
std::pair<double, bool> StoredValue(double value) {
  if (std::isnan(value)) return {0.0, true};
  if (std::isinf(value)) {
    return {value > 0 ? std::numeric_limits<double>::max() : std::numeric_limits<double>::lowest(),
            false};
  }
  return {value, false};
}

double LoadedValue(double value, bool is_nan) {
  return is_nan ? std::numeric_limits<double>::quiet_NaN() : value;
}

Experiment ReadExperiment(SqlStatement& row) {
  Experiment experiment;
  experiment.experiment_id = std::to_string(row.Int(0));
  experiment.name = row.Text(1);
  experiment.artifact_location = row.Text(2);
  experiment.lifecycle_stage = ParseLifecycleStage(row.Text(3)).value_or(LifecycleStage::ACTIVE);
  experiment.creation_time = row.Int(4);
  experiment.last_update_time = row.Int(5);
  return experiment;
}

Result<void> LoadExperimentTags(SqlConnection& db, std::int64_t id, Experiment& experiment) {
  MLTF_ASSIGN_OR_RETURN(
      tags, db.Prepare("SELECT key, value FROM experiment_tags WHERE experiment_id = ?"));
  tags->BindInt(1, id);
  while (true) {
    MLTF_ASSIGN_OR_RETURN(has_row, tags->Step());
    if (!has_row) break;
    experiment.tags.push_back({std::string(tags->Text(0)), std::string(tags->Text(1))});
  }
  return {};
}

/// A run's row as read by the store, with its internal key.
struct RunRow {
  std::int64_t run_key = 0;
  RunInfo info;
};

RunRow ReadRunRow(SqlStatement& row) {
  RunRow run;
  run.run_key = row.Int(0);
  run.info.run_id = row.Text(1);
  run.info.experiment_id = std::to_string(row.Int(2));
  run.info.run_name = row.Text(3);
  run.info.user_id = row.Text(4);
  run.info.status = ParseRunStatus(row.Text(5)).value_or(RunStatus::RUNNING);
  if (!row.IsNull(6)) run.info.start_time = row.Int(6);
  if (!row.IsNull(7)) run.info.end_time = row.Int(7);
  run.info.artifact_uri = row.Text(8);
  run.info.lifecycle_stage = ParseLifecycleStage(row.Text(9)).value_or(LifecycleStage::ACTIVE);
  return run;
}

Result<RunRow> FindRun(SqlConnection& db, std::string_view run_id) {
  static const std::string kSql =
      fmt::format("SELECT {} FROM runs r WHERE r.run_uuid = ?", kRunColumns);
  MLTF_ASSIGN_OR_RETURN(query, db.Prepare(kSql));
  query->BindText(1, run_id);
  MLTF_ASSIGN_OR_RETURN(has_row, query->Step());
  if (!has_row) return Fail(NoRun(run_id));
  return ReadRunRow(*query);
}

Error RunNotActive(std::string_view run_id) {
  return Error::InvalidParameter(
      fmt::format("The run {} must be in the 'active' state. Current state is deleted.", run_id));
}

Result<RunRow> FindActiveRun(SqlConnection& db, std::string_view run_id) {
  MLTF_ASSIGN_OR_RETURN(run, FindRun(db, run_id));
  if (run.info.lifecycle_stage != LifecycleStage::ACTIVE) return Fail(RunNotActive(run_id));
  return run;
}

/// The key of an active run: what a write of run data needs, without reading the whole row.
Result<std::int64_t> FindActiveRunKey(SqlConnection& db, std::string_view run_id) {
  MLTF_ASSIGN_OR_RETURN(query,
                        db.Prepare("SELECT run_key, lifecycle_stage FROM runs WHERE run_uuid = ?"));
  query->BindText(1, run_id);
  MLTF_ASSIGN_OR_RETURN(has_row, query->Step());
  if (!has_row) return Fail(NoRun(run_id));
  if (query->Text(1) != "active") return Fail(RunNotActive(run_id));
  return query->Int(0);
}

/// Loads tags, params, latest metrics and dataset inputs for `runs` (keyed by run_key).
Result<void> LoadRunData(SqlConnection& db, std::vector<RunRow>& rows, std::vector<Run>& runs) {
  runs.clear();
  runs.reserve(rows.size());
  std::unordered_map<std::int64_t, std::size_t> index;
  for (auto& row : rows) {
    index.emplace(row.run_key, runs.size());
    runs.push_back(Run{std::move(row.info), {}, {}});
  }
  if (rows.empty()) return {};
  // One query per child table for the whole page, keys bound in chunks.
  constexpr std::size_t kChunk = 500;
  for (std::size_t first = 0; first < rows.size(); first += kChunk) {
    std::size_t count = std::min(kChunk, rows.size() - first);
    std::string placeholders;
    for (std::size_t idx = 0; idx < count; ++idx) placeholders += idx == 0 ? "?" : ",?";
    auto bind_keys = [&](SqlStatement& statement) {
      for (std::size_t idx = 0; idx < count; ++idx) {
        statement.BindInt(static_cast<int>(idx + 1), rows[first + idx].run_key);
      }
    };
    // Tags and params share a shape: (run_key, key, value) rows into a list of the run.
    auto load_pairs = [&](std::string_view table, std::vector<Tag> RunData::*list) -> Result<void> {
      MLTF_ASSIGN_OR_RETURN(
          pairs, db.Prepare(fmt::format("SELECT run_key, key, value FROM {} WHERE run_key IN ({})",
                                        table, placeholders)));
      bind_keys(*pairs);
      while (true) {
        MLTF_ASSIGN_OR_RETURN(has_row, pairs->Step());
        if (!has_row) return {};
        (runs[index[pairs->Int(0)]].data.*list)
            .push_back({std::string(pairs->Text(1)), std::string(pairs->Text(2))});
      }
    };
    MLTF_TRY(load_pairs("tags", &RunData::tags));
    MLTF_TRY(load_pairs("params", &RunData::params));
    {
      MLTF_ASSIGN_OR_RETURN(
          metrics, db.Prepare(fmt::format("SELECT run_key, key, value, is_nan, timestamp, step "
                                          "FROM latest_metrics WHERE run_key IN ({})",
                                          placeholders)));
      bind_keys(*metrics);
      while (true) {
        MLTF_ASSIGN_OR_RETURN(has_row, metrics->Step());
        if (!has_row) break;
        runs[index[metrics->Int(0)]].data.metrics.push_back(
            {std::string(metrics->Text(1)), LoadedValue(metrics->Double(2), metrics->Int(3) != 0),
             metrics->Int(4), metrics->Int(5)});
      }
    }
    {
      MLTF_ASSIGN_OR_RETURN(
          inputs,
          db.Prepare(fmt::format(
              "SELECT i.run_key, d.dataset_key, d.name, d.digest, d.source_type, d.source, "
              "d.schema, d.profile FROM inputs i JOIN datasets d ON d.dataset_key = i.dataset_key "
              "WHERE i.run_key IN ({}) ORDER BY i.run_key, d.dataset_key",
              placeholders)));
      bind_keys(*inputs);
      // (run_key, dataset_key) -> (run index, input index); indices survive vector growth.
      std::map<std::pair<std::int64_t, std::int64_t>, std::pair<std::size_t, std::size_t>> by_key;
      while (true) {
        MLTF_ASSIGN_OR_RETURN(has_row, inputs->Step());
        if (!has_row) break;
        DatasetInput input;
        input.dataset.name = inputs->Text(2);
        input.dataset.digest = inputs->Text(3);
        input.dataset.source_type = inputs->Text(4);
        input.dataset.source = inputs->Text(5);
        if (!inputs->IsNull(6)) input.dataset.schema = std::string(inputs->Text(6));
        if (!inputs->IsNull(7)) input.dataset.profile = std::string(inputs->Text(7));
        std::size_t run_idx = index[inputs->Int(0)];
        runs[run_idx].inputs.push_back(std::move(input));
        by_key[{inputs->Int(0), inputs->Int(1)}] = {run_idx, runs[run_idx].inputs.size() - 1};
      }
      if (!by_key.empty()) {
        MLTF_ASSIGN_OR_RETURN(
            input_tags,
            db.Prepare(fmt::format("SELECT run_key, dataset_key, key, value FROM input_tags "
                                   "WHERE run_key IN ({})",
                                   placeholders)));
        bind_keys(*input_tags);
        while (true) {
          MLTF_ASSIGN_OR_RETURN(has_row, input_tags->Step());
          if (!has_row) break;
          auto found = by_key.find({input_tags->Int(0), input_tags->Int(1)});
          if (found == by_key.end()) continue;
          auto [run_idx, input_idx] = found->second;
          runs[run_idx].inputs[input_idx].tags.push_back(
              {std::string(input_tags->Text(2)), std::string(input_tags->Text(3))});
        }
      }
    }
  }
  return {};
}

Result<void> UpsertTag(SqlConnection& db, std::int64_t run_key, const Tag& tag) {
  MLTF_ASSIGN_OR_RETURN(
      upsert, db.Prepare("INSERT INTO tags (run_key, key, value) VALUES (?, ?, ?) "
                         "ON CONFLICT (run_key, key) DO UPDATE SET value = excluded.value"));
  upsert->BindInt(1, run_key);
  upsert->BindText(2, tag.key);
  upsert->BindText(3, tag.value);
  MLTF_TRY(upsert->Run());
  if (tag.key == kRunNameTag) {
    // The run's name and its mlflow.runName tag stay in step, as in MLflow.
    MLTF_ASSIGN_OR_RETURN(rename, db.Prepare("UPDATE runs SET name = ? WHERE run_key = ?"));
    rename->BindText(1, tag.value);
    rename->BindInt(2, run_key);
    MLTF_TRY(rename->Run());
  }
  return {};
}

Result<void> InsertParams(SqlConnection& db, std::int64_t run_key, std::string_view run_id,
                          const std::vector<Param>& params) {
  for (const auto& param : params) {
    MLTF_ASSIGN_OR_RETURN(insert, db.Prepare("INSERT INTO params (run_key, key, value) "
                                             "VALUES (?, ?, ?) ON CONFLICT DO NOTHING"));
    insert->BindInt(1, run_key);
    insert->BindText(2, param.key);
    insert->BindText(3, param.value);
    MLTF_TRY(insert->Run());
    if (db.ChangedRows() > 0) continue;
    MLTF_ASSIGN_OR_RETURN(existing,
                          db.Prepare("SELECT value FROM params WHERE run_key = ? AND key = ?"));
    existing->BindInt(1, run_key);
    existing->BindText(2, param.key);
    MLTF_ASSIGN_OR_RETURN(has_row, existing->Step());
    if (has_row && existing->Text(0) != param.value) {
      return Fail(Error::InvalidParameter(fmt::format(
          "Changing param values is not allowed. Param with key='{}' was already logged with "
          "value='{}' for run ID='{}'. Attempted logging new value '{}'.",
          param.key, existing->Text(0), run_id, param.value)));
    }
  }
  return {};
}

Result<void> InsertMetrics(SqlConnection& db, std::int64_t run_key,
                           const std::vector<Metric>& metrics) {
  struct Latest {
    double value;
    bool is_nan;
    std::int64_t timestamp;
    std::int64_t step;
  };
  // The newest point per key within the batch, so latest_metrics is written once per key.
  std::unordered_map<std::string_view, Latest> latest;
  MLTF_ASSIGN_OR_RETURN(insert, db.Prepare("INSERT INTO metrics (run_key, key, step, timestamp, "
                                           "value, is_nan) VALUES (?, ?, ?, ?, ?, ?) "
                                           "ON CONFLICT DO NOTHING"));
  for (const auto& metric : metrics) {
    auto [value, is_nan] = StoredValue(metric.value);
    insert->BindInt(1, run_key);
    insert->BindText(2, metric.key);
    insert->BindInt(3, metric.step);
    insert->BindInt(4, metric.timestamp);
    insert->BindDouble(5, value);
    insert->BindInt(6, is_nan ? 1 : 0);
    MLTF_TRY(insert->Run());
    insert->Reset();
    Latest candidate{value, is_nan, metric.timestamp, metric.step};
    auto [slot, inserted] = latest.emplace(metric.key, candidate);
    if (!inserted && std::tie(candidate.step, candidate.timestamp, candidate.value) >
                         std::tie(slot->second.step, slot->second.timestamp, slot->second.value)) {
      slot->second = candidate;
    }
  }
  MLTF_ASSIGN_OR_RETURN(
      upsert,
      db.Prepare("INSERT INTO latest_metrics (run_key, key, value, is_nan, timestamp, step) "
                 "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_key, key) DO UPDATE SET "
                 "value = excluded.value, is_nan = excluded.is_nan, "
                 "timestamp = excluded.timestamp, step = excluded.step "
                 "WHERE (excluded.step, excluded.timestamp, excluded.value) > "
                 "(latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)"));
  for (const auto& [key, point] : latest) {
    upsert->BindInt(1, run_key);
    upsert->BindText(2, key);
    upsert->BindDouble(3, point.value);
    upsert->BindInt(4, point.is_nan ? 1 : 0);
    upsert->BindInt(5, point.timestamp);
    upsert->BindInt(6, point.step);
    MLTF_TRY(upsert->Run());
    upsert->Reset();
  }
  return {};
}

// The writes of the hot endpoints, each run inside a write transaction by both the synchronous
// and the asynchronous variant of its store method.

/// Logs params, tags and metrics to an active run (LogBatch).
Result<void> WriteRunData(SqlConnection& db, std::string_view run_id,
                          const std::vector<Metric>& metrics, const std::vector<Param>& params,
                          const std::vector<Tag>& tags) {
  MLTF_ASSIGN_OR_RETURN(run_key, FindActiveRunKey(db, run_id));
  MLTF_TRY(InsertParams(db, run_key, run_id, params));
  for (const auto& tag : tags) MLTF_TRY(UpsertTag(db, run_key, tag));
  if (!metrics.empty()) MLTF_TRY(InsertMetrics(db, run_key, metrics));
  return {};
}

/// Inserts a run into experiment `experiment_key` and reads it back in the same transaction,
/// so the answer is the run as stored (CreateRun).
Result<Run> InsertRun(SqlConnection& db, const NewRun& run, std::int64_t experiment_key) {
  MLTF_ASSIGN_OR_RETURN(find,
                        db.Prepare("SELECT lifecycle_stage, artifact_location FROM experiments "
                                   "WHERE experiment_id = ?"));
  find->BindInt(1, experiment_key);
  MLTF_ASSIGN_OR_RETURN(has_row, find->Step());
  if (!has_row) return Fail(NoExperiment(run.experiment_id));
  if (find->Text(0) != "active") {
    return Fail(Error::InvalidParameter(
        fmt::format("The experiment {} must be in the 'active' state. Current state is deleted.",
                    run.experiment_id)));
  }
  std::string artifact_uri = AppendToUri(AppendToUri(find->Text(1), run.run_id), "artifacts");
  MLTF_ASSIGN_OR_RETURN(
      insert, db.Prepare("INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, "
                         "start_time, end_time, artifact_uri, lifecycle_stage) "
                         "VALUES (?, ?, ?, ?, 'RUNNING', ?, NULL, ?, 'active')"));
  insert->BindText(1, run.run_id);
  insert->BindInt(2, experiment_key);
  insert->BindText(3, run.run_name);
  insert->BindText(4, run.user_id);
  if (run.start_time) {
    insert->BindInt(5, *run.start_time);
  } else {
    insert->BindNull(5);
  }
  insert->BindText(6, artifact_uri);
  MLTF_TRY(insert->Run());
  std::int64_t run_key = db.LastInsertId();
  for (const auto& tag : run.tags) MLTF_TRY(UpsertTag(db, run_key, tag));
  std::vector<RunRow> rows;
  {
    MLTF_ASSIGN_OR_RETURN(row, FindRun(db, run.run_id));
    rows.push_back(std::move(row));
  }
  std::vector<Run> runs;
  MLTF_TRY(LoadRunData(db, rows, runs));
  return std::move(runs.front());
}

/// Changes an active run's status, end time and name (UpdateRun).
Result<RunInfo> ApplyRunUpdate(SqlConnection& db, std::string_view run_id,
                               const RunUpdate& update) {
  MLTF_ASSIGN_OR_RETURN(run, FindActiveRun(db, run_id));
  if (update.status) run.info.status = *update.status;
  if (update.end_time) run.info.end_time = *update.end_time;
  MLTF_ASSIGN_OR_RETURN(write,
                        db.Prepare("UPDATE runs SET status = ?, end_time = ? WHERE run_key = ?"));
  write->BindText(1, RunStatusName(run.info.status));
  if (run.info.end_time) {
    write->BindInt(2, *run.info.end_time);
  } else {
    write->BindNull(2);
  }
  write->BindInt(3, run.run_key);
  MLTF_TRY(write->Run());
  if (update.run_name && !update.run_name->empty()) {
    run.info.run_name = *update.run_name;
    MLTF_TRY(UpsertTag(db, run.run_key, Tag{std::string(kRunNameTag), *update.run_name}));
  }
  return std::move(run.info);
}

/// Runs `work` (a callable `Result<T>(SqlConnection&)`) as one write and waits for its commit:
/// the synchronous face of a write whose asynchronous variant queues the same `work`.
template <typename W>
auto WriteAndWait(Database& database, W&& work) -> std::invoke_result_t<W&, SqlConnection&> {
  std::optional<std::invoke_result_t<W&, SqlConnection&>> outcome;
  MLTF_TRY(database.Write([&](SqlConnection& db) -> Result<void> {
    outcome.emplace(work(db));
    if (!*outcome) return Fail(outcome->error());
    return {};
  }));
  return std::move(*outcome);
}

}  // namespace

std::string AppendToUri(std::string_view root, std::string_view segment) {
  while (root.size() > 1 && root.back() == '/') root.remove_suffix(1);
  if (root.ends_with(':')) return fmt::format("{}/{}", root, segment);  // "mlflow-artifacts:/"
  return fmt::format("{}/{}", root, segment);
}

Result<std::unique_ptr<SqlTrackingStore>> SqlTrackingStore::Open(
    std::unique_ptr<Database> database, std::string default_artifact_root) {
  std::unique_ptr<SqlTrackingStore> store(
      new SqlTrackingStore(std::move(database), std::move(default_artifact_root)));
  std::string location = AppendToUri(store->artifact_root_, "0");
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  MLTF_TRY(store->database_->Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(
        insert, db.Prepare("INSERT INTO experiments (experiment_id, name, artifact_location, "
                           "lifecycle_stage, creation_time, last_update_time) "
                           "VALUES (0, 'Default', ?, 'active', ?, ?) ON CONFLICT DO NOTHING"));
    insert->BindText(1, location);
    insert->BindInt(2, now);
    insert->BindInt(3, now);
    return insert->Run();
  }));
  return store;
}

Result<std::string> SqlTrackingStore::CreateExperiment(const NewExperiment& experiment) {
  std::string experiment_id;
  MLTF_TRY(database_->Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(
        insert, db.Prepare("INSERT INTO experiments (name, artifact_location, lifecycle_stage, "
                           "creation_time, last_update_time) VALUES (?, ?, 'active', ?, ?)"));
    insert->BindText(1, experiment.name);
    insert->BindText(2, experiment.artifact_location.value_or(""));
    insert->BindInt(3, experiment.now);
    insert->BindInt(4, experiment.now);
    if (auto inserted = insert->Run(); !inserted) {
      if (inserted.error().code == ErrorCode::RESOURCE_ALREADY_EXISTS) {
        return Fail(Error::ResourceAlreadyExists(
            fmt::format("Experiment(name={}) already exists.", experiment.name)));
      }
      return inserted;
    }
    std::int64_t id = db.LastInsertId();
    experiment_id = std::to_string(id);
    if (!experiment.artifact_location || experiment.artifact_location->empty()) {
      MLTF_ASSIGN_OR_RETURN(
          locate,
          db.Prepare("UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?"));
      locate->BindText(1, AppendToUri(artifact_root_, experiment_id));
      locate->BindInt(2, id);
      MLTF_TRY(locate->Run());
    }
    for (const auto& tag : experiment.tags) {
      MLTF_ASSIGN_OR_RETURN(
          tag_insert, db.Prepare("INSERT INTO experiment_tags (experiment_id, key, value) VALUES "
                                 "(?, ?, ?) ON CONFLICT (experiment_id, key) DO UPDATE SET "
                                 "value = excluded.value"));
      tag_insert->BindInt(1, id);
      tag_insert->BindText(2, tag.key);
      tag_insert->BindText(3, tag.value);
      MLTF_TRY(tag_insert->Run());
    }
    return {};
  }));
  return experiment_id;
}

Result<Experiment> SqlTrackingStore::GetExperiment(std::string_view experiment_id) {
  auto id = ParseId(experiment_id);
  if (!id) return Fail(NoExperiment(experiment_id));
  Experiment experiment;
  MLTF_TRY(database_->Read([&](SqlConnection& db) -> Result<void> {
    static const std::string kSql =
        fmt::format("SELECT {} FROM experiments WHERE experiment_id = ?", kExperimentColumns);
    MLTF_ASSIGN_OR_RETURN(query, db.Prepare(kSql));
    query->BindInt(1, *id);
    MLTF_ASSIGN_OR_RETURN(has_row, query->Step());
    if (!has_row) return Fail(NoExperiment(experiment_id));
    experiment = ReadExperiment(*query);
    return LoadExperimentTags(db, *id, experiment);
  }));
  return experiment;
}

Result<Experiment> SqlTrackingStore::GetExperimentByName(std::string_view name) {
  Experiment experiment;
  MLTF_TRY(database_->Read([&](SqlConnection& db) -> Result<void> {
    static const std::string kSql =
        fmt::format("SELECT {} FROM experiments WHERE name = ?", kExperimentColumns);
    MLTF_ASSIGN_OR_RETURN(query, db.Prepare(kSql));
    query->BindText(1, name);
    MLTF_ASSIGN_OR_RETURN(has_row, query->Step());
    if (!has_row) {
      return Fail(Error::ResourceDoesNotExist(
          fmt::format("Could not find experiment with name '{}'", name)));
    }
    experiment = ReadExperiment(*query);
    return LoadExperimentTags(db, query->Int(0), experiment);
  }));
  return experiment;
}

namespace {

/// Sets an experiment's lifecycle stage and moves its runs with it. Deleting marks the active
/// runs deleted at `now`; restoring revives the runs deleted at the same moment as the
/// experiment (runs deleted on their own before stay deleted).
Result<void> MoveExperiment(SqlConnection& db, std::string_view experiment_id, bool deleting,
                            std::int64_t now) {
  auto id = ParseId(experiment_id);
  if (!id) return Fail(NoExperiment(experiment_id));
  MLTF_ASSIGN_OR_RETURN(find,
                        db.Prepare("SELECT lifecycle_stage, last_update_time FROM experiments "
                                   "WHERE experiment_id = ?"));
  find->BindInt(1, *id);
  MLTF_ASSIGN_OR_RETURN(has_row, find->Step());
  if (!has_row) return Fail(NoExperiment(experiment_id));
  bool active = find->Text(0) == "active";
  std::int64_t deleted_at = find->Int(1);
  if (!deleting && active) {
    return Fail(Error::InvalidParameter(fmt::format(
        "Cannot restore an experiment that is not deleted: experiment id={}", experiment_id)));
  }
  if (deleting && !active) {
    return Fail(Error::InvalidParameter(fmt::format(
        "Cannot delete an already deleted experiment: experiment id={}", experiment_id)));
  }
  MLTF_ASSIGN_OR_RETURN(
      update, db.Prepare("UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? "
                         "WHERE experiment_id = ?"));
  update->BindText(1, deleting ? "deleted" : "active");
  update->BindInt(2, now);
  update->BindInt(3, *id);
  MLTF_TRY(update->Run());
  if (deleting) {
    MLTF_ASSIGN_OR_RETURN(
        runs, db.Prepare("UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ? "
                         "WHERE experiment_id = ? AND lifecycle_stage = 'active'"));
    runs->BindInt(1, now);
    runs->BindInt(2, *id);
    return runs->Run();
  }
  MLTF_ASSIGN_OR_RETURN(
      runs, db.Prepare("UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL "
                       "WHERE experiment_id = ? AND lifecycle_stage = 'deleted' "
                       "AND deleted_time = ?"));
  runs->BindInt(1, *id);
  runs->BindInt(2, deleted_at);
  return runs->Run();
}

}  // namespace

Result<void> SqlTrackingStore::DeleteExperiment(std::string_view experiment_id, std::int64_t now) {
  return database_->Write(
      [&](SqlConnection& db) { return MoveExperiment(db, experiment_id, true, now); });
}

Result<void> SqlTrackingStore::RestoreExperiment(std::string_view experiment_id, std::int64_t now) {
  return database_->Write(
      [&](SqlConnection& db) { return MoveExperiment(db, experiment_id, false, now); });
}

Result<void> SqlTrackingStore::RenameExperiment(std::string_view experiment_id,
                                                std::string_view new_name, std::int64_t now) {
  auto id = ParseId(experiment_id);
  if (!id) return Fail(NoExperiment(experiment_id));
  return database_->Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(
        find, db.Prepare("SELECT lifecycle_stage FROM experiments WHERE experiment_id = ?"));
    find->BindInt(1, *id);
    MLTF_ASSIGN_OR_RETURN(has_row, find->Step());
    if (!has_row) return Fail(NoExperiment(experiment_id));
    if (find->Text(0) != "active") {
      return Fail(Error::InvalidState("Cannot rename a non-active experiment."));
    }
    MLTF_ASSIGN_OR_RETURN(update,
                          db.Prepare("UPDATE experiments SET name = ?, last_update_time = ? "
                                     "WHERE experiment_id = ?"));
    update->BindText(1, new_name);
    update->BindInt(2, now);
    update->BindInt(3, *id);
    if (auto renamed = update->Run(); !renamed) {
      if (renamed.error().code == ErrorCode::RESOURCE_ALREADY_EXISTS) {
        return Fail(Error::ResourceAlreadyExists(
            fmt::format("Experiment(name={}) already exists.", new_name)));
      }
      return renamed;
    }
    return {};
  });
}

Result<void> SqlTrackingStore::SetExperimentTag(std::string_view experiment_id, const Tag& tag) {
  auto id = ParseId(experiment_id);
  if (!id) return Fail(NoExperiment(experiment_id));
  return database_->Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(
        find, db.Prepare("SELECT lifecycle_stage FROM experiments WHERE experiment_id = ?"));
    find->BindInt(1, *id);
    MLTF_ASSIGN_OR_RETURN(has_row, find->Step());
    if (!has_row) return Fail(NoExperiment(experiment_id));
    if (find->Text(0) != "active") {
      return Fail(Error::InvalidParameter(
          fmt::format("The experiment {} must be in the 'active' state. Current state is deleted.",
                      experiment_id)));
    }
    MLTF_ASSIGN_OR_RETURN(
        upsert, db.Prepare("INSERT INTO experiment_tags (experiment_id, key, value) VALUES "
                           "(?, ?, ?) ON CONFLICT (experiment_id, key) DO UPDATE SET "
                           "value = excluded.value"));
    upsert->BindInt(1, *id);
    upsert->BindText(2, tag.key);
    upsert->BindText(3, tag.value);
    return upsert->Run();
  });
}

Result<Run> SqlTrackingStore::CreateRun(const NewRun& run) {
  auto experiment_key = ParseId(run.experiment_id);
  if (!experiment_key) return Fail(NoExperiment(run.experiment_id));
  return WriteAndWait(*database_,
                      [&](SqlConnection& db) { return InsertRun(db, run, *experiment_key); });
}

void SqlTrackingStore::CreateRunAsync(NewRun run, Callback<Run> done) {
  auto experiment_key = ParseId(run.experiment_id);
  if (!experiment_key) return done(Fail(NoExperiment(run.experiment_id)));
  database_->WriteAsync([run = std::move(run), experiment_key = *experiment_key](
                            SqlConnection& db) { return InsertRun(db, run, experiment_key); },
                        std::move(done));
}

Result<Run> SqlTrackingStore::GetRun(std::string_view run_id) {
  std::vector<Run> runs;
  MLTF_TRY(database_->Read([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(row, FindRun(db, run_id));
    std::vector<RunRow> rows;
    rows.push_back(std::move(row));
    return LoadRunData(db, rows, runs);
  }));
  return std::move(runs.front());
}

Result<RunInfo> SqlTrackingStore::UpdateRun(std::string_view run_id, const RunUpdate& update) {
  return WriteAndWait(*database_,
                      [&](SqlConnection& db) { return ApplyRunUpdate(db, run_id, update); });
}

void SqlTrackingStore::UpdateRunAsync(std::string run_id, RunUpdate update,
                                      Callback<RunInfo> done) {
  database_->WriteAsync([run_id = std::move(run_id), update = std::move(update)](
                            SqlConnection& db) { return ApplyRunUpdate(db, run_id, update); },
                        std::move(done));
}

Result<void> SqlTrackingStore::DeleteRun(std::string_view run_id, std::int64_t now) {
  return database_->Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(run, FindRun(db, run_id));
    MLTF_ASSIGN_OR_RETURN(
        update, db.Prepare("UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ? "
                           "WHERE run_key = ?"));
    update->BindInt(1, now);
    update->BindInt(2, run.run_key);
    return update->Run();
  });
}

Result<void> SqlTrackingStore::RestoreRun(std::string_view run_id) {
  return database_->Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(run, FindRun(db, run_id));
    MLTF_ASSIGN_OR_RETURN(
        update, db.Prepare("UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL "
                           "WHERE run_key = ?"));
    update->BindInt(1, run.run_key);
    return update->Run();
  });
}

Result<void> SqlTrackingStore::LogBatch(std::string_view run_id, const std::vector<Metric>& metrics,
                                        const std::vector<Param>& params,
                                        const std::vector<Tag>& tags) {
  return database_->Write(
      [&](SqlConnection& db) { return WriteRunData(db, run_id, metrics, params, tags); });
}

void SqlTrackingStore::LogBatchAsync(std::string run_id, std::vector<Metric> metrics,
                                     std::vector<Param> params, std::vector<Tag> tags,
                                     Callback<void> done) {
  database_->WriteAsync(
      [run_id = std::move(run_id), metrics = std::move(metrics), params = std::move(params),
       tags = std::move(tags)](SqlConnection& db) {
        return WriteRunData(db, run_id, metrics, params, tags);
      },
      std::move(done));
}

Result<void> SqlTrackingStore::DeleteTag(std::string_view run_id, std::string_view key) {
  return database_->Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(run, FindActiveRun(db, run_id));
    MLTF_ASSIGN_OR_RETURN(remove, db.Prepare("DELETE FROM tags WHERE run_key = ? AND key = ?"));
    remove->BindInt(1, run.run_key);
    remove->BindText(2, key);
    MLTF_TRY(remove->Run());
    if (db.ChangedRows() == 0) {
      return Fail(Error::ResourceDoesNotExist(
          fmt::format("No tag with name: {} in run with id {}", key, run_id)));
    }
    return {};
  });
}

Result<void> SqlTrackingStore::RecordLoggedModel(std::string_view run_id,
                                                 std::string_view model_json) {
  return database_->Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(run, FindActiveRun(db, run_id));
    MLTF_ASSIGN_OR_RETURN(find, db.Prepare("SELECT value FROM tags WHERE run_key = ? AND key = ?"));
    find->BindInt(1, run.run_key);
    find->BindText(2, kLoggedModelsTag);
    MLTF_ASSIGN_OR_RETURN(has_row, find->Step());
    std::string history = has_row ? std::string(find->Text(0)) : std::string();
    // The tag holds a JSON list; append without re-serialising what is there.
    while (!history.empty() && (history.back() == ']' || history.back() == ' ')) history.pop_back();
    history = history.empty() || history == "[" ? fmt::format("[{}]", model_json)
                                                : fmt::format("{}, {}]", history, model_json);
    return UpsertTag(db, run.run_key, Tag{std::string(kLoggedModelsTag), history});
  });
}

Result<void> SqlTrackingStore::LogInputs(std::string_view run_id,
                                         const std::vector<DatasetInput>& inputs) {
  return database_->Write([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(run, FindActiveRun(db, run_id));
    auto experiment_key = ParseId(run.info.experiment_id).value_or(0);
    for (const auto& input : inputs) {
      MLTF_ASSIGN_OR_RETURN(
          insert, db.Prepare("INSERT INTO datasets (experiment_id, name, digest, source_type, "
                             "source, schema, profile) VALUES (?, ?, ?, ?, ?, ?, ?) "
                             "ON CONFLICT DO NOTHING"));
      const Dataset& dataset = input.dataset;
      insert->BindInt(1, experiment_key);
      insert->BindText(2, dataset.name);
      insert->BindText(3, dataset.digest);
      insert->BindText(4, dataset.source_type);
      insert->BindText(5, dataset.source);
      dataset.schema ? insert->BindText(6, *dataset.schema) : insert->BindNull(6);
      dataset.profile ? insert->BindText(7, *dataset.profile) : insert->BindNull(7);
      MLTF_TRY(insert->Run());
      MLTF_ASSIGN_OR_RETURN(
          find, db.Prepare("SELECT dataset_key FROM datasets WHERE experiment_id = ? AND "
                           "name = ? AND digest = ?"));
      find->BindInt(1, experiment_key);
      find->BindText(2, dataset.name);
      find->BindText(3, dataset.digest);
      MLTF_ASSIGN_OR_RETURN(found, find->Step());
      if (!found) return Fail(Error::Internal("Dataset vanished while logging inputs."));
      std::int64_t dataset_key = find->Int(0);
      MLTF_ASSIGN_OR_RETURN(link,
                            db.Prepare("INSERT INTO inputs (run_key, dataset_key) VALUES (?, ?) "
                                       "ON CONFLICT DO NOTHING"));
      link->BindInt(1, run.run_key);
      link->BindInt(2, dataset_key);
      MLTF_TRY(link->Run());
      for (const auto& tag : input.tags) {
        MLTF_ASSIGN_OR_RETURN(
            tag_insert, db.Prepare("INSERT INTO input_tags (run_key, dataset_key, key, value) "
                                   "VALUES (?, ?, ?, ?) ON CONFLICT (run_key, dataset_key, key) "
                                   "DO UPDATE SET value = excluded.value"));
        tag_insert->BindInt(1, run.run_key);
        tag_insert->BindInt(2, dataset_key);
        tag_insert->BindText(3, tag.key);
        tag_insert->BindText(4, tag.value);
        MLTF_TRY(tag_insert->Run());
      }
    }
    return {};
  });
}

Result<MetricHistoryPage> SqlTrackingStore::GetMetricHistory(const MetricHistoryQuery& query) {
  MetricHistoryPage page;
  MLTF_TRY(database_->Read([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(run, FindRun(db, query.run_id));
    MLTF_ASSIGN_OR_RETURN(points,
                          db.Prepare("SELECT value, is_nan, timestamp, step FROM metrics "
                                     "WHERE run_key = ? AND key = ? ORDER BY step, timestamp "
                                     "LIMIT ? OFFSET ?"));
    points->BindInt(1, run.run_key);
    points->BindText(2, query.metric_key);
    // One more than asked tells whether another page follows.
    points->BindInt(3, query.max_results ? *query.max_results + 1 : -1);
    points->BindInt(4, query.offset);
    while (true) {
      MLTF_ASSIGN_OR_RETURN(has_row, points->Step());
      if (!has_row) break;
      page.points.push_back(
          {LoadedValue(points->Double(0), points->Int(1) != 0), points->Int(2), points->Int(3)});
    }
    if (query.max_results && page.points.size() > static_cast<std::size_t>(*query.max_results)) {
      page.points.pop_back();
      page.more = true;
    }
    return {};
  }));
  return page;
}

Result<std::vector<DatasetSummary>> SqlTrackingStore::SearchDatasets(
    const std::vector<std::string>& experiment_ids) {
  std::vector<DatasetSummary> summaries;
  std::vector<std::int64_t> ids;
  for (const auto& id : experiment_ids) {
    if (auto parsed = ParseId(id)) ids.push_back(*parsed);
  }
  if (ids.empty()) return summaries;
  MLTF_TRY(database_->Read([&](SqlConnection& db) -> Result<void> {
    std::string placeholders;
    for (std::size_t idx = 0; idx < ids.size(); ++idx) placeholders += idx == 0 ? "?" : ",?";
    MLTF_ASSIGN_OR_RETURN(
        query,
        db.PrepareOnce(fmt::format(
            "SELECT DISTINCT d.experiment_id, d.name, d.digest, t.value FROM datasets d "
            "JOIN inputs i ON i.dataset_key = d.dataset_key "
            "LEFT JOIN input_tags t ON t.run_key = i.run_key AND t.dataset_key = d.dataset_key "
            "AND t.key = 'mlflow.data.context' WHERE d.experiment_id IN ({}) "
            "ORDER BY d.experiment_id, d.name, d.digest, t.value LIMIT 1000",
            placeholders)));
    for (std::size_t idx = 0; idx < ids.size(); ++idx) {
      query->BindInt(static_cast<int>(idx + 1), ids[idx]);
    }
    while (true) {
      MLTF_ASSIGN_OR_RETURN(has_row, query->Step());
      if (!has_row) break;
      DatasetSummary summary{std::to_string(query->Int(0)), std::string(query->Text(1)),
                             std::string(query->Text(2)), std::nullopt};
      if (!query->IsNull(3)) summary.context = std::string(query->Text(3));
      summaries.push_back(std::move(summary));
    }
    return {};
  }));
  return summaries;
}

namespace {

std::vector<std::string> StagesOf(ViewType view_type) {
  switch (view_type) {
    case ViewType::ACTIVE_ONLY:
      return {"active"};
    case ViewType::DELETED_ONLY:
      return {"deleted"};
    case ViewType::ALL:
      return {"active", "deleted"};
  }
  return {"active"};
}

}  // namespace

Result<std::vector<Experiment>> SqlTrackingStore::SearchExperiments(const ExperimentQuery& query) {
  MLTF_ASSIGN_OR_RETURN(filter, search::ParseExperimentFilter(query.filter));
  MLTF_ASSIGN_OR_RETURN(order_by, search::ParseExperimentOrderByList(query.order_by));
  MLTF_ASSIGN_OR_RETURN(compiled, CompileExperimentSearch(filter, order_by));
  auto stages = StagesOf(query.view_type);
  SqlFragment statement = ExperimentSearchStatement(
      "e.experiment_id, e.name, e.artifact_location, "
      "e.lifecycle_stage, e.creation_time, e.last_update_time",
      compiled, stages, query.max_results, query.offset,
      query.restriction ? &*query.restriction : nullptr);
  std::vector<Experiment> experiments;
  MLTF_TRY(database_->Read([&](SqlConnection& db) -> Result<void> {
    MLTF_ASSIGN_OR_RETURN(rows, db.PrepareOnce(statement.sql));
    rows->BindAll(statement.params);
    while (true) {
      MLTF_ASSIGN_OR_RETURN(has_row, rows->Step());
      if (!has_row) break;
      experiments.push_back(ReadExperiment(*rows));
    }
    for (auto& experiment : experiments) {
      MLTF_TRY(LoadExperimentTags(db, *ParseId(experiment.experiment_id), experiment));
    }
    return {};
  }));
  return experiments;
}

Result<std::vector<Run>> SqlTrackingStore::SearchRuns(const RunQuery& query) {
  MLTF_ASSIGN_OR_RETURN(filter, search::ParseRunFilter(query.filter));
  MLTF_ASSIGN_OR_RETURN(order_by, search::ParseRunOrderByList(query.order_by));
  MLTF_ASSIGN_OR_RETURN(compiled, CompileRunSearch(filter, order_by));
  std::vector<std::int64_t> experiment_ids;
  for (const auto& id : query.experiment_ids) {
    // Ids that are not numbers name no experiment: they select nothing, as in MLflow.
    if (auto parsed = ParseId(id)) experiment_ids.push_back(*parsed);
  }
  auto stages = StagesOf(query.view_type);
  static const std::string kColumns = std::string(kRunColumns);
  SqlFragment statement = RunSearchStatement(kColumns, compiled, experiment_ids, stages,
                                             query.max_results, query.offset);
  std::vector<Run> runs;
  MLTF_TRY(database_->Read([&](SqlConnection& db) -> Result<void> {
    std::vector<RunRow> rows;
    {
      MLTF_ASSIGN_OR_RETURN(select, db.PrepareOnce(statement.sql));
      select->BindAll(statement.params);
      while (true) {
        MLTF_ASSIGN_OR_RETURN(has_row, select->Step());
        if (!has_row) break;
        rows.push_back(ReadRunRow(*select));
      }
    }
    return LoadRunData(db, rows, runs);
  }));
  return runs;
}

}  // namespace mltf::tracking::store::sql
