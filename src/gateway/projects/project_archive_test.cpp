// project_archive_test.cpp - tests of archive inspection, extraction, packing and hashing,
// with good and hostile archives written by libarchive in a temporary directory.
#include "gateway/projects/project_archive.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace mltf::gateway::projects {
namespace {

namespace fs = std::filesystem;

/// One member of a test archive.
struct Member {
  std::string name;
  unsigned type = AE_IFREG;
  std::string content;
  std::string symlink;
  std::string hardlink;
  unsigned perm = 0644;
  std::uint64_t zeros = 0;  ///< Extra content of this many zero bytes, written in chunks.
};

Member File(std::string name, std::string content, unsigned perm = 0644) {
  return {std::move(name), AE_IFREG, std::move(content), "", "", perm, 0};
}
Member Dir(std::string name) { return {std::move(name), AE_IFDIR, "", "", "", 0755, 0}; }
Member Symlink(std::string name, std::string target) {
  return {std::move(name), AE_IFLNK, "", std::move(target), "", 0777, 0};
}
Member Hardlink(std::string name, std::string target) {
  return {std::move(name), AE_IFREG, "", "", std::move(target), 0644, 0};
}
Member Special(std::string name, unsigned type) {
  return {std::move(name), type, "", "", "", 0644, 0};
}

void WriteTestArchive(const fs::path& path, const std::vector<Member>& members, bool gzip) {
  archive* writer = archive_write_new();
  if (gzip) {
    ASSERT_EQ(archive_write_add_filter_gzip(writer), ARCHIVE_OK);
  }
  ASSERT_EQ(archive_write_set_format_pax(writer), ARCHIVE_OK);
  ASSERT_EQ(archive_write_open_filename(writer, path.c_str()), ARCHIVE_OK);
  for (const Member& member : members) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, member.name.c_str());
    archive_entry_set_filetype(entry, member.type);
    archive_entry_set_perm(entry, member.perm);
    archive_entry_set_mtime(entry, 1700000000, 0);
    if (!member.symlink.empty()) {
      archive_entry_set_symlink(entry, member.symlink.c_str());
    }
    if (!member.hardlink.empty()) {
      archive_entry_set_hardlink(entry, member.hardlink.c_str());
    }
    if (member.type == AE_IFREG && member.hardlink.empty()) {
      archive_entry_set_size(entry, static_cast<la_int64_t>(member.content.size() + member.zeros));
    }
    ASSERT_EQ(archive_write_header(writer, entry), ARCHIVE_OK) << archive_error_string(writer);
    if (!member.content.empty()) {
      archive_write_data(writer, member.content.data(), member.content.size());
    }
    const std::string zeros(1 << 20, '\0');
    for (std::uint64_t left = member.zeros; left > 0;) {
      const std::size_t chunk = std::min<std::uint64_t>(left, zeros.size());
      archive_write_data(writer, zeros.data(), chunk);
      left -= chunk;
    }
    archive_entry_free(entry);
  }
  ASSERT_EQ(archive_write_close(writer), ARCHIVE_OK);
  archive_write_free(writer);
}

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void WriteAll(const fs::path& path, std::string_view content) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << content;
}

class ProjectArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device random;
    root_ = fs::temp_directory_path() / ("mltf-projects-test-" + std::to_string(random()));
    fs::create_directories(root_ / "dest");
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  fs::path Write(const std::vector<Member>& members, bool gzip = false) {
    fs::path path = root_ / (gzip ? "archive.tar.gz" : "archive.tar");
    WriteTestArchive(path, members, gzip);
    return path;
  }

  /// Expects both Inspect and Extract to refuse, with `rule` in the message, and Extract to
  /// leave the destination empty and nothing beside it.
  void ExpectRefused(const std::vector<Member>& members, std::string_view rule,
                     const ArchiveLimits& limits = {}) {
    for (bool gzip : {false, true}) {
      const fs::path archive = Write(members, gzip);
      auto summary = InspectArchive(archive, limits);
      ASSERT_FALSE(summary.has_value()) << rule;
      EXPECT_EQ(summary.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
      EXPECT_NE(summary.error().message.find(rule), std::string::npos) << summary.error().message;
      auto extracted = ExtractArchive(archive, root_ / "dest", limits);
      ASSERT_FALSE(extracted.has_value()) << rule;
      EXPECT_NE(extracted.error().message.find(rule), std::string::npos)
          << extracted.error().message;
      EXPECT_TRUE(fs::is_empty(root_ / "dest")) << rule;
      EXPECT_FALSE(fs::exists(root_ / "pwned")) << rule;
      EXPECT_FALSE(fs::exists(root_ / "etc")) << rule;
    }
  }

  fs::path root_;
};

TEST_F(ProjectArchiveTest, InspectsDotSlashPaxTarAsTheClientWritesIt) {
  const std::vector<Member> members = {
      Dir("./"),
      File("./.mltf_meta", "{\"files\": []}"),
      File("./MLproject", "name: demo\npython_env: envs/env.yaml\n"),
      File("./train.py", "print(1)\n", 0755),
      Dir("./sub/"),
      File("./sub/data.csv", "a,b\n"),
      File("./python_env.yaml", "python: '3.10'\n"),
      File("./requirements.txt", "numpy\n"),
      File("./big.txt", std::string(64, 'x')),
  };
  for (bool gzip : {false, true}) {
    auto summary = InspectArchive(Write(members, gzip), {});
    ASSERT_TRUE(summary.has_value()) << summary.error().message;
    EXPECT_EQ(summary->entries, members.size());
    EXPECT_EQ(summary->files,
              (std::vector<std::string>{".mltf_meta", "MLproject", "big.txt", "python_env.yaml",
                                        "requirements.txt", "sub/data.csv", "train.py"}));
    EXPECT_EQ(summary->small_files.size(), 3U);
    EXPECT_EQ(summary->small_files.at("MLproject"), "name: demo\npython_env: envs/env.yaml\n");
    EXPECT_EQ(summary->small_files.at("python_env.yaml"), "python: '3.10'\n");
    EXPECT_EQ(summary->small_files.at("requirements.txt"), "numpy\n");
    std::uint64_t content_bytes = 0;
    for (const Member& member : members) {
      content_bytes += member.content.size();
    }
    EXPECT_EQ(summary->unpacked_bytes, content_bytes);
  }
}

TEST_F(ProjectArchiveTest, KeepsTheEnvFileTheMlprojectNamesEvenWhenItComesFirst) {
  auto summary = InspectArchive(Write({File("envs/env.yaml", "python: '3.11'\n"),
                                       File("mlproject", "python_env: ./envs/env.yaml\n")}),
                                {});
  ASSERT_TRUE(summary.has_value()) << summary.error().message;
  EXPECT_EQ(summary->small_files.at("mlproject"), "python_env: ./envs/env.yaml\n");
  EXPECT_EQ(summary->small_files.at("envs/env.yaml"), "python: '3.11'\n");
}

TEST_F(ProjectArchiveTest, LeavesLargeSpecFilesOutOfSmallFiles) {
  ArchiveLimits limits;
  limits.max_small_file_bytes = 8;
  auto summary = InspectArchive(
      Write({File("MLproject", "name: a-long-name\n"), File("conda.yaml", "x: 1\n")}), limits);
  ASSERT_TRUE(summary.has_value());
  EXPECT_FALSE(summary->small_files.contains("MLproject"));
  EXPECT_EQ(summary->small_files.at("conda.yaml"), "x: 1\n");
}

