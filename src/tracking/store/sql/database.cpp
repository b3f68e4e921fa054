// database.cpp - the writer thread and its group commit, the reader pool, migrations.
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
  database->writer_thread_ = std::jthread([raw = database.get()] { raw->WriterLoop(); });
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
  return AwaitCallback<void>([&](Callback<void> done) {
    WriteAsync([&work](SqlConnection& db) { return work(db); }, std::move(done));
  });
}

void Database::ReportCallbackFailure(std::string_view what) {
  spdlog::error("store: a write's completion callback threw: {}", what);
}

void Database::Enqueue(std::unique_ptr<PendingWrite> write) {
  std::unique_lock lock(write_mutex_);
  if (closing_) {
    lock.unlock();
    write->Answer(Fail(Error::Unavailable("The store is shutting down.")));
    return;
  }
  queue_.push_back(std::move(write));
  bool wake = std::exchange(writer_sleeping_, false);
  lock.unlock();
  // Outside the lock, so the writer does not wake into a held mutex. Only a sleeping writer
  // needs the (system call) wake-up; a busy one finds the queue when its commit is done.
  if (wake) queue_ready_.notify_one();
}

void Database::WriterLoop() {
  std::vector<std::unique_ptr<PendingWrite>> group;
  while (true) {
    try {
      if (!TakeGroup(group)) return;  // closing, and everything queued is answered
      CommitGroup(group);
    } catch (const std::exception& error) {
      // Only allocations throw here, before the COMMIT: nothing in the group was answered yet.
      spdlog::error("store: group commit failed error={}", error.what());
      (void)writer_->Execute("ROLLBACK");
      for (auto& pending : group) {
        pending->Answer(Fail(Error::Internal("Internal error while writing.")));
      }
    }
    group.clear();
  }
}

bool Database::TakeGroup(std::vector<std::unique_ptr<PendingWrite>>& group) {
  std::unique_lock lock(write_mutex_);
  while (queue_.empty() && !closing_) {
    writer_sleeping_ = true;
    queue_ready_.wait(lock);
  }
  writer_sleeping_ = false;
  if (queue_.empty()) return false;
  if (queue_.size() <= options_.max_group) {
    group.swap(queue_);  // the emptied group's capacity becomes the queue's
  } else {
    auto split = queue_.begin() + static_cast<std::ptrdiff_t>(options_.max_group);
    group.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(split));
    queue_.erase(queue_.begin(), split);
  }
  return true;
}

void Database::CommitGroup(std::vector<std::unique_ptr<PendingWrite>>& group) {
  auto fail_all = [&](const Error& error) {
    for (auto& pending : group) pending->Answer(Fail(error));
  };
  if (auto begun = RunCached(*writer_, "BEGIN IMMEDIATE"); !begun) {
    return fail_all(begun.error());
  }
  std::vector<Result<void>> outcomes;
  outcomes.reserve(group.size());
  bool single = group.size() == 1;
  for (auto& pending : group) {
    // A lone write needs no savepoint: its failure rolls back the whole transaction below.
    if (!single) (void)RunCached(*writer_, "SAVEPOINT write");
    Result<void> outcome = [&]() -> Result<void> {
      try {
        return pending->Run(*writer_);
      } catch (const std::exception& error) {
        spdlog::error("store: write failed with an exception: {}", error.what());
        return Fail(Error::Internal("Internal error while writing."));
      } catch (...) {
        spdlog::error("store: write failed with a non-standard exception");
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
  // Answered only now: a write is acknowledged once its transaction's COMMIT has returned.
  for (std::size_t idx = 0; idx < group.size(); ++idx) {
    group[idx]->Answer(std::move(outcomes[idx]));
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
    // A throwing read must still end its snapshot and give the connection back: a lost pool
    // slot per exception would, after max_readers of them, stall every read for good.
    try {
      outcome = work(*connection);
    } catch (const std::exception& error) {
      spdlog::error("store: read failed with an exception: {}", error.what());
      outcome = Fail(Error::Internal("Internal error while reading."));
    }
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
    std::lock_guard lock(write_mutex_);
    if (closing_) return;
    closing_ = true;
  }
  queue_ready_.notify_one();
  if (writer_thread_.joinable()) writer_thread_.join();  // after it answered the queue
  std::lock_guard lock(read_mutex_);
  idle_readers_.clear();
  writer_.reset();
}

}  // namespace mltf::tracking::store::sql
