// env_builder.cpp - local and virtualenv environment builders, and their factory.
#include "gateway/envs/env_builder.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <utility>

#include "runner/process/process_group.hpp"

namespace mltf::gateway::envs {
namespace {

namespace fs = std::filesystem;
using runner::ExitStatus;
using runner::ProcessSpec;

constexpr std::size_t kTailLines = 30;
constexpr std::string_view kFreezeFile = "mltf-freeze.txt";
constexpr std::string_view kSpecFile = "mltf-env-spec.txt";
constexpr std::string_view kRequirementsFile = "mltf-requirements.txt";
// Scripts larger than this in bin/ are binaries, not scripts with our path in them.
constexpr std::uintmax_t kMaxScriptBytes = std::uintmax_t{1024} * 1024;

const char* const kContainerMessage =
    "conda and docker environments are not available on this facility yet (container support "
    "is planned): describe the environment with python_env.yaml and use env_manager=virtualenv, "
    "or use env_manager=local to run with the facility's Python. Operators: only the "
    "'virtualenv' and 'local' environment managers are configured";

Result<void> CheckSupported(const EnvironmentRequest& request) {
  bool local = request.env_manager == "local";
  if (request.env_manager == "conda" || (!local && (request.environment_kind == "conda_env" ||
                                                    request.environment_kind == "docker_env"))) {
    return Fail(Error::InvalidParameter(kContainerMessage));
  }
  return {};
}

// Runs one step of a build, logging its output and keeping the last lines for the error.
/// The modification time of `path` in nanoseconds, or -1 if it does not exist.
std::int64_t MtimeOf(const fs::path& path) {
  std::error_code ec;
  const auto time = fs::last_write_time(path, ec);
  if (ec) return -1;
  return static_cast<std::int64_t>(time.time_since_epoch().count());
}

/// The cached `pip freeze` of the local interpreter, if no directory of its sys.path changed.
std::optional<std::string> ReadLocalLock(const fs::path& cache) {
  if (cache.empty()) return std::nullopt;
  std::ifstream in(cache);
  if (!in) return std::nullopt;
  auto parsed = nlohmann::json::parse(in, nullptr, false);
  if (!parsed.is_object() || !parsed.contains("paths") || !parsed["paths"].is_object()) {
    return std::nullopt;
  }
  for (const auto& [path, mtime] : parsed["paths"].items()) {
    if (!mtime.is_number_integer() || MtimeOf(path) != mtime.get<std::int64_t>()) {
      return std::nullopt;
    }
  }
  return parsed.value("freeze", "");
}

void WriteLocalLock(const fs::path& cache, const std::vector<std::string>& paths,
                    const std::string& freeze) {
  nlohmann::json fingerprint = nlohmann::json::object();
  for (const auto& path : paths) fingerprint[path] = MtimeOf(path);
  std::error_code ec;
  fs::create_directories(cache.parent_path(), ec);
  const fs::path temporary = cache.string() + fmt::format(".tmp-{}", ::getpid());
  {
    std::ofstream out(temporary);
    out << nlohmann::json{{"paths", fingerprint}, {"freeze", freeze}}.dump();
    if (!out) return;
  }
  fs::rename(temporary, cache, ec);
  if (ec) fs::remove(temporary, ec);
}

class StepRunner {
 public:
  StepRunner(const std::function<void(std::string_view)>& log,
             std::chrono::steady_clock::time_point deadline)
      : log_(log), deadline_(deadline) {}

  Result<std::vector<std::string>> Run(std::string_view what, ProcessSpec spec) {
    std::vector<std::string> lines;
    auto on_line = [&](std::string_view line) {
      if (log_) {
        log_(line);
      }
      lines.emplace_back(line);
      tail_.emplace_back(line);
      if (tail_.size() > kTailLines) {
        tail_.pop_front();
      }
    };
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline_ - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return Fail(Error::Unavailable(
          fmt::format("the environment build ran out of time before it could {}", what)));
    }
    auto status = runner::RunProcess(std::move(spec), on_line, left);
    if (!status) {
      return Fail(Error{status.error().code,
                        fmt::format("cannot {}: {}{}", what, status.error().message, Tail())});
    }
    if (!status->Succeeded()) {
      return Fail(Error::Internal(
          fmt::format("cannot {}: it ended with {}{}", what, status->Describe(), Tail())));
    }
    return lines;
  }

 private:
  [[nodiscard]] std::string Tail() const {
    std::string text;
    for (const auto& line : tail_) {
      text += "\n  ";
      text += line;
    }
    return text.empty() ? text : "; last output:" + text;
  }

  const std::function<void(std::string_view)>& log_;
  std::chrono::steady_clock::time_point deadline_;
  std::deque<std::string> tail_;
};

std::string Join(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) {
    text += line;
    text += '\n';
  }
  return text;
}

