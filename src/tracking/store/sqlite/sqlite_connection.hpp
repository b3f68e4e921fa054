// sqlite_connection.hpp - SqlConnection on SQLite: WAL, statement cache, error translation.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "tracking/store/sql/sql_connection.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace mltf::tracking::store::sqlite {

enum class Synchronous { OFF, NORMAL, FULL };

struct SqliteOptions {
  std::string path;  ///< a file path, or ":memory:"
  bool read_only = false;
  Synchronous synchronous = Synchronous::FULL;
};

/// A SQLite connection in WAL mode with foreign keys off (the store keeps integrity in its
/// transactions), case-sensitive LIKE (MLflow's LIKE is case-sensitive) and a busy timeout.
/// A writable connection to a file checkpoints the WAL on a background thread of its own rather
/// than inside its commits. Not thread-safe.
class SqliteConnection final : public sql::SqlConnection {
 public:
  /// Opens (creating if allowed) the database. Fails with INTERNAL_ERROR naming the path.
  static Result<std::unique_ptr<SqliteConnection>> Open(const SqliteOptions& options);
  ~SqliteConnection() override;

  Result<void> Execute(std::string_view sql) override;
  Result<sql::StatementScope> Prepare(std::string_view sql) override;
  Result<sql::StatementScope> PrepareOnce(std::string_view sql) override;
  [[nodiscard]] std::int64_t LastInsertId() const override;
  [[nodiscard]] std::int64_t ChangedRows() const override;

 private:
  class Checkpointer;

  explicit SqliteConnection(sqlite3* db);

  sqlite3* db_;
  std::unique_ptr<Checkpointer> checkpointer_;  // writable file connections only
  std::unordered_map<std::string, std::unique_ptr<sql::SqlStatement>> statements_;
};

}  // namespace mltf::tracking::store::sqlite
