// local_artifact_repository.cpp - artifacts as files below a root directory, resolved safely.
//
// Every operation starts from the root's descriptor and opens one component at a time with
// openat(O_NOFOLLOW): a symbolic link is reported, never followed, so a path cannot leave the
// root however the tree is changed meanwhile. An upload writes `.mltf-upload-<random>` beside
// its target (same directory, hence same filesystem), then fsync, renameat over the target and
// fsync of the directory. This file also defines ArtifactFile (artifact_repository.hpp).
#include "artifacts/local_artifact_repository.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <system_error>
#include <utility>

#include "artifacts/artifact_path.hpp"

namespace mltf::artifacts {
namespace {

// Attempts before giving up on a directory entry that keeps changing under us.
constexpr int kMaxRaceRetries = 8;

// An owned file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }
  void Reset() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

 private:
  int fd_ = -1;
};

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};
using UniqueDir = std::unique_ptr<DIR, DirCloser>;

std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

Error IoError(std::string_view action, const ArtifactPath& path, int err) {
  return Error::Internal(
      fmt::format("Cannot {} artifact '{}': {}", action, path.str(), ErrnoText(err)));
}

// The first `count` components of `path`, joined by '/'.
std::string Prefix(const ArtifactPath& path, std::size_t count) {
  std::string prefix;
  for (std::size_t idx = 0; idx < count && idx < path.components().size(); ++idx) {
    if (!prefix.empty()) {
      prefix += '/';
    }
    prefix += path.components()[idx];
  }
  return prefix;
}

Error SymlinkError(const ArtifactPath& path, std::size_t depth) {
  return Error::InvalidParameter(
      fmt::format("Invalid artifact path '{}': '{}' is a symbolic link, and artifact paths may "
                  "not go through symbolic links",
                  path.str(), Prefix(path, depth + 1)));
}

Error NotFoundError(const ArtifactPath& path) {
  return Error::ResourceDoesNotExist(fmt::format("No artifact exists at '{}'", path.str()));
}

enum class Lookup { FOUND, MISSING, NOT_A_DIRECTORY, SYMLINK };

// The outcome of walking directories: with FOUND, `fd` is the last directory; otherwise
// component `depth` (counted from 0) is missing, a file or a link.
struct Walk {
  Lookup status = Lookup::FOUND;
  UniqueFd fd;
  std::size_t depth = 0;
};

// Opens the directory `name` inside `dir_fd` without following a link; with `create`, makes
// it first if missing (and flushes `dir_fd`, so the new entry survives a crash).
Result<Walk> OpenChildDirectory(int dir_fd, const std::string& name, bool create,
                                const ArtifactPath& path) {
  for (int attempt = 0; attempt < kMaxRaceRetries; ++attempt) {
    const int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      return Walk{Lookup::FOUND, UniqueFd(fd), 0};
    }
    const int err = errno;
    if (err == EINTR) {
      continue;
    }
    if (err == ENOENT) {
      if (!create) {
        return Walk{Lookup::MISSING, {}, 0};
      }
      if (::mkdirat(dir_fd, name.c_str(), 0777) == 0) {
        ::fsync(dir_fd);
        continue;
      }
      const int mkdir_err = errno;
      if (mkdir_err == EEXIST) {
        continue;  // Made by someone else meanwhile: look again.
      }
      if (mkdir_err == ENOENT) {
        return Walk{Lookup::MISSING, {}, 0};  // `dir_fd` itself was deleted meanwhile.
      }
      return Fail(IoError("create a directory for", path, mkdir_err));
    }
    if (err == ELOOP || err == ENOTDIR) {
      struct stat info {};
      if (::fstatat(dir_fd, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(info.st_mode)) {
          return Walk{Lookup::SYMLINK, {}, 0};
        }
        if (!S_ISDIR(info.st_mode)) {
          return Walk{Lookup::NOT_A_DIRECTORY, {}, 0};
        }
        continue;  // Replaced by a directory meanwhile.
      }
      if (errno == ENOENT) {
        continue;
      }
      return Fail(IoError("look up", path, errno));
    }
    return Fail(IoError("open a directory of", path, err));
  }
  return Fail(Error::Internal(
      fmt::format("Cannot resolve artifact '{}': its directories keep changing", path.str())));
}

