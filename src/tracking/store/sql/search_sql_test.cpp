// search_sql_test.cpp - compiles search filters and order_by keys to SQL and runs them against
// an in-memory SQLite database built from the real schema, checking which runs and experiments
// come back in which order (expectations from MLflow 2.9.2's recorded answers where they exist).
#include "tracking/store/sql/search_sql.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <cfloat>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tracking/search/filter_parser.hpp"
#include "tracking/search/order_by.hpp"
#include "tracking/store/sql/schema/migrations.hpp"

namespace mltf::tracking::store::sql {
namespace {

namespace search = ::mltf::tracking::search;
using Strings = std::vector<std::string>;

// ---------------------------------------------------------------------------------------------
// A minimal SQLite harness: failures throw, which GoogleTest reports as a failed test.

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
using Database = std::unique_ptr<sqlite3, DbCloser>;

struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

void Check(sqlite3* db, int rc, const std::string& what) {
  if (rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) {
    throw std::runtime_error(what + ": " + sqlite3_errmsg(db));
  }
}

void Exec(sqlite3* db, const std::string& sql) {
  Check(db, sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), sql);
}

Statement Prepare(sqlite3* db, const SqlFragment& fragment) {
  sqlite3_stmt* raw = nullptr;
  Check(db, sqlite3_prepare_v2(db, fragment.sql.c_str(), -1, &raw, nullptr), fragment.sql);
  Statement statement(raw);
  if (static_cast<std::size_t>(sqlite3_bind_parameter_count(raw)) != fragment.params.size()) {
    throw std::runtime_error("placeholder count differs from parameter count: " + fragment.sql);
  }
  for (std::size_t i = 0; i < fragment.params.size(); ++i) {
    const int index = static_cast<int>(i + 1);
    const SqlValue& value = fragment.params[i];
    int rc = SQLITE_OK;
    if (std::holds_alternative<std::monostate>(value)) {
      rc = sqlite3_bind_null(raw, index);
    } else if (const auto* integer = std::get_if<std::int64_t>(&value)) {
      rc = sqlite3_bind_int64(raw, index, *integer);
    } else if (const auto* real = std::get_if<double>(&value)) {
      rc = sqlite3_bind_double(raw, index, *real);
    } else {
      const std::string& text = std::get<std::string>(value);
      rc = sqlite3_bind_text(raw, index, text.data(), static_cast<int>(text.size()),
                             SQLITE_TRANSIENT);
    }
    Check(db, rc, "bind");
  }
  return statement;
}

void Run(sqlite3* db, const std::string& sql, std::vector<SqlValue> params) {
  Statement statement = Prepare(db, SqlFragment{sql, std::move(params)});
  Check(db, sqlite3_step(statement.get()), sql);
}

// The first column of every row, as text.
Strings QueryStrings(sqlite3* db, const SqlFragment& fragment) {
  Statement statement = Prepare(db, fragment);
  Strings rows;
  while (true) {
    const int rc = sqlite3_step(statement.get());
    Check(db, rc, fragment.sql);
    if (rc == SQLITE_DONE) {
      return rows;
    }
    const unsigned char* text = sqlite3_column_text(statement.get(), 0);
    rows.emplace_back(text == nullptr ? "NULL" : reinterpret_cast<const char*>(text));
  }
}

std::size_t CountPlaceholders(const std::string& sql) {
  return static_cast<std::size_t>(std::count(sql.begin(), sql.end(), '?'));
}

// ---------------------------------------------------------------------------------------------
// The fixture database.

using OptionalTime = std::optional<std::int64_t>;

void InsertExperiment(sqlite3* db, std::int64_t id, const std::string& name,
                      std::int64_t creation_time, const std::string& stage = "active") {
  Run(db, "INSERT INTO experiments VALUES (?, ?, ?, ?, ?, ?)",
      {id, name, std::string("mlflow-artifacts:/") + std::to_string(id), stage, creation_time,
       creation_time});
}

void InsertExperimentTag(sqlite3* db, std::int64_t id, const std::string& key,
                         const std::string& value) {
  Run(db, "INSERT INTO experiment_tags VALUES (?, ?, ?)", {id, key, value});
}

SqlValue Time(OptionalTime time) { return time ? SqlValue(*time) : SqlValue(std::monostate{}); }

void InsertRun(sqlite3* db, std::int64_t run_key, const std::string& uuid,
               std::int64_t experiment_id, const std::string& name, const std::string& status,
               OptionalTime start_time, OptionalTime end_time,
               const std::string& stage = "active") {
  Run(db,
      "INSERT INTO runs (run_key, run_uuid, experiment_id, name, user_id, status, start_time, "
      "end_time, artifact_uri, lifecycle_stage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {run_key, uuid, experiment_id, name, std::string("unknown"), status, Time(start_time),
       Time(end_time), "mlflow-artifacts:/" + uuid, stage});
}

void InsertMetric(sqlite3* db, std::int64_t run_key, const std::string& key, double value,
                  bool is_nan = false) {
  Run(db, "INSERT INTO latest_metrics VALUES (?, ?, ?, ?, ?, ?)",
      {run_key, key, is_nan ? 0.0 : value, std::int64_t{is_nan ? 1 : 0}, std::int64_t{0},
       std::int64_t{0}});
}

void InsertParam(sqlite3* db, std::int64_t run_key, const std::string& key,
                 const std::string& value) {
  Run(db, "INSERT INTO params VALUES (?, ?, ?)", {run_key, key, value});
}

void InsertTag(sqlite3* db, std::int64_t run_key, const std::string& key,
               const std::string& value) {
  Run(db, "INSERT INTO tags VALUES (?, ?, ?)", {run_key, key, value});
}