TEST_F(ProjectArchiveTest, HardLinkedSpecFilesShareTheirTargetsContent) {
  auto summary = InspectArchive(
      Write({File("conda.yaml", "deps: []\n"), Hardlink("requirements.txt", "conda.yaml"),
             File("spec.txt", "name: x\n"), Hardlink("MLproject", "spec.txt")}),
      {});
  ASSERT_TRUE(summary.has_value()) << summary.error().message;
  EXPECT_EQ(summary->small_files.at("requirements.txt"), "deps: []\n");
  EXPECT_FALSE(summary->small_files.contains("MLproject"));  // its target was not kept
  EXPECT_EQ(summary->files.size(), 4U);
}

TEST_F(ProjectArchiveTest, AcceptsSymlinksAndHardLinksThatStayInside) {
  auto summary =
      InspectArchive(Write({File("a/b/file.txt", "x"), Symlink("a/b/up", ".."),
                            Symlink("a/b/top", "../../a/b/file.txt"),
                            Symlink("a/same", "b/file.txt"), Hardlink("a/hard", "./a/b/file.txt")}),
                     {});
  ASSERT_TRUE(summary.has_value()) << summary.error().message;
  EXPECT_EQ(summary->files, (std::vector<std::string>{"a/b/file.txt", "a/hard"}));
}

TEST_F(ProjectArchiveTest, RefusesAbsolutePaths) {
  ExpectRefused({File("/etc/pwned", "x")}, "absolute paths are not allowed");
}

TEST_F(ProjectArchiveTest, RefusesDotDotComponents) {
  ExpectRefused({File("../pwned", "x")}, "'..' path components");
  ExpectRefused({File("a/../../pwned", "x")}, "'..' path components");
  ExpectRefused({File("ok.txt", "x"), File("a/..", "x")}, "'..' path components");
}

TEST_F(ProjectArchiveTest, RefusesControlCharactersInNames) {
  ExpectRefused({File("bad\nname", "x")}, "control characters");
  ExpectRefused({File("bad\x7fname", "x")}, "control characters");
}

TEST_F(ProjectArchiveTest, RefusesSymlinksLeavingTheRoot) {
  ExpectRefused({Symlink("etc", "/etc")}, "is absolute");
  ExpectRefused({Symlink("a/up", "../..")}, "leaves the archive root");
  ExpectRefused({Symlink("up", "..")}, "leaves the archive root");
  ExpectRefused({Symlink("a/l", "x/../../..")}, "only leading '..'");
}

TEST_F(ProjectArchiveTest, RefusesMembersBeneathASymlink) {
  ExpectRefused({Dir("sub"), Symlink("link", "sub"), File("link/pwned", "x")},
                "lies beneath the symlink 'link'");
}

TEST_F(ProjectArchiveTest, RefusesBadHardLinks) {
  ExpectRefused({Hardlink("h", "../pwned")}, "outside the archive");
  ExpectRefused({Hardlink("h", "/etc/passwd")}, "outside the archive");
  ExpectRefused({Hardlink("h", "later.txt"), File("later.txt", "x")}, "not an earlier member");
  ExpectRefused({Dir("d"), Hardlink("h", "d")}, "is a directory");
}

TEST_F(ProjectArchiveTest, RefusesSpecialFiles) {
  ExpectRefused({Special("dev", AE_IFCHR)}, "character devices");
  ExpectRefused({Special("dev", AE_IFBLK)}, "block devices");
  ExpectRefused({Special("fifo", AE_IFIFO)}, "FIFOs");
}

TEST_F(ProjectArchiveTest, RefusesDuplicatesOfDifferentType) {
  ExpectRefused({File("a", "x"), Dir("a")}, "a file of that name came before");
  ExpectRefused({File("a/b", "x"), Symlink("a", "c")}, "a directory of that name came before");
  ExpectRefused({File("a", "x"), File("a/b", "y")}, "lies beneath the file 'a'");
}

TEST_F(ProjectArchiveTest, RefusesTooManyMembersAndLongNames) {
  ArchiveLimits limits;
  limits.max_entries = 5;
  std::vector<Member> many;
  many.reserve(10);
  for (int idx = 0; idx < 10; ++idx) {
    many.push_back(File("f" + std::to_string(idx), "x"));
  }
  ExpectRefused(many, "more than 5 members", limits);
  limits = {};
  limits.max_path_length = 10;
  ExpectRefused({File("a-name-longer-than-ten", "x")}, "longer than 10 bytes", limits);
}

