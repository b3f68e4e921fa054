// env_builder_test.cpp - environment builders against the real system Python, offline: local
// environments, cached virtualenvs (reuse, concurrent builds), system packages, find-links,
// failed builds, refused specs. One envs directory is shared by the whole test binary.
#include "gateway/envs/env_builder.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "runner/process/process_group.hpp"

namespace mltf::gateway::envs {
namespace {

namespace fs = std::filesystem;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;

constexpr const char* kPython = "/usr/bin/python3";

// One temporary directory for all tests of this binary: builds are slow, keys keep them apart.
class SharedDirectory : public ::testing::Environment {
 public:
  static fs::path& Path() {
    static fs::path path;
    return path;
  }
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "mltf-envs-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    Path() = pattern;
  }
  void TearDown() override { fs::remove_all(Path()); }
};
const auto* const kSharedDirectory = ::testing::AddGlobalTestEnvironment(new SharedDirectory);

EnvironmentOptions Options(std::string_view envs_subdir) {
  EnvironmentOptions options;
  options.envs_root = SharedDirectory::Path() / envs_subdir;
  options.python = kPython;
  options.pip_no_index = true;  // these machines have no network
  options.build_timeout = std::chrono::seconds(300);
  return options;
}

EnvironmentRequest Request(std::string yaml) {
  EnvironmentRequest request;
  request.env_manager = "virtualenv";
  request.python_env_yaml = std::move(yaml);
  request.project_dir = SharedDirectory::Path();
  request.environment_kind = "python_env";
  return request;
}

std::vector<std::string> RunChecked(const std::vector<std::string>& argv) {
  runner::ProcessSpec spec;
  spec.argv = argv;
  spec.environment = CleanBuildEnvironment();
  std::vector<std::string> lines;
  auto status = runner::RunProcess(
      spec, [&](std::string_view line) { lines.emplace_back(line); }, std::chrono::seconds(120));
  EXPECT_TRUE(status && status->Succeeded()) << argv[0];
  return lines;
}

// The directories and files in `dir` other than lock files.
std::vector<std::string> NonLockEntries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".lock") {
      names.push_back(entry.path().filename().string());
    }
  }
  return names;
}

TEST(LocalEnvBuilderTest, UsesTheConfiguredInterpreter) {
  auto builder = MakeEnvBuilder("local", Options("local"));
  ASSERT_TRUE(builder);
  EnvironmentRequest request = Request("dependencies: [anything]");
  request.env_manager = "local";
  request.environment_kind = "conda_env";  // local ignores the project's environment
  auto env = (*builder)->Prepare(request, {});
  ASSERT_TRUE(env) << env.error().message;
  EXPECT_EQ(env->manager, "local");
  EXPECT_TRUE(env->root.empty());
  // An interpreter given by path is the one `python3` finds in the task.
  EXPECT_EQ(env->variables.at("PATH"), std::filesystem::path(kPython).parent_path().string());
  EXPECT_THAT(env->resolved_lock, HasSubstr("=="));
}

TEST(LocalEnvBuilderTest, TheLockIsKeptUntilTheInterpreterPathsChange) {
  EnvironmentOptions options = Options("local-lock");
  auto builder = MakeEnvBuilder("local", options);
  ASSERT_TRUE(builder);
  EnvironmentRequest request = Request("");
  request.env_manager = "local";
  auto first = (*builder)->Prepare(request, {});
  ASSERT_TRUE(first) << first.error().message;
  // The cached answer is used: replace the lock in the cache and read it back.
  std::filesystem::path cache;
  for (const auto& entry : std::filesystem::directory_iterator(options.envs_root)) {
    if (entry.path().filename().string().starts_with("local-")) cache = entry.path();
  }
  ASSERT_FALSE(cache.empty()) << "no cache file in " << options.envs_root;
  std::ifstream in(cache);
  auto cached = nlohmann::json::parse(in);
  cached["freeze"] = "marker==1\n";
  std::ofstream(cache) << cached.dump();
  auto second = (*builder)->Prepare(request, {});
  ASSERT_TRUE(second);
  EXPECT_EQ(second->resolved_lock, "marker==1\n");
  // A changed directory of the interpreter's sys.path makes it stale.
  cached["paths"] = {{"/nonexistent-mltf-test-dir", 1}};
  std::ofstream(cache) << cached.dump();
  auto third = (*builder)->Prepare(request, {});
  ASSERT_TRUE(third);
  EXPECT_THAT(third->resolved_lock, HasSubstr("=="));
  EXPECT_NE(third->resolved_lock, "marker==1\n");
}