// Experiment 1 holds the runs of search_runs.filter_metric_gt.json (MLflow 2.9.2), with their
// real run ids; zeta is deleted and delta was never ended. Experiment 2 holds edge cases: NaN,
// infinity, a missing metric, a NULL start time, equal start times, LIKE metacharacters.
// Experiment 3 holds dataset.two_datasets_and_search.json. Experiments 4-23 are those of the
// experiment.search_*.json traces.
Database MakeDatabase() {
  sqlite3* raw = nullptr;
  if (sqlite3_open(":memory:", &raw) != SQLITE_OK) {
    throw std::runtime_error("cannot open SQLite");
  }
  Database db(raw);
  for (const Migration& migration : Migrations()) {
    Exec(db.get(), std::string(migration.statements));
  }
  Exec(db.get(), "PRAGMA case_sensitive_like = ON");
  sqlite3* d = db.get();

  InsertExperiment(d, 1, "runs-conformance", 1);
  const std::int64_t t0 = 1795443864530;
  InsertRun(d, 1, "9783ee57a624444ba38b7bdfad2d7ae1", 1, "alpha-55e773", "FINISHED", t0, t0 + 500);
  InsertRun(d, 2, "f7c5d447be3f4fec988f2683d8217452", 1, "beta-55e773", "FINISHED", t0 + 1000,
            t0 + 1500);
  InsertRun(d, 3, "13b46aaf19184868b85c66cf7fc151e6", 1, "gamma-55e773", "FAILED", t0 + 2000,
            t0 + 2500);
  InsertRun(d, 4, "7a47991042b941c2b882f3dfe11b46fb", 1, "delta-55e773", "RUNNING", t0 + 3000,
            std::nullopt);
  InsertRun(d, 5, "d9204c93df8844d1837c6cfadc871986", 1, "epsilon-55e773", "KILLED", t0 + 4000,
            t0 + 4500);
  InsertRun(d, 6, "50348525d025492396176d7cb163696d", 1, "zeta-55e773", "FINISHED", t0 + 5000,
            t0 + 5500, "deleted");
  const struct {
    std::int64_t run_key;
    std::optional<double> acc, loss;
    const char* opt;
    const char* lr;
    const char* team;
  } conformance_runs[] = {
      {1, 0.9, 0.1, "adam", "0.1", "vision"},
      {2, 0.7, 0.3, "sgd", "0.01", "nlp"},
      {3, 0.4, 0.6, "adam", "0.001", "vision-extra"},
      {4, 0.95, std::nullopt, "rmsprop", "0.05", "Vision"},
      {5, std::nullopt, 0.2, "sgd", "0.2", "audio"},
      {6, 0.99, 0.01, "adam", "0.3", "vision"},
  };
  for (const auto& run : conformance_runs) {
    if (run.acc) {
      InsertMetric(d, run.run_key, "acc", *run.acc);
    }
    if (run.loss) {
      InsertMetric(d, run.run_key, "loss", *run.loss);
    }
    InsertParam(d, run.run_key, "opt", run.opt);
    InsertParam(d, run.run_key, "lr", run.lr);
    InsertTag(d, run.run_key, "team", run.team);
  }

  InsertExperiment(d, 2, "runs-edge-cases", 2);
  InsertRun(d, 11, "bbbb0000000000000000000000000011", 2, "n1-nan", "FINISHED", 100, 150);
  InsertRun(d, 12, "aaaa0000000000000000000000000012", 2, "n2-zero", "FINISHED", 100, 150);
  InsertRun(d, 13, "cccc0000000000000000000000000013", 2, "n3-inf", "FINISHED", 200, 250);
  InsertRun(d, 14, "dddd0000000000000000000000000014", 2, "n4-missing", "FINISHED", 300, 350);
  InsertRun(d, 15, "eeee0000000000000000000000000015", 2, "n5-no-start", "RUNNING", std::nullopt,
            std::nullopt);
  InsertMetric(d, 11, "m", 0, /*is_nan=*/true);
  InsertMetric(d, 12, "m", 0);
  InsertMetric(d, 13, "m", DBL_MAX);  // +inf as the schema stores it
  InsertMetric(d, 15, "m", -1);
  InsertParam(d, 11, "p", "50%");
  InsertParam(d, 12, "p", "50x");
  InsertParam(d, 13, "p", R"(a\b)");
  InsertTag(d, 11, "t", "a_b");
  InsertTag(d, 12, "t", "axb");
  InsertTag(d, 13, "t", "A_B");
  InsertTag(d, 15, "t", "it's");

  InsertExperiment(d, 3, "runs-datasets", 3);
  InsertRun(d, 21, "687becfa0a6c409e95855ef4b59d455b", 3, "capricious-midge-866", "FINISHED",
            1795443998103, 1795443998286);
  InsertRun(d, 22, "0e3a3b81d7bf40b4b88c0b459653e4cd", 3, "suave-shark-461", "FINISHED",
            1795443998339, 1795443998446);
  InsertRun(d, 23, "e3f2bcc2b53b45d297f70b7c73635c3a", 3, "dapper-newt-602", "FINISHED",
            1795443998499, 1795443998554);
  Run(d,
      "INSERT INTO datasets (dataset_key, experiment_id, name, digest, source_type, source) "
      "VALUES (1, 3, 'acc-061eab70-ds-train-1ba233', '25cf6b31', 'code', '{}'), "
      "(2, 3, 'acc-061eab70-ds-eval-9f15a6', '7d3a5a5c', 'code', '{}')",
      {});
  Run(d, "INSERT INTO inputs VALUES (21, 1), (21, 2), (22, 1)", {});
  Run(d,
      "INSERT INTO input_tags VALUES (21, 1, 'mlflow.data.context', 'training'), "
      "(21, 2, 'mlflow.data.context', 'eval'), (22, 1, 'mlflow.data.context', 'training')",
      {});

  const struct {
    std::int64_t first_id;
    const char* prefix;
    std::int64_t creation_times[5];
  } experiment_groups[] = {
      {4,
       "acc-c8944355-srch-2ce751-",
       {1795443904766, 1795443904790, 1795443904847, 1795443904904, 1795443904964}},
      {9,
       "acc-fc5f3d52-srch-6e5742-",
       {1795443906555, 1795443906567, 1795443906626, 1795443906690, 1795443906747}},
      {14,
       "acc-99850231-srch-7dd123-",
       {1795443908606, 1795443908621, 1795443908678, 1795443908734, 1795443908788}},
      {19,
       "acc-69831f0a-srch-f9cc24-",
       {1795443910523, 1795443910532, 1795443910585, 1795443910640, 1795443910693}},
  };
  for (const auto& group : experiment_groups) {
    for (std::int64_t i = 0; i < 5; ++i) {
      const std::int64_t id = group.first_id + i;
      InsertExperiment(d, id, group.prefix + std::to_string(i),
                       group.creation_times[static_cast<std::size_t>(i)]);
      InsertExperimentTag(d, id, "group", i % 2 == 0 ? "even" : "odd");
      InsertExperimentTag(d, id, "idx", std::to_string(i));
    }
  }
  InsertExperiment(d, 30, "tie-a", 5);
  InsertExperiment(d, 31, "tie-b", 5);
  InsertExperiment(d, 32, "tie-c", 5, "deleted");
  return db;
}

