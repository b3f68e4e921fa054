// sqlite_connection.cpp - the SQLite driver adapter.
#include "tracking/store/sqlite/sqlite_connection.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <thread>

namespace mltf::tracking::store::sqlite {
namespace {

Error DriverError(sqlite3* db, int code, std::string_view what) {
  int extended = db != nullptr ? sqlite3_extended_errcode(db) : code;
  if (extended == SQLITE_CONSTRAINT_UNIQUE || extended == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return Error::ResourceAlreadyExists("unique constraint violated");
  }
  if (code == SQLITE_BUSY || code == SQLITE_LOCKED) {
    return Error::Unavailable("The database is busy; retry the request.");
  }
  // The driver's text may contain SQL: log it, answer a generic message.
  spdlog::error("sqlite error during {}: {} ({})", what,
                db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code), extended);
  return Error::Internal(fmt::format("Database error ({}).", sqlite3_errstr(code)));
}

class SqliteStatement final : public sql::SqlStatement {
 public:
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  void Bind(int index, const sql::SqlValue& value) override {
    std::visit(
        [&](const auto& held) {
          using T = std::decay_t<decltype(held)>;
          if constexpr (std::is_same_v<T, std::monostate>) {
            BindNull(index);
          } else if constexpr (std::is_same_v<T, std::int64_t>) {
            BindInt(index, held);
          } else if constexpr (std::is_same_v<T, double>) {
            BindDouble(index, held);
          } else {
            BindText(index, held);
          }
        },
        value);
  }
  void BindInt(int index, std::int64_t value) override { sqlite3_bind_int64(stmt_, index, value); }
  void BindDouble(int index, double value) override { sqlite3_bind_double(stmt_, index, value); }
  void BindText(int index, std::string_view value) override {
    sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  }
  void BindNull(int index) override { sqlite3_bind_null(stmt_, index); }

  Result<bool> Step() override {
    int code = sqlite3_step(stmt_);
    if (code == SQLITE_ROW) return true;
    if (code == SQLITE_DONE) return false;
    return Fail(DriverError(db_, code, "step"));
  }
  void Reset() override {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  [[nodiscard]] bool IsNull(int column) const override {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
  }
  [[nodiscard]] std::int64_t Int(int column) const override {
    return sqlite3_column_int64(stmt_, column);
  }
  [[nodiscard]] double Double(int column) const override {
    return sqlite3_column_double(stmt_, column);
  }
  [[nodiscard]] std::string_view Text(int column) const override {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    if (text == nullptr) return {};
    return {text, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))};
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

std::string_view SynchronousPragma(Synchronous mode) {
  switch (mode) {
    case Synchronous::OFF:
      return "PRAGMA synchronous = OFF";
    case Synchronous::NORMAL:
      return "PRAGMA synchronous = NORMAL";
    case Synchronous::FULL:
      return "PRAGMA synchronous = FULL";
  }
  return "PRAGMA synchronous = FULL";
}

}  // namespace

/// Checkpoints a database's WAL mostly on a thread of its own, so that a COMMIT rarely waits for
/// a checkpoint (copying the pages into the database file and flushing both files takes
/// milliseconds: a stall for every write queued behind that commit). The writer connection
/// reports the WAL's length after each commit through sqlite3_wal_hook, which also turns off
/// SQLite's own checkpoint inside the commit. Past kStartFrames the thread runs a PASSIVE
/// checkpoint on its own connection: it copies what is committed without blocking or waiting for
/// the writer or the readers, and flushes as the configured synchronous mode says. The writer,
/// meanwhile, has appended more, so the WAL is never wholly copied when the next transaction
/// starts, and only then would SQLite start the WAL over from its beginning. So once the thread
/// is done, the writer copies that short tail itself, after its next commit; its next
/// transaction then restarts the WAL, which thus stays small and is overwritten rather than
/// grown (flushing an overwrite is cheaper than an append). Should the thread fall behind, the
/// writer checkpoints everything itself past kInlineFrames, as SQLite would at 1000.
class SqliteConnection::Checkpointer {
 public:
  Checkpointer(std::string path, Synchronous synchronous)
      : path_(std::move(path)),
        synchronous_(synchronous),
        thread_([this](const std::stop_token& stop) { Run(stop); }) {}
  ~Checkpointer() {
    thread_.request_stop();
    wake_.notify_one();
  }
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  /// The sqlite3_wal_hook callback, on the writer's thread after each commit.
  static int OnCommit(void* self, sqlite3* db, const char* schema, int frames) {
    auto* checkpointer = static_cast<Checkpointer*>(self);
    if (frames < kStartFrames) {
      // The WAL was restarted (or is still short): a tail left over is moot.
      Phase tail = Phase::TAIL_LEFT;
      checkpointer->phase_.compare_exchange_strong(tail, Phase::IDLE, std::memory_order_relaxed);
      return SQLITE_OK;
    }
    if (frames >= kInlineFrames || checkpointer->TakeTail()) {
      sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    }
    return SQLITE_OK;
  }

 private:
  static constexpr int kStartFrames = 1000;  // SQLite's own default
  static constexpr int kInlineFrames = 16000;

  enum class Phase { IDLE, RUNNING, TAIL_LEFT };

