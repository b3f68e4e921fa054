// artifact_path.hpp - validation and normalisation of client-supplied artifact paths.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace mltf::artifacts {

/// Names starting with this prefix are the temporaries of uploads in progress. They are never
/// listed, and a client path may not name them.
inline constexpr std::string_view kUploadTempPrefix = ".mltf-upload-";

/// Longest accepted artifact path, in bytes after normalisation (Linux's PATH_MAX).
inline constexpr std::size_t kMaxArtifactPathLength = 4096;

/// Longest accepted path component, in bytes (Linux's NAME_MAX).
inline constexpr std::size_t kMaxArtifactNameLength = 255;

/// Most components an artifact path may have. Bounds the directories opened at once while a
/// tree is walked or deleted.
inline constexpr std::size_t kMaxArtifactPathDepth = 256;

/// A relative artifact path that is safe to resolve below an artifact root: no `..`, not
/// absolute, no NUL or other control characters, no backslashes, no drive letter, no `#`,
/// valid UTF-8, and none of that hidden behind percent-encoding. Empty and `.` components are
/// dropped, so "a//./b/" becomes "a/b"; the empty path is the root itself.
///
/// It checks the *spelling* only: symbolic links are the artifact repository's business.
class ArtifactPath {
 public:
  /// The root ("").
  ArtifactPath() = default;

  /// Validates and normalises `raw` (already percent-decoded once by the HTTP layer).
  /// Fails with INVALID_PARAMETER_VALUE, naming the rule broken, if `raw` is not a safe
  /// relative path. As MLflow's `validate_path_is_safe` does, the rules are also checked
  /// against every further percent-decoding of `raw`, so "%2e%2e/x" is refused as well.
  static Result<ArtifactPath> Parse(std::string_view raw);

  /// The normalised path, components joined by '/'; "" for the root. Does not fail.
  const std::string& str() const { return path_; }

  /// The components, in order; empty for the root. Does not fail.
  std::span<const std::string> components() const { return components_; }

  /// Whether this is the root (no components). Does not fail.
  bool IsRoot() const { return components_.empty(); }

  /// The last component; "" for the root. Does not fail.
  std::string_view Name() const;

  /// This path with `name` appended. `name` must be one valid component (asserted, not
  /// checked: it comes from the filesystem, not from a client). Does not fail.
  ArtifactPath Child(std::string_view name) const;

  friend bool operator==(const ArtifactPath&, const ArtifactPath&) = default;

 private:
  std::string path_;
  std::vector<std::string> components_;
};

}  // namespace mltf::artifacts