// Walks the first `count` components of `path` from `root_fd`, as directories.
Result<Walk> WalkDirectories(int root_fd, const ArtifactPath& path, std::size_t count,
                             bool create) {
  const int root_copy = ::fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
  if (root_copy < 0) {
    return Fail(IoError("open the root for", path, errno));
  }
  Walk walk{Lookup::FOUND, UniqueFd(root_copy), 0};
  for (; walk.depth < count; ++walk.depth) {
    MLTF_ASSIGN_OR_RETURN(
        child, OpenChildDirectory(walk.fd.get(), path.components()[walk.depth], create, path));
    if (child.status != Lookup::FOUND) {
      child.depth = walk.depth;
      return child;
    }
    walk.fd = std::move(child.fd);
  }
  return walk;
}

// A name for an upload temporary; O_EXCL makes a clash harmless, so the fallback need not be
// strong.
std::string TempName() {
  std::uint64_t random = 0;
  if (::getrandom(&random, sizeof random, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof random)) {
    static std::atomic<std::uint64_t> counter{0};
    random =
        static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
        (static_cast<std::uint64_t>(::getpid()) << 40U) ^ counter.fetch_add(1);
  }
  return fmt::format("{}{:016x}", kUploadTempPrefix, random);
}

class LocalArtifactWriter final : public ArtifactWriter {
 public:
  LocalArtifactWriter(ArtifactPath path, UniqueFd dir_fd, std::string temp_name, UniqueFd file_fd)
      : path_(std::move(path)),
        dir_fd_(std::move(dir_fd)),
        temp_name_(std::move(temp_name)),
        file_fd_(std::move(file_fd)) {}

  ~LocalArtifactWriter() override { RemoveTemp(); }

  LocalArtifactWriter(const LocalArtifactWriter&) = delete;
  LocalArtifactWriter& operator=(const LocalArtifactWriter&) = delete;

  Result<void> Write(std::span<const char> data) override {
    MLTF_TRY(CheckOpen());
    while (!data.empty()) {
      const ssize_t written = ::write(file_fd_.get(), data.data(), data.size());
      if (written < 0) {
        if (errno == EINTR) {
          continue;
        }
        return Fail(Abandon(IoError("write", path_, errno)));
      }
      data = data.subspan(static_cast<std::size_t>(written));
    }
    return {};
  }

  Result<void> Commit() override {
    MLTF_TRY(CheckOpen());
    if (::fsync(file_fd_.get()) != 0) {
      return Fail(Abandon(IoError("flush", path_, errno)));
    }
    if (::close(file_fd_.Release()) != 0 && errno != EINTR) {
      return Fail(Abandon(IoError("close", path_, errno)));
    }
    const std::string target(path_.Name());
    if (::renameat(dir_fd_.get(), temp_name_.c_str(), dir_fd_.get(), target.c_str()) != 0) {
      const int err = errno;
      if (err == EISDIR || err == ENOTEMPTY || err == EEXIST) {
        return Fail(Abandon(Error::InvalidParameter(fmt::format(
            "Cannot write artifact '{}': a directory exists at that path", path_.str()))));
      }
      if (err == ENOENT) {
        return Fail(Abandon(Error::ResourceDoesNotExist(
            fmt::format("Cannot write artifact '{}': its directory was deleted during the upload",
                        path_.str()))));
      }
      return Fail(Abandon(IoError("store", path_, err)));
    }
    state_ = State::COMMITTED;
    if (::fsync(dir_fd_.get()) != 0) {
      return Fail(IoError("flush the directory of", path_, errno));
    }
    return {};
  }

 private:
  enum class State { OPEN, COMMITTED, FAILED };

  Result<void> CheckOpen() const {
    switch (state_) {
      case State::OPEN:
        return {};
      case State::COMMITTED:
        return Fail(Error::InvalidState(
            fmt::format("The upload of artifact '{}' is already committed", path_.str())));
      case State::FAILED:
        break;
    }
    return Fail(Error::InvalidState(
        fmt::format("The upload of artifact '{}' failed earlier", path_.str())));
  }

  // Marks the upload failed and removes its temporary; returns `error` for chaining.
  Error Abandon(Error error) {
    state_ = State::FAILED;
    RemoveTemp();
    return error;
  }

  void RemoveTemp() {
    if (state_ == State::COMMITTED || temp_name_.empty()) {
      return;
    }
    file_fd_.Reset();
    if (::unlinkat(dir_fd_.get(), temp_name_.c_str(), 0) != 0 && errno != ENOENT) {
      spdlog::warn("artifacts: cannot remove upload temporary path={} temp={} error={}",
                   path_.str(), temp_name_, ErrnoText(errno));
    }
    temp_name_.clear();
  }

