// migrations.cpp - the DDL of each schema version.
//
// Layout notes (why the tables look the way they do):
// - Runs have an integer `run_key` used by every child table: child rows stay small and their
//   primary keys cluster by run, so "everything about run R" is one range scan.
// - Child tables are WITHOUT ROWID with the natural key as primary key (clustered storage).
// - `metrics` holds every point; its primary key (run, key, step, timestamp, value, is_nan)
//   orders a history by step and makes an exactly repeated point a no-op, as in MLflow.
// - `latest_metrics` holds one row per (run, key): the point with the largest step, then the
//   largest timestamp, then the largest value. Search and run reads never touch `metrics`.
// - NaN is stored as value 0 with is_nan = 1 (SQL engines disagree on NaN), ±inf as ±DBL_MAX.
#include "tracking/store/sql/schema/migrations.hpp"

#include <array>

namespace mltf::tracking::store::sql {
namespace {

constexpr std::string_view kInitialSchema = R"sql(
CREATE TABLE experiments (
  experiment_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  artifact_location TEXT NOT NULL,
  lifecycle_stage TEXT NOT NULL,
  creation_time INTEGER NOT NULL,
  last_update_time INTEGER NOT NULL
);
CREATE TABLE experiment_tags (
  experiment_id INTEGER NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (experiment_id, key)
) WITHOUT ROWID;
CREATE TABLE runs (
  run_key INTEGER PRIMARY KEY,
  run_uuid TEXT NOT NULL UNIQUE,
  experiment_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  user_id TEXT NOT NULL,
  status TEXT NOT NULL,
  start_time INTEGER,
  end_time INTEGER,
  artifact_uri TEXT NOT NULL,
  lifecycle_stage TEXT NOT NULL,
  deleted_time INTEGER
);
CREATE INDEX runs_by_experiment ON runs (experiment_id, start_time, run_uuid);
CREATE TABLE params (
  run_key INTEGER NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run_key, key)
) WITHOUT ROWID;
CREATE INDEX params_by_key_value ON params (key, value, run_key);
CREATE TABLE tags (
  run_key INTEGER NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run_key, key)
) WITHOUT ROWID;
CREATE INDEX tags_by_key_value ON tags (key, value, run_key);
CREATE TABLE metrics (
  run_key INTEGER NOT NULL,
  key TEXT NOT NULL,
  step INTEGER NOT NULL,
  timestamp INTEGER NOT NULL,
  value REAL NOT NULL,
  is_nan INTEGER NOT NULL,
  PRIMARY KEY (run_key, key, step, timestamp, value, is_nan)
) WITHOUT ROWID;
CREATE TABLE latest_metrics (
  run_key INTEGER NOT NULL,
  key TEXT NOT NULL,
  value REAL NOT NULL,
  is_nan INTEGER NOT NULL,
  timestamp INTEGER NOT NULL,
  step INTEGER NOT NULL,
  PRIMARY KEY (run_key, key)
) WITHOUT ROWID;
CREATE INDEX latest_metrics_by_key_value ON latest_metrics (key, is_nan, value, run_key);
CREATE TABLE datasets (
  dataset_key INTEGER PRIMARY KEY,
  experiment_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  digest TEXT NOT NULL,
  source_type TEXT NOT NULL,
  source TEXT NOT NULL,
  schema TEXT,
  profile TEXT,
  UNIQUE (experiment_id, name, digest)
);
CREATE TABLE inputs (
  run_key INTEGER NOT NULL,
  dataset_key INTEGER NOT NULL,
  PRIMARY KEY (run_key, dataset_key)
) WITHOUT ROWID;
CREATE TABLE input_tags (
  run_key INTEGER NOT NULL,
  dataset_key INTEGER NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run_key, dataset_key, key)
) WITHOUT ROWID;
)sql";