// ---------------------------------------------------------------------------------------------
// Runs: parse, compile, execute.

// Every field has a default so that cases name only what they need (designated initializers).
struct RunSearchCase {
  std::string name{};
  std::vector<std::int64_t> experiment_ids{};
  std::string filter{};
  Strings order_by{};
  Strings expected{};  // run names, in order
  Strings stages = {"active"};
  std::int64_t limit = 1000;
  std::int64_t offset = 0;
};

// Names the ctest entry (CMake appends the printed parameter).
void PrintTo(const RunSearchCase& test_case, std::ostream* os) { *os << test_case.name; }

class RunSearch : public testing::TestWithParam<RunSearchCase> {
 protected:
  static void SetUpTestSuite() { shared_database = new Database(MakeDatabase()); }
  static void TearDownTestSuite() {
    delete shared_database;
    shared_database = nullptr;
  }
  static Database* shared_database;
};

Database* RunSearch::shared_database = nullptr;

TEST_P(RunSearch, ReturnsRunsInOrder) {
  const RunSearchCase& test = GetParam();
  auto filter = search::ParseRunFilter(test.filter);
  ASSERT_TRUE(filter) << filter.error().message;
  auto order_by = search::ParseRunOrderByList(test.order_by);
  ASSERT_TRUE(order_by) << order_by.error().message;
  auto compiled = CompileRunSearch(*filter, *order_by);
  ASSERT_TRUE(compiled) << compiled.error().message;
  const SqlFragment statement = RunSearchStatement("r.name", *compiled, test.experiment_ids,
                                                   test.stages, test.limit, test.offset);
  ASSERT_EQ(CountPlaceholders(statement.sql), statement.params.size()) << statement.sql;
  EXPECT_EQ(QueryStrings(shared_database->get(), statement), test.expected) << statement.sql;
}

const Strings kAllActive = {"epsilon-55e773", "delta-55e773", "gamma-55e773", "beta-55e773",
                            "alpha-55e773"};