  ArtifactPath path_;
  UniqueFd dir_fd_;        // The target's directory.
  std::string temp_name_;  // In dir_fd_; empty once removed or renamed.
  UniqueFd file_fd_;       // The temporary, open for writing until Commit().
  State state_ = State::OPEN;
};

// Removes the directory `name` in `parent_fd` and everything below it, never following a
// link. Holds one descriptor per level.
Result<void> RemoveTree(int parent_fd, const std::string& name, std::size_t depth,
                        const ArtifactPath& path) {
  if (depth > kMaxArtifactPathDepth) {
    return Fail(Error::Internal(
        fmt::format("Cannot delete artifact '{}': the directory tree is too deep", path.str())));
  }
  for (int attempt = 0; attempt < kMaxRaceRetries; ++attempt) {
    const int fd =
        ::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == ENOENT) {
        return {};
      }
      if (err == ELOOP || err == ENOTDIR) {
        // Now a link or a file: remove the entry itself.
        if (::unlinkat(parent_fd, name.c_str(), 0) != 0 && errno != ENOENT) {
          return Fail(IoError("delete", path, errno));
        }
        return {};
      }
      if (err == EINTR) {
        continue;
      }
      return Fail(IoError("open a directory of", path, err));
    }
    UniqueDir dir(::fdopendir(fd));
    if (!dir) {
      const int err = errno;
      ::close(fd);
      return Fail(IoError("read a directory of", path, err));
    }
    const int dir_fd = ::dirfd(dir.get());

    // Read all names first: removing entries while reading leaves it unspecified which of the
    // remaining ones readdir returns.
    std::vector<std::pair<std::string, bool>> entries;  // name, is a directory
    errno = 0;
    while (const dirent* entry = ::readdir(dir.get())) {
      const std::string_view entry_name(entry->d_name);
      if (entry_name == "." || entry_name == "..") {
        continue;
      }
      bool is_dir = entry->d_type == DT_DIR;
      if (entry->d_type == DT_UNKNOWN) {
        struct stat info {};
        is_dir = ::fstatat(dir_fd, entry->d_name, &info, AT_SYMLINK_NOFOLLOW) == 0 &&
                 S_ISDIR(info.st_mode);
      }
      entries.emplace_back(entry_name, is_dir);
      errno = 0;
    }
    if (errno != 0) {
      return Fail(IoError("read a directory of", path, errno));
    }

    for (const auto& [entry_name, is_dir] : entries) {
      if (!is_dir) {
        if (::unlinkat(dir_fd, entry_name.c_str(), 0) == 0 || errno == ENOENT) {
          continue;
        }
        if (errno != EISDIR) {
          return Fail(IoError("delete", path, errno));
        }
        // Replaced by a directory meanwhile: remove it as one.
      }
      MLTF_TRY(RemoveTree(dir_fd, entry_name, depth + 1, path));
    }
    dir.reset();

    if (::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) {
      return {};
    }
    if (errno != ENOTEMPTY && errno != EEXIST) {
      return Fail(IoError("delete", path, errno));
    }
    // Something was added meanwhile (e.g. an upload started): go round again.
  }
  return Fail(Error::Internal(
      fmt::format("Cannot delete artifact '{}': files keep being added to it", path.str())));
}

}  // namespace

// ---- ArtifactFile ----------------------------------------------------------------------------

ArtifactFile::~ArtifactFile() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

ArtifactFile::ArtifactFile(ArtifactFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), size_(other.size_) {}

ArtifactFile& ArtifactFile::operator=(ArtifactFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = std::exchange(other.fd_, -1);
    size_ = other.size_;
  }
  return *this;
}

Result<std::size_t> ArtifactFile::ReadSome(std::span<char> buffer) {
  if (fd_ < 0) {
    return Fail(Error::InvalidState("The artifact file is not open"));
  }
  for (;;) {
    const ssize_t count = ::read(fd_, buffer.data(), buffer.size());
    if (count >= 0) {
      return static_cast<std::size_t>(count);
    }
    if (errno != EINTR) {
      return Fail(Error::Internal(fmt::format("Cannot read an artifact: {}", ErrnoText(errno))));
    }
  }
}

int ArtifactFile::Release() { return std::exchange(fd_, -1); }

// ---- LocalArtifactRepository -----------------------------------------------------------------