// Version 2: MLflow's model registry. Registered models have an integer `model_key` used by every
// child table, so a rename is one UPDATE and child rows stay small. A deleted model version keeps
// its row (stage 'Deleted_Internal', fields redacted) so version numbers are never reused, as in
// MLflow; searches and reads skip such rows.
constexpr std::string_view kRegistrySchema = R"sql(
CREATE TABLE registered_models (
  model_key INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  description TEXT,
  creation_time INTEGER NOT NULL,
  last_updated_time INTEGER NOT NULL
);
CREATE INDEX registered_models_by_update ON registered_models (last_updated_time, name);
CREATE TABLE registered_model_tags (
  model_key INTEGER NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (model_key, key)
) WITHOUT ROWID;
CREATE INDEX registered_model_tags_by_key_value ON registered_model_tags (key, value, model_key);
CREATE TABLE model_versions (
  model_key INTEGER NOT NULL,
  version INTEGER NOT NULL,
  creation_time INTEGER NOT NULL,
  last_updated_time INTEGER NOT NULL,
  description TEXT,
  user_id TEXT,
  current_stage TEXT NOT NULL,
  source TEXT,
  run_id TEXT,
  run_link TEXT,
  status TEXT NOT NULL,
  status_message TEXT,
  PRIMARY KEY (model_key, version)
) WITHOUT ROWID;
CREATE INDEX model_versions_by_stage ON model_versions (model_key, current_stage, version);
CREATE INDEX model_versions_by_run ON model_versions (run_id);
CREATE TABLE model_version_tags (
  model_key INTEGER NOT NULL,
  version INTEGER NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (model_key, version, key)
) WITHOUT ROWID;
CREATE TABLE registered_model_aliases (
  model_key INTEGER NOT NULL,
  alias TEXT NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (model_key, alias)
) WITHOUT ROWID;
)sql";

// Version 3: the gateway's training tasks. A task's truth is its append-only event log
// (`task_events`); the `tasks` row holds the spec and a copy of the derived state so that lists
// and filters need no replay. Both change in the same transaction.
constexpr std::string_view kTaskSchema = R"sql(
CREATE TABLE tasks (
  task_id TEXT NOT NULL PRIMARY KEY,
  user_id TEXT NOT NULL,
  experiment_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  project TEXT NOT NULL,
  entry_point TEXT NOT NULL,
  command TEXT NOT NULL,
  executor TEXT NOT NULL,
  priority INTEGER NOT NULL,
  max_retries INTEGER NOT NULL,
  submitted_at INTEGER NOT NULL,
  spec TEXT NOT NULL,
  state TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  started_at INTEGER,
  ended_at INTEGER,
  exit_code INTEGER,
  reason TEXT NOT NULL,
  event_count INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX tasks_by_submission ON tasks (submitted_at, task_id);
CREATE INDEX tasks_by_state ON tasks (state, submitted_at);
CREATE TABLE task_events (
  task_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  time INTEGER NOT NULL,
  kind TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (task_id, seq)
) WITHOUT ROWID;
)sql";

// Version 4: who may call, and what they may do. API tokens are stored as the SHA-256 of their
// secret part, never as issued; a token is found by its public id and its secret compared in
// constant time. A task's own token names its task, experiment and run (its reach). Permissions
// follow MLflow's auth app: one row per experiment or registered model and principal (a user or
// a group), with READ, EDIT, MANAGE or NO_PERMISSIONS.
constexpr std::string_view kAuthSchema = R"sql(
CREATE TABLE users (
  user_id TEXT NOT NULL PRIMARY KEY,
  is_admin INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE user_groups (
  user_id TEXT NOT NULL,
  group_name TEXT NOT NULL,
  PRIMARY KEY (user_id, group_name)
) WITHOUT ROWID;
CREATE TABLE api_tokens (
  token_id TEXT NOT NULL PRIMARY KEY,
  user_id TEXT NOT NULL,
  secret_sha256 TEXT NOT NULL,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER,
  task_id TEXT,
  experiment_id TEXT,
  run_id TEXT
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id, created_at);
CREATE INDEX api_tokens_by_task ON api_tokens (task_id);
CREATE TABLE experiment_permissions (
  experiment_id INTEGER NOT NULL,
  principal_kind TEXT NOT NULL,
  principal TEXT NOT NULL,
  permission TEXT NOT NULL,
  PRIMARY KEY (experiment_id, principal_kind, principal)
) WITHOUT ROWID;
CREATE INDEX experiment_permissions_by_principal
  ON experiment_permissions (principal_kind, principal, experiment_id);
CREATE TABLE registered_model_permissions (
  name TEXT NOT NULL,
  principal_kind TEXT NOT NULL,
  principal TEXT NOT NULL,
  permission TEXT NOT NULL,
  PRIMARY KEY (name, principal_kind, principal)
) WITHOUT ROWID;
CREATE INDEX registered_model_permissions_by_principal
  ON registered_model_permissions (principal_kind, principal, name);
)sql";

constexpr std::array kMigrations = {
    Migration{1, "experiments, runs, params, tags, metrics, latest metrics, datasets",
              kInitialSchema},
    Migration{2, "model registry: registered models, versions, tags, aliases", kRegistrySchema},
    Migration{3, "gateway tasks and their event log", kTaskSchema},
    Migration{4, "users, API tokens, experiment and registered model permissions", kAuthSchema},
};

}  // namespace

std::span<const Migration> Migrations() { return kMigrations; }

}  // namespace mltf::tracking::store::sql