INSTANTIATE_TEST_SUITE_P(
    sql, RunSearch,
    testing::Values(
        // Recorded MLflow 2.9.2 answers (search_runs.*.json, dataset.two_datasets_and_search).
        RunSearchCase{
            .name = "conformance_no_filter", .experiment_ids = {1}, .expected = kAllActive},
        RunSearchCase{.name = "conformance_metric_gt",
                      .experiment_ids = {1},
                      .filter = "metrics.acc > 0.5",
                      .expected = {"delta-55e773", "beta-55e773", "alpha-55e773"}},
        RunSearchCase{.name = "conformance_metric_le",
                      .experiment_ids = {1},
                      .filter = "metrics.acc <= 0.7",
                      .expected = {"gamma-55e773", "beta-55e773"}},
        RunSearchCase{.name = "conformance_metric_ne_skips_runs_without_it",
                      .experiment_ids = {1},
                      .filter = "metric.loss != 0.1",
                      .expected = {"epsilon-55e773", "gamma-55e773", "beta-55e773"}},
        RunSearchCase{.name = "conformance_tag_like_is_case_sensitive",
                      .experiment_ids = {1},
                      .filter = "tags.team LIKE 'vision%'",
                      .expected = {"gamma-55e773", "alpha-55e773"}},
        RunSearchCase{.name = "conformance_tag_equal",
                      .experiment_ids = {1},
                      .filter = "tags.team = 'Vision'",
                      .expected = {"delta-55e773"}},
        RunSearchCase{.name = "conformance_param_equal",
                      .experiment_ids = {1},
                      .filter = "params.opt = 'sgd'",
                      .expected = {"epsilon-55e773", "beta-55e773"}},
        RunSearchCase{.name = "conformance_deleted_only",
                      .experiment_ids = {1},
                      .expected = {"zeta-55e773"},
                      .stages = {"deleted"}},
        RunSearchCase{.name = "conformance_all_stages",
                      .experiment_ids = {1},
                      .expected = {"zeta-55e773", "epsilon-55e773", "delta-55e773", "gamma-55e773",
                                   "beta-55e773", "alpha-55e773"},
                      .stages = {"active", "deleted"}},
        RunSearchCase{.name = "conformance_page_1",
                      .experiment_ids = {1},
                      .expected = {"epsilon-55e773", "delta-55e773"},
                      .limit = 2},
        RunSearchCase{.name = "conformance_page_2",
                      .experiment_ids = {1},
                      .expected = {"gamma-55e773", "beta-55e773"},
                      .limit = 2,
                      .offset = 2},
        RunSearchCase{.name = "conformance_page_3",
                      .experiment_ids = {1},
                      .expected = {"alpha-55e773"},
                      .limit = 2,
                      .offset = 4},
        RunSearchCase{.name = "conformance_metric_desc_missing_last",
                      .experiment_ids = {1},
                      .order_by = {"metrics.acc DESC"},
                      .expected = {"delta-55e773", "alpha-55e773", "beta-55e773", "gamma-55e773",
                                   "epsilon-55e773"}},
        RunSearchCase{.name = "conformance_metric_asc_missing_last",
                      .experiment_ids = {1},
                      .order_by = {"metrics.acc ASC"},
                      .expected = {"gamma-55e773", "beta-55e773", "alpha-55e773", "delta-55e773",
                                   "epsilon-55e773"}},
        RunSearchCase{
            .name = "conformance_filter_and_order",
            .experiment_ids = {1},
            .filter = "params.opt != 'rmsprop'",
            .order_by = {"metrics.acc DESC"},
            .expected = {"alpha-55e773", "beta-55e773", "gamma-55e773", "epsilon-55e773"}},
        RunSearchCase{.name = "conformance_filter_and_order_page_4",
                      .experiment_ids = {1},
                      .filter = "params.opt != 'rmsprop'",
                      .order_by = {"metrics.acc DESC"},
                      .expected = {"epsilon-55e773"},
                      .limit = 1,
                      .offset = 3},
        RunSearchCase{.name = "conformance_filter_and_order_past_end",
                      .experiment_ids = {1},
                      .filter = "params.opt != 'rmsprop'",
                      .order_by = {"metrics.acc DESC"},
                      .expected = {},
                      .limit = 1,
                      .offset = 4},
        RunSearchCase{.name = "conformance_dataset_name",
                      .experiment_ids = {3},
                      .filter = "dataset.name = 'acc-061eab70-ds-train-1ba233'",
                      .expected = {"suave-shark-461", "capricious-midge-866"}},
        RunSearchCase{.name = "conformance_dataset_context",
                      .experiment_ids = {3},
                      .filter = "dataset.context = 'eval'",
                      .expected = {"capricious-midge-866"}},
        RunSearchCase{.name = "conformance_dataset_in_and_digest",
                      .experiment_ids = {3},
                      .filter = "dataset.name IN ('acc-061eab70-ds-eval-9f15a6', 'nope') AND "
                                "dataset.digest = '7d3a5a5c'",
                      .expected = {"capricious-midge-866"}},
        // Strings: case sensitivity, attributes, aliases, lists.
        RunSearchCase{.name = "tag_ilike",
                      .experiment_ids = {1},
                      .filter = "tags.team ILIKE 'VISION%'",
                      .expected = {"delta-55e773", "gamma-55e773", "alpha-55e773"}},
        RunSearchCase{.name = "tag_like_without_wildcard_is_exact",
                      .experiment_ids = {1},
                      .filter = "tags.team LIKE 'vision'",
                      .expected = {"alpha-55e773"}},
        RunSearchCase{.name = "param_equal_is_case_sensitive",
                      .experiment_ids = {1},
                      .filter = "params.opt = 'SGD'",
                      .expected = {}},
        RunSearchCase{.name = "status_equal",
                      .experiment_ids = {1},
                      .filter = "attributes.status = 'FAILED'",
                      .expected = {"gamma-55e773"}},
        RunSearchCase{.name = "status_not_equal",
                      .experiment_ids = {1},
                      .filter = "status != 'FINISHED'",
                      .expected = {"epsilon-55e773", "delta-55e773", "gamma-55e773"}},
        RunSearchCase{.name = "run_name_like",
                      .experiment_ids = {1},
                      .filter = "run_name LIKE 'a%'",
                      .expected = {"alpha-55e773"}},
        RunSearchCase{.name = "run_name_alias",
                      .experiment_ids = {1},
                      .filter = "`Run Name` = 'beta-55e773'",
                      .expected = {"beta-55e773"}},
        RunSearchCase{.name = "run_id_in",
                      .experiment_ids = {1},
                      .filter = "run_id IN ('9783ee57a624444ba38b7bdfad2d7ae1', "
                                "'f7c5d447be3f4fec988f2683d8217452')",
                      .expected = {"beta-55e773", "alpha-55e773"}},
        RunSearchCase{
            .name = "run_id_not_in",
            .experiment_ids = {1},
            .filter = "run_id NOT IN ('9783ee57a624444ba38b7bdfad2d7ae1')",
            .expected = {"epsilon-55e773", "delta-55e773", "gamma-55e773", "beta-55e773"}},
        RunSearchCase{.name = "start_time_ge",
                      .experiment_ids = {1},
                      .filter = "start_time >= 1795443866530",
                      .expected = {"epsilon-55e773", "delta-55e773", "gamma-55e773"}},
        RunSearchCase{.name = "created_alias",
                      .experiment_ids = {1},
                      .filter = "created < 1795443865530",
                      .expected = {"alpha-55e773"}},
        RunSearchCase{
            .name = "end_time_skips_null",
            .experiment_ids = {1},
            .filter = "end_time > 0",
            .expected = {"epsilon-55e773", "gamma-55e773", "beta-55e773", "alpha-55e773"}},
        RunSearchCase{.name = "three_clauses",
                      .experiment_ids = {1},
                      .filter = "metrics.acc > 0.5 AND tags.team LIKE 'vision%' AND status = "
                                "'FINISHED'",
                      .expected = {"alpha-55e773"}},
        RunSearchCase{.name = "several_experiments",
                      .experiment_ids = {1, 3},
                      .filter = "start_time > 1795443867000",
                      .expected = {"dapper-newt-602", "suave-shark-461", "capricious-midge-866",
                                   "epsilon-55e773", "delta-55e773"}},
        RunSearchCase{.name = "no_experiments", .experiment_ids = {}, .expected = {}},
        // Datasets.
        RunSearchCase{.name = "dataset_context_training",
                      .experiment_ids = {3},
                      .filter = "dataset.context = 'training'",
                      .expected = {"suave-shark-461", "capricious-midge-866"}},
        RunSearchCase{.name = "dataset_context_not_in_matches_other_inputs",
                      .experiment_ids = {3},
                      .filter = "dataset.context NOT IN ('training')",
                      .expected = {"capricious-midge-866"}},
        RunSearchCase{.name = "dataset_name_not_equal",
                      .experiment_ids = {3},
                      .filter = "dataset.name != 'acc-061eab70-ds-train-1ba233'",
                      .expected = {"capricious-midge-866"}},
        RunSearchCase{.name = "dataset_digest_like",
                      .experiment_ids = {3},
                      .filter = "dataset.digest LIKE '25%'",
                      .expected = {"suave-shark-461", "capricious-midge-866"}},
        RunSearchCase{.name = "dataset_name_ilike",
                      .experiment_ids = {3},
                      .filter = "dataset.name ILIKE 'ACC-061EAB70-DS-EVAL%'",
                      .expected = {"capricious-midge-866"}},
        // Metrics: NaN, infinity, missing values.
        RunSearchCase{.name = "nan_does_not_match_greater",
                      .experiment_ids = {2},
                      .filter = "metrics.m > -5",
                      .expected = {"n3-inf", "n2-zero", "n5-no-start"}},
        RunSearchCase{.name = "nan_stored_as_zero_does_not_match_equal",
                      .experiment_ids = {2},
                      .filter = "metrics.m = 0",
                      .expected = {"n2-zero"}},
        RunSearchCase{.name = "nan_matches_not_equal",
                      .experiment_ids = {2},
                      .filter = "metrics.m != 0",
                      .expected = {"n3-inf", "n1-nan", "n5-no-start"}},
        RunSearchCase{.name = "infinity_is_largest",
                      .experiment_ids = {2},
                      .filter = "metrics.m >= 1e308",
                      .expected = {"n3-inf"}},
        RunSearchCase{.name = "metric_asc_then_nan_then_missing",
                      .experiment_ids = {2},
                      .order_by = {"metrics.m ASC"},
                      .expected = {"n5-no-start", "n2-zero", "n3-inf", "n1-nan", "n4-missing"}},
        RunSearchCase{.name = "metric_desc_then_nan_then_missing",
                      .experiment_ids = {2},
                      .order_by = {"metrics.m DESC"},
                      .expected = {"n3-inf", "n2-zero", "n5-no-start", "n1-nan", "n4-missing"}},
        // Tie-breakers: start_time DESC (NULL last), then run_uuid ASC.
        RunSearchCase{.name = "default_order_breaks_ties_by_run_uuid",
                      .experiment_ids = {2},
                      .expected = {"n4-missing", "n3-inf", "n2-zero", "n1-nan", "n5-no-start"}},
        // LIKE metacharacters and escapes.
        RunSearchCase{.name = "like_percent_wildcard",
                      .experiment_ids = {2},
                      .filter = "params.p LIKE '50%'",
                      .expected = {"n2-zero", "n1-nan"}},
        RunSearchCase{.name = "like_escaped_percent",
                      .experiment_ids = {2},
                      .filter = R"(params.p LIKE '50\%')",
                      .expected = {"n1-nan"}},
        RunSearchCase{.name = "like_lone_backslash_is_literal",
                      .experiment_ids = {2},
                      .filter = R"(params.p LIKE 'a\b')",
                      .expected = {"n3-inf"}},
        RunSearchCase{.name = "equal_with_escaped_backslash",
                      .experiment_ids = {2},
                      .filter = R"(params.p = 'a\\b')",
                      .expected = {"n3-inf"}},
        RunSearchCase{.name = "like_underscore_wildcard",
                      .experiment_ids = {2},
                      .filter = "tags.t LIKE 'a_b'",
                      .expected = {"n2-zero", "n1-nan"}},
        RunSearchCase{.name = "like_escaped_underscore",
                      .experiment_ids = {2},
                      .filter = R"(tags.t LIKE 'a\_b')",
                      .expected = {"n1-nan"}},
        RunSearchCase{.name = "ilike_escaped_underscore",
                      .experiment_ids = {2},
                      .filter = R"(tags.t ILIKE 'a\_b')",
                      .expected = {"n3-inf", "n1-nan"}},
        RunSearchCase{.name = "quote_in_value",
                      .experiment_ids = {2},
                      .filter = "tags.t = 'it''s'",
                      .expected = {"n5-no-start"}},
        RunSearchCase{.name = "injection_attempt_is_just_a_value",
                      .experiment_ids = {2},
                      .filter = "tags.t = 'x'' OR ''1''=''1'",
                      .expected = {}},
        // Ordering by params, tags and attributes.
        RunSearchCase{.name = "param_desc_as_strings",
                      .experiment_ids = {1},
                      .order_by = {"params.lr DESC"},
                      .expected = {"epsilon-55e773", "alpha-55e773", "delta-55e773", "beta-55e773",
                                   "gamma-55e773"}},
        RunSearchCase{.name = "tag_asc_binary_collation",
                      .experiment_ids = {1},
                      .order_by = {"tags.team"},
                      .expected = {"delta-55e773", "epsilon-55e773", "beta-55e773", "alpha-55e773",
                                   "gamma-55e773"}},
        RunSearchCase{.name = "missing_param_last_both_directions",
                      .experiment_ids = {2},
                      .order_by = {"params.p DESC"},
                      .expected = {"n3-inf", "n2-zero", "n1-nan", "n4-missing", "n5-no-start"}},
        RunSearchCase{.name = "missing_tag_last_ascending",
                      .experiment_ids = {2},
                      .order_by = {"tags.t ASC"},
                      .expected = {"n3-inf", "n1-nan", "n2-zero", "n5-no-start", "n4-missing"}},
        RunSearchCase{.name = "run_name",
                      .experiment_ids = {1},
                      .order_by = {"run_name"},
                      .expected = {"alpha-55e773", "beta-55e773", "delta-55e773", "epsilon-55e773",
                                   "gamma-55e773"}},
        RunSearchCase{.name = "end_time_asc_null_last",
                      .experiment_ids = {1},
                      .order_by = {"end_time ASC"},
                      .expected = {"alpha-55e773", "beta-55e773", "gamma-55e773", "epsilon-55e773",
                                   "delta-55e773"}},
        RunSearchCase{.name = "end_time_desc_null_last",
                      .experiment_ids = {1},
                      .order_by = {"end_time DESC"},
                      .expected = {"epsilon-55e773", "gamma-55e773", "beta-55e773", "alpha-55e773",
                                   "delta-55e773"}},
        RunSearchCase{.name = "start_time_asc_replaces_tie_breaker",
                      .experiment_ids = {2},
                      .order_by = {"created ASC"},
                      .expected = {"n2-zero", "n1-nan", "n3-inf", "n4-missing", "n5-no-start"}},
        RunSearchCase{.name = "two_keys",
                      .experiment_ids = {1},
                      .order_by = {"params.opt ASC", "metrics.acc DESC"},
                      .expected = {"alpha-55e773", "gamma-55e773", "delta-55e773", "beta-55e773",
                                   "epsilon-55e773"}},
        RunSearchCase{.name = "same_key_metric_and_param",
                      .experiment_ids = {2},
                      .filter = "params.p LIKE '%'",
                      .order_by = {"metrics.m DESC", "params.p ASC"},
                      .expected = {"n3-inf", "n2-zero", "n1-nan"}}));

