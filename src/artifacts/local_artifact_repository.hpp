// local_artifact_repository.hpp - artifact storage in a directory of the local filesystem.
#pragma once

#include <filesystem>
#include <memory>

#include "artifacts/artifact_repository.hpp"

namespace mltf::artifacts {

/// Stores artifacts as files below one root directory (the server's `<data-dir>/artifacts`,
/// possibly on a shared filesystem).
///
/// Paths are resolved from a descriptor of the root, one component at a time, with
/// O_NOFOLLOW: a symbolic link anywhere below the root is never followed, whether it points
/// inside or outside, so no path can leave the root, even if the tree changes concurrently.
/// Links are skipped in listings and refused on read and write; Delete removes a link itself.
/// The root may itself be a link (it is trusted configuration).
///
/// Uploads go to a hidden temporary `.mltf-upload-<random>` in the target's directory (so the
/// final rename is atomic), which listings skip and client paths cannot name. Temporaries of a
/// crashed server are left behind (invisible); they can be removed by hand at any time.
///
/// Thread-safe: it holds only the root's descriptor. When two uploads of one path race, the
/// last Commit() wins; a Delete() of a directory races with uploads into it (the upload then
/// fails on Commit() or lands in a recreated directory).
class LocalArtifactRepository final : public ArtifactRepository {
 public:
  /// Opens the repository at `root`, creating it and its parents if missing. Fails with
  /// INTERNAL_ERROR (naming `root`, for the operator) if it cannot be created or opened, or is
  /// not a directory.
  static Result<std::unique_ptr<LocalArtifactRepository>> Open(const std::filesystem::path& root);

  ~LocalArtifactRepository() override;
  LocalArtifactRepository(const LocalArtifactRepository&) = delete;
  LocalArtifactRepository& operator=(const LocalArtifactRepository&) = delete;

  /// The root directory, as given to Open(). Does not fail.
  const std::filesystem::path& root() const { return root_; }

  Result<std::unique_ptr<ArtifactWriter>> OpenForWrite(std::string_view path) override;
  Result<ArtifactFile> OpenForRead(std::string_view path) override;
  Result<std::vector<FileInfo>> List(std::string_view path) override;
  Result<void> Delete(std::string_view path) override;

 private:
  LocalArtifactRepository(std::filesystem::path root, int root_fd);

  std::filesystem::path root_;
  int root_fd_;  // O_DIRECTORY descriptor of root_, owned; every lookup starts here.
};

}  // namespace mltf::artifacts