Result<void> WriteFile(const fs::path& file, std::string_view content) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) {
    return Fail(Error::Internal(fmt::format("cannot write {}", file.string())));
  }
  return {};
}

std::string ReadFile(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// venv writes its own location into bin/ scripts (shebangs, activate): point them at the
// final directory, since the environment is built under a temporary name.
Result<void> RelocateScripts(const fs::path& bin, const std::string& from, const std::string& to) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(bin, ec)) {
    if (entry.is_symlink(ec) || !entry.is_regular_file(ec) ||
        entry.file_size(ec) > kMaxScriptBytes) {
      continue;
    }
    std::string content = ReadFile(entry.path());
    bool changed = false;
    for (std::size_t at = content.find(from); at != std::string::npos;
         at = content.find(from, at + to.size())) {
      content.replace(at, from.size(), to);
      changed = true;
    }
    if (changed) {
      MLTF_TRY(WriteFile(entry.path(), content));
    }
  }
  if (ec) {
    return Fail(Error::Internal(fmt::format("cannot list {}: {}", bin.string(), ec.message())));
  }
  return {};
}

// An exclusive flock held for the lifetime of the object.
class FileLock {
 public:
  static Result<FileLock> Acquire(const fs::path& file) {
    int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      return Fail(Error::Internal(
          fmt::format("cannot open lock file {}: {}", file.string(), std::strerror(errno))));
    }
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR) {
        int error = errno;
        ::close(fd);
        return Fail(Error::Internal(
            fmt::format("cannot lock {}: {}", file.string(), std::strerror(error))));
      }
    }
    return FileLock(fd);
  }
  FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileLock& operator=(FileLock&&) = delete;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock() {
    if (fd_ >= 0) {
      ::close(fd_);  // releases the lock
    }
  }

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace

std::map<std::string, std::string> PreparedEnvironment::ApplyTo(
    std::map<std::string, std::string> base) const {
  for (const auto& [name, value] : variables) {
    if (name == "PATH") {
      auto it = base.find("PATH");
      base["PATH"] = it == base.end() || it->second.empty() ? value : value + ":" + it->second;
    } else {
      base[name] = value;
    }
  }
  return base;
}

EnvBuilder::~EnvBuilder() = default;

std::map<std::string, std::string> CleanBuildEnvironment() {
  std::map<std::string, std::string> env;
  // NOLINTBEGIN(concurrency-mt-unsafe): the environment is not modified while serving.
  for (const char* name : {"PATH", "HOME", "LANG", "TMPDIR"}) {
    if (const char* value = std::getenv(name)) {
      env[name] = value;
    }
  }
  // NOLINTEND(concurrency-mt-unsafe)
  env.try_emplace("PATH", "/usr/local/bin:/usr/bin:/bin");
  env.try_emplace("LANG", "C.UTF-8");
  // The user's ~/.local packages must not leak into a build or its freeze.
  env["PYTHONNOUSERSITE"] = "1";
  return env;
}

LocalEnvBuilder::LocalEnvBuilder(EnvironmentOptions options) : options_(std::move(options)) {}

Result<PreparedEnvironment> LocalEnvBuilder::Prepare(
    const EnvironmentRequest& request, const std::function<void(std::string_view)>& log) {
  MLTF_TRY(CheckSupported(request));
  PreparedEnvironment prepared;
  prepared.manager = "local";
  prepared.key = "local";
  prepared.reused = true;
  // An interpreter configured by path is the one `python3` (and `python`, if it is there) finds.
  if (options_.python.find('/') != std::string::npos) {
    prepared.variables["PATH"] = fs::path(options_.python).parent_path().string();
  }
  // `pip freeze` costs about a second of CPU, more than a short task: its answer is kept and
  // reused until a directory of the interpreter's sys.path changes (installing or removing a
  // package changes its site-packages directory).
  const fs::path cache =
      options_.envs_root.empty()
          ? fs::path()
          : options_.envs_root /
                fmt::format("local-{}.json", Sha256Hex(options_.python).substr(0, 16));
  if (auto cached = ReadLocalLock(cache)) {
    prepared.resolved_lock = std::move(*cached);
    return prepared;
  }
  ProcessSpec spec;
  spec.argv = {options_.python, "-c",
               "import json, subprocess, sys\n"
               "paths = [p for p in sys.path if p]\n"
               "freeze = subprocess.run([sys.executable, '-m', 'pip', 'freeze', "
               "'--disable-pip-version-check'], capture_output=True, text=True, check=True)\n"
               "print(json.dumps({'paths': paths, 'freeze': freeze.stdout}))\n"};
  spec.environment = CleanBuildEnvironment();
  std::string output;
  auto status = runner::RunProcess(
      spec, [&](std::string_view line) { output.append(line).push_back('\n'); },
      std::chrono::seconds(120));
  auto parsed = nlohmann::json::parse(output, nullptr, false);
  // Best effort: the lock is for reproducibility records, the task can run without it.
  if (!status || !status->Succeeded() || !parsed.is_object()) {
    if (log) {
      log(fmt::format("warning: cannot record the local environment with pip freeze: {}",
                      status ? status->Describe() : status.error().message));
    }
    return prepared;
  }
  prepared.resolved_lock = parsed.value("freeze", "");
  if (!cache.empty()) {
    WriteLocalLock(cache, parsed.value("paths", std::vector<std::string>{}),
                   prepared.resolved_lock);
  }
  return prepared;
}

