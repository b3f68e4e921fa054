// project_store.hpp - uploaded project archives, stored once under their SHA-256.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <span>
#include <string>

#include "common/error.hpp"
#include "gateway/projects/mlproject.hpp"
#include "gateway/projects/project_archive.hpp"

namespace mltf::gateway::projects {

/// A checked project archive and what it holds.
struct StoredProject {
  std::string sha256;
  std::uint64_t size_bytes = 0;
  std::filesystem::path archive;  ///< `<root>/<sha256>.tar.gz`, immutable
  ArchiveSummary summary;
  std::set<std::string> files;  ///< summary.files as a set, for entry point lookups
  MlProject project;
};

/// Project archives by content: an upload is streamed to a temporary file while it is hashed,
/// checked (InspectArchive, then the MLproject), and renamed to its hash, so a project is stored
/// once however often it is uploaded, and a stored archive never changes. Thread-safe.
class ProjectStore {
 public:
  /// Reads the next chunk of an upload into the buffer; 0 at the end.
  using ReadChunk = std::function<Result<std::size_t>(std::span<char>)>;

  /// Opens the store under `root`, creating it. Fails with INTERNAL_ERROR if it cannot.
  static Result<std::unique_ptr<ProjectStore>> Open(std::filesystem::path root,
                                                    ArchiveLimits limits,
                                                    std::uint64_t max_archive_bytes);

  /// Stores an uploaded archive. A hostile or malformed archive, or one whose MLproject is
  /// invalid, fails with INVALID_PARAMETER_VALUE and leaves nothing behind; one larger than
  /// the limit fails with RESOURCE_EXHAUSTED. `created` says whether it was new.
  Result<std::shared_ptr<const StoredProject>> Put(const ReadChunk& read, bool* created);
  /// A stored project; RESOURCE_DOES_NOT_EXIST if no archive has that hash.
  Result<std::shared_ptr<const StoredProject>> Get(const std::string& sha256);

  /// The API view (docs/gateway-api.md).
  static nlohmann::json ToJson(const StoredProject& project);

 private:
  ProjectStore(std::filesystem::path root, ArchiveLimits limits, std::uint64_t max_archive_bytes)
      : root_(std::move(root)), limits_(limits), max_archive_bytes_(max_archive_bytes) {}
  /// Inspects an archive file and parses its project.
  Result<std::shared_ptr<const StoredProject>> Load(const std::filesystem::path& archive,
                                                    const std::string& sha256,
                                                    std::uint64_t size) const;

  std::filesystem::path root_;
  ArchiveLimits limits_;
  std::uint64_t max_archive_bytes_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const StoredProject>> loaded_;  // guarded by mutex_
};

}  // namespace mltf::gateway::projects