// ---------------------------------------------------------------------------------------------
// Experiments.

struct ExperimentSearchCase {
  std::string name{};
  std::string filter{};
  Strings order_by{};
  Strings expected{};  // experiment ids, in order
  Strings stages = {"active"};
  std::int64_t limit = 1000;
  std::int64_t offset = 0;
  std::optional<IdRestriction> restriction{};  // what the caller may read
};

void PrintTo(const ExperimentSearchCase& test_case, std::ostream* os) { *os << test_case.name; }

class ExperimentSearch : public testing::TestWithParam<ExperimentSearchCase> {
 protected:
  static void SetUpTestSuite() { shared_database = new Database(MakeDatabase()); }
  static void TearDownTestSuite() {
    delete shared_database;
    shared_database = nullptr;
  }
  static Database* shared_database;
};

Database* ExperimentSearch::shared_database = nullptr;

TEST_P(ExperimentSearch, ReturnsExperimentsInOrder) {
  const ExperimentSearchCase& test = GetParam();
  auto filter = search::ParseExperimentFilter(test.filter);
  ASSERT_TRUE(filter) << filter.error().message;
  auto order_by = search::ParseExperimentOrderByList(test.order_by);
  ASSERT_TRUE(order_by) << order_by.error().message;
  auto compiled = CompileExperimentSearch(*filter, *order_by);
  ASSERT_TRUE(compiled) << compiled.error().message;
  EXPECT_TRUE(compiled->joins.sql.empty());
  const SqlFragment statement =
      ExperimentSearchStatement("e.experiment_id", *compiled, test.stages, test.limit, test.offset,
                                test.restriction ? &*test.restriction : nullptr);
  ASSERT_EQ(CountPlaceholders(statement.sql), statement.params.size()) << statement.sql;
  EXPECT_EQ(QueryStrings(shared_database->get(), statement), test.expected) << statement.sql;
}

