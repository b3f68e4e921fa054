// database.cpp - group commit writer, reader pool, migrations.
#include "tracking/store/sql/database.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "tracking/store/sql/schema/migrations.hpp"

namespace mltf::tracking::store::sql {
namespace {

/// Transaction control through cached statements: no SQL parsing on the write path.
Result<void> RunCached(SqlConnection& db, std::string_view sql) {
  MLTF_ASSIGN_OR_RETURN(statement, db.Prepare(sql));
  return statement->Run();
}

}  // namespace

Result<std::unique_ptr<Database>> Database::Open(ConnectionFactory factory,
                                                 DatabaseOptions options) {
  MLTF_ASSIGN_OR_RETURN(writer, factory(false));
  std::unique_ptr<Database> database(new Database(std::move(factory), options, std::move(writer)));
  MLTF_TRY(database->Migrate());
  return database;
}

Database::Database(ConnectionFactory factory, DatabaseOptions options,
                   std::unique_ptr<SqlConnection> writer)
    : factory_(std::move(factory)), options_(options), writer_(std::move(writer)) {}

Database::~Database() { Close(); }

Result<void> Database::Migrate() {
  MLTF_TRY(writer_->Execute(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)"));
  {
    MLTF_ASSIGN_OR_RETURN(current, writer_->Prepare("SELECT MAX(version) FROM schema_migrations"));
    MLTF_ASSIGN_OR_RETURN(has_row, current->Step());
    schema_version_ = has_row && !current->IsNull(0) ? static_cast<int>(current->Int(0)) : 0;
  }
  for (const Migration& migration : Migrations()) {
    if (migration.version <= schema_version_) continue;
    spdlog::info("store: applying migration version={} ({})", migration.version,
                 migration.description);
    MLTF_TRY(writer_->Execute("BEGIN IMMEDIATE"));
    auto applied = [&]() -> Result<void> {
      MLTF_TRY(writer_->Execute(migration.statements));
      MLTF_ASSIGN_OR_RETURN(record,
                            writer_->Prepare("INSERT INTO schema_migrations VALUES (?, ?, ?)"));
      record->BindInt(1, migration.version);
      record->BindText(2, migration.description);
      record->BindInt(3, std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count());
      return record->Run();
    }();
    if (!applied) {
      (void)writer_->Execute("ROLLBACK");
      return applied;
    }
    MLTF_TRY(writer_->Execute("COMMIT"));
    schema_version_ = migration.version;
  }
  return {};
}

Result<void> Database::Write(const Work& work) {
  PendingWrite pending{&work, std::nullopt};
  {
    std::lock_guard lock(write_mutex_);
    if (closing_) return Fail(Error::Unavailable("The store is shutting down."));
    queue_.push_back(&pending);
    if (!leading_) {
      leading_ = true;
      pending.state.store(PendingWrite::LEAD, std::memory_order_relaxed);
    }
  }
  while (true) {
    int state = pending.state.load(std::memory_order_acquire);
    if (state == PendingWrite::DONE) break;
    if (state == PendingWrite::LEAD) {
      Lead();
      continue;
    }
    pending.state.wait(PendingWrite::WAITING, std::memory_order_acquire);
  }
  return std::move(*pending.outcome);
}

void Database::Lead() {
  std::vector<PendingWrite*> group;
  {
    std::lock_guard lock(write_mutex_);
    while (!queue_.empty() && group.size() < options_.max_group) {
      group.push_back(queue_.front());
      queue_.pop_front();
    }
  }
  CommitGroup(group);
  for (auto* pending : group) {
    // `pending` may be gone as soon as it sees DONE: notify through a copy of the pointer to the
    // atomic only before the store, never after.
    pending->state.store(PendingWrite::DONE, std::memory_order_release);
    pending->state.notify_one();
  }
  std::lock_guard lock(write_mutex_);
  if (queue_.empty()) {
    leading_ = false;
    idle_.notify_all();
    return;
  }
  // Hand the lead to the oldest waiter; this thread's own write is already done.
  PendingWrite* next = queue_.front();
  next->state.store(PendingWrite::LEAD, std::memory_order_release);
  next->state.notify_one();
}

void Database::CommitGroup(std::vector<PendingWrite*>& group) {
  auto fail_all = [&](const Error& error) {
    for (auto* pending : group) pending->outcome = Fail(error);
  };
  if (auto begun = RunCached(*writer_, "BEGIN IMMEDIATE"); !begun) {
    return fail_all(begun.error());
  }
  std::vector<Result<void>> outcomes;
  outcomes.reserve(group.size());
  bool single = group.size() == 1;
  for (auto* pending : group) {
    // A lone write needs no savepoint: its failure rolls back the whole transaction below.
    if (!single) (void)RunCached(*writer_, "SAVEPOINT write");
    Result<void> outcome = [&]() -> Result<void> {
      try {
        return (*pending->work)(*writer_);
      } catch (const std::exception& error) {
        spdlog::error("store: write failed with an exception: {}", error.what());
        return Fail(Error::Internal("Internal error while writing."));
      }
    }();
    if (!single) {
      if (!outcome) (void)RunCached(*writer_, "ROLLBACK TO write");
      (void)RunCached(*writer_, "RELEASE write");
    }
    outcomes.push_back(std::move(outcome));
  }
  if (single && !outcomes.front()) {
    (void)RunCached(*writer_, "ROLLBACK");
  } else if (auto committed = RunCached(*writer_, "COMMIT"); !committed) {
    (void)writer_->Execute("ROLLBACK");
    return fail_all(committed.error());
  }
  for (std::size_t idx = 0; idx < group.size(); ++idx) {
    group[idx]->outcome = std::move(outcomes[idx]);
  }
}

Result<void> Database::Read(const Work& work) {
  std::unique_ptr<SqlConnection> connection;
  {
    std::unique_lock lock(read_mutex_);
    read_available_.wait(
        lock, [&] { return !idle_readers_.empty() || open_readers_ < options_.max_readers; });
    if (!idle_readers_.empty()) {
      connection = std::move(idle_readers_.back());
      idle_readers_.pop_back();
    } else {
      ++open_readers_;
    }
  }
  if (!connection) {
    auto opened = factory_(true);
    if (!opened) {
      std::lock_guard lock(read_mutex_);
      --open_readers_;
      read_available_.notify_one();
      return Fail(opened.error());
    }
    connection = std::move(*opened);
  }
  Result<void> outcome = connection->Execute("BEGIN");
  if (outcome) {
    outcome = work(*connection);
    (void)connection->Execute("COMMIT");
  }
  {
    std::lock_guard lock(read_mutex_);
    idle_readers_.push_back(std::move(connection));
  }
  read_available_.notify_one();
  return outcome;
}

void Database::Close() {
  {
    std::unique_lock lock(write_mutex_);
    if (closing_) return;
    closing_ = true;
    idle_.wait(lock, [&] { return !leading_; });
  }
  std::lock_guard lock(read_mutex_);
  idle_readers_.clear();
  writer_.reset();
}

}  // namespace mltf::tracking::store::sql
