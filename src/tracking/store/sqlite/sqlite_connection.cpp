// sqlite_connection.cpp - the SQLite driver adapter.
#include "tracking/store/sqlite/sqlite_connection.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

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
  return connection;
}

SqliteConnection::~SqliteConnection() {
  statements_.clear();  // finalize before closing
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
