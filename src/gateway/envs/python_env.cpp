// python_env.cpp - python_env.yaml parsing with requirement files inlined, and hashing.
#include "gateway/envs/python_env.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <set>

namespace mltf::gateway::envs {
namespace {

namespace fs = std::filesystem;

constexpr std::uintmax_t kMaxRequirementsFileBytes = std::uintmax_t{1024} * 1024;
constexpr int kMaxRequirementsDepth = 10;
constexpr std::size_t kMaxRequirementLength = 1000;
constexpr std::size_t kMaxRequirements = 2000;

// Collapses whitespace runs to one space and trims, so that formatting does not change keys.
std::string NormalizeWhitespace(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
      space = !out.empty();
      continue;
    }
    if (space) {
      out.push_back(' ');
      space = false;
    }
    out.push_back(c);
  }
  return out;
}

// The file named by a `-r` option, or empty when `line` is not one.
std::string RequirementFileOf(const std::string& line) {
  for (std::string_view prefix : {"--requirement=", "--requirement ", "-r ", "-r"}) {
    if (line.rfind(prefix, 0) == 0) {
      return NormalizeWhitespace(line.substr(prefix.size()));
    }
  }
  return {};
}

class RequirementCollector {
 public:
  explicit RequirementCollector(fs::path project_dir) : project_dir_(std::move(project_dir)) {}

  // Adds one line of python_env.yaml (`where` names it) or of a requirements file.
  Result<void> AddLine(const std::string& raw, const fs::path& base_dir, std::string_view where,
                       int depth) {
    std::string line = NormalizeWhitespace(raw);
    if (line.empty()) {
      return {};
    }
    if (line.size() > kMaxRequirementLength) {
      return Fail(Error::InvalidParameter(
          fmt::format("{}: a requirement is {} characters long; at most {} are allowed", where,
                      line.size(), kMaxRequirementLength)));
    }
    if (line.front() != '-') {
      if (requirements_.size() >= kMaxRequirements) {
        return Fail(Error::InvalidParameter(
            fmt::format("{}: more than {} requirements", where, kMaxRequirements)));
      }
      requirements_.insert(line);
      return {};
    }
    std::string file = RequirementFileOf(line);
    if (file.empty()) {
      return Fail(Error::InvalidParameter(fmt::format(
          "{}: pip option '{}' is not allowed; only '-r <file>' is (package indexes are set "
          "by the facility's operator)",
          where, line)));
    }
    return AddFile(file, base_dir, where, depth + 1);
  }

  [[nodiscard]] std::vector<std::string> Sorted() const {
    return {requirements_.begin(), requirements_.end()};
  }

 private:
  Result<void> AddFile(const std::string& name, const fs::path& base_dir, std::string_view where,
                       int depth) {
    if (depth > kMaxRequirementsDepth) {
      return Fail(Error::InvalidParameter(
          fmt::format("{}: requirement files nest deeper than {} levels (a cycle?)", where,
                      kMaxRequirementsDepth)));
    }
    if (project_dir_.empty()) {
      return Fail(Error::InvalidParameter(
          fmt::format("{}: '-r {}' needs the project directory, which is not known", where, name)));
    }
    fs::path requested(name);
    std::error_code ec;
    fs::path root = fs::weakly_canonical(project_dir_, ec);
    fs::path file = fs::weakly_canonical(base_dir / requested, ec);
    auto [root_end, file_it] = std::mismatch(root.begin(), root.end(), file.begin(), file.end());
    if (requested.is_absolute() || ec || root_end != root.end()) {
      return Fail(Error::InvalidParameter(fmt::format(
          "{}: requirement file '{}' must be a relative path inside the project", where, name)));
    }
    if (!fs::is_regular_file(file, ec)) {
      return Fail(Error::InvalidParameter(
          fmt::format("{}: requirement file '{}' does not exist in the project", where, name)));
    }
    if (fs::file_size(file, ec) > kMaxRequirementsFileBytes) {
      return Fail(Error::InvalidParameter(
          fmt::format("{}: requirement file '{}' is larger than 1 MiB", where, name)));
    }
    std::ifstream in(file, std::ios::binary);
    std::string content{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (!in.good() && !in.eof()) {
      return Fail(Error::InvalidParameter(
          fmt::format("{}: cannot read requirement file '{}'", where, name)));
    }
    // Join backslash continuations, then strip comments (pip: '#' at start or after space).
    std::string joined;
    for (std::size_t idx = 0; idx < content.size(); ++idx) {
      if (content[idx] == '\\' && idx + 1 < content.size() && content[idx + 1] == '\n') {
        ++idx;
        continue;
      }
      joined.push_back(content[idx]);
    }
    std::size_t line_no = 0;
    std::size_t start = 0;
    while (start <= joined.size()) {
      std::size_t end = joined.find('\n', start);
      std::string line = joined.substr(start, end == std::string::npos ? end : end - start);
      ++line_no;
      std::size_t hash = line.find('#');
      while (hash != std::string::npos && hash > 0 && line[hash - 1] != ' ' &&
             line[hash - 1] != '\t') {
        hash = line.find('#', hash + 1);
      }
      if (hash != std::string::npos) {
        line.resize(hash);
      }
      std::string line_where = fmt::format("{} line {}", name, line_no);
      MLTF_TRY(AddLine(line, file.parent_path(), line_where, depth));
      if (end == std::string::npos) {
        break;
      }
      start = end + 1;
    }
    return {};
  }

  fs::path project_dir_;
  std::set<std::string> requirements_;
};

Result<std::vector<std::string>> StringList(const YAML::Node& node, std::string_view key) {
  std::vector<std::string> out;
  if (!node || node.IsNull()) {
    return out;
  }
  if (!node.IsSequence()) {
    return Fail(Error::InvalidParameter(
        fmt::format("python_env.yaml: '{}' must be a list of strings", key)));
  }
  for (const auto& item : node) {
    if (!item.IsScalar()) {
      return Fail(Error::InvalidParameter(
          fmt::format("python_env.yaml: every entry of '{}' must be a string", key)));
    }
    out.push_back(item.Scalar());
  }
  return out;
}

}  // namespace