VirtualenvBuilder::VirtualenvBuilder(EnvironmentOptions options) : options_(std::move(options)) {}

Result<std::string> VirtualenvBuilder::InterpreterVersion() {
  std::lock_guard lock(version_mutex_);
  if (interpreter_version_) {
    return *interpreter_version_;
  }
  ProcessSpec spec;
  spec.argv = {options_.python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"};
  spec.environment = CleanBuildEnvironment();
  std::vector<std::string> lines;
  auto status = runner::RunProcess(
      spec, [&](std::string_view line) { lines.emplace_back(line); }, std::chrono::seconds(60));
  if (!status || !status->Succeeded() || lines.size() != 1) {
    return Fail(Error::Internal(fmt::format(
        "cannot run the configured Python interpreter '{}' (operator: check the envs python "
        "setting): {}",
        options_.python,
        !status ? status.error().message
                : (status->Succeeded() ? "unexpected output" : status->Describe()))));
  }
  interpreter_version_ = lines.front();
  return lines.front();
}

Result<std::string> VirtualenvBuilder::KeyFor(const PythonEnvSpec& spec) {
  MLTF_ASSIGN_OR_RETURN(version, InterpreterVersion());
  std::string text = fmt::format("mltf-virtualenv-v1\npython={}\nsystem_site_packages={}\n",
                                 version, options_.system_site_packages);
  text += fmt::format("index_url={}\nno_index={}\n", options_.pip_index_url, options_.pip_no_index);
  for (const auto& link : options_.pip_find_links) {
    text += fmt::format("find_links={}\n", link);
  }
  for (const auto& dep : spec.build_dependencies) {
    text += fmt::format("build_dependency={}\n", dep);
  }
  for (const auto& dep : spec.dependencies) {
    text += fmt::format("dependency={}\n", dep);
  }
  // 128 bits is plenty against collisions, and keeps script shebangs short.
  return Sha256Hex(text).substr(0, 32);
}

Result<PreparedEnvironment> VirtualenvBuilder::Prepare(
    const EnvironmentRequest& request, const std::function<void(std::string_view)>& log) {
  MLTF_TRY(CheckSupported(request));
  if (request.env_manager == "local") {
    return Fail(Error::InvalidParameter(
        "env_manager=local was given to the virtualenv builder (use MakeEnvBuilder)"));
  }
  MLTF_ASSIGN_OR_RETURN(spec, ParsePythonEnv(request.python_env_yaml, request.project_dir));
  MLTF_ASSIGN_OR_RETURN(version, InterpreterVersion());
  if (!spec.python.empty() && !PythonVersionMatches(spec.python, version)) {
    return Fail(Error::InvalidParameter(fmt::format(
        "python_env.yaml asks for Python {} but this facility provides Python {} only: set "
        "'python: \"{}\"' in python_env.yaml, or ask the operator to configure an interpreter "
        "for {}",
        spec.python, version, version.substr(0, version.rfind('.')), spec.python)));
  }
  MLTF_ASSIGN_OR_RETURN(key, KeyFor(spec));

  std::error_code ec;
  fs::create_directories(options_.envs_root, ec);
  if (ec) {
    return Fail(Error::Internal(fmt::format("cannot create the environments directory {}: {}",
                                            options_.envs_root.string(), ec.message())));
  }
  MLTF_ASSIGN_OR_RETURN(lock, FileLock::Acquire(options_.envs_root / (key + ".lock")));
  fs::path final_dir = options_.envs_root / key;
  if (fs::is_regular_file(final_dir / kFreezeFile, ec)) {
    PreparedEnvironment prepared;
    prepared.manager = "virtualenv";
    prepared.key = key;
    prepared.root = final_dir;
    prepared.variables = {{"VIRTUAL_ENV", final_dir.string()},
                          {"PATH", (final_dir / "bin").string()}};
    prepared.resolved_lock = ReadFile(final_dir / kFreezeFile);
    prepared.reused = true;
    return prepared;
  }
  return Build(key, spec, final_dir, log);
}

Result<PreparedEnvironment> VirtualenvBuilder::Build(
    const std::string& key, const PythonEnvSpec& spec, const fs::path& final_dir,
    const std::function<void(std::string_view)>& log) {
  std::error_code ec;
  // We hold the key's lock: whatever carries its name is debris of a crashed build.
  fs::remove_all(final_dir, ec);
  for (const auto& entry : fs::directory_iterator(options_.envs_root, ec)) {
    if (entry.path().filename().string().rfind(key + ".tmp-", 0) == 0) {
      fs::remove_all(entry.path(), ec);
    }
  }
  fs::path tmp = options_.envs_root / fmt::format("{}.tmp-{}", key, ::getpid());
  struct RemoveOnFailure {
    const fs::path& dir;
    bool keep = false;
    ~RemoveOnFailure() {
      if (!keep) {
        std::error_code ignored;
        fs::remove_all(dir, ignored);
      }
    }
  } cleanup{tmp};

  StepRunner steps(log, std::chrono::steady_clock::now() + options_.build_timeout);
  std::map<std::string, std::string> env = CleanBuildEnvironment();
  ProcessSpec venv;
  venv.argv = {options_.python, "-m", "venv"};
  if (options_.system_site_packages) {
    venv.argv.emplace_back("--system-site-packages");
  }
  venv.argv.push_back(tmp.string());
  venv.environment = env;
  MLTF_TRY(steps.Run("create the virtualenv", venv));

  std::string python = (tmp / "bin" / "python").string();
  env["VIRTUAL_ENV"] = tmp.string();
  env["PATH"] = (tmp / "bin").string() + ":" + env["PATH"];
  ProcessSpec pip;
  pip.environment = env;
  pip.argv = {python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input"};
  if (!options_.pip_index_url.empty()) {
    pip.argv.insert(pip.argv.end(), {"--index-url", options_.pip_index_url});
  }
  for (const auto& link : options_.pip_find_links) {
    pip.argv.insert(pip.argv.end(), {"--find-links", link});
  }
  if (options_.pip_no_index) {
    pip.argv.emplace_back("--no-index");
  }
  if (!spec.build_dependencies.empty()) {
    ProcessSpec build = pip;
    build.argv.insert(build.argv.end(), spec.build_dependencies.begin(),
                      spec.build_dependencies.end());
    MLTF_TRY(steps.Run("install the build dependencies", build));
  }
  if (!spec.dependencies.empty()) {
    fs::path requirements = tmp / kRequirementsFile;
    MLTF_TRY(WriteFile(requirements, Join(spec.dependencies)));
    ProcessSpec deps = pip;
    deps.argv.insert(deps.argv.end(), {"-r", requirements.string()});
    MLTF_TRY(steps.Run("install the dependencies", deps));
  }
  ProcessSpec freeze;
  freeze.environment = env;
  freeze.argv = {python, "-m", "pip", "freeze", "--all", "--disable-pip-version-check"};
  MLTF_ASSIGN_OR_RETURN(frozen, steps.Run("record the environment with pip freeze", freeze));
  std::string lock = Join(frozen);
  MLTF_TRY(WriteFile(tmp / kSpecFile,
                     fmt::format("python={}\nbuild_dependencies:\n{}dependencies:\n{}", spec.python,
                                 Join(spec.build_dependencies), Join(spec.dependencies))));
  MLTF_TRY(RelocateScripts(tmp / "bin", tmp.string(), final_dir.string()));
  // The freeze file marks a complete environment; it is written last, before the rename.
  MLTF_TRY(WriteFile(tmp / kFreezeFile, lock));
  fs::rename(tmp, final_dir, ec);
  if (ec) {
    return Fail(Error::Internal(fmt::format("cannot move the new environment into {}: {}",
                                            final_dir.string(), ec.message())));
  }
  cleanup.keep = true;

  PreparedEnvironment prepared;
  prepared.manager = "virtualenv";
  prepared.key = key;
  prepared.root = final_dir;
  prepared.variables = {{"VIRTUAL_ENV", final_dir.string()},
                        {"PATH", (final_dir / "bin").string()}};
  prepared.resolved_lock = std::move(lock);
  return prepared;
}

Result<std::unique_ptr<EnvBuilder>> MakeEnvBuilder(const std::string& env_manager,
                                                   const EnvironmentOptions& options) {
  if (env_manager == "local") {
    return std::make_unique<LocalEnvBuilder>(options);
  }
  if (env_manager.empty() || env_manager == "virtualenv") {
    if (options.envs_root.empty()) {
      return Fail(Error::Internal("the environments directory (envs_root) is not configured"));
    }
    return std::make_unique<VirtualenvBuilder>(options);
  }
  if (env_manager == "conda") {
    return Fail(Error::InvalidParameter(kContainerMessage));
  }
  return Fail(Error::InvalidParameter(fmt::format(
      "unknown env_manager '{}': use 'virtualenv' or 'local'", env_manager.substr(0, 100))));
}

}  // namespace mltf::gateway::envs
