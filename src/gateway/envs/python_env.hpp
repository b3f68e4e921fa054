// python_env.hpp - MLflow's python_env.yaml: parsing, `-r` inlining, and the cache key.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace mltf::gateway::envs {

/// A parsed python_env.yaml, with every `-r file` replaced by the file's requirements and each
/// requirement whitespace-normalized.
struct PythonEnvSpec {
  /// The requested Python version ("3.11", "3.11.2"); empty when not given.
  std::string python;
  std::vector<std::string> build_dependencies;
  std::vector<std::string> dependencies;
};

/// Parses python_env.yaml `content` (empty content is an empty spec). `-r`/`--requirement`
/// files are read relative to `project_dir` and must stay inside it. Fails with
/// INVALID_PARAMETER_VALUE on malformed YAML, unknown keys, non-string entries, pip options
/// other than -r (index settings are the operator's), or unreadable/escaping files.
Result<PythonEnvSpec> ParsePythonEnv(std::string_view content,
                                     const std::filesystem::path& project_dir);

/// True when `requested` ("3.11" or "3.11.2") has the major.minor of `available` ("3.11.4").
bool PythonVersionMatches(std::string_view requested, std::string_view available);

/// Hex SHA-256 of `text`.
std::string Sha256Hex(std::string_view text);

}  // namespace mltf::gateway::envs
