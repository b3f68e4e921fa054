// artifact_repository.hpp - the interface of artifact storage: streamed put/get, list, delete.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace mltf::artifacts {

/// One entry of a listing, as MLflow's `FileInfo`.
struct FileInfo {
  /// Relative to the repository root: "<listed dir>/<name>", or "<name>" when the root itself
  /// was listed. Normalised: no empty, "." or ".." components, no leading or trailing '/'.
  std::string path;
  bool is_dir = false;
  /// The size in bytes of a file; empty for a directory.
  std::optional<std::int64_t> file_size;

  friend bool operator==(const FileInfo&, const FileInfo&) = default;
};

/// An artifact opened for reading: an owned file descriptor, closed on destruction, and the
/// size of the file when it was opened. Move-only.
class ArtifactFile {
 public:
  /// Takes ownership of `fd` (a regular file opened for reading). Does not fail.
  ArtifactFile(int fd, std::int64_t size) : fd_(fd), size_(size) {}
  ~ArtifactFile();
  ArtifactFile(ArtifactFile&& other) noexcept;
  ArtifactFile& operator=(ArtifactFile&& other) noexcept;
  ArtifactFile(const ArtifactFile&) = delete;
  ArtifactFile& operator=(const ArtifactFile&) = delete;

  /// The descriptor, still owned by this object; -1 after Release(). Does not fail.
  int fd() const { return fd_; }

  /// The size in bytes when opened. Does not fail.
  std::int64_t size() const { return size_; }

  /// Reads up to `buffer.size()` bytes at the current offset; returns 0 at end of file.
  /// Retries on EINTR; fails with INTERNAL_ERROR on a read error.
  Result<std::size_t> ReadSome(std::span<char> buffer);

  /// Gives up ownership of the descriptor (e.g. to Beast's `file_posix::native_handle`) and
  /// returns it; the caller must close it. Does not fail.
  int Release();

 private:
  int fd_ = -1;
  std::int64_t size_ = 0;
};

/// A streamed upload in progress. Data goes to a temporary beside the target, which replaces
/// the target atomically on Commit(); a writer destroyed without a successful Commit()
/// removes its temporary and leaves the target as it was. Not thread-safe.
class ArtifactWriter {
 public:
  virtual ~ArtifactWriter() = default;

  /// Appends `data`. Fails with INTERNAL_ERROR on a write error (e.g. a full disk), and with
  /// INVALID_STATE after Commit() or after an earlier failure.
  virtual Result<void> Write(std::span<const char> data) = 0;

  /// Makes the upload durable and visible: flushes it to disk, renames it over the target and
  /// flushes the directory. Fails with INVALID_PARAMETER_VALUE if a directory has appeared at
  /// the target, RESOURCE_DOES_NOT_EXIST if the directory was deleted meanwhile, INTERNAL_ERROR
  /// on an I/O error, INVALID_STATE if called twice or after a failure. After a failure the
  /// temporary is gone and the target is unchanged, except if only the final flush of the
  /// directory fails (INTERNAL_ERROR): the new file is then in place but may not survive a
  /// crash.
  virtual Result<void> Commit() = 0;
};

/// Artifact storage addressed by relative paths ("<exp_id>/<run_id>/artifacts/<relpath>").
/// Every path argument comes from a client: implementations validate it with ArtifactPath and
/// never touch anything outside their root. Implementations are thread-safe.
class ArtifactRepository {
 public:
  virtual ~ArtifactRepository() = default;

  /// Starts an upload to `path`, creating missing parent directories. An existing file is
  /// replaced on Commit(). Fails with INVALID_PARAMETER_VALUE for an unsafe path, the root, a
  /// path where a directory or symbolic link exists, or a parent that is a file or a symbolic
  /// link; INTERNAL_ERROR on an I/O error.
  virtual Result<std::unique_ptr<ArtifactWriter>> OpenForWrite(std::string_view path) = 0;

  /// Opens the file at `path` for streaming. Fails with RESOURCE_DOES_NOT_EXIST if nothing is
  /// there or it is not a regular file (e.g. a directory), INVALID_PARAMETER_VALUE for an
  /// unsafe path or one that goes through a symbolic link, INTERNAL_ERROR on an I/O error.
  virtual Result<ArtifactFile> OpenForRead(std::string_view path) = 0;

  /// The entries directly under the directory `path` ("" for the root), sorted by name
  /// (bytewise). A missing path or a file gives an empty list, as in MLflow. Only regular
  /// files and directories are listed. Fails with INVALID_PARAMETER_VALUE for an unsafe path
  /// or one that goes through a symbolic link, INTERNAL_ERROR on an I/O error.
  virtual Result<std::vector<FileInfo>> List(std::string_view path) = 0;

  /// Deletes the file, or the whole directory tree, at `path`. A symbolic link there is
  /// removed itself, never followed. Fails with RESOURCE_DOES_NOT_EXIST if nothing is there,
  /// INVALID_PARAMETER_VALUE for an unsafe path, the root, or a parent that is a symbolic
  /// link, INTERNAL_ERROR on an I/O error (part of a tree may then be gone).
  virtual Result<void> Delete(std::string_view path) = 0;
};

}  // namespace mltf::artifacts
