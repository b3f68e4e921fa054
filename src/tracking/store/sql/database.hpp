// database.hpp - one writer thread with group commit, a pool of readers, and schema migrations.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "common/callback.hpp"
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

/// Serialises writes through one connection, owned by a writer thread, and groups the writes
/// queued meanwhile into one transaction (group commit): while a transaction commits, new writes
/// queue, and the next transaction takes all of them, each in its own savepoint. A write is
/// answered only after the COMMIT of its transaction returned, so it is as durable as the
/// connection makes a commit (with SQLite's synchronous = FULL, flushed to disk). The writer
/// thread sleeps when the queue is empty and is woken once per group, so a group of N
/// asynchronous writes costs about two thread wake-ups, not N. Reads run concurrently on pooled
/// connections, each in its own snapshot. Thread-safe.
///
/// Protocol: Open() migrates the schema, then starts the writer thread. Write()/WriteAsync()
/// queue; the writer commits in queue order. Close() refuses new writes, lets the writer commit
/// and answer everything already queued, joins it, and closes every connection.
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
  /// Fails with TEMPORARILY_UNAVAILABLE after Close(), and with the commit's error if the
  /// transaction could not commit. Must not be called from the writer thread (from `work` or an
  /// asynchronous write's callback): it would wait for itself.
  Result<void> Write(const Work& work);

  /// Queues `work` (a callable `Result<T>(SqlConnection&)`) for the next shared write
  /// transaction and returns at once; `done` receives its result on the writer thread once the
  /// transaction committed (or failed, with the same rules as Write()). After Close() `done`
  /// receives TEMPORARILY_UNAVAILABLE on the calling thread before this returns. `work` runs on
  /// the writer thread; what it throws becomes INTERNAL_ERROR. Never blocks beyond a short lock.
  template <typename W>
  void WriteAsync(W work,
                  Callback<typename std::invoke_result_t<W&, SqlConnection&>::value_type> done) {
    using Value = typename std::invoke_result_t<W&, SqlConnection&>::value_type;
    Enqueue(std::make_unique<QueuedWrite<Value, W>>(std::move(work), std::move(done)));
  }

  /// Runs `work` in a read snapshot on a pooled connection.
  Result<void> Read(const Work& work);
  /// Commits and answers every queued write, stops the writer thread, then closes every
  /// connection. Later writes fail with TEMPORARILY_UNAVAILABLE. Idempotent; must not be called
  /// from the writer thread.
  void Close();

  /// The schema version after migrations.
  [[nodiscard]] int schema_version() const { return schema_version_; }

 private:
  /// A queued write: its work runs inside the group's transaction, its answer after the commit.
  class PendingWrite {
   public:
    virtual ~PendingWrite() = default;
    /// Runs the work on the writer connection, keeping its value for Answer().
    virtual Result<void> Run(SqlConnection& db) = 0;
    /// Delivers the outcome: the work's value if `outcome` is a success. Does not throw.
    virtual void Answer(Result<void> outcome) noexcept = 0;
  };

  template <typename T, typename W>
  class QueuedWrite final : public PendingWrite {
   public:
    QueuedWrite(W work, Callback<T> done) : work_(std::move(work)), done_(std::move(done)) {}

    Result<void> Run(SqlConnection& db) override {
      auto result = work_(db);
      if (!result) return Fail(std::move(result).error());
      if constexpr (!std::is_void_v<T>) value_.emplace(std::move(*result));
      return {};
    }

    void Answer(Result<void> outcome) noexcept override {
      try {
        if constexpr (std::is_void_v<T>) {
          done_(std::move(outcome));
        } else if (!outcome) {
          done_(Fail(std::move(outcome).error()));
        } else {
          done_(std::move(*value_));
        }
      } catch (const std::exception& error) {
        ReportCallbackFailure(error.what());
      } catch (...) {
        ReportCallbackFailure("non-standard exception");
      }
    }

   private:
    W work_;
    Callback<T> done_;
    // Only for non-void T: the work's value, held from the work until the commit.
    std::conditional_t<std::is_void_v<T>, std::monostate, std::optional<T>> value_;
  };

  Database(ConnectionFactory factory, DatabaseOptions options,
           std::unique_ptr<SqlConnection> writer);
  static void ReportCallbackFailure(std::string_view what);
  Result<void> Migrate();
  /// Queues `write`, waking the writer if it sleeps; answers it at once after Close().
  void Enqueue(std::unique_ptr<PendingWrite> write);
  /// The writer thread: commits queued groups until Close() and an empty queue. What a group
  /// throws fails that group; nothing escapes the thread.
  void WriterLoop();
  /// Waits for queued writes and moves up to max_group of them into `group`; false once closing
  /// with nothing left.
  bool TakeGroup(std::vector<std::unique_ptr<PendingWrite>>& group);
  /// Runs the group in one transaction and answers every write in it.
  void CommitGroup(std::vector<std::unique_ptr<PendingWrite>>& group);

  ConnectionFactory factory_;
  DatabaseOptions options_;
  std::unique_ptr<SqlConnection> writer_;  // used by the writer thread only, once started
  int schema_version_ = 0;

  std::mutex write_mutex_;
  std::condition_variable queue_ready_;               // the writer waits for work here
  std::vector<std::unique_ptr<PendingWrite>> queue_;  // guarded by write_mutex_
  bool writer_sleeping_ = false;                      // guarded by write_mutex_
  bool closing_ = false;                              // guarded by write_mutex_
  std::jthread writer_thread_;

  std::mutex read_mutex_;
  std::condition_variable read_available_;
  std::vector<std::unique_ptr<SqlConnection>> idle_readers_;  // guarded by read_mutex_
  int open_readers_ = 0;                                      // guarded by read_mutex_
};

}  // namespace mltf::tracking::store::sql
