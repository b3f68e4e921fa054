// local_artifact_repository_test.cpp - unit tests of the local artifact repository on a real
// temporary directory, including traversal attempts through paths and symbolic links.
#include "artifacts/local_artifact_repository.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace mltf::artifacts {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Writes `content` through the repository in chunks of `chunk_size` bytes, and commits.
Result<void> Put(ArtifactRepository& repo, std::string_view path, std::string_view content,
                 std::size_t chunk_size = 65537) {
  MLTF_ASSIGN_OR_RETURN(writer, repo.OpenForWrite(path));
  for (std::size_t offset = 0; offset < content.size(); offset += chunk_size) {
    MLTF_TRY(writer->Write(content.substr(offset, chunk_size)));
  }
  return writer->Commit();
}

// Reads a whole artifact through the repository, in small reads.
Result<std::string> Get(ArtifactRepository& repo, std::string_view path) {
  MLTF_ASSIGN_OR_RETURN(file, repo.OpenForRead(path));
  std::string content;
  std::vector<char> buffer(40000);
  for (;;) {
    MLTF_ASSIGN_OR_RETURN(count, file.ReadSome(buffer));
    if (count == 0) {
      break;
    }
    content.append(buffer.data(), count);
  }
  if (static_cast<std::int64_t>(content.size()) != file.size()) {
    return Fail(Error::Internal("size mismatch"));
  }
  return content;
}

std::string ReadDisk(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void WriteDisk(const fs::path& file, std::string_view content) {
  fs::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary);
  out << content;
}

// Every entry below `dir` (hidden ones included, links not followed), relative, sorted.
std::vector<std::string> DiskEntries(const fs::path& dir) {
  std::vector<std::string> entries;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    entries.push_back(fs::relative(entry.path(), dir).generic_string());
  }
  std::sort(entries.begin(), entries.end());
  return entries;
}

// `count` bytes of a pattern that does not repeat with any chunk size used here.
std::string Pattern(std::size_t count) {
  std::string content(count, '\0');
  std::uint32_t state = 12345;
  for (char& byte : content) {
    state = state * 1103515245U + 12345U;
    byte = static_cast<char>(state >> 24U);
  }
  return content;
}

FileInfo File(std::string path, std::int64_t size) { return {std::move(path), false, size}; }
FileInfo Dir(std::string path) { return {std::move(path), true, std::nullopt}; }

class LocalArtifactRepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmpdir = std::getenv("TMPDIR");
    std::string pattern =
        (fs::path(tmpdir != nullptr ? tmpdir : "/tmp") / "mltf-artifacts-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    base_ = pattern;
    root_ = base_ / "data" / "artifacts";
    outside_ = base_ / "outside";
    fs::create_directories(outside_);
    WriteDisk(outside_ / "secret.txt", "secret");
    auto repo = LocalArtifactRepository::Open(root_);
    ASSERT_TRUE(repo.has_value()) << repo.error().message;
    repo_ = std::move(*repo);
  }

  void TearDown() override {
    repo_.reset();
    std::error_code error;
    fs::remove_all(base_, error);
  }

  // Asserts that nothing outside the root changed: `outside_` holds only secret.txt, intact,
  // and `base_` holds only `data/` and `outside/`.
  void ExpectOutsideUntouched() {
    EXPECT_THAT(DiskEntries(outside_), ElementsAre("secret.txt"));
    EXPECT_EQ(ReadDisk(outside_ / "secret.txt"), "secret");
    std::vector<std::string> top;
    for (const auto& entry : fs::directory_iterator(base_)) {
      top.push_back(entry.path().filename().string());
    }
    std::sort(top.begin(), top.end());
    EXPECT_THAT(top, ElementsAre("data", "outside"));
    std::vector<std::string> data;
    for (const auto& entry : fs::directory_iterator(base_ / "data")) {
      data.push_back(entry.path().filename().string());
    }
    EXPECT_THAT(data, ElementsAre("artifacts"));
  }

  // Asserts that every operation refuses `path` with INVALID_PARAMETER_VALUE.
  void ExpectAllOperationsRefuse(std::string_view path) {
    SCOPED_TRACE(std::string("path: ") + std::string(path));
    auto writer = repo_->OpenForWrite(path);
    ASSERT_FALSE(writer.has_value());
    EXPECT_EQ(writer.error().code, ErrorCode::INVALID_PARAMETER_VALUE) << writer.error().message;
    auto file = repo_->OpenForRead(path);
    ASSERT_FALSE(file.has_value());
    EXPECT_EQ(file.error().code, ErrorCode::INVALID_PARAMETER_VALUE) << file.error().message;
    auto listing = repo_->List(path);
    ASSERT_FALSE(listing.has_value());
    EXPECT_EQ(listing.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
    auto deleted = repo_->Delete(path);
    ASSERT_FALSE(deleted.has_value());
    EXPECT_EQ(deleted.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  }

  fs::path base_;
  fs::path root_;
  fs::path outside_;
  std::unique_ptr<LocalArtifactRepository> repo_;
};

TEST_F(LocalArtifactRepositoryTest, OpenCreatesTheRootAndItsParents) {
  EXPECT_TRUE(fs::is_directory(root_));
  EXPECT_EQ(repo_->root(), root_);
  EXPECT_THAT(DiskEntries(root_), IsEmpty());
  // Opening an existing root again is fine.
  EXPECT_TRUE(LocalArtifactRepository::Open(root_).has_value());
}

TEST_F(LocalArtifactRepositoryTest, OpenFailsWhenTheRootIsAFile) {
  WriteDisk(base_ / "file", "x");
  auto repo = LocalArtifactRepository::Open(base_ / "file");
  ASSERT_FALSE(repo.has_value());
  EXPECT_EQ(repo.error().code, ErrorCode::INTERNAL_ERROR);
  EXPECT_THAT(repo.error().message, HasSubstr("artifact root"));
}

TEST_F(LocalArtifactRepositoryTest, RoundTripsEmptySmallAndLargeFiles) {
  const std::string large = Pattern(5 * 1024 * 1024 + 17);
  ASSERT_TRUE(Put(*repo_, "1/run/artifacts/empty.bin", "").has_value());
  ASSERT_TRUE(Put(*repo_, "1/run/artifacts/small.txt", "hello\n").has_value());
  ASSERT_TRUE(Put(*repo_, "1/run/artifacts/model/weights.bin", large).has_value());

  EXPECT_EQ(Get(*repo_, "1/run/artifacts/empty.bin"), "");
  EXPECT_EQ(Get(*repo_, "1/run/artifacts/small.txt"), "hello\n");
  auto read_back = Get(*repo_, "1/run/artifacts/model/weights.bin");
  ASSERT_TRUE(read_back.has_value()) << read_back.error().message;
  EXPECT_TRUE(*read_back == large);

  auto file = repo_->OpenForRead("1/run/artifacts/model/weights.bin");
  ASSERT_TRUE(file.has_value());
  EXPECT_EQ(file->size(), static_cast<std::int64_t>(large.size()));
  EXPECT_GE(file->fd(), 0);
  EXPECT_TRUE(ReadDisk(root_ / "1/run/artifacts/model/weights.bin") == large);
}

TEST_F(LocalArtifactRepositoryTest, WritesNamesWithSpacesAndUnicode) {
  const std::string path = "1/r/artifacts/dir with space/données ü+ä.json";
  ASSERT_TRUE(Put(*repo_, path, "{}").has_value());
  EXPECT_EQ(Get(*repo_, path), "{}");
  EXPECT_EQ(ReadDisk(root_ / path), "{}");
}

TEST_F(LocalArtifactRepositoryTest, NormalisesPaths) {
  ASSERT_TRUE(Put(*repo_, "./a//b/./c.txt", "c").has_value());
  EXPECT_EQ(ReadDisk(root_ / "a/b/c.txt"), "c");
  EXPECT_EQ(Get(*repo_, "a/b/c.txt"), "c");
  auto listing = repo_->List("a//b/");
  ASSERT_TRUE(listing.has_value());
  EXPECT_THAT(*listing, ElementsAre(File("a/b/c.txt", 1)));
}

TEST_F(LocalArtifactRepositoryTest, OverwritesAnExistingFile) {
  ASSERT_TRUE(Put(*repo_, "a/f.txt", "old content that is longer").has_value());
  ASSERT_TRUE(Put(*repo_, "a/f.txt", "new").has_value());
  EXPECT_EQ(Get(*repo_, "a/f.txt"), "new");
  EXPECT_THAT(DiskEntries(root_), ElementsAre("a", "a/f.txt"));
}

TEST_F(LocalArtifactRepositoryTest, ReaderKeepsTheOldContentAcrossAnOverwrite) {
  ASSERT_TRUE(Put(*repo_, "f.txt", "old").has_value());
  auto file = repo_->OpenForRead("f.txt");
  ASSERT_TRUE(file.has_value());
  ASSERT_TRUE(Put(*repo_, "f.txt", "new!").has_value());
  std::vector<char> buffer(16);
  auto count = file->ReadSome(buffer);
  ASSERT_TRUE(count.has_value());
  EXPECT_EQ(std::string(buffer.data(), *count), "old");
}

TEST_F(LocalArtifactRepositoryTest, RefusesToWriteWhereADirectoryIs) {
  ASSERT_TRUE(Put(*repo_, "a/b/c.txt", "c").has_value());
  auto writer = repo_->OpenForWrite("a/b");
  ASSERT_FALSE(writer.has_value());
  EXPECT_EQ(writer.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_THAT(writer.error().message, HasSubstr("a directory exists"));
  EXPECT_THAT(DiskEntries(root_), ElementsAre("a", "a/b", "a/b/c.txt"));
}

TEST_F(LocalArtifactRepositoryTest, CommitFailsIfADirectoryAppearedMeanwhile) {
  auto writer = repo_->OpenForWrite("a/x");
  ASSERT_TRUE(writer.has_value());
  ASSERT_TRUE((*writer)->Write(std::string_view("data")).has_value());
  fs::create_directories(root_ / "a/x/inner");
  auto committed = (*writer)->Commit();
  ASSERT_FALSE(committed.has_value());
  EXPECT_EQ(committed.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_THAT(DiskEntries(root_), ElementsAre("a", "a/x", "a/x/inner"));
}

TEST_F(LocalArtifactRepositoryTest, RefusesToWriteBelowAFile) {
  ASSERT_TRUE(Put(*repo_, "a/f.txt", "f").has_value());
  auto writer = repo_->OpenForWrite("a/f.txt/x");
  ASSERT_FALSE(writer.has_value());
  EXPECT_EQ(writer.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_THAT(writer.error().message, HasSubstr("'a/f.txt' is a file"));
  EXPECT_THAT(DiskEntries(root_), ElementsAre("a", "a/f.txt"));
}

TEST_F(LocalArtifactRepositoryTest, RefusesToWriteTheRoot) {
  for (const std::string_view path : {"", ".", "./"}) {
    auto writer = repo_->OpenForWrite(path);
    ASSERT_FALSE(writer.has_value());
    EXPECT_EQ(writer.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  }
}

TEST_F(LocalArtifactRepositoryTest, AbandonedWriterLeavesNothingBehind) {
  {
    auto writer = repo_->OpenForWrite("1/run/artifacts/partial.bin");
    ASSERT_TRUE(writer.has_value());
    ASSERT_TRUE((*writer)->Write(Pattern(300000)).has_value());
  }
  // The directories made for it stay (as after any upload); no file, no temporary.
  EXPECT_THAT(DiskEntries(root_), ElementsAre("1", "1/run", "1/run/artifacts"));
  auto file = repo_->OpenForRead("1/run/artifacts/partial.bin");
  ASSERT_FALSE(file.has_value());
  EXPECT_EQ(file.error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
}

TEST_F(LocalArtifactRepositoryTest, AbandonedOverwriteKeepsTheOldFile) {
  ASSERT_TRUE(Put(*repo_, "f.txt", "old").has_value());
  {
    auto writer = repo_->OpenForWrite("f.txt");
    ASSERT_TRUE(writer.has_value());
    ASSERT_TRUE((*writer)->Write(std::string_view("new")).has_value());
  }
  EXPECT_EQ(Get(*repo_, "f.txt"), "old");
  EXPECT_THAT(DiskEntries(root_), ElementsAre("f.txt"));
}

TEST_F(LocalArtifactRepositoryTest, UploadIsInvisibleUntilCommitted) {
  ASSERT_TRUE(Put(*repo_, "d/existing.txt", "e").has_value());
  auto writer = repo_->OpenForWrite("d/new.txt");
  ASSERT_TRUE(writer.has_value());
  ASSERT_TRUE((*writer)->Write(std::string_view("new")).has_value());

  // The temporary is on disk, hidden, and not listed.
  const auto on_disk = DiskEntries(root_ / "d");
  ASSERT_EQ(on_disk.size(), 2U);
  EXPECT_EQ(on_disk[1], "existing.txt");
  EXPECT_TRUE(on_disk[0].starts_with(".mltf-upload-")) << on_disk[0];
  auto listing = repo_->List("d");
  ASSERT_TRUE(listing.has_value());
  EXPECT_THAT(*listing, ElementsAre(File("d/existing.txt", 1)));
  EXPECT_FALSE(repo_->OpenForRead("d/new.txt").has_value());
  // Clients cannot name it.
  ExpectAllOperationsRefuse("d/" + on_disk[0]);

  ASSERT_TRUE((*writer)->Commit().has_value());
  listing = repo_->List("d");
  ASSERT_TRUE(listing.has_value());
  EXPECT_THAT(*listing, ElementsAre(File("d/existing.txt", 1), File("d/new.txt", 3)));
  EXPECT_THAT(DiskEntries(root_ / "d"), ElementsAre("existing.txt", "new.txt"));
}

TEST_F(LocalArtifactRepositoryTest, WriterRefusesUseAfterCommit) {
  auto writer = repo_->OpenForWrite("f.txt");
  ASSERT_TRUE(writer.has_value());
  ASSERT_TRUE((*writer)->Commit().has_value());
  auto written = (*writer)->Write(std::string_view("late"));
  ASSERT_FALSE(written.has_value());
  EXPECT_EQ(written.error().code, ErrorCode::INVALID_STATE);
  auto again = (*writer)->Commit();
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::INVALID_STATE);
  writer->reset();
  EXPECT_EQ(Get(*repo_, "f.txt"), "");  // Destroying a committed writer keeps the file.
}

TEST_F(LocalArtifactRepositoryTest, CommitFailsIfTheDirectoryWasDeleted) {
  auto writer = repo_->OpenForWrite("a/b/f.txt");
  ASSERT_TRUE(writer.has_value());
  ASSERT_TRUE((*writer)->Write(std::string_view("x")).has_value());
  ASSERT_TRUE(repo_->Delete("a").has_value());
  auto committed = (*writer)->Commit();
  ASSERT_FALSE(committed.has_value());
  EXPECT_EQ(committed.error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
  EXPECT_THAT(DiskEntries(root_), IsEmpty());
}

TEST_F(LocalArtifactRepositoryTest, ConcurrentUploadsOfOnePathLeaveOneWholeFile) {
  const std::string first(200000, 'a');
  const std::string second(300000, 'b');
  std::thread other([&] { EXPECT_TRUE(Put(*repo_, "same.bin", first, 1000).has_value()); });
  EXPECT_TRUE(Put(*repo_, "same.bin", second, 1000).has_value());
  other.join();
  auto content = Get(*repo_, "same.bin");
  ASSERT_TRUE(content.has_value());
  EXPECT_TRUE(*content == first || *content == second);
  EXPECT_THAT(DiskEntries(root_), ElementsAre("same.bin"));
}

TEST_F(LocalArtifactRepositoryTest, ReadOfMissingOrDirectoryIsNotFound) {
  ASSERT_TRUE(Put(*repo_, "a/b/c.txt", "c").has_value());
  for (const std::string_view path :
       {"missing.txt", "a/missing", "a/b", "a", "", "a/b/c.txt/x", "zz/yy/xx"}) {
    auto file = repo_->OpenForRead(path);
    ASSERT_FALSE(file.has_value()) << path;
    EXPECT_EQ(file.error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST) << path;
  }
}

TEST_F(LocalArtifactRepositoryTest, ReadRefusesAFifoWithoutBlocking) {
  fs::create_directories(root_ / "d");
  ASSERT_EQ(::mkfifo((root_ / "d/fifo").c_str(), 0600), 0);
  auto file = repo_->OpenForRead("d/fifo");
  ASSERT_FALSE(file.has_value());
  EXPECT_EQ(file.error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
  auto listing = repo_->List("d");
  ASSERT_TRUE(listing.has_value());
  EXPECT_THAT(*listing, IsEmpty());
  auto writer = repo_->OpenForWrite("d/fifo");
  ASSERT_FALSE(writer.has_value());
  EXPECT_EQ(writer.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
}

TEST_F(LocalArtifactRepositoryTest, ArtifactFileOwnsItsDescriptor) {
  ASSERT_TRUE(Put(*repo_, "f.txt", "abc").has_value());
  auto file = repo_->OpenForRead("f.txt");
  ASSERT_TRUE(file.has_value());
  ArtifactFile moved = std::move(*file);
  EXPECT_EQ(file->fd(), -1);  // NOLINT(bugprone-use-after-move): checking the moved-from state.
  const int fd = moved.Release();
  ASSERT_GE(fd, 0);
  EXPECT_EQ(moved.fd(), -1);
  EXPECT_FALSE(moved.ReadSome(std::span<char>()).has_value());
  char buffer[8];
  EXPECT_EQ(::read(fd, buffer, sizeof buffer), 3);
  EXPECT_EQ(::close(fd), 0);
}

TEST_F(LocalArtifactRepositoryTest, ListsNestedDirectoriesSortedByName) {
  ASSERT_TRUE(Put(*repo_, "1/r/artifacts/model/MLmodel", "m").has_value());
  ASSERT_TRUE(Put(*repo_, "1/r/artifacts/model/data/weights.bin", "wwww").has_value());
  ASSERT_TRUE(Put(*repo_, "1/r/artifacts/b.txt", "bb").has_value());
  ASSERT_TRUE(Put(*repo_, "1/r/artifacts/a.txt", "").has_value());
  ASSERT_TRUE(Put(*repo_, "1/r/artifacts/Z.txt", "z").has_value());

  auto listing = repo_->List("1/r/artifacts");
  ASSERT_TRUE(listing.has_value()) << listing.error().message;
  EXPECT_THAT(*listing, ElementsAre(File("1/r/artifacts/Z.txt", 1), File("1/r/artifacts/a.txt", 0),
                                    File("1/r/artifacts/b.txt", 2), Dir("1/r/artifacts/model")));

  listing = repo_->List("1/r/artifacts/model");
  ASSERT_TRUE(listing.has_value());
  EXPECT_THAT(*listing,
              ElementsAre(File("1/r/artifacts/model/MLmodel", 1), Dir("1/r/artifacts/model/data")));

  listing = repo_->List("");
  ASSERT_TRUE(listing.has_value());
  EXPECT_THAT(*listing, ElementsAre(Dir("1")));
}

TEST_F(LocalArtifactRepositoryTest, ListOfEmptyMissingOrFilePathIsEmpty) {
  ASSERT_TRUE(repo_->List("").has_value());
  EXPECT_THAT(*repo_->List(""), IsEmpty());
  fs::create_directories(root_ / "empty");
  ASSERT_TRUE(Put(*repo_, "f.txt", "f").has_value());
  for (const std::string_view path :
       {"empty", "missing", "missing/deeper", "f.txt", "f.txt/below"}) {
    auto listing = repo_->List(path);
    ASSERT_TRUE(listing.has_value()) << path;
    EXPECT_THAT(*listing, IsEmpty()) << path;
  }
}

TEST_F(LocalArtifactRepositoryTest, DeletesFilesAndTrees) {
  ASSERT_TRUE(Put(*repo_, "1/r/a.txt", "a").has_value());
  ASSERT_TRUE(Put(*repo_, "1/r/d/b.txt", "b").has_value());
  ASSERT_TRUE(Put(*repo_, "1/r/d/e/f/c.txt", "c").has_value());
  fs::create_directories(root_ / "1/r/d/empty");

  ASSERT_TRUE(repo_->Delete("1/r/a.txt").has_value());
  EXPECT_THAT(DiskEntries(root_ / "1/r"),
              ElementsAre("d", "d/b.txt", "d/e", "d/e/f", "d/e/f/c.txt", "d/empty"));
  ASSERT_TRUE(repo_->Delete("1/r/d").has_value());
  EXPECT_THAT(DiskEntries(root_), ElementsAre("1", "1/r"));
  ASSERT_TRUE(repo_->Delete("1").has_value());
  EXPECT_THAT(DiskEntries(root_), IsEmpty());
  EXPECT_TRUE(fs::is_directory(root_));
}

TEST_F(LocalArtifactRepositoryTest, DeleteOfMissingIsNotFound) {
  ASSERT_TRUE(Put(*repo_, "f.txt", "f").has_value());
  for (const std::string_view path : {"missing", "a/b/c", "f.txt/x"}) {
    auto deleted = repo_->Delete(path);
    ASSERT_FALSE(deleted.has_value()) << path;
    EXPECT_EQ(deleted.error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST) << path;
  }
}

TEST_F(LocalArtifactRepositoryTest, DeleteRefusesTheRoot) {
  ASSERT_TRUE(Put(*repo_, "f.txt", "f").has_value());
  for (const std::string_view path : {"", ".", "a/.."}) {
    auto deleted = repo_->Delete(path);
    ASSERT_FALSE(deleted.has_value()) << path;
    EXPECT_EQ(deleted.error().code, ErrorCode::INVALID_PARAMETER_VALUE) << path;
  }
  EXPECT_THAT(DiskEntries(root_), ElementsAre("f.txt"));
}

TEST_F(LocalArtifactRepositoryTest, RefusesTraversalPaths) {
  // Something at the names the attacks aim for, so a success would be visible.
  WriteDisk(base_ / "data" / "x", "target");
  for (const std::string& path :
       {std::string("../x"), std::string("a/../../x"), std::string("../../outside/secret.txt"),
        (outside_ / "secret.txt").string(), std::string("/etc/passwd"), std::string("a/\0b", 4),
        std::string("..\\x"), std::string("%2e%2e/x"), std::string("C:/x")}) {
    ExpectAllOperationsRefuse(path);
  }
  EXPECT_EQ(ReadDisk(base_ / "data" / "x"), "target");
  fs::remove(base_ / "data" / "x");
  EXPECT_THAT(DiskEntries(root_), IsEmpty());
  ExpectOutsideUntouched();
}

template <typename T>
void ExpectError(const Result<T>& result, ErrorCode code, std::string_view message_part) {
  ASSERT_FALSE(result.has_value()) << "expected an error containing: " << message_part;
  EXPECT_EQ(result.error().code, code) << result.error().message;
  EXPECT_THAT(result.error().message, HasSubstr(std::string(message_part)));
}

TEST_F(LocalArtifactRepositoryTest, SymlinkToAFileOutsideIsNeitherReadNorWrittenNorListed) {
  fs::create_symlink(outside_ / "secret.txt", root_ / "link.txt");
  ExpectError(repo_->OpenForRead("link.txt"), ErrorCode::INVALID_PARAMETER_VALUE,
              "'link.txt' is a symbolic link");
  ExpectError(repo_->OpenForWrite("link.txt"), ErrorCode::INVALID_PARAMETER_VALUE,
              "'link.txt' is a symbolic link");
  ExpectError(repo_->List("link.txt"), ErrorCode::INVALID_PARAMETER_VALUE, "symbolic link");
  auto listing = repo_->List("");
  ASSERT_TRUE(listing.has_value());
  EXPECT_THAT(*listing, IsEmpty());

  // Delete removes the link itself, never its target.
  ASSERT_TRUE(repo_->Delete("link.txt").has_value());
  EXPECT_FALSE(fs::exists(fs::symlink_status(root_ / "link.txt")));
  ExpectOutsideUntouched();
}

TEST_F(LocalArtifactRepositoryTest, SymlinkedDirectoryPointingOutsideIsRefused) {
  fs::create_symlink(outside_, root_ / "evil");
  ExpectError(repo_->OpenForWrite("evil/new.txt"), ErrorCode::INVALID_PARAMETER_VALUE,
              "'evil' is a symbolic link");
  ExpectError(repo_->OpenForWrite("evil/sub/new.txt"), ErrorCode::INVALID_PARAMETER_VALUE,
              "'evil' is a symbolic link");
  ExpectError(repo_->OpenForWrite("evil/secret.txt"), ErrorCode::INVALID_PARAMETER_VALUE,
              "symbolic link");
  ExpectError(repo_->OpenForRead("evil/secret.txt"), ErrorCode::INVALID_PARAMETER_VALUE,
              "symbolic link");
  ExpectError(repo_->List("evil"), ErrorCode::INVALID_PARAMETER_VALUE, "symbolic link");
  ExpectError(repo_->List("evil/sub"), ErrorCode::INVALID_PARAMETER_VALUE, "symbolic link");
  ExpectError(repo_->Delete("evil/secret.txt"), ErrorCode::INVALID_PARAMETER_VALUE,
              "symbolic link");
  auto listing = repo_->List("");
  ASSERT_TRUE(listing.has_value());
  EXPECT_THAT(*listing, IsEmpty());
  ExpectOutsideUntouched();

  ASSERT_TRUE(repo_->Delete("evil").has_value());
  EXPECT_THAT(DiskEntries(root_), IsEmpty());
  ExpectOutsideUntouched();
}

TEST_F(LocalArtifactRepositoryTest, SymlinkedParentDeepInTheTreeIsRefused) {
  ASSERT_TRUE(Put(*repo_, "1/r/meta.yaml", "m").has_value());
  fs::create_symlink(outside_, root_ / "1/r/artifacts");
  const std::string link = "'1/r/artifacts' is a symbolic link";
  ExpectError(repo_->OpenForWrite("1/r/artifacts/x/y.txt"), ErrorCode::INVALID_PARAMETER_VALUE,
              link);
  ExpectError(repo_->OpenForRead("1/r/artifacts/secret.txt"), ErrorCode::INVALID_PARAMETER_VALUE,
              link);
  ExpectError(repo_->List("1/r/artifacts"), ErrorCode::INVALID_PARAMETER_VALUE, link);
  ExpectError(repo_->Delete("1/r/artifacts/secret.txt"), ErrorCode::INVALID_PARAMETER_VALUE, link);
  auto listing = repo_->List("1/r");
  ASSERT_TRUE(listing.has_value());
  EXPECT_THAT(*listing, ElementsAre(File("1/r/meta.yaml", 1)));
  ExpectOutsideUntouched();
}

TEST_F(LocalArtifactRepositoryTest, RelativeSymlinkClimbingOutIsRefused) {
  fs::create_directories(root_ / "a");
  fs::create_symlink("../../../outside", root_ / "a/up");
  ExpectError(repo_->OpenForWrite("a/up/x.txt"), ErrorCode::INVALID_PARAMETER_VALUE,
              "symbolic link");
  ExpectError(repo_->OpenForRead("a/up/secret.txt"), ErrorCode::INVALID_PARAMETER_VALUE,
              "symbolic link");
  ExpectOutsideUntouched();
}

TEST_F(LocalArtifactRepositoryTest, SymlinkInsideTheRootIsRefusedToo) {
  // Links are never followed, even harmless ones: one rule, no resolution races.
  ASSERT_TRUE(Put(*repo_, "real/f.txt", "f").has_value());
  fs::create_symlink("real", root_ / "alias");
  ExpectError(repo_->OpenForRead("alias/f.txt"), ErrorCode::INVALID_PARAMETER_VALUE,
              "'alias' is a symbolic link");
  auto listing = repo_->List("");
  ASSERT_TRUE(listing.has_value());
  EXPECT_THAT(*listing, ElementsAre(Dir("real")));
}

TEST_F(LocalArtifactRepositoryTest, DeletingATreeDoesNotFollowLinksInIt) {
  ASSERT_TRUE(Put(*repo_, "d/own.txt", "o").has_value());
  fs::create_directories(root_ / "d/sub");
  fs::create_symlink(outside_, root_ / "d/dirlink");
  fs::create_symlink(outside_ / "secret.txt", root_ / "d/sub/filelink");
  ASSERT_TRUE(repo_->Delete("d").has_value());
  EXPECT_THAT(DiskEntries(root_), IsEmpty());
  ExpectOutsideUntouched();
}

TEST_F(LocalArtifactRepositoryTest, LinkPlacedAtTheTargetDuringAnUploadIsReplaced) {
  auto writer = repo_->OpenForWrite("t.txt");
  ASSERT_TRUE(writer.has_value());
  ASSERT_TRUE((*writer)->Write(std::string_view("mine")).has_value());
  fs::create_symlink(outside_ / "secret.txt", root_ / "t.txt");
  ASSERT_TRUE((*writer)->Commit().has_value());
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(root_ / "t.txt")));
  EXPECT_EQ(Get(*repo_, "t.txt"), "mine");
  ExpectOutsideUntouched();
}

TEST_F(LocalArtifactRepositoryTest, ParentSwappedForALinkDuringAnUploadStaysInside) {
  auto writer = repo_->OpenForWrite("d/f.txt");
  ASSERT_TRUE(writer.has_value());
  ASSERT_TRUE((*writer)->Write(std::string_view("data")).has_value());
  fs::rename(root_ / "d", root_ / "moved");
  fs::create_symlink(outside_, root_ / "d");
  ASSERT_TRUE((*writer)->Commit().has_value());
  // The upload holds its directory open: it lands where that directory now is.
  EXPECT_EQ(ReadDisk(root_ / "moved/f.txt"), "data");
  ExpectOutsideUntouched();
}

TEST_F(LocalArtifactRepositoryTest, RootMayItselfBeASymlink) {
  fs::create_symlink(root_, base_ / "data" / "root-link");
  auto repo = LocalArtifactRepository::Open(base_ / "data" / "root-link");
  ASSERT_TRUE(repo.has_value()) << repo.error().message;
  ASSERT_TRUE(Put(**repo, "a/f.txt", "via link").has_value());
  EXPECT_EQ(Get(*repo_, "a/f.txt"), "via link");
  fs::remove(base_ / "data" / "root-link");
}

}  // namespace
}  // namespace mltf::artifacts
