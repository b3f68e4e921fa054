// mlproject.cpp - the MLproject spec as MLflow 2.9.2's _project_spec.py reads it, and the
// rendering of entry point commands as its EntryPoint.compute_command does.
#include "gateway/projects/mlproject.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <utility>

namespace mltf::gateway::projects {
namespace {

/// An MLproject is a few kilobytes; anything far larger is not one.
constexpr std::size_t kMaxMlprojectBytes = 1 << 20;

Error SpecError(std::string message) {
  return Error::InvalidParameter("MLproject: " + std::move(message));
}

using MapItems = std::vector<std::pair<std::string, YAML::Node>>;

/// The items of a YAML mapping, in file order. Keys must be distinct scalars.
Result<MapItems> ItemsOf(const YAML::Node& node, std::string_view where) {
  if (!node.IsMap()) {
    return Fail(SpecError(fmt::format("{} must be a mapping", where)));
  }
  MapItems items;
  for (const auto& item : node) {
    if (!item.first.IsScalar()) {
      return Fail(SpecError(fmt::format("the keys of {} must be strings", where)));
    }
    const std::string& key = item.first.Scalar();
    if (std::any_of(items.begin(), items.end(),
                    [&](const auto& seen) { return seen.first == key; })) {
      return Fail(SpecError(fmt::format("'{}' appears twice in {}", key, where)));
    }
    items.emplace_back(key, item.second);
  }
  return items;
}

const YAML::Node* Find(const MapItems& items, std::string_view key) {
  for (const auto& [name, node] : items) {
    if (name == key) {
      return &node;
    }
  }
  return nullptr;
}

/// A plain YAML scalar as Python's str() of what PyYAML loads prints it, for the common
/// case that differs: booleans. (Other YAML 1.1 spellings such as 0x10 stay as written.)
std::string ScalarText(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "?") {
    static const std::set<std::string> kTrue = {"yes",  "Yes", "YES", "true", "True",
                                                "TRUE", "on",  "On",  "ON"};
    static const std::set<std::string> kFalse = {"no",    "No",  "NO",  "false", "False",
                                                 "FALSE", "off", "Off", "OFF"};
    if (kTrue.contains(text)) {
      return "True";
    }
    if (kFalse.contains(text)) {
      return "False";
    }
  }
  return text;
}

/// Normalized project-relative path ("./a//b" -> "a/b"), or nullopt if absolute or with `..`.
std::optional<std::string> NormalizeRelative(std::string_view path) {
  if (path.empty() || path.front() == '/') {
    return std::nullopt;
  }
  std::string out;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    const std::string_view component = path.substr(start, end - start);
    if (component == "..") {
      return std::nullopt;
    }
    if (!component.empty() && component != ".") {
      if (!out.empty()) {
        out += '/';
      }
      out += component;
    }
    start = end + 1;
  }
  if (out.empty()) {
    return std::nullopt;
  }
  return out;
}

/// The ASCII whitespace float() and int() strip. (Python also strips Unicode spaces such as
/// U+00A0; refusing those is the safe direction.)
bool IsPythonSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