TEST(VirtualenvBuilderTest, BuildsOnceForConcurrentCallersThenReuses) {
  EnvironmentOptions options = Options("shared");
  VirtualenvBuilder first(options);
  VirtualenvBuilder second(options);  // separate builders: only the file lock serializes
  EnvironmentRequest request = Request("build_dependencies: []\ndependencies: []\n");
  Result<PreparedEnvironment> a;
  Result<PreparedEnvironment> b;
  std::vector<std::string> log;
  {
    std::jthread one(
        [&] { a = first.Prepare(request, [&](auto line) { log.emplace_back(line); }); });
    std::jthread two([&] { b = second.Prepare(request, {}); });
  }
  ASSERT_TRUE(a) << a.error().message;
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_NE(a->reused, b->reused);
  EXPECT_EQ(a->key, b->key);
  EXPECT_EQ(a->root, options.envs_root / a->key);
  EXPECT_EQ(a->resolved_lock, b->resolved_lock);
  EXPECT_THAT(a->resolved_lock, ContainsRegex("pip=="));
  EXPECT_EQ(a->variables.at("VIRTUAL_ENV"), a->root.string());
  EXPECT_THAT(NonLockEntries(options.envs_root), ::testing::ElementsAre(a->key));

  // The scripts point at the final directory, not the temporary one they were built in.
  std::ifstream pip_script(a->root / "bin" / "pip");
  std::string shebang;
  std::getline(pip_script, shebang);
  EXPECT_EQ(shebang, "#!" + (a->root / "bin" / "python3").string());
  EXPECT_THAT(RunChecked({(a->root / "bin" / "pip").string(), "--version"}).at(0),
              HasSubstr(a->root.string()));

  auto start = std::chrono::steady_clock::now();
  auto again = first.Prepare(request, {});
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->reused);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));

  std::map<std::string, std::string> applied = again->ApplyTo({{"PATH", "/bin"}, {"X", "1"}});
  EXPECT_EQ(applied.at("PATH"), (again->root / "bin").string() + ":/bin");
  EXPECT_EQ(applied.at("VIRTUAL_ENV"), again->root.string());
  EXPECT_EQ(applied.at("X"), "1");
}

TEST(VirtualenvBuilderTest, SystemPackageSatisfiesADependencyOffline) {
  EnvironmentOptions options = Options("system");
  options.system_site_packages = true;
  VirtualenvBuilder builder(options);
  auto env = builder.Prepare(Request("dependencies: [requests]\n"), {});
  ASSERT_TRUE(env) << env.error().message;
  EXPECT_FALSE(env->reused);
  EXPECT_THAT(env->resolved_lock, ContainsRegex("requests=="));
}

TEST(VirtualenvBuilderTest, InstallsFromFindLinks) {
  fs::path src = SharedDirectory::Path() / "pkgsrc";
  fs::path wheels = SharedDirectory::Path() / "wheels";
  fs::create_directories(src);
  fs::create_directories(wheels);
  std::ofstream(src / "setup.py")
      << "from setuptools import setup\n"
         "setup(name='mltf_testpkg', version='0.1', py_modules=['mltf_testpkg'])\n";
  std::ofstream(src / "mltf_testpkg.py") << "ANSWER = 42\n";
  RunChecked({kPython, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
              "-w", wheels.string(), src.string()});

  EnvironmentOptions options = Options("findlinks");
  options.pip_find_links = {wheels.string()};
  VirtualenvBuilder builder(options);
  auto env = builder.Prepare(Request("dependencies: ['mltf_testpkg==0.1']\n"), {});
  ASSERT_TRUE(env) << env.error().message;
  EXPECT_THAT(env->resolved_lock, ContainsRegex("mltf[-_]testpkg==0\\.1"));
  auto out = RunChecked({(env->root / "bin" / "python").string(), "-c",
                         "import mltf_testpkg; print(mltf_testpkg.ANSWER)"});
  EXPECT_EQ(out.at(0), "42");
}