Result<std::unique_ptr<LocalArtifactRepository>> LocalArtifactRepository::Open(
    const std::filesystem::path& root) {
  std::error_code error;
  std::filesystem::create_directories(root, error);
  if (error) {
    return Fail(Error::Internal(
        fmt::format("Cannot create the artifact root '{}': {}", root.string(), error.message())));
  }
  const int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return Fail(Error::Internal(
        fmt::format("Cannot open the artifact root '{}': {}", root.string(), ErrnoText(errno))));
  }
  return std::unique_ptr<LocalArtifactRepository>(new LocalArtifactRepository(root, fd));
}

LocalArtifactRepository::LocalArtifactRepository(std::filesystem::path root, int root_fd)
    : root_(std::move(root)), root_fd_(root_fd) {}

LocalArtifactRepository::~LocalArtifactRepository() { ::close(root_fd_); }

Result<std::unique_ptr<ArtifactWriter>> LocalArtifactRepository::OpenForWrite(
    std::string_view raw_path) {
  MLTF_ASSIGN_OR_RETURN(path, ArtifactPath::Parse(raw_path));
  if (path.IsRoot()) {
    return Fail(Error::InvalidParameter(
        "Cannot write an artifact at the root of the repository: the path must name a file"));
  }
  const std::size_t parent_depth = path.components().size() - 1;
  MLTF_ASSIGN_OR_RETURN(walk, WalkDirectories(root_fd_, path, parent_depth, /*create=*/true));
  switch (walk.status) {
    case Lookup::FOUND:
      break;
    case Lookup::SYMLINK:
      return Fail(SymlinkError(path, walk.depth));
    case Lookup::NOT_A_DIRECTORY:
      return Fail(Error::InvalidParameter(
          fmt::format("Cannot write artifact '{}': '{}' is a file, not a directory", path.str(),
                      Prefix(path, walk.depth + 1))));
    case Lookup::MISSING:
      return Fail(Error::ResourceDoesNotExist(fmt::format(
          "Cannot write artifact '{}': a parent directory was deleted meanwhile", path.str())));
  }

  const std::string name(path.Name());
  struct stat info {};
  if (::fstatat(walk.fd.get(), name.c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISDIR(info.st_mode)) {
      return Fail(Error::InvalidParameter(
          fmt::format("Cannot write artifact '{}': a directory exists at that path", path.str())));
    }
    if (S_ISLNK(info.st_mode)) {
      return Fail(SymlinkError(path, parent_depth));
    }
    if (!S_ISREG(info.st_mode)) {
      return Fail(Error::InvalidParameter(
          fmt::format("Cannot write artifact '{}': something other than a file exists at that path",
                      path.str())));
    }
  } else if (errno != ENOENT) {
    return Fail(IoError("look up", path, errno));
  }

  for (int attempt = 0; attempt < kMaxRaceRetries; ++attempt) {
    std::string temp_name = TempName();
    const int fd = ::openat(walk.fd.get(), temp_name.c_str(),
                            O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd >= 0) {
      return std::make_unique<LocalArtifactWriter>(std::move(path), std::move(walk.fd),
                                                   std::move(temp_name), UniqueFd(fd));
    }
    if (errno != EEXIST && errno != EINTR) {
      return Fail(IoError("create a temporary file for", path, errno));
    }
  }
  return Fail(Error::Internal(
      fmt::format("Cannot write artifact '{}': no free temporary file name", path.str())));
}