INSTANTIATE_TEST_SUITE_P(
    sql, ExperimentSearch,
    testing::Values(
        // Recorded MLflow 2.9.2 answers (experiment.search_*.json).
        ExperimentSearchCase{.name = "conformance_name_like_default_order",
                             .filter = "name LIKE 'acc-c8944355-srch-2ce751-%'",
                             .expected = {"8", "7", "6", "5", "4"}},
        // Permissions filter in the query: pages stay full, the order stays the search's.
        ExperimentSearchCase{.name = "readable_only_listed",
                             .filter = "name LIKE 'acc-c8944355-srch-2ce751-%'",
                             .expected = {"8", "6", "4"},
                             .restriction = IdRestriction{.ids = {"4", "6", "8", "99", "x"}}},
        ExperimentSearchCase{.name = "readable_all_but_listed_with_paging",
                             .filter = "name LIKE 'acc-c8944355-srch-2ce751-%'",
                             .expected = {"6", "5"},  // of 8, 6, 5, 4
                             .limit = 2,
                             .offset = 1,
                             .restriction = IdRestriction{.only_listed = false, .ids = {"7"}}},
        ExperimentSearchCase{.name = "readable_nothing",
                             .filter = "name LIKE 'acc-c8944355-srch-2ce751-%'",
                             .expected = {},
                             .restriction = IdRestriction{}},
        ExperimentSearchCase{.name = "conformance_name_ilike",
                             .filter = "name ILIKE 'ACC-C8944355-SRCH-2CE751-%'",
                             .expected = {"8", "7", "6", "5", "4"}},
        ExperimentSearchCase{.name = "conformance_name_and_tag",
                             .filter = "name LIKE 'acc-fc5f3d52-srch-6e5742-%' AND tags.group = "
                                       "'even'",
                             .expected = {"13", "11", "9"}},
        ExperimentSearchCase{.name = "conformance_tag_and_name",
                             .filter = "tags.idx = '1' AND name LIKE 'acc-fc5f3d52-srch-6e5742%'",
                             .expected = {"10"}},
        ExperimentSearchCase{.name = "conformance_order_name_desc",
                             .filter = "name LIKE 'acc-99850231-srch-7dd123-%'",
                             .order_by = {"name DESC"},
                             .expected = {"18", "17", "16", "15", "14"}},
        ExperimentSearchCase{.name = "conformance_order_name_asc",
                             .filter = "name LIKE 'acc-99850231-srch-7dd123-%'",
                             .order_by = {"name ASC"},
                             .expected = {"14", "15", "16", "17", "18"}},
        ExperimentSearchCase{.name = "conformance_page_1",
                             .filter = "name LIKE 'acc-69831f0a-srch-f9cc24-%'",
                             .order_by = {"name ASC"},
                             .expected = {"19", "20"},
                             .limit = 2},
        ExperimentSearchCase{.name = "conformance_page_2",
                             .filter = "name LIKE 'acc-69831f0a-srch-f9cc24-%'",
                             .order_by = {"name ASC"},
                             .expected = {"21", "22"},
                             .limit = 2,
                             .offset = 2},
        ExperimentSearchCase{.name = "conformance_page_3",
                             .filter = "name LIKE 'acc-69831f0a-srch-f9cc24-%'",
                             .order_by = {"name ASC"},
                             .expected = {"23"},
                             .limit = 2,
                             .offset = 4},
        // Others.
        ExperimentSearchCase{.name = "like_is_case_sensitive",
                             .filter = "name LIKE 'ACC-C8944355-SRCH-2CE751-%'",
                             .expected = {}},
        ExperimentSearchCase{.name = "tag_not_equal",
                             .filter = "tags.group != 'even' AND name LIKE 'acc-99850231-%'",
                             .expected = {"17", "15"}},
        ExperimentSearchCase{.name = "tag_ilike",
                             .filter = "tags.group ILIKE 'EV%' AND name LIKE 'acc-99850231-%'",
                             .expected = {"18", "16", "14"}},
        ExperimentSearchCase{.name = "missing_tag_never_matches",
                             .filter = "tags.group != 'x' AND name LIKE 'tie-%'",
                             .expected = {}},
        ExperimentSearchCase{.name = "creation_time",
                             .filter = "creation_time >= 1795443908678 AND name LIKE "
                                       "'acc-99850231-%'",
                             .expected = {"18", "17", "16"}},
        ExperimentSearchCase{.name = "last_update_time",
                             .filter = "last_update_time < 1795443904800",
                             .expected = {"5", "4", "30", "31", "3", "2", "1"}},
        ExperimentSearchCase{.name = "default_order_ties_by_id_ascending",
                             .filter = "name LIKE 'tie-%'",
                             .expected = {"30", "31"}},
        ExperimentSearchCase{.name = "explicit_order_ties_by_id_descending",
                             .filter = "name LIKE 'tie-%'",
                             .order_by = {"creation_time ASC"},
                             .expected = {"31", "30"}},
        ExperimentSearchCase{.name = "order_by_experiment_id",
                             .filter = "name LIKE 'tie-%'",
                             .order_by = {"experiment_id"},
                             .expected = {"30", "31"}},
        ExperimentSearchCase{.name = "deleted_stage",
                             .filter = "name LIKE 'tie-%'",
                             .expected = {"32"},
                             .stages = {"deleted"}}));

