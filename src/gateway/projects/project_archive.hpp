// project_archive.hpp - MLflow project archives: inspect, extract and pack tar / tar.gz safely.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header.

namespace mltf::gateway::projects {

/// Bounds on what an uploaded archive may hold. Exceeding any of them refuses the archive.
struct ArchiveLimits {
  std::uint64_t max_unpacked_bytes = 4ULL << 30;  ///< Sum of regular file sizes.
  std::uint64_t max_entries = 100000;             ///< Members, directories included.
  std::uint64_t max_path_length = 1024;           ///< Bytes of a member name as stored.
  std::uint64_t max_small_file_bytes = 1 << 20;   ///< Larger files are not kept in small_files.
};

/// What InspectArchive learned about an archive that passed every rule.
struct ArchiveSummary {
  std::uint64_t entries = 0;         ///< Members read, directories and links included.
  std::uint64_t unpacked_bytes = 0;  ///< Bytes of regular file content actually read.
  /// Normalized relative paths ("src/train.py", no "./") of regular files and hard links,
  /// sorted.
  std::vector<std::string> files;
  /// Contents of the root-level files a project's spec needs, when at most
  /// max_small_file_bytes: the MLproject (matched case-insensitively, keyed by the name as
  /// found), python_env.yaml, conda.yaml, requirements.txt, and the file the MLproject names
  /// as its python_env or conda_env.
  std::map<std::string, std::string> small_files;
};

/// Reads every member of a tar or tar.gz (any compression libarchive knows) and refuses
/// hostile archives with INVALID_PARAMETER_VALUE naming the member and the rule: absolute
/// paths, `..` components, control characters in names, symlinks that are absolute or leave
/// the archive root, hard links to members outside or not seen before, devices, FIFOs,
/// sockets, members beneath a symlink, duplicate members of different types, and the limits.
/// A corrupt or truncated archive fails with "not a valid tar or tar.gz archive: ...".
/// Does not write anything.
Result<ArchiveSummary> InspectArchive(const std::filesystem::path& archive,
                                      const ArchiveLimits& limits);

/// Extracts `archive` into `destination`, an existing empty directory, re-checking every rule
/// of InspectArchive as it goes (an earlier inspection is not trusted: the file may have
/// changed). Never follows symlinks when creating files, never restores owners, masks modes
/// to 0755/0644 (keeping the owner's execute bit), keeps modification times. On failure the
/// error says why and whatever was written below `destination` is removed again.
Result<void> ExtractArchive(const std::filesystem::path& archive,
                            const std::filesystem::path& destination, const ArchiveLimits& limits);

/// Streaming SHA-256 (OpenSSL EVP), for hashing an upload while it arrives. Not thread-safe.
class Sha256 {
 public:
  /// Starts an empty digest. Throws std::bad_alloc if OpenSSL cannot allocate its context.
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  /// Adds `data` to the digest. Does not fail.
  void Update(std::string_view data);

  /// The lowercase hex digest of everything added so far. May be called more than once and
  /// Update may continue afterwards (it finalizes a copy). Does not fail.
  std::string HexDigest() const;

 private:
  struct ContextDeleter {
    void operator()(evp_md_ctx_st* context) const;
  };
  std::unique_ptr<evp_md_ctx_st, ContextDeleter> context_;
};

/// The lowercase hex SHA-256 of a file's contents. Fails with INTERNAL_ERROR if it cannot be
/// read.
Result<std::string> Sha256OfFile(const std::filesystem::path& file);

/// How PackDirectory reports progress and how much it may pack.
struct PackOptions {
  /// Called after each chunk of file content with bytes done and bytes in total.
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;
  std::uint64_t max_bytes = 1ULL << 30;  ///< Most bytes of file content to pack.
};

/// What PackDirectory wrote.
struct PackResult {
  std::uint64_t files = 0;  ///< Regular files packed.
  std::uint64_t bytes = 0;  ///< Their content bytes.
  std::string sha256;       ///< Lowercase hex SHA-256 of the .tar.gz written.
};

/// Packs the contents of `dir` at the root of a reproducible .tar.gz at `out_tar_gz`: the same
/// content gives the same bytes (sorted members, mtime 0, uid/gid 0, no user or group names,
/// modes 0644/0755, gzip without timestamp or name). Skips `.git`, `__pycache__`, `*.pyc`,
/// `.venv`, `node_modules`, a top-level `mlruns`, and virtualenvs (directories holding
/// `pyvenv.cfg`). Keeps symlinks as symlinks when they stay inside `dir`. Fails with
/// INVALID_PARAMETER_VALUE for symlinks leaving `dir`, special files, or more than
/// options.max_bytes of content; INTERNAL_ERROR for I/O failures. Removes `out_tar_gz` on
/// failure.
Result<PackResult> PackDirectory(const std::filesystem::path& dir,
                                 const std::filesystem::path& out_tar_gz,
                                 const PackOptions& options);

}  // namespace mltf::gateway::projects
