// database_test.cpp - the writer thread: group commit, asynchronous writes, savepoint isolation,
// durability across a reopen, and Close(), on a real SQLite file.
#include "tracking/store/sql/database.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <future>
#include <latch>
#include <set>
#include <thread>

#include "common/ids.hpp"
#include "tracking/store/sqlite/sqlite_connection.hpp"

namespace mltf::tracking::store::sql {
namespace {

/// Inserts `value` into the test table.
Result<void> Insert(SqlConnection& db, std::int64_t value) {
  MLTF_ASSIGN_OR_RETURN(insert, db.Prepare("INSERT INTO probe (value) VALUES (?)"));
  insert->BindInt(1, value);
  return insert->Run();
}

class DatabaseTest : public ::testing::TestWithParam<sqlite::Synchronous> {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("mltf-database-test-" + NewRunId());
    std::filesystem::create_directories(dir_);
    Open();
    ASSERT_TRUE(database_->Write([](SqlConnection& db) {
      return db.Execute("CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, value INTEGER)");
    }));
  }
  void TearDown() override {
    database_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Open() {
    std::string path = (dir_ / "mltf.db").string();
    auto synchronous = GetParam();
    auto factory = [path, synchronous](bool read_only) -> Result<std::unique_ptr<SqlConnection>> {
      MLTF_ASSIGN_OR_RETURN(connection,
                            sqlite::SqliteConnection::Open({path, read_only, synchronous}));
      return std::unique_ptr<SqlConnection>(std::move(connection));
    };
    auto database = Database::Open(factory, {});
    ASSERT_TRUE(database) << database.error().message;
    database_ = std::move(*database);
  }
  void Reopen() {
    database_->Close();
    database_.reset();
    Open();
  }

  /// The values in the probe table, in insertion order.
  std::vector<std::int64_t> Values() {
    std::vector<std::int64_t> values;
    auto read = database_->Read([&](SqlConnection& db) -> Result<void> {
      MLTF_ASSIGN_OR_RETURN(rows, db.Prepare("SELECT value FROM probe ORDER BY id"));
      while (true) {
        MLTF_ASSIGN_OR_RETURN(has_row, rows->Step());
        if (!has_row) return {};
        values.push_back(rows->Int(0));
      }
    });
    EXPECT_TRUE(read) << read.error().message;
    return values;
  }

  /// Queues a write that holds the writer until `release` counts down, so that writes queued
  /// meanwhile form the next group.
  void HoldWriter(std::latch& started, std::latch& release) {
    database_->WriteAsync(
        [&](SqlConnection&) -> Result<void> {
          started.count_down();
          release.wait();
          return {};
        },
        [](const Result<void>& outcome) { EXPECT_TRUE(outcome); });
    started.wait();
  }

  std::filesystem::path dir_;
  std::unique_ptr<Database> database_;
};

TEST_P(DatabaseTest, EveryAcknowledgedWriteFromManyThreadsSurvivesAReopen) {
  constexpr int kThreads = 8;
  constexpr int kWritesPerThread = 150;
  std::atomic<int> acknowledged{0};
  std::atomic<int> failed{0};
  {
    std::vector<std::jthread> threads;
    threads.reserve(kThreads);
    for (int thread_idx = 0; thread_idx < kThreads; ++thread_idx) {
      threads.emplace_back([&, thread_idx] {
        std::vector<std::future<void>> pending;
        for (int write_idx = 0; write_idx < kWritesPerThread; ++write_idx) {
          std::int64_t value = thread_idx * 1000 + write_idx;
          if (write_idx % 2 == 0) {
            auto written =
                database_->Write([value](SqlConnection& db) { return Insert(db, value); });
            (written ? acknowledged : failed)++;
            continue;
          }
          auto promise = std::make_shared<std::promise<void>>();
          pending.push_back(promise->get_future());
          database_->WriteAsync([value](SqlConnection& db) { return Insert(db, value); },
                                [&, promise](const Result<void>& outcome) {
                                  (outcome ? acknowledged : failed)++;
                                  promise->set_value();
                                });
        }
        for (auto& future : pending) future.wait();
      });
    }
  }
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(acknowledged.load(), kThreads * kWritesPerThread);
  Reopen();
  auto values = Values();
  std::set<std::int64_t> distinct(values.begin(), values.end());
  EXPECT_EQ(values.size(), static_cast<std::size_t>(kThreads * kWritesPerThread));
  EXPECT_EQ(distinct.size(), values.size());
}

TEST_P(DatabaseTest, WritesFromOneThreadCommitInQueueOrder) {
  std::promise<void> last;
  for (std::int64_t value = 0; value < 100; ++value) {
    database_->WriteAsync([value](SqlConnection& db) { return Insert(db, value); },
                          [&, value](const Result<void>& outcome) {
                            EXPECT_TRUE(outcome);
                            if (value == 99) last.set_value();
                          });
  }
  last.get_future().wait();
  auto values = Values();
  ASSERT_EQ(values.size(), 100U);
  for (std::int64_t value = 0; value < 100; ++value) EXPECT_EQ(values[value], value);
}

TEST_P(DatabaseTest, AFailingWriteInAGroupLeavesTheOthersCommitted) {
  std::latch started(1);
  std::latch release(1);
  HoldWriter(started, release);
  // Queued while the writer is held: these three form one group.
  std::promise<Result<void>> first;
  std::promise<Result<void>> failing;
  std::promise<Result<void>> last;
  database_->WriteAsync([](SqlConnection& db) { return Insert(db, 1); },
                        [&](Result<void> outcome) { first.set_value(std::move(outcome)); });
  database_->WriteAsync(
      [](SqlConnection& db) -> Result<void> {
        MLTF_TRY(Insert(db, 2));  // rolled back with its savepoint
        return Fail(Error::InvalidParameter("no"));
      },
      [&](Result<void> outcome) { failing.set_value(std::move(outcome)); });
  database_->WriteAsync([](SqlConnection& db) { return Insert(db, 3); },
                        [&](Result<void> outcome) { last.set_value(std::move(outcome)); });
  release.count_down();
  EXPECT_TRUE(first.get_future().get());
  auto failed = failing.get_future().get();
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_TRUE(last.get_future().get());
  EXPECT_EQ(Values(), (std::vector<std::int64_t>{1, 3}));
}

TEST_P(DatabaseTest, AWriteThatThrowsFailsAloneWithAnInternalError) {
  std::latch started(1);
  std::latch release(1);
  HoldWriter(started, release);
  std::promise<Result<void>> throwing;
  std::promise<Result<void>> other;
  database_->WriteAsync(
      [](SqlConnection& db) -> Result<void> {
        MLTF_TRY(Insert(db, 7));
        throw std::runtime_error("boom");
      },
      [&](Result<void> outcome) { throwing.set_value(std::move(outcome)); });
  database_->WriteAsync([](SqlConnection& db) { return Insert(db, 8); },
                        [&](Result<void> outcome) { other.set_value(std::move(outcome)); });
  release.count_down();
  auto thrown = throwing.get_future().get();
  ASSERT_FALSE(thrown);
  EXPECT_EQ(thrown.error().code, ErrorCode::INTERNAL_ERROR);
  EXPECT_TRUE(other.get_future().get());
  EXPECT_EQ(Values(), (std::vector<std::int64_t>{8}));
}

TEST_P(DatabaseTest, AReadThatThrowsFailsAndGivesItsConnectionBack) {
  // More throwing reads than the pool has connections: each must return its slot, or the
  // reads after them would wait forever.
  for (int attempt = 0; attempt < DatabaseOptions{}.max_readers + 2; ++attempt) {
    auto thrown =
        database_->Read([](SqlConnection&) -> Result<void> { throw std::runtime_error("boom"); });
    ASSERT_FALSE(thrown);
    EXPECT_EQ(thrown.error().code, ErrorCode::INTERNAL_ERROR);
  }
  ASSERT_TRUE(database_->Write([](SqlConnection& db) { return Insert(db, 9); }));
  EXPECT_EQ(Values(), (std::vector<std::int64_t>{9}));
}

TEST_P(DatabaseTest, AsyncWriteAnswersTheWorksValueAfterTheCommit) {
  std::promise<Result<std::int64_t>> answered;
  database_->WriteAsync(
      [](SqlConnection& db) -> Result<std::int64_t> {
        MLTF_TRY(Insert(db, 42));
        return db.LastInsertId();
      },
      [&](Result<std::int64_t> outcome) { answered.set_value(std::move(outcome)); });
  auto id = answered.get_future().get();
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_GT(*id, 0);
  EXPECT_EQ(Values(), (std::vector<std::int64_t>{42}));
}

TEST_P(DatabaseTest, CloseCommitsAndAnswersEverythingQueued) {
  std::latch started(1);
  std::latch release(1);
  HoldWriter(started, release);
  constexpr int kQueued = 50;
  std::atomic<int> acknowledged{0};
  for (int value = 0; value < kQueued; ++value) {
    database_->WriteAsync([value](SqlConnection& db) { return Insert(db, value); },
                          [&](const Result<void>& outcome) {
                            EXPECT_TRUE(outcome);
                            ++acknowledged;
                          });
  }
  std::jthread closer([&] { database_->Close(); });
  // Close() waits for the held write; writes that come once it has begun are refused at once.
  while (true) {
    // Shared: a write queued before Close() began is answered later, on the writer thread (and
    // only after the held write is released, so not while this loop reads it).
    auto answer = std::make_shared<std::optional<Result<void>>>();
    database_->WriteAsync([](SqlConnection& db) { return Insert(db, -1); },
                          [answer](Result<void> outcome) { *answer = std::move(outcome); });
    if (*answer) {
      ASSERT_FALSE(**answer);
      EXPECT_EQ((*answer)->error().code, ErrorCode::TEMPORARILY_UNAVAILABLE);
      break;
    }
    std::this_thread::yield();
  }
  release.count_down();
  closer.join();
  EXPECT_EQ(acknowledged.load(), kQueued);
  Open();
  auto values = Values();
  EXPECT_EQ(std::count_if(values.begin(), values.end(), [](auto value) { return value >= 0; }),
            kQueued);
}

TEST_P(DatabaseTest, WritesAfterCloseFailAtOnceAsTemporarilyUnavailable) {
  database_->Close();
  auto written = database_->Write([](SqlConnection& db) { return Insert(db, 1); });
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().code, ErrorCode::TEMPORARILY_UNAVAILABLE);
  bool answered = false;
  database_->WriteAsync([](SqlConnection& db) { return Insert(db, 1); },
                        [&](Result<void> outcome) {
                          answered = true;
                          ASSERT_FALSE(outcome);
                          EXPECT_EQ(outcome.error().code, ErrorCode::TEMPORARILY_UNAVAILABLE);
                        });
  EXPECT_TRUE(answered);  // on this thread, before WriteAsync returned
  database_->Close();     // idempotent
}

TEST_P(DatabaseTest, ACallbackMayQueueTheNextWrite) {
  std::promise<void> chain_done;
  std::function<void(std::int64_t)> next = [&](std::int64_t value) {
    if (value == 20) return chain_done.set_value();
    database_->WriteAsync([value](SqlConnection& db) { return Insert(db, value); },
                          [&, value](const Result<void>& outcome) {
                            EXPECT_TRUE(outcome);
                            next(value + 1);
                          });
  };
  next(0);
  chain_done.get_future().wait();
  EXPECT_EQ(Values().size(), 20U);
}

INSTANTIATE_TEST_SUITE_P(Synchronous, DatabaseTest,
                         ::testing::Values(sqlite::Synchronous::FULL, sqlite::Synchronous::NORMAL),
                         [](const auto& param_info) {
                           return param_info.param == sqlite::Synchronous::FULL ? "full" : "normal";
                         });

}  // namespace
}  // namespace mltf::tracking::store::sql