// ---------------------------------------------------------------------------------------------
// The exact SQL of a few searches, so that a change of shape is a deliberate one.

struct ShapeCase {
  std::string name;
  std::string filter;
  Strings order_by;
  std::string joins;
  std::string where;
  std::string order_sql;
  std::vector<SqlValue> params;  // joins, then where, then order_by
};

void PrintTo(const ShapeCase& test_case, std::ostream* os) { *os << test_case.name; }

class RunSqlShape : public testing::TestWithParam<ShapeCase> {};

TEST_P(RunSqlShape, IsExactly) {
  const ShapeCase& test = GetParam();
  auto filter = search::ParseRunFilter(test.filter);
  ASSERT_TRUE(filter) << filter.error().message;
  auto order_by = search::ParseRunOrderByList(test.order_by);
  ASSERT_TRUE(order_by) << order_by.error().message;
  auto compiled = CompileRunSearch(*filter, *order_by);
  ASSERT_TRUE(compiled) << compiled.error().message;
  EXPECT_EQ(compiled->joins.sql, test.joins);
  EXPECT_EQ(compiled->where.sql, test.where);
  EXPECT_EQ(compiled->order_by.sql, test.order_sql);
  std::vector<SqlValue> params = compiled->joins.params;
  params.insert(params.end(), compiled->where.params.begin(), compiled->where.params.end());
  params.insert(params.end(), compiled->order_by.params.begin(), compiled->order_by.params.end());
  EXPECT_EQ(params, test.params);
}

INSTANTIATE_TEST_SUITE_P(
    sql, RunSqlShape,
    testing::Values(
        ShapeCase{"no_filter", "", {}, "", "", "r.start_time DESC NULLS LAST, r.run_uuid ASC", {}},
        ShapeCase{"metric_gt",
                  "metrics.acc > 0.5",
                  {},
                  "",
                  "r.run_key IN (SELECT m.run_key FROM latest_metrics m WHERE m.key = ? AND "
                  "m.is_nan = 0 AND m.value > ?)",
                  "r.start_time DESC NULLS LAST, r.run_uuid ASC",
                  {std::string("acc"), 0.5}},
        ShapeCase{"metric_ne",
                  "metrics.acc != 1",
                  {},
                  "",
                  "r.run_key IN (SELECT m.run_key FROM latest_metrics m WHERE m.key = ? AND "
                  "(m.is_nan = 1 OR m.value <> ?))",
                  "r.start_time DESC NULLS LAST, r.run_uuid ASC",
                  {std::string("acc"), 1.0}},
        ShapeCase{"param_ilike_and_start_time",
                  "params.opt ILIKE 'A%' AND start_time > 5",
                  {},
                  "",
                  "r.run_key IN (SELECT p.run_key FROM params p WHERE p.key = ? AND "
                  "LOWER(p.value) LIKE LOWER(CAST(? AS TEXT)) ESCAPE '\\') AND r.start_time > ?",
                  "r.start_time DESC NULLS LAST, r.run_uuid ASC",
                  {std::string("opt"), std::string("A%"), std::int64_t{5}}},
        ShapeCase{"run_id_in",
                  "run_id IN ('a', 'b')",
                  {},
                  "",
                  "r.run_uuid IN (?, ?)",
                  "r.start_time DESC NULLS LAST, r.run_uuid ASC",
                  {std::string("a"), std::string("b")}},
        ShapeCase{"dataset_context",
                  "dataset.context = 'eval'",
                  {},
                  "",
                  "r.run_key IN (SELECT it.run_key FROM input_tags it WHERE it.key = ? AND "
                  "it.value = ?)",
                  "r.start_time DESC NULLS LAST, r.run_uuid ASC",
                  {std::string("mlflow.data.context"), std::string("eval")}},
        ShapeCase{"order_by_everything",
                  "tags.team = 'x'",
                  {"metrics.acc DESC", "params.lr", "start_time ASC", "run_id DESC"},
                  "LEFT JOIN latest_metrics o1 ON o1.run_key = r.run_key AND o1.key = ? "
                  "LEFT JOIN params o2 ON o2.run_key = r.run_key AND o2.key = ?",
                  "r.run_key IN (SELECT t.run_key FROM tags t WHERE t.key = ? AND t.value = ?)",
                  "CASE WHEN o1.run_key IS NULL THEN 2 WHEN o1.is_nan = 1 THEN 1 ELSE 0 END, "
                  "o1.value DESC, o2.value ASC NULLS LAST, r.start_time ASC NULLS LAST, "
                  "r.run_uuid DESC",
                  {std::string("acc"), std::string("lr"), std::string("team"), std::string("x")}}));

// Values never reach the SQL text, whatever they contain.
class SqlText : public testing::TestWithParam<std::string> {};

TEST_P(SqlText, NeverContainsValues) {
  auto filter = search::ParseRunFilter(GetParam());
  ASSERT_TRUE(filter) << filter.error().message;
  const Strings order_clauses = {"metrics.zqm DESC", "params.zqp", "tags.`zq t`"};
  auto order_by = search::ParseRunOrderByList(order_clauses);
  ASSERT_TRUE(order_by) << order_by.error().message;
  auto compiled = CompileRunSearch(*filter, *order_by);
  ASSERT_TRUE(compiled) << compiled.error().message;
  for (const SqlFragment* fragment : {&compiled->joins, &compiled->where, &compiled->order_by}) {
    EXPECT_EQ(fragment->sql.find("zq"), std::string::npos) << fragment->sql;
    EXPECT_EQ(fragment->sql.find("OR 1"), std::string::npos) << fragment->sql;
    EXPECT_EQ(CountPlaceholders(fragment->sql), fragment->params.size()) << fragment->sql;
  }
}