Result<PythonEnvSpec> ParsePythonEnv(std::string_view content, const fs::path& project_dir) {
  PythonEnvSpec spec;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(content));
  } catch (const YAML::Exception& e) {
    return Fail(
        Error::InvalidParameter(fmt::format("python_env.yaml is not valid YAML: {}", e.what())));
  }
  if (!root || root.IsNull()) {
    return spec;
  }
  if (!root.IsMap()) {
    return Fail(Error::InvalidParameter(
        "python_env.yaml must be a mapping with 'python', 'build_dependencies' and "
        "'dependencies'"));
  }
  for (const auto& entry : root) {
    std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "";
    if (key != "python" && key != "build_dependencies" && key != "dependencies") {
      return Fail(Error::InvalidParameter(
          fmt::format("python_env.yaml: unknown key '{}' (expected 'python', 'build_dependencies', "
                      "'dependencies')",
                      key)));
    }
  }
  if (const YAML::Node python = root["python"]; python && !python.IsNull()) {
    if (!python.IsScalar()) {
      return Fail(Error::InvalidParameter("python_env.yaml: 'python' must be a version string"));
    }
    spec.python = NormalizeWhitespace(python.Scalar());
    bool version_like = !spec.python.empty() && spec.python.size() <= 32 &&
                        std::all_of(spec.python.begin(), spec.python.end(),
                                    [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
    if (!version_like) {
      return Fail(Error::InvalidParameter(
          fmt::format("python_env.yaml: 'python' must be a version such as \"3.11\", not '{}'",
                      spec.python.substr(0, 40))));
    }
  }
  MLTF_ASSIGN_OR_RETURN(build, StringList(root["build_dependencies"], "build_dependencies"));
  MLTF_ASSIGN_OR_RETURN(deps, StringList(root["dependencies"], "dependencies"));
  RequirementCollector build_collector(project_dir);
  for (const auto& line : build) {
    MLTF_TRY(build_collector.AddLine(line, project_dir, "python_env.yaml build_dependencies", 0));
  }
  RequirementCollector collector(project_dir);
  for (const auto& line : deps) {
    MLTF_TRY(collector.AddLine(line, project_dir, "python_env.yaml dependencies", 0));
  }
  spec.build_dependencies = build_collector.Sorted();
  spec.dependencies = collector.Sorted();
  return spec;
}

bool PythonVersionMatches(std::string_view requested, std::string_view available) {
  auto major_minor = [](std::string_view version) {
    std::size_t first = version.find('.');
    if (first == std::string_view::npos) {
      return version;
    }
    std::size_t second = version.find('.', first + 1);
    return version.substr(0, second);
  };
  return major_minor(requested) == major_minor(available);
}

std::string Sha256Hex(std::string_view text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int idx = 0; idx < size; ++idx) {
    hex += fmt::format("{:02x}", digest[idx]);
  }
  return hex;
}

}  // namespace mltf::gateway::envs
