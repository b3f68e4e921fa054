// database.hpp - one writer with group commit, a pool of readers, and schema migrations.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "common/error.hpp"
#include "tracking/store/sql/sql_connection.hpp"

namespace mltf::tracking::store::sql {

/// Opens a connection; `read_only` ones serve reads only.
using ConnectionFactory = std::function<Result<std::unique_ptr<SqlConnection>>(bool read_only)>;

struct DatabaseOptions {
  int max_readers = 8;
  /// Upper bound of writes grouped into one transaction.
  std::size_t max_group = 4096;
};

/// Serialises writes through one connection and groups concurrent ones into one transaction
/// (group commit): every write waiting when a commit starts shares it, and each caller returns
/// only after that commit is durable. There is no writer thread: the first caller to find no
/// commit in progress leads one (on its own thread) for everything queued, then hands the lead
/// to the next waiter, so a write costs no extra thread switch. Reads run concurrently on
/// pooled connections, each in its own snapshot. Thread-safe.
class Database {
 public:
  using Work = std::function<Result<void>(SqlConnection&)>;

  /// Opens the writer, applies pending migrations, and starts the writer thread.
  static Result<std::unique_ptr<Database>> Open(ConnectionFactory factory, DatabaseOptions options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  /// Runs `work` inside the next shared write transaction and waits for its commit. A failing
  /// `work` is rolled back to its own savepoint and does not affect the others in the group.
  /// Fails with TEMPORARILY_UNAVAILABLE after Close().
  Result<void> Write(const Work& work);
  /// Runs `work` in a read snapshot on a pooled connection.
  Result<void> Read(const Work& work);
  /// Waits for the commit in progress, then closes every connection. Later writes fail with
  /// TEMPORARILY_UNAVAILABLE. Idempotent.
  void Close();

  /// The schema version after migrations.
  [[nodiscard]] int schema_version() const { return schema_version_; }

 private:
  /// A queued write. `state` moves from WAITING to DONE (committed or failed) or to LEAD (the
  /// caller must now lead the next commit); waiters sleep on it with atomic wait/notify.
  struct PendingWrite {
    enum State : int { WAITING, DONE, LEAD };
    const Work* work;
    std::optional<Result<void>> outcome;
    std::atomic<int> state{WAITING};
  };

  Database(ConnectionFactory factory, DatabaseOptions options,
           std::unique_ptr<SqlConnection> writer);
  Result<void> Migrate();
  /// Commits queued groups while this thread holds the lead; returns once its own write is done.
  void Lead();
  void CommitGroup(std::vector<PendingWrite*>& group);

  ConnectionFactory factory_;
  DatabaseOptions options_;
  std::unique_ptr<SqlConnection> writer_;
  int schema_version_ = 0;

  std::mutex write_mutex_;
  std::condition_variable idle_;      // Close() waits for the lead to be released
  std::deque<PendingWrite*> queue_;   // guarded by write_mutex_
  bool leading_ = false;              // guarded by write_mutex_: a commit is in progress
  bool closing_ = false;              // guarded by write_mutex_

  std::mutex read_mutex_;
  std::condition_variable read_available_;
  std::vector<std::unique_ptr<SqlConnection>> idle_readers_;  // guarded by read_mutex_
  int open_readers_ = 0;                                      // guarded by read_mutex_
};

}  // namespace mltf::tracking::store::sql