INSTANTIATE_TEST_SUITE_P(
    sql, SqlText,
    testing::Values("metrics.zqa > 0.5", "params.zqb = 'zqv'", "tags.`zq c` LIKE 'zq%'",
                    "attributes.run_name ILIKE 'zq'' OR 1=1 --'",
                    "run_id IN ('zq1', 'zq2'' OR 1=1')", "dataset.name NOT IN ('zqd')",
                    "dataset.context = 'zq'", "status = 'zq\" OR 1=1'",
                    "tags.zqe = 'x' AND metrics.zqf != 3 AND params.zqg ILIKE '%zq%'"));

// Hand-built ASTs that the parsers never produce are still rejected, not compiled.
struct BadAstCase {
  std::string name;
  search::Comparison clause;
};

void PrintTo(const BadAstCase& test_case, std::ostream* os) { *os << test_case.name; }

class RunCompileRejects : public testing::TestWithParam<BadAstCase> {};

TEST_P(RunCompileRejects, WithInvalidParameterValue) {
  const std::vector<search::Comparison> filter = {GetParam().clause};
  auto compiled = CompileRunSearch(filter, {});
  ASSERT_FALSE(compiled);
  EXPECT_EQ(compiled.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
}

using search::Comparator;
using search::EntityType;
using search::Number;

INSTANTIATE_TEST_SUITE_P(
    sql, RunCompileRejects,
    testing::Values(
        BadAstCase{"metric_like", {EntityType::METRIC, "m", Comparator::LIKE, std::string("x")}},
        BadAstCase{"metric_string", {EntityType::METRIC, "m", Comparator::EQUAL, std::string("x")}},
        BadAstCase{"param_number", {EntityType::PARAM, "p", Comparator::EQUAL, Number{1, 1, "1"}}},
        BadAstCase{"param_greater",
                   {EntityType::PARAM, "p", Comparator::GREATER, std::string("x")}},
        BadAstCase{"tag_empty_list", {EntityType::TAG, "t", Comparator::IN, Strings{}}},
        BadAstCase{"status_list", {EntityType::ATTRIBUTE, "status", Comparator::IN, Strings{"a"}}},
        BadAstCase{"unknown_attribute",
                   {EntityType::ATTRIBUTE, "lifecycle_stage", Comparator::EQUAL, std::string("a")}},
        BadAstCase{"start_time_string",
                   {EntityType::ATTRIBUTE, "start_time", Comparator::EQUAL, std::string("a")}},
        BadAstCase{"unknown_dataset_key",
                   {EntityType::DATASET, "source", Comparator::EQUAL, std::string("a")}}));

class ExperimentCompileRejects : public testing::TestWithParam<BadAstCase> {};

TEST_P(ExperimentCompileRejects, WithInvalidParameterValue) {
  const std::vector<search::Comparison> filter = {GetParam().clause};
  auto compiled = CompileExperimentSearch(filter, {});
  ASSERT_FALSE(compiled);
  EXPECT_EQ(compiled.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
}

INSTANTIATE_TEST_SUITE_P(
    sql, ExperimentCompileRejects,
    testing::Values(
        BadAstCase{"metric", {EntityType::METRIC, "m", Comparator::EQUAL, Number{1, 1, "1"}}},
        BadAstCase{"name_list", {EntityType::ATTRIBUTE, "name", Comparator::IN, Strings{"a"}}},
        BadAstCase{"tag_list", {EntityType::TAG, "t", Comparator::IN, Strings{"a"}}},
        BadAstCase{"experiment_id",
                   {EntityType::ATTRIBUTE, "experiment_id", Comparator::EQUAL, std::string("1")}}));

struct BadOrderCase {
  std::string name;
  search::OrderByKey key;
  bool experiments;
};

void PrintTo(const BadOrderCase& test_case, std::ostream* os) { *os << test_case.name; }

class OrderCompileRejects : public testing::TestWithParam<BadOrderCase> {};

TEST_P(OrderCompileRejects, WithInvalidParameterValue) {
  const std::vector<search::OrderByKey> order_by = {GetParam().key};
  auto compiled = GetParam().experiments ? CompileExperimentSearch({}, order_by)
                                         : CompileRunSearch({}, order_by);
  ASSERT_FALSE(compiled);
  EXPECT_EQ(compiled.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
}

INSTANTIATE_TEST_SUITE_P(
    sql, OrderCompileRejects,
    testing::Values(BadOrderCase{"run_dataset", {EntityType::DATASET, "name", true}, false},
                    BadOrderCase{"run_unknown_attribute",
                                 {EntityType::ATTRIBUTE, "lifecycle_stage", true},
                                 false},
                    BadOrderCase{"experiment_tag", {EntityType::TAG, "t", true}, true},
                    BadOrderCase{"experiment_unknown_attribute",
                                 {EntityType::ATTRIBUTE, "start_time", true},
                                 true}));

struct LikeCase {
  std::string name;
  std::string pattern;
  std::string normalized;
};

void PrintTo(const LikeCase& test_case, std::ostream* os) { *os << test_case.name; }

class LikePattern : public testing::TestWithParam<LikeCase> {};

TEST_P(LikePattern, IsNormalized) {
  EXPECT_EQ(NormalizeLikePattern(GetParam().pattern), GetParam().normalized);
}

INSTANTIATE_TEST_SUITE_P(sql, LikePattern,
                         testing::Values(LikeCase{"plain", "ab%c_", "ab%c_"},
                                         LikeCase{"escaped_percent", R"(50\%)", R"(50\%)"},
                                         LikeCase{"escaped_underscore", R"(a\_b)", R"(a\_b)"},
                                         LikeCase{"escaped_backslash", R"(a\\b)", R"(a\\b)"},
                                         LikeCase{"lone_backslash", R"(a\b)", R"(a\\b)"},
                                         LikeCase{"trailing_backslash", R"(a\)", R"(a\\)"},
                                         LikeCase{"empty", "", ""}));

}  // namespace
}  // namespace mltf::tracking::store::sql