Result<ArtifactFile> LocalArtifactRepository::OpenForRead(std::string_view raw_path) {
  MLTF_ASSIGN_OR_RETURN(path, ArtifactPath::Parse(raw_path));
  if (path.IsRoot()) {
    return Fail(Error::ResourceDoesNotExist(
        "No artifact file exists at the root of the repository: it is a directory"));
  }
  const std::size_t parent_depth = path.components().size() - 1;
  MLTF_ASSIGN_OR_RETURN(walk, WalkDirectories(root_fd_, path, parent_depth, /*create=*/false));
  switch (walk.status) {
    case Lookup::FOUND:
      break;
    case Lookup::SYMLINK:
      return Fail(SymlinkError(path, walk.depth));
    case Lookup::NOT_A_DIRECTORY:
    case Lookup::MISSING:
      return Fail(NotFoundError(path));
  }

  const std::string name(path.Name());
  int fd = -1;
  do {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway.
    fd = ::openat(walk.fd.get(), name.c_str(),
                  O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    const int err = errno;
    if (err == ELOOP) {
      return Fail(SymlinkError(path, parent_depth));
    }
    if (err == ENOENT || err == ENOTDIR || err == ENXIO) {
      return Fail(NotFoundError(path));
    }
    return Fail(IoError("open", path, err));
  }
  UniqueFd file(fd);
  struct stat info {};
  if (::fstat(file.get(), &info) != 0) {
    return Fail(IoError("inspect", path, errno));
  }
  if (S_ISDIR(info.st_mode)) {
    return Fail(Error::ResourceDoesNotExist(
        fmt::format("Artifact '{}' is a directory, not a file", path.str())));
  }
  if (!S_ISREG(info.st_mode)) {
    return Fail(Error::ResourceDoesNotExist(
        fmt::format("Artifact '{}' is not a regular file", path.str())));
  }
  const int flags = ::fcntl(file.get(), F_GETFL);
  if (flags < 0 || ::fcntl(file.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
    return Fail(IoError("open", path, errno));
  }
  return ArtifactFile(file.Release(), static_cast<std::int64_t>(info.st_size));
}

Result<std::vector<FileInfo>> LocalArtifactRepository::List(std::string_view raw_path) {
  MLTF_ASSIGN_OR_RETURN(path, ArtifactPath::Parse(raw_path));
  MLTF_ASSIGN_OR_RETURN(walk, WalkDirectories(root_fd_, path, path.components().size(),
                                              /*create=*/false));
  switch (walk.status) {
    case Lookup::FOUND:
      break;
    case Lookup::SYMLINK:
      return Fail(SymlinkError(path, walk.depth));
    case Lookup::NOT_A_DIRECTORY:
    case Lookup::MISSING:
      return std::vector<FileInfo>{};  // As MLflow: listing a file or nothing gives nothing.
  }

  UniqueDir dir(::fdopendir(walk.fd.get()));
  if (!dir) {
    return Fail(IoError("list", path, errno));
  }
  walk.fd.Release();  // Now owned by `dir`.
  const int dir_fd = ::dirfd(dir.get());

  std::vector<FileInfo> files;
  errno = 0;
  while (const dirent* entry = ::readdir(dir.get())) {
    const std::string_view name(entry->d_name);
    if (name == "." || name == ".." || name.starts_with(kUploadTempPrefix)) {
      continue;
    }
    struct stat info {};
    if (::fstatat(dir_fd, entry->d_name, &info, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) {
        errno = 0;
        continue;  // Deleted meanwhile.
      }
      return Fail(IoError("list", path, errno));
    }
    if (S_ISDIR(info.st_mode)) {
      files.push_back({path.Child(name).str(), true, std::nullopt});
    } else if (S_ISREG(info.st_mode)) {
      files.push_back({path.Child(name).str(), false, static_cast<std::int64_t>(info.st_size)});
    }
    // Links, FIFOs, sockets and devices are not artifacts: they cannot be read through us.
    errno = 0;
  }
  if (errno != 0) {
    return Fail(IoError("list", path, errno));
  }
  std::sort(files.begin(), files.end(),
            [](const FileInfo& lhs, const FileInfo& rhs) { return lhs.path < rhs.path; });
  return files;
}

Result<void> LocalArtifactRepository::Delete(std::string_view raw_path) {
  MLTF_ASSIGN_OR_RETURN(path, ArtifactPath::Parse(raw_path));
  if (path.IsRoot()) {
    return Fail(Error::InvalidParameter("Cannot delete the root of the artifact repository"));
  }
  const std::size_t parent_depth = path.components().size() - 1;
  MLTF_ASSIGN_OR_RETURN(walk, WalkDirectories(root_fd_, path, parent_depth, /*create=*/false));
  switch (walk.status) {
    case Lookup::FOUND:
      break;
    case Lookup::SYMLINK:
      return Fail(SymlinkError(path, walk.depth));
    case Lookup::NOT_A_DIRECTORY:
    case Lookup::MISSING:
      return Fail(NotFoundError(path));
  }

  const std::string name(path.Name());
  struct stat info {};
  if (::fstatat(walk.fd.get(), name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) {
      return Fail(NotFoundError(path));
    }
    return Fail(IoError("look up", path, errno));
  }
  if (S_ISDIR(info.st_mode)) {
    return RemoveTree(walk.fd.get(), name, 0, path);
  }
  // A file, or a link (removed itself; its target is untouched).
  if (::unlinkat(walk.fd.get(), name.c_str(), 0) != 0) {
    if (errno == ENOENT) {
      return Fail(NotFoundError(path));
    }
    if (errno == EISDIR) {
      return RemoveTree(walk.fd.get(), name, 0, path);  // Replaced by a directory meanwhile.
    }
    return Fail(IoError("delete", path, errno));
  }
  return {};
}

}  // namespace mltf::artifacts