  /// True when the thread has copied the bulk and the caller should copy the tail now; starts
  /// the thread when it is idle.
  bool TakeTail() {
    Phase phase = phase_.load(std::memory_order_relaxed);
    if (phase == Phase::RUNNING) return false;
    if (phase == Phase::TAIL_LEFT) {
      phase_.store(Phase::IDLE, std::memory_order_relaxed);  // only this thread leaves TAIL_LEFT
      return true;
    }
    {
      // Under the mutex, so the thread cannot miss the change between its check and its wait.
      std::lock_guard lock(mutex_);
      phase_.store(Phase::RUNNING, std::memory_order_relaxed);
    }
    wake_.notify_one();
    return false;
  }

  void Run(const std::stop_token& stop) {
    sqlite3* db = nullptr;
    while (true) {
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, stop,
                   [&] { return phase_.load(std::memory_order_relaxed) == Phase::RUNNING; });
        if (stop.stop_requested()) break;
      }
      if (db == nullptr) db = OpenOwnConnection();
      int code = db == nullptr ? SQLITE_CANTOPEN
                               : sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE,
                                                           nullptr, nullptr);
      if (code != SQLITE_OK && code != SQLITE_BUSY) {
        spdlog::warn("sqlite: background checkpoint of {} failed: {}", path_, sqlite3_errstr(code));
      }
      phase_.store(Phase::TAIL_LEFT, std::memory_order_relaxed);
    }
    sqlite3_close(db);
  }

  sqlite3* OpenOwnConnection() {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) !=
        SQLITE_OK) {
      spdlog::warn("sqlite: cannot open {} for background checkpoints", path_);
      sqlite3_close(db);
      return nullptr;
    }
    // The checkpoint flushes the WAL before and the database file after copying, as the
    // configured mode says; without the WAL mode set the connection would not see the WAL.
    std::string setup =
        fmt::format("PRAGMA journal_mode = WAL; {};", SynchronousPragma(synchronous_));
    sqlite3_exec(db, setup.c_str(), nullptr, nullptr, nullptr);
    return db;
  }

  const std::string path_;
  const Synchronous synchronous_;
  std::mutex mutex_;
  std::condition_variable_any wake_;
  // IDLE -> RUNNING by the writer (under mutex_), RUNNING -> TAIL_LEFT by the thread, TAIL_LEFT
  // -> IDLE by the writer: each move has one owner, so plain stores suffice.
  std::atomic<Phase> phase_{Phase::IDLE};
  std::jthread thread_;  // last: starts once the members above exist
};

SqliteConnection::SqliteConnection(sqlite3* db) : db_(db) {}

Result<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(const SqliteOptions& options) {
  sqlite3* db = nullptr;
  int flags =
      SQLITE_OPEN_NOMUTEX |
      (options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  int code = sqlite3_open_v2(options.path.c_str(), &db, flags, nullptr);
  if (code != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code);
    sqlite3_close(db);
    return Fail(Error::Internal(
        fmt::format("Cannot open the SQLite database {}: {}", options.path, message)));
  }
  std::unique_ptr<SqliteConnection> connection(new SqliteConnection(db));
  sqlite3_busy_timeout(db, 10000);
  sqlite3_extended_result_codes(db, 1);
  std::string setup = fmt::format(
      "PRAGMA journal_mode = WAL; {}; PRAGMA case_sensitive_like = ON; PRAGMA foreign_keys = OFF;"
      "PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536;",
      SynchronousPragma(options.synchronous));
  if (options.read_only) setup = "PRAGMA case_sensitive_like = ON; PRAGMA cache_size = -65536;";
  MLTF_TRY(connection->Execute(setup));
  if (!options.read_only && options.path != ":memory:" && !options.path.empty()) {
    connection->checkpointer_ = std::make_unique<Checkpointer>(options.path, options.synchronous);
    sqlite3_wal_hook(db, &Checkpointer::OnCommit, connection->checkpointer_.get());
  }
  return connection;
}

SqliteConnection::~SqliteConnection() {
  statements_.clear();  // finalize before closing
  // Before the close, whose own final checkpoint must be the last.
  if (checkpointer_) sqlite3_wal_hook(db_, nullptr, nullptr);
  checkpointer_.reset();
  sqlite3_close(db_);
}

Result<void> SqliteConnection::Execute(std::string_view sql) {
  std::string text(sql);
  char* message = nullptr;
  int code = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  sqlite3_free(message);
  if (code != SQLITE_OK) return Fail(DriverError(db_, code, "execute"));
  return {};
}

Result<sql::StatementScope> SqliteConnection::Prepare(std::string_view sql) {
  std::string key(sql);
  auto found = statements_.find(key);
  if (found == statements_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int code = sqlite3_prepare_v3(db_, key.data(), static_cast<int>(key.size()),
                                  SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (code != SQLITE_OK) return Fail(DriverError(db_, code, "prepare"));
    found = statements_.emplace(std::move(key), std::make_unique<SqliteStatement>(db_, stmt)).first;
  }
  return sql::StatementScope(*found->second);
}

Result<sql::StatementScope> SqliteConnection::PrepareOnce(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int code = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (code != SQLITE_OK) return Fail(DriverError(db_, code, "prepare"));
  return sql::StatementScope(std::make_unique<SqliteStatement>(db_, stmt));
}

std::int64_t SqliteConnection::LastInsertId() const { return sqlite3_last_insert_rowid(db_); }
std::int64_t SqliteConnection::ChangedRows() const { return sqlite3_changes64(db_); }

}  // namespace mltf::tracking::store::sqlite
