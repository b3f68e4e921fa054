// temporary_database.hpp - test helper: the real Database on a fresh SQLite file, removed at the
// end of the test.
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "tracking/store/sql/database.hpp"
#include "tracking/store/sqlite/sqlite_connection.hpp"

namespace mltf::registry::store::sql {

/// Opens a migrated Database in a new temporary directory. Throws std::runtime_error when the
/// database cannot be opened (the test then fails). Not thread-safe to construct.
class TemporaryDatabase {
 public:
  TemporaryDatabase() {
    static std::atomic<int> counter{0};
    directory_ =
        std::filesystem::temp_directory_path() /
        ("mltf-registry-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(directory_);
    std::filesystem::create_directories(directory_);
    tracking::store::sqlite::SqliteOptions options{(directory_ / "mltf.db").string(), false,
                                                   tracking::store::sqlite::Synchronous::OFF};
    auto factory =
        [options](bool read_only) -> Result<std::unique_ptr<tracking::store::sql::SqlConnection>> {
      auto connection_options = options;
      connection_options.read_only = read_only;
      MLTF_ASSIGN_OR_RETURN(connection,
                            tracking::store::sqlite::SqliteConnection::Open(connection_options));
      return std::unique_ptr<tracking::store::sql::SqlConnection>(std::move(connection));
    };
    auto opened = tracking::store::sql::Database::Open(factory, {.max_readers = 4});
    if (!opened)
      throw std::runtime_error("cannot open the test database: " + opened.error().message);
    database_ = std::move(*opened);
  }
  ~TemporaryDatabase() {
    database_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
  TemporaryDatabase(const TemporaryDatabase&) = delete;
  TemporaryDatabase& operator=(const TemporaryDatabase&) = delete;

  tracking::store::sql::Database& database() { return *database_; }

 private:
  std::filesystem::path directory_;
  std::unique_ptr<tracking::store::sql::Database> database_;
};

}  // namespace mltf::registry::store::sql