TEST_F(ProjectArchiveTest, RefusesACompressionBomb) {
  ArchiveLimits limits;
  limits.max_unpacked_bytes = 10ULL << 20;
  Member bomb = File("zeros.bin", "");
  bomb.zeros = 100ULL << 20;
  const fs::path archive = root_ / "bomb.tar.gz";
  WriteTestArchive(archive, {bomb}, true);
  EXPECT_LT(fs::file_size(archive), 1U << 20);  // tiny on disk
  auto summary = InspectArchive(archive, limits);
  ASSERT_FALSE(summary.has_value());
  EXPECT_NE(summary.error().message.find("exceed the limit of 10485760 bytes"), std::string::npos)
      << summary.error().message;
  EXPECT_FALSE(ExtractArchive(archive, root_ / "dest", limits).has_value());
  EXPECT_TRUE(fs::is_empty(root_ / "dest"));
}

TEST_F(ProjectArchiveTest, CountsBytesAcrossMembers) {
  ArchiveLimits limits;
  limits.max_unpacked_bytes = 10;
  ExpectRefused({File("a", "123456"), File("b", "123456")}, "exceed the limit of 10 bytes", limits);
}

TEST_F(ProjectArchiveTest, RefusesGarbageAndTruncatedArchives) {
  WriteAll(root_ / "garbage.tar", "this is not an archive at all, just some text\n");
  auto garbage = InspectArchive(root_ / "garbage.tar", {});
  ASSERT_FALSE(garbage.has_value());
  EXPECT_NE(garbage.error().message.find("not a valid tar or tar.gz archive"), std::string::npos);

  Member large = File("data.bin", "");
  large.zeros = 1 << 20;
  std::string random_content(200000, '\0');
  std::mt19937 generator(7);
  for (char& c : random_content) {
    c = static_cast<char>(generator());
  }
  const fs::path good = root_ / "good.tar.gz";
  WriteTestArchive(good, {File("random.bin", random_content), large}, true);
  std::string bytes = ReadAll(good);
  WriteAll(root_ / "truncated.tar.gz", std::string_view(bytes).substr(0, bytes.size() / 2));
  auto truncated = InspectArchive(root_ / "truncated.tar.gz", {});
  ASSERT_FALSE(truncated.has_value());
  EXPECT_NE(truncated.error().message.find("not a valid tar or tar.gz archive"), std::string::npos)
      << truncated.error().message;
  auto extracted = ExtractArchive(root_ / "truncated.tar.gz", root_ / "dest", {});
  ASSERT_FALSE(extracted.has_value());
  EXPECT_TRUE(fs::is_empty(root_ / "dest"));
  EXPECT_FALSE(InspectArchive(root_ / "missing.tar", {}).has_value());
}