std::string_view StripPythonSpace(std::string_view text) {
  while (!text.empty() && IsPythonSpace(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && IsPythonSpace(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

/// Consumes digits with single underscores between them (PEP 515); false if none.
bool ConsumeDigits(std::string_view& text) {
  if (text.empty() || !IsDigit(text.front())) {
    return false;
  }
  text.remove_prefix(1);
  while (!text.empty()) {
    if (IsDigit(text.front())) {
      text.remove_prefix(1);
    } else if (text.front() == '_' && text.size() > 1 && IsDigit(text[1])) {
      text.remove_prefix(2);
    } else {
      break;
    }
  }
  return true;
}

void ConsumeSign(std::string_view& text) {
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    text.remove_prefix(1);
  }
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

/// Whether Python's float() accepts `value`.
bool IsPythonFloat(std::string_view value) {
  std::string_view text = StripPythonSpace(value);
  ConsumeSign(text);
  if (EqualsIgnoreCase(text, "inf") || EqualsIgnoreCase(text, "infinity") ||
      EqualsIgnoreCase(text, "nan")) {
    return true;
  }
  const bool integer_part = ConsumeDigits(text);
  bool fraction_part = false;
  if (!text.empty() && text.front() == '.') {
    text.remove_prefix(1);
    fraction_part = ConsumeDigits(text);
  }
  if (!integer_part && !fraction_part) {
    return false;
  }
  if (!text.empty() && (text.front() == 'e' || text.front() == 'E')) {
    text.remove_prefix(1);
    ConsumeSign(text);
    if (!ConsumeDigits(text)) {
      return false;
    }
  }
  return text.empty();
}

/// Whether Python's int() (base 10) accepts `value`.
bool IsPythonInt(std::string_view value) {
  std::string_view text = StripPythonSpace(value);
  ConsumeSign(text);
  return ConsumeDigits(text) && text.empty();
}

/// MLflow's is_uri: urllib's urlparse finds a scheme (a letter, then letters, digits, + - .).
bool IsUri(std::string_view value) {
  const std::size_t colon = value.find(':');
  if (colon == std::string_view::npos || colon == 0 ||
      std::isalpha(static_cast<unsigned char>(value.front())) == 0) {
    return false;
  }
  return std::all_of(value.begin(), value.begin() + static_cast<std::ptrdiff_t>(colon), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '-' || c == '.';
  });
}

std::optional<ParameterType> ParseType(std::string_view name) {
  for (ParameterType type : {ParameterType::STRING, ParameterType::FLOAT, ParameterType::INT,
                             ParameterType::PATH, ParameterType::URI}) {
    if (name == ParameterTypeName(type)) {
      return type;
    }
  }
  return std::nullopt;
}

/// Why `value` is not valid for `type`, or nullopt.
std::optional<std::string> ValueRuleBroken(ParameterType type, std::string_view value) {
  if (value.find('\0') != std::string_view::npos) {
    return "it contains a NUL byte";
  }
  switch (type) {
    case ParameterType::FLOAT:
      if (!IsPythonFloat(value)) {
        return fmt::format("'{}' is not a number (float expected, e.g. 0.1, 1e-3, inf)", value);
      }
      break;
    case ParameterType::INT:
      if (!IsPythonInt(value)) {
        return fmt::format("'{}' is not an integer", value);
      }
      break;
    case ParameterType::URI:
      if (!IsUri(value)) {
        return fmt::format("'{}' is not a URI (expected scheme:..., e.g. s3://bucket/key)", value);
      }
      break;
    case ParameterType::STRING:
    case ParameterType::PATH:
      break;
  }
  return std::nullopt;
}

Result<ParameterSpec> ParseParameter(const std::string& name, const YAML::Node& node,
                                     const std::string& entry_point) {
  const std::string where = fmt::format("parameter '{}' of entry point '{}'", name, entry_point);
  ParameterSpec spec;
  spec.name = name;
  std::string type_name;
  if (node.IsScalar()) {
    type_name = node.Scalar();
  } else if (node.IsMap()) {
    MLTF_ASSIGN_OR_RETURN(fields, ItemsOf(node, where));
    type_name = "string";  // MLflow's default when only a default is given
    if (const YAML::Node* type = Find(fields, "type"); type != nullptr) {
      if (!type->IsScalar()) {
        return Fail(SpecError(fmt::format("'type' of {} must be a string", where)));
      }
      type_name = type->Scalar();
    }
    if (const YAML::Node* value = Find(fields, "default"); value != nullptr && !value->IsNull()) {
      if (!value->IsScalar()) {
        return Fail(SpecError(fmt::format("'default' of {} must be a single value", where)));
      }
      spec.default_value = ScalarText(*value);
    }
  } else {
    return Fail(SpecError(
        fmt::format("{} needs a type, as `{}: float` or `{}: {{type: float, default: 0.1}}`", where,
                    name, name)));
  }
  auto type = ParseType(type_name);
  if (!type) {
    return Fail(SpecError(fmt::format(
        "{} has unknown type '{}' (expected string, float, int, path or uri)", where, type_name)));
  }
  spec.type = *type;
  if (spec.default_value &&
      (spec.type == ParameterType::FLOAT || spec.type == ParameterType::INT)) {
    if (auto broken = ValueRuleBroken(spec.type, *spec.default_value)) {
      return Fail(SpecError(fmt::format("'default' of {}: {}", where, *broken)));
    }
  }
  return spec;
}

Result<EntryPoint> ParseEntryPoint(const std::string& name, const YAML::Node& node) {
  const std::string where = fmt::format("entry point '{}'", name);
  MLTF_ASSIGN_OR_RETURN(fields, ItemsOf(node, where));
  EntryPoint entry_point;
  entry_point.name = name;
  const YAML::Node* command = Find(fields, "command");
  if (command == nullptr || !command->IsScalar() || command->Scalar().empty()) {
    return Fail(SpecError(fmt::format("{} needs a 'command' string", where)));
  }
  entry_point.command = command->Scalar();
  if (const YAML::Node* parameters = Find(fields, "parameters");
      parameters != nullptr && !parameters->IsNull()) {
    MLTF_ASSIGN_OR_RETURN(items, ItemsOf(*parameters, fmt::format("'parameters' of {}", where)));
    for (const auto& [param_name, param_node] : items) {
      MLTF_ASSIGN_OR_RETURN(spec, ParseParameter(param_name, param_node, name));
      entry_point.parameters.push_back(std::move(spec));
    }
  }
  return entry_point;
}

Result<EnvironmentSpec> ParseEnvFile(EnvironmentKind kind, std::string_view key,
                                     const YAML::Node& node, const std::set<std::string>& files) {
  if (!node.IsScalar()) {
    return Fail(SpecError(fmt::format("'{}' must be the path of a file in the project", key)));
  }
  auto path = NormalizeRelative(node.Scalar());
  if (!path) {
    return Fail(SpecError(fmt::format("'{}' must be a relative path inside the project, not '{}'",
                                      key, node.Scalar())));
  }
  if (!files.contains(*path)) {
    return Fail(
        SpecError(fmt::format("the {} file '{}' does not exist in the project", key, *path)));
  }
  return EnvironmentSpec{kind, *path, ""};
}

Result<EnvironmentSpec> ParseDockerEnv(const YAML::Node& node) {
  MLTF_ASSIGN_OR_RETURN(fields, ItemsOf(node, "'docker_env'"));
  const YAML::Node* image = Find(fields, "image");
  if (image == nullptr || !image->IsScalar() || image->Scalar().empty()) {
    return Fail(SpecError("'docker_env' needs an 'image' string"));
  }
  if (const YAML::Node* volumes = Find(fields, "volumes"); volumes != nullptr) {
    const bool strings = volumes->IsSequence() &&
                         std::all_of(volumes->begin(), volumes->end(),
                                     [](const YAML::Node& item) { return item.IsScalar(); });
    if (!strings) {
      return Fail(SpecError("'volumes' of 'docker_env' must be a list of strings"));
    }
  }
  if (const YAML::Node* environment = Find(fields, "environment"); environment != nullptr) {
    const auto valid_item = [](const YAML::Node& item) {
      return item.IsScalar() ||
             (item.IsSequence() && item.size() == 2 && item[0].IsScalar() && item[1].IsScalar());
    };
    if (!environment->IsSequence() ||
        !std::all_of(environment->begin(), environment->end(), valid_item)) {
      return Fail(
          SpecError("'environment' of 'docker_env' must be a list of NAME or [NAME, VALUE] items"));
    }
  }
  return EnvironmentSpec{EnvironmentKind::DOCKER_ENV, "", image->Scalar()};
}

EnvironmentSpec FallbackEnvironment(const std::set<std::string>& files) {
  if (files.contains("python_env.yaml")) {
    return {EnvironmentKind::PYTHON_ENV, "python_env.yaml", ""};
  }
  if (files.contains("conda.yaml")) {
    return {EnvironmentKind::CONDA_ENV, "conda.yaml", ""};
  }
  return {};
}

Result<MlProject> ParseTree(const YAML::Node& root, const std::set<std::string>& files) {
  MLTF_ASSIGN_OR_RETURN(items, ItemsOf(root, "the file"));
  MlProject project;
  if (const YAML::Node* name = Find(items, "name"); name != nullptr && !name->IsNull()) {
    if (!name->IsScalar()) {
      return Fail(SpecError("'name' must be a string"));
    }
    project.name = name->Scalar();
  }
  const YAML::Node* python_env = Find(items, "python_env");
  const YAML::Node* conda_env = Find(items, "conda_env");
  const YAML::Node* docker_env = Find(items, "docker_env");
  const int env_keys = (python_env != nullptr ? 1 : 0) + (conda_env != nullptr ? 1 : 0) +
                       (docker_env != nullptr ? 1 : 0);
  if (env_keys > 1) {
    return Fail(
        SpecError("cannot contain multiple environment fields (python_env, conda_env, docker_env); "
                  "keep one"));
  }
  if (python_env != nullptr) {
    MLTF_ASSIGN_OR_RETURN(
        env, ParseEnvFile(EnvironmentKind::PYTHON_ENV, "python_env", *python_env, files));
    project.environment = std::move(env);
  } else if (conda_env != nullptr) {
    MLTF_ASSIGN_OR_RETURN(env,
                          ParseEnvFile(EnvironmentKind::CONDA_ENV, "conda_env", *conda_env, files));
    project.environment = std::move(env);
  } else if (docker_env != nullptr) {
    MLTF_ASSIGN_OR_RETURN(env, ParseDockerEnv(*docker_env));
    project.environment = std::move(env);
  } else {
    project.environment = FallbackEnvironment(files);
  }
  if (const YAML::Node* entry_points = Find(items, "entry_points");
      entry_points != nullptr && !entry_points->IsNull()) {
    MLTF_ASSIGN_OR_RETURN(entries, ItemsOf(*entry_points, "'entry_points'"));
    for (const auto& [name, node] : entries) {
      MLTF_ASSIGN_OR_RETURN(entry_point, ParseEntryPoint(name, node));
      project.entry_points.push_back(std::move(entry_point));
    }
  }
  return project;
}

/// The extension os.path.splitext finds in a script name: leading dots of the last
/// component do not start one.
std::string_view Extension(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const std::size_t dot = base.rfind('.');
  if (dot == std::string_view::npos || base.find_first_not_of('.') == std::string_view::npos ||
      dot < base.find_first_not_of('.')) {
    return {};
  }
  return base.substr(dot);
}

/// Doubles braces so str.format renders `text` literally.
std::string EscapeBraces(std::string_view text) {
  std::string out;
  for (char c : text) {
    out += c;
    if (c == '{' || c == '}') {
      out += c;
    }
  }
  return out;
}

/// Python str.format over the quoted values, limited to what is sound here: `{name}`,
/// `{name!s}` and an empty format spec. Attribute, index, positional, repr and format-spec
/// fields are refused, as is anything Python itself would refuse.
Result<std::string> FormatTemplate(std::string_view command,
                                   const std::map<std::string, std::string>& quoted) {
  std::string out;
  std::size_t pos = 0;
  while (pos < command.size()) {
    const char c = command[pos];
    if (c == '}') {
      if (pos + 1 < command.size() && command[pos + 1] == '}') {
        out += '}';
        pos += 2;
        continue;
      }
      return Fail(SpecError("the command has a single '}'; write '}}' for a literal brace"));
    }
    if (c != '{') {
      out += c;
      ++pos;
      continue;
    }
    if (pos + 1 < command.size() && command[pos + 1] == '{') {
      out += '{';
      pos += 2;
      continue;
    }
    // The field runs to the matching '}', counting nested braces as Python does.
    std::size_t end = pos + 1;
    int depth = 1;
    for (; end < command.size(); ++end) {
      if (command[end] == '{') {
        ++depth;
      } else if (command[end] == '}' && --depth == 0) {
        break;
      }
    }
    if (end >= command.size()) {
      return Fail(SpecError("the command has a '{' without a matching '}'"));
    }
    const std::string_view field = command.substr(pos + 1, end - pos - 1);
    const std::size_t split = field.find_first_of("!:");
    const std::string_view name = field.substr(0, split);
    const std::string_view rest =
        split == std::string_view::npos ? std::string_view{} : field.substr(split);
    if (name.empty() || std::all_of(name.begin(), name.end(), IsDigit)) {
      return Fail(SpecError(fmt::format(
          "the command has a positional field '{{{}}}'; name a declared parameter", field)));
    }
    if (name.find_first_of(".[") != std::string_view::npos) {
      return Fail(SpecError(fmt::format(
          "the command field '{{{}}}' uses attribute or index access, which is not supported",
          field)));
    }
    if (!rest.empty() && rest != "!s" && rest != ":" && rest != "!s:") {
      return Fail(SpecError(fmt::format(
          "the command field '{{{}}}' uses a conversion or format spec, which is not supported",
          field)));
    }
    auto value = quoted.find(std::string(name));
    if (value == quoted.end()) {
      return Fail(SpecError(fmt::format(
          "the command uses '{{{}}}' but the entry point declares no parameter '{}'", name, name)));
    }
    out += value->second;
    pos = end + 1;
  }
  return out;
}

}  // namespace

std::string_view ParameterTypeName(ParameterType type) {
  switch (type) {
    case ParameterType::STRING:
      return "string";
    case ParameterType::FLOAT:
      return "float";
    case ParameterType::INT:
      return "int";
    case ParameterType::PATH:
      return "path";
    case ParameterType::URI:
      return "uri";
  }
  return "string";
}

std::string_view EnvironmentKindName(EnvironmentKind kind) {
  switch (kind) {
    case EnvironmentKind::NONE:
      return "none";
    case EnvironmentKind::PYTHON_ENV:
      return "python_env";
    case EnvironmentKind::CONDA_ENV:
      return "conda_env";
    case EnvironmentKind::DOCKER_ENV:
      return "docker_env";
  }
  return "none";
}

bool IsProjectHash(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Result<MlProject> ParseMlProject(std::string_view yaml, const std::set<std::string>& files) {
  if (yaml.size() > kMaxMlprojectBytes) {
    return Fail(SpecError(fmt::format("the file is larger than {} bytes", kMaxMlprojectBytes)));
  }
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    return ParseTree(root, files);
  } catch (const YAML::Exception& error) {
    return Fail(SpecError(fmt::format("invalid YAML: {}", error.what())));
  } catch (const std::exception& error) {
    return Fail(SpecError(fmt::format("could not be read: {}", error.what())));
  } catch (...) {
    return Fail(SpecError("could not be read"));
  }
}

Result<MlProject> LoadProject(const ArchiveSummary& summary) {
  const std::set<std::string> files(summary.files.begin(), summary.files.end());
  std::vector<std::string> spec_files;
  for (const std::string& file : summary.files) {
    if (file.find('/') == std::string::npos && file.size() == 9 &&
        EqualsIgnoreCase(file, "mlproject")) {
      spec_files.push_back(file);
    }
  }
  if (spec_files.size() > 1) {
    return Fail(SpecError(fmt::format("the project has several MLproject files ({}); keep one",
                                      fmt::join(spec_files, ", "))));
  }
  if (spec_files.empty()) {
    MlProject project;
    project.environment = FallbackEnvironment(files);
    return project;
  }
  auto content = summary.small_files.find(spec_files.front());
  if (content == summary.small_files.end()) {
    return Fail(SpecError(fmt::format(
        "'{}' could not be read: it is larger than the limit for spec files, or a hard link to "
        "a file that is",
        spec_files.front())));
  }
  return ParseMlProject(content->second, files);
}

Result<EntryPoint> FindEntryPoint(const MlProject& project, std::string_view name,
                                  const std::set<std::string>& files) {
  for (const EntryPoint& entry_point : project.entry_points) {
    if (entry_point.name == name) {
      return entry_point;
    }
  }
  const std::string_view extension = Extension(name);
  const auto path = NormalizeRelative(name);
  if (path && files.contains(*path)) {
    // The template is rendered by str.format later, so the script name's braces are doubled.
    const std::string script = EscapeBraces(ShellQuote(*path));
    if (extension == ".py") {
      return EntryPoint{std::string(name), "python " + script, {}};
    }
    if (extension == ".sh") {
      // MLflow bakes in os.environ.get("SHELL", "bash") of the submitting process. Here the
      // command runs elsewhere, so the shell that runs it expands ${SHELL:-bash} instead;
      // `:-` also falls back to bash when SHELL is set but empty, where MLflow would produce
      // a command that runs the script itself. Braces doubled for str.format.
      return EntryPoint{std::string(name), "${{SHELL:-bash}} " + script, {}};
    }
    if (extension == ".R") {
      return EntryPoint{std::string(name), "Rscript " + script, {}};
    }
  }
  std::vector<std::string> declared;
  declared.reserve(project.entry_points.size());
  for (const EntryPoint& entry_point : project.entry_points) {
    declared.push_back("'" + entry_point.name + "'");
  }
  return Fail(Error::InvalidParameter(fmt::format(
      "Could not find '{}' among entry points [{}] or interpret it as a runnable script of the "
      "project (an existing .py, .sh or .R file)",
      name, fmt::join(declared, ", "))));
}

Result<RenderedCommand> RenderCommand(const EntryPoint& entry_point,
                                      const std::map<std::string, std::string>& user_parameters) {
  std::vector<std::string> missing;
  for (const ParameterSpec& spec : entry_point.parameters) {
    if (!user_parameters.contains(spec.name) && !spec.default_value) {
      missing.push_back("'" + spec.name + "'");
    }
  }
  if (!missing.empty()) {
    return Fail(Error::InvalidParameter(
        fmt::format("No value given for missing parameters: {} (entry point '{}')",
                    fmt::join(missing, ", "), entry_point.name)));
  }
  RenderedCommand rendered;
  std::map<std::string, std::string> quoted;
  for (const ParameterSpec& spec : entry_point.parameters) {
    auto given = user_parameters.find(spec.name);
    const std::string& value = given != user_parameters.end() ? given->second : *spec.default_value;
    if (auto broken = ValueRuleBroken(spec.type, value)) {
      return Fail(
          Error::InvalidParameter(fmt::format("Parameter '{}' of entry point '{}' is invalid: {}",
                                              spec.name, entry_point.name, *broken)));
    }
    quoted[spec.name] = ShellQuote(value);
    rendered.parameters[spec.name] = value;
  }
  MLTF_ASSIGN_OR_RETURN(command, FormatTemplate(entry_point.command, quoted));
  rendered.command = std::move(command);
  for (const auto& [key, value] : user_parameters) {
    if (quoted.contains(key)) {
      continue;
    }
    if (key.empty() || key.find('\0') != std::string::npos ||
        value.find('\0') != std::string::npos) {
      return Fail(Error::InvalidParameter(
          "Parameter names must not be empty, and names and values must not contain NUL bytes"));
    }
    rendered.command += " " + ShellQuote("--" + key) + " " + ShellQuote(value);
    rendered.parameters[key] = value;
  }
  return rendered;
}

}  // namespace mltf::gateway::projects
