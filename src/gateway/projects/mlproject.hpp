// mlproject.hpp - the MLproject spec (MLflow 2.9.2's rules): parsing, entry points, commands.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "common/shell_text.hpp"
#include "gateway/projects/project_archive.hpp"

namespace mltf::gateway::projects {

/// An entry point parameter's declared type. INT is MLTF's addition (MLflow treats it as
/// string); it is validated like Python's int().
enum class ParameterType { STRING, FLOAT, INT, PATH, URI };

/// One declared parameter; without a default it is required.
struct ParameterSpec {
  std::string name;
  ParameterType type = ParameterType::STRING;
  std::optional<std::string> default_value;
};

/// A named command template over its parameters (Python str.format syntax).
struct EntryPoint {
  std::string name;
  std::string command;
  std::vector<ParameterSpec> parameters;  ///< In file order.
};

/// Which environment the project asks for.
enum class EnvironmentKind { NONE, PYTHON_ENV, CONDA_ENV, DOCKER_ENV };

struct EnvironmentSpec {
  EnvironmentKind kind = EnvironmentKind::NONE;
  std::string file;   ///< Normalized path of the python_env / conda_env file.
  std::string image;  ///< docker_env image.
};

/// "string", "float", "int", "path" or "uri", as the MLproject spells it. Does not fail.
std::string_view ParameterTypeName(ParameterType type);
/// "none", "python_env", "conda_env" or "docker_env". Does not fail.
std::string_view EnvironmentKindName(EnvironmentKind kind);
/// Whether `text` is a project's hash: 64 lowercase hex characters. Does not fail.
bool IsProjectHash(std::string_view text);

/// A parsed MLproject (or the implicit project of an archive without one).
struct MlProject {
  std::string name;
  EnvironmentSpec environment;
  std::vector<EntryPoint> entry_points;  ///< In file order.
};

/// Parses MLproject YAML. `files` are the project's normalized file paths, used to check the
/// env file exists and for the python_env.yaml / conda.yaml fallbacks. Fails with
/// INVALID_PARAMETER_VALUE "MLproject: ..." naming the offending key. Never throws.
Result<MlProject> ParseMlProject(std::string_view yaml, const std::set<std::string>& files);

/// The project of an inspected archive: its root MLproject (found case-insensitively) parsed,
/// or, without one, a project with no declared entry points and the fallback environment.
/// Fails like ParseMlProject, or if the MLproject is too large or present more than once.
Result<MlProject> LoadProject(const ArchiveSummary& summary);

/// The entry point `name`: a declared one, or else a script of the project run as MLflow
/// does (`x.py` with python, `x.sh` with the shell, `x.R` with Rscript). Fails with
/// INVALID_PARAMETER_VALUE listing the declared entry points if neither applies.
Result<EntryPoint> FindEntryPoint(const MlProject& project, std::string_view name,
                                  const std::set<std::string>& files);

/// A command ready for a shell, and the parameters it was rendered with.
struct RenderedCommand {
  std::string command;
  /// Declared parameters with defaults applied, plus the undeclared ones the user gave;
  /// unquoted values.
  std::map<std::string, std::string> parameters;
};

/// Renders an entry point's command as MLflow's compute_command does: `{name}` placeholders
/// (`{{`/`}}` escape braces) replaced by shell-quoted values, then undeclared user parameters
/// appended as ` --key value` in key order. Validates float (Python float()), int (Python
/// int()) and uri (`scheme:...`) values. Fails with INVALID_PARAMETER_VALUE for missing
/// required parameters (listing them), invalid values, and templates that are malformed or
/// name undeclared parameters.
Result<RenderedCommand> RenderCommand(const EntryPoint& entry_point,
                                      const std::map<std::string, std::string>& user_parameters);

}  // namespace mltf::gateway::projects