TEST_F(ProjectArchiveTest, ExtractsWithMaskedModesAndTimes) {
  const fs::path archive =
      Write({Dir("./"), File("./run.sh", "echo hi\n", 0777), File("./data/secret.txt", "s", 0600),
             File("./data/open.txt", "o", 0666), Symlink("./data/link", "open.txt"),
             Hardlink("./hard", "./data/open.txt")},
            true);
  auto extracted = ExtractArchive(archive, root_ / "dest", {});
  ASSERT_TRUE(extracted.has_value()) << extracted.error().message;
  const fs::path dest = root_ / "dest";
  EXPECT_EQ(ReadAll(dest / "run.sh"), "echo hi\n");
  EXPECT_EQ(ReadAll(dest / "hard"), "o");
  EXPECT_EQ(fs::read_symlink(dest / "data/link"), "open.txt");
  struct stat info {};
  ASSERT_EQ(stat((dest / "run.sh").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0755U);
  EXPECT_EQ(info.st_mtime, 1700000000);
  ASSERT_EQ(stat((dest / "data/secret.txt").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0644U);
  ASSERT_EQ(stat((dest / "data/open.txt").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0644U);
}

TEST_F(ProjectArchiveTest, ExtractNeedsAnEmptyDirectory) {
  const fs::path archive = Write({File("a", "x")});
  WriteAll(root_ / "dest" / "existing", "keep");
  EXPECT_FALSE(ExtractArchive(archive, root_ / "dest", {}).has_value());
  EXPECT_EQ(ReadAll(root_ / "dest" / "existing"), "keep");
  EXPECT_FALSE(ExtractArchive(archive, root_ / "nowhere", {}).has_value());
}

TEST_F(ProjectArchiveTest, ExtractRemovesWhatItWroteWhenALaterMemberIsRefused) {
  const fs::path archive =
      Write({File("first.txt", "x"), Dir("d"), File("d/f", "y"), Symlink("escape", "../../pwned")});
  auto extracted = ExtractArchive(archive, root_ / "dest", {});
  ASSERT_FALSE(extracted.has_value());
  EXPECT_NE(extracted.error().message.find("'escape'"), std::string::npos);
  EXPECT_TRUE(fs::is_empty(root_ / "dest"));
}

TEST(Sha256Test, MatchesKnownVectorsAndStreams) {
  EXPECT_EQ(Sha256().HexDigest(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 hash;
  hash.Update("a");
  hash.Update("bc");
  EXPECT_EQ(hash.HexDigest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hash.HexDigest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_FALSE(Sha256OfFile("/nonexistent/file").has_value());
}

class PackDirectoryTest : public ProjectArchiveTest {
 protected:
  void MakeProject(const fs::path& dir) {
    WriteAll(dir / "MLproject", "name: demo\n");
    WriteAll(dir / "train.py", "print('train')\n");
    WriteAll(dir / "run.sh", "echo run\n");
    fs::permissions(dir / "run.sh", fs::perms::owner_all | fs::perms::group_read);
    WriteAll(dir / "src/model.py", "x = 1\n");
    WriteAll(dir / "src/model.pyc", "bytecode");
    WriteAll(dir / "src/__pycache__/model.cpython-311.pyc", "bytecode");
    WriteAll(dir / ".git/config", "[core]\n");
    WriteAll(dir / "mlruns/0/meta.yaml", "run\n");
    WriteAll(dir / "src/mlruns/kept.txt", "only the top-level mlruns is skipped\n");
    WriteAll(dir / "env/pyvenv.cfg", "home = /usr\n");
    WriteAll(dir / "env/lib/site.py", "venv\n");
    WriteAll(dir / ".venv/lib/x.py", "venv\n");
    WriteAll(dir / "node_modules/pkg/index.js", "js\n");
    fs::create_directory_symlink("src", dir / "code");
  }
};

TEST_F(PackDirectoryTest, PacksWhatMattersAndSkipsTheRest) {
  const fs::path project = root_ / "project";
  MakeProject(project);
  std::uint64_t last_done = 0;
  std::uint64_t last_total = 0;
  PackOptions options;
  options.progress = [&](std::uint64_t done, std::uint64_t total) {
    EXPECT_GE(done, last_done);
    last_done = done;
    last_total = total;
  };
  auto packed = PackDirectory(project, root_ / "out.tar.gz", options);
  ASSERT_TRUE(packed.has_value()) << packed.error().message;
  EXPECT_EQ(packed->files, 5U);
  EXPECT_EQ(last_done, packed->bytes);
  EXPECT_EQ(last_total, packed->bytes);
  EXPECT_EQ(packed->sha256, *Sha256OfFile(root_ / "out.tar.gz"));

  auto summary = InspectArchive(root_ / "out.tar.gz", {});
  ASSERT_TRUE(summary.has_value()) << summary.error().message;
  EXPECT_EQ(summary->files, (std::vector<std::string>{"MLproject", "run.sh", "src/mlruns/kept.txt",
                                                      "src/model.py", "train.py"}));
  ASSERT_TRUE(ExtractArchive(root_ / "out.tar.gz", root_ / "dest", {}).has_value());
  EXPECT_EQ(fs::read_symlink(root_ / "dest/code"), "src");
  EXPECT_NE(fs::status(root_ / "dest/run.sh").permissions() & fs::perms::owner_exec,
            fs::perms::none);
  EXPECT_EQ(fs::status(root_ / "dest/train.py").permissions() & fs::perms::owner_exec,
            fs::perms::none);
}

TEST_F(PackDirectoryTest, IsReproducible) {
  MakeProject(root_ / "one");
  MakeProject(root_ / "two");
  auto first = PackDirectory(root_ / "one", root_ / "first.tar.gz", {});
  ASSERT_TRUE(first.has_value()) << first.error().message;
  fs::last_write_time(root_ / "one/train.py",
                      fs::file_time_type::clock::now() - std::chrono::hours(48));
  fs::last_write_time(root_ / "one/src", fs::file_time_type::clock::now() + std::chrono::hours(1));
  fs::permissions(root_ / "one/MLproject", fs::perms::owner_read | fs::perms::owner_write);
  auto second = PackDirectory(root_ / "one", root_ / "second.tar.gz", {});
  auto other = PackDirectory(root_ / "two", root_ / "other.tar.gz", {});
  ASSERT_TRUE(second.has_value() && other.has_value());
  EXPECT_EQ(first->sha256, second->sha256);
  EXPECT_EQ(first->sha256, other->sha256);
  EXPECT_EQ(ReadAll(root_ / "first.tar.gz"), ReadAll(root_ / "second.tar.gz"));

  WriteAll(root_ / "one/train.py", "print('changed')\n");
  auto changed = PackDirectory(root_ / "one", root_ / "changed.tar.gz", {});
  ASSERT_TRUE(changed.has_value());
  EXPECT_NE(first->sha256, changed->sha256);
}

TEST_F(PackDirectoryTest, RefusesSymlinksLeavingTheDirectory) {
  const fs::path project = root_ / "project";
  MakeProject(project);
  fs::create_symlink("/etc/passwd", project / "passwd");
  auto packed = PackDirectory(project, root_ / "out.tar.gz", {});
  ASSERT_FALSE(packed.has_value());
  EXPECT_NE(packed.error().message.find("symlink 'passwd' cannot be packed"), std::string::npos)
      << packed.error().message;
  EXPECT_FALSE(fs::exists(root_ / "out.tar.gz"));

  fs::remove(project / "passwd");
  fs::create_symlink("../../outside", project / "src/up");
  packed = PackDirectory(project, root_ / "out.tar.gz", {});
  ASSERT_FALSE(packed.has_value());
  EXPECT_NE(packed.error().message.find("leaves the archive root"), std::string::npos);
}

TEST_F(PackDirectoryTest, RefusesMoreThanTheLimitAndSpecialFiles) {
  const fs::path project = root_ / "project";
  MakeProject(project);
  PackOptions options;
  options.max_bytes = 20;
  auto packed = PackDirectory(project, root_ / "out.tar.gz", options);
  ASSERT_FALSE(packed.has_value());
  EXPECT_NE(packed.error().message.find("limit of 20 bytes"), std::string::npos);
  EXPECT_FALSE(fs::exists(root_ / "out.tar.gz"));

  ASSERT_EQ(mkfifo((project / "pipe").c_str(), 0600), 0);
  packed = PackDirectory(project, root_ / "out.tar.gz", {});
  ASSERT_FALSE(packed.has_value());
  EXPECT_NE(packed.error().message.find("special file"), std::string::npos);
  EXPECT_FALSE(PackDirectory(root_ / "missing", root_ / "out.tar.gz", {}).has_value());
}

}  // namespace
}  // namespace mltf::gateway::projects
