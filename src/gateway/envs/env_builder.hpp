// env_builder.hpp - turn an environment spec into a ready environment (DESIGN.md's EnvBuilder).
//
// VirtualenvBuilder protocol: the spec (python_env.yaml with -r files inlined), the interpreter
// version and the index options are hashed into a key. Under an exclusive flock on
// `<envs_root>/<key>.lock` the builder reuses `<envs_root>/<key>` if it is complete, or builds
// it: `python -m venv` into `<key>.tmp-<pid>`, pip installs the build dependencies then the
// dependencies, records `pip freeze` in `mltf-freeze.txt`, fixes the scripts' interpreter
// paths and renames the directory into place. A failed build removes its temporary
// directory, so a directory named `<key>` is always complete. The lock serializes builders
// in threads and in separate processes on one filesystem (flock also works on most shared
// filesystems, but not all: NFS before v4 without lockd does not).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "gateway/envs/python_env.hpp"

namespace mltf::gateway::envs {

/// The operator's settings for building environments.
struct EnvironmentOptions {
  /// Where environments are cached (the server's `<data-dir>/envs`).
  std::filesystem::path envs_root;
  /// The interpreter environments are built from (a name searched in PATH, or a path).
  std::string python = "python3";
  /// pip's --index-url; empty keeps pip's default.
  std::string pip_index_url;
  /// pip's --find-links, one per entry.
  std::vector<std::string> pip_find_links;
  /// pip's --no-index (offline facilities: only find-links and system packages).
  bool pip_no_index = false;
  /// venv --system-site-packages: packages of the system interpreter are visible.
  bool system_site_packages = false;
  /// Upper bound on one environment build (venv creation plus all pip runs).
  std::chrono::seconds build_timeout{1800};
};

/// What a task asks for.
struct EnvironmentRequest {
  /// "local", "virtualenv" or "conda" (MLflow's --env-manager); empty means virtualenv.
  std::string env_manager;
  /// Contents of the project's python_env.yaml; may be empty.
  std::string python_env_yaml;
  /// The unpacked project, for `-r requirements.txt` in python_env.yaml.
  std::filesystem::path project_dir;
  /// The MLproject's environment: "python_env", "conda_env", "docker_env" or "".
  std::string environment_kind;
};

/// A ready environment.
struct PreparedEnvironment {
  /// "local" or "virtualenv".
  std::string manager;
  /// The cache key ("local" for the local manager).
  std::string key;
  /// The venv directory; empty for local.
  std::filesystem::path root;
  /// Variables to set: VIRTUAL_ENV, and PATH holding the directory to put in front of PATH.
  std::map<std::string, std::string> variables;
  /// `pip freeze` of the environment, for reproducibility; may be empty for local.
  std::string resolved_lock;
  /// True when an existing environment was reused rather than built.
  bool reused = false;

  /// `base` with the variables applied (PATH prefixed, not replaced). Does not fail.
  [[nodiscard]] std::map<std::string, std::string> ApplyTo(
      std::map<std::string, std::string> base) const;
};

/// Builds environments. Implementations are thread-safe.
class EnvBuilder {
 public:
  virtual ~EnvBuilder();
  /// Prepares the environment `request` describes, passing progress lines (pip's output) to
  /// `log`. Fails with INVALID_PARAMETER_VALUE for a spec that cannot be satisfied here, and
  /// with INTERNAL_ERROR (carrying the last lines of output) when a build fails.
  virtual Result<PreparedEnvironment> Prepare(
      const EnvironmentRequest& request, const std::function<void(std::string_view line)>& log) = 0;
};

/// Uses the configured interpreter as it is (a path puts its directory first in PATH);
/// `resolved_lock` is its `pip freeze`, cached until its sys.path directories change.
class LocalEnvBuilder final : public EnvBuilder {
 public:
  explicit LocalEnvBuilder(EnvironmentOptions options);
  Result<PreparedEnvironment> Prepare(const EnvironmentRequest& request,
                                      const std::function<void(std::string_view)>& log) override;

 private:
  EnvironmentOptions options_;
};

/// Builds and caches virtualenvs from python_env.yaml (see the file comment).
class VirtualenvBuilder final : public EnvBuilder {
 public:
  explicit VirtualenvBuilder(EnvironmentOptions options);
  Result<PreparedEnvironment> Prepare(const EnvironmentRequest& request,
                                      const std::function<void(std::string_view)>& log) override;

  /// The cache key of `spec` built with this builder's interpreter and options. Fails when the
  /// interpreter cannot be run.
  Result<std::string> KeyFor(const PythonEnvSpec& spec);

 private:
  // The configured interpreter's "major.minor.micro", asked once.
  Result<std::string> InterpreterVersion();
  Result<PreparedEnvironment> Build(const std::string& key, const PythonEnvSpec& spec,
                                    const std::filesystem::path& final_dir,
                                    const std::function<void(std::string_view)>& log);

  EnvironmentOptions options_;
  std::mutex version_mutex_;
  std::optional<std::string> interpreter_version_;
};

/// The builder for `env_manager` ("local", "virtualenv" or "" for virtualenv). Fails with
/// INVALID_PARAMETER_VALUE for "conda" (not available on this facility yet) and unknown names.
Result<std::unique_ptr<EnvBuilder>> MakeEnvBuilder(const std::string& env_manager,
                                                   const EnvironmentOptions& options);

/// The environment a child process of the builder gets: PATH, HOME, LANG, TMPDIR of this
/// process (defaults when unset), nothing else. Does not fail.
std::map<std::string, std::string> CleanBuildEnvironment();

}  // namespace mltf::gateway::envs
