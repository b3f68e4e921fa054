// python_env_test.cpp - unit tests of python_env.yaml parsing, -r inlining and version checks.
#include "gateway/envs/python_env.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

namespace mltf::gateway::envs {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class PythonEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "mltf-pyenv-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    project_ = dir_ / "project";
    fs::create_directories(project_ / "sub");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const fs::path& file, std::string_view content) {
    std::ofstream out(file, std::ios::binary);
    out << content;
  }

  fs::path dir_;
  fs::path project_;
};

TEST_F(PythonEnvTest, ParsesAndNormalizes) {
  auto spec = ParsePythonEnv(
      "python: \"3.11\"\nbuild_dependencies:\n  - pip\ndependencies:\n  - \"  numpy   >= 1.0 \"\n"
      "  - attrs\n  - attrs\n",
      project_);
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->python, "3.11");
  EXPECT_THAT(spec->build_dependencies, ElementsAre("pip"));
  EXPECT_THAT(spec->dependencies, ElementsAre("attrs", "numpy >= 1.0"));
}

TEST_F(PythonEnvTest, EmptyContentIsAnEmptySpec) {
  auto spec = ParsePythonEnv("", project_);
  ASSERT_TRUE(spec);
  EXPECT_THAT(spec->python, IsEmpty());
  EXPECT_THAT(spec->dependencies, IsEmpty());
  spec = ParsePythonEnv("dependencies: []\n", project_);
  ASSERT_TRUE(spec);
  EXPECT_THAT(spec->dependencies, IsEmpty());
}

TEST_F(PythonEnvTest, InlinesRequirementFiles) {
  Write(project_ / "requirements.txt",
        "# comment\nrequests==2.0  # pinned\n\n-r sub/more.txt\nlong\\\n-name\n");
  Write(project_ / "sub" / "more.txt", "six\n--requirement=../last.txt\n");
  Write(project_ / "last.txt", "zz#not-a-comment\n");
  auto spec = ParsePythonEnv("dependencies:\n  - -r requirements.txt\n", project_);
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_THAT(spec->dependencies,
              ElementsAre("long-name", "requests==2.0", "six", "zz#not-a-comment"));
}

TEST_F(PythonEnvTest, RequirementFilesMustStayInTheProject) {
  Write(dir_ / "outside.txt", "x\n");
  for (const char* line : {"-r ../outside.txt", "-r /etc/hostname", "-r missing.txt"}) {
    auto spec = ParsePythonEnv(std::string("dependencies:\n  - ") + line + "\n", project_);
    ASSERT_FALSE(spec) << line;
    EXPECT_EQ(spec.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
    EXPECT_THAT(spec.error().message, HasSubstr("requirement file")) << line;
  }
  fs::create_symlink(dir_ / "outside.txt", project_ / "link.txt");
  EXPECT_FALSE(ParsePythonEnv("dependencies: ['-r link.txt']\n", project_));
  Write(project_ / "loop.txt", "-r loop.txt\n");
  auto spec = ParsePythonEnv("dependencies: ['-r loop.txt']\n", project_);
  ASSERT_FALSE(spec);
  EXPECT_THAT(spec.error().message, HasSubstr("nest deeper"));
}

TEST_F(PythonEnvTest, RefusesBadSpecs) {
  struct Case {
    const char* yaml;
    const char* message;
  };
  Write(project_ / "opts.txt", "--extra-index-url http://example.invalid\n");
  for (const Case& bad : {
           Case{"dependencies: [--index-url=http://x]", "pip option '--index-url=http://x'"},
           Case{"dependencies: ['-r opts.txt']", "opts.txt line 1: pip option"},
           Case{"dependencies: [[a]]", "must be a string"},
           Case{"dependencies: pandas", "must be a list"},
           Case{"conda: x", "unknown key 'conda'"},
           Case{"- a\n- b", "must be a mapping"},
           Case{"python: [3]", "'python' must be a version"},
           Case{"python: 3.x", "must be a version such as"},
           Case{"dependencies: [a", "not valid YAML"},
       }) {
    auto spec = ParsePythonEnv(bad.yaml, project_);
    ASSERT_FALSE(spec) << bad.yaml;
    EXPECT_EQ(spec.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
    EXPECT_THAT(spec.error().message, HasSubstr(bad.message)) << bad.yaml;
  }
}

TEST(PythonVersionTest, ComparesMajorMinor) {
  EXPECT_TRUE(PythonVersionMatches("3.11", "3.11.2"));
  EXPECT_TRUE(PythonVersionMatches("3.11.7", "3.11.2"));
  EXPECT_FALSE(PythonVersionMatches("3.1", "3.11.2"));
  EXPECT_FALSE(PythonVersionMatches("3.10", "3.11.2"));
  EXPECT_FALSE(PythonVersionMatches("3", "3.11.2"));
}

TEST(Sha256Test, KnownDigest) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace mltf::gateway::envs