TEST(VirtualenvBuilderTest, MissingDependencyFailsAndLeavesNothing) {
  EnvironmentOptions options = Options("missing");
  VirtualenvBuilder builder(options);
  std::vector<std::string> log;
  auto env = builder.Prepare(Request("dependencies: ['mltf-no-such-package==9.9']\n"),
                             [&](auto line) { log.emplace_back(line); });
  ASSERT_FALSE(env);
  EXPECT_THAT(env.error().message, HasSubstr("cannot install the dependencies"));
  EXPECT_THAT(env.error().message, HasSubstr("mltf-no-such-package"));
  EXPECT_THAT(env.error().message, HasSubstr("last output:"));
  EXPECT_FALSE(log.empty());
  EXPECT_TRUE(NonLockEntries(options.envs_root).empty());
}

TEST(VirtualenvBuilderTest, KeyChangesWithRequirementsFile) {
  fs::path project = SharedDirectory::Path() / "keyproject";
  fs::create_directories(project);
  VirtualenvBuilder builder(Options("keys"));
  auto key_of = [&]() -> std::string {
    auto spec = ParsePythonEnv("dependencies: ['-r requirements.txt']\n", project);
    EXPECT_TRUE(spec) << spec.error().message;
    auto key = builder.KeyFor(*spec);
    EXPECT_TRUE(key) << key.error().message;
    return key ? *key : "";
  };
  std::ofstream(project / "requirements.txt") << "a==1\nb==2\n";
  std::string first = key_of();
  std::ofstream(project / "requirements.txt") << "b==2\n\n   a==1  # reordered, same set\n";
  EXPECT_EQ(key_of(), first);
  std::ofstream(project / "requirements.txt") << "a==1\nb==3\n";
  EXPECT_NE(key_of(), first);
  EXPECT_EQ(first.size(), 32U);
}

TEST(VirtualenvBuilderTest, RefusesAnotherPythonVersion) {
  VirtualenvBuilder builder(Options("version"));
  auto env = builder.Prepare(Request("python: \"2.7\"\ndependencies: []\n"), {});
  ASSERT_FALSE(env);
  EXPECT_EQ(env.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_THAT(env.error().message, HasSubstr("asks for Python 2.7"));
  EXPECT_THAT(env.error().message, HasSubstr("provides Python 3."));
  EXPECT_FALSE(fs::exists(SharedDirectory::Path() / "version"));
}

TEST(VirtualenvBuilderTest, BrokenInterpreterIsAnOperatorError) {
  EnvironmentOptions options = Options("broken");
  options.python = "/nonexistent/python3";
  VirtualenvBuilder builder(options);
  auto env = builder.Prepare(Request(""), {});
  ASSERT_FALSE(env);
  EXPECT_EQ(env.error().code, ErrorCode::INTERNAL_ERROR);
  EXPECT_THAT(env.error().message, HasSubstr("/nonexistent/python3"));
}

TEST(EnvBuilderFactoryTest, CondaAndDockerAreRefusedWithTheOperatorMessage) {
  auto conda = MakeEnvBuilder("conda", Options("conda"));
  ASSERT_FALSE(conda);
  EXPECT_EQ(conda.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_THAT(conda.error().message, HasSubstr("not available on this facility yet"));
  EXPECT_THAT(conda.error().message, HasSubstr("python_env.yaml"));

  VirtualenvBuilder builder(Options("conda"));
  for (const char* kind : {"conda_env", "docker_env"}) {
    EnvironmentRequest request = Request("");
    request.environment_kind = kind;
    auto env = builder.Prepare(request, {});
    ASSERT_FALSE(env) << kind;
    EXPECT_THAT(env.error().message, HasSubstr("container support is planned")) << kind;
  }

  auto unknown = MakeEnvBuilder("pixi", Options("x"));
  ASSERT_FALSE(unknown);
  EXPECT_THAT(unknown.error().message, HasSubstr("unknown env_manager 'pixi'"));
  EXPECT_TRUE(MakeEnvBuilder("", Options("x")));
  EXPECT_TRUE(MakeEnvBuilder("virtualenv", Options("x")));
}

}  // namespace
}  // namespace mltf::gateway::envs
