// sqlite_connection_test.cpp - checkpoints off the commit path: the WAL is copied into the
// database by the connection's own thread and restarted, so it stays small under steady writes.
#include "tracking/store/sqlite/sqlite_connection.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "common/ids.hpp"

namespace mltf::tracking::store::sqlite {
namespace {

class SqliteConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("mltf-sqlite-test-" + NewRunId());
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "test.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(SqliteConnectionTest, SteadyCommitsKeepTheWalSmallAndEveryRowReadable) {
  constexpr std::uintmax_t kCommits = 3000;
  constexpr std::uintmax_t kPage = 4096;
  {
    auto writer = SqliteConnection::Open({path_, false, Synchronous::NORMAL});
    ASSERT_TRUE(writer) << writer.error().message;
    ASSERT_TRUE((*writer)->Execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)"));
    std::uintmax_t largest_wal = 0;
    for (std::uintmax_t commit_idx = 0; commit_idx < kCommits; ++commit_idx) {
      ASSERT_TRUE((*writer)->Execute("BEGIN IMMEDIATE"));
      // A page-sized row: every commit writes at least two pages to the WAL.
      ASSERT_TRUE((*writer)->Execute("INSERT INTO blobs (data) VALUES (zeroblob(4000))"));
      ASSERT_TRUE((*writer)->Execute("COMMIT"));
      std::error_code ec;
      largest_wal = std::max(largest_wal, std::filesystem::file_size(path_ + "-wal", ec));
    }
    // Never restarted, the WAL would grow to 2 * kCommits pages (the writer's own fallback
    // checkpoint starts only at 16000); restarted, it stays near 1000.
    EXPECT_LT(largest_wal, kCommits * kPage) << "the WAL was never restarted";
    auto reader = SqliteConnection::Open({path_, true, Synchronous::NORMAL});
    ASSERT_TRUE(reader) << reader.error().message;
    auto count = (*reader)->Prepare("SELECT COUNT(*) FROM blobs");
    ASSERT_TRUE(count);
    ASSERT_TRUE((*count)->Step());
    EXPECT_EQ(static_cast<std::uintmax_t>((*count)->Int(0)), kCommits);
  }
  // Closed: everything was checkpointed into the database file and the WAL removed.
  EXPECT_FALSE(std::filesystem::exists(path_ + "-wal"));
  auto reopened = SqliteConnection::Open({path_, true, Synchronous::NORMAL});
  ASSERT_TRUE(reopened);
  auto count = (*reopened)->Prepare("SELECT COUNT(*) FROM blobs");
  ASSERT_TRUE(count);
  ASSERT_TRUE((*count)->Step());
  EXPECT_EQ(static_cast<std::uintmax_t>((*count)->Int(0)), kCommits);
}

TEST_F(SqliteConnectionTest, AnInMemoryDatabaseNeedsNoCheckpointThread) {
  auto memory = SqliteConnection::Open({":memory:", false, Synchronous::FULL});
  ASSERT_TRUE(memory) << memory.error().message;
  ASSERT_TRUE((*memory)->Execute("CREATE TABLE t (x); INSERT INTO t VALUES (1)"));
}

}  // namespace
}  // namespace mltf::tracking::store::sqlite
