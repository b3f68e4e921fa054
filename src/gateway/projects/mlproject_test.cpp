// mlproject_test.cpp - table-driven tests of MLproject parsing, entry point lookup, command
// rendering and shell quoting.
#include "gateway/projects/mlproject.hpp"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

namespace mltf::gateway::projects {
namespace {

const std::set<std::string> kFiles = {"train.py",      "run.sh",     "model.R",
                                      "envs/env.yaml", "conda.yaml", "python_env.yaml",
                                      "dir/it's.py",   "weird{x}.py"};

constexpr std::string_view kFull = R"(
name: demo
python_env: ./envs/env.yaml
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.1}
      epochs: {type: int, default: 10}
      data: path
      label: {type: string, default: "it's"}
      source: {type: uri, default: "s3://bucket/key"}
      verbose: {default: yes}
    command: "python train.py --alpha {alpha} --epochs {epochs} --data {data} --label {label}"
  other:
    command: "echo {{literal}} {x}"
    parameters:
      x: string
)";

TEST(ParseMlProjectTest, ParsesAFullSpec) {
  auto project = ParseMlProject(kFull, kFiles);
  ASSERT_TRUE(project.has_value()) << project.error().message;
  EXPECT_EQ(project->name, "demo");
  EXPECT_EQ(project->environment.kind, EnvironmentKind::PYTHON_ENV);
  EXPECT_EQ(project->environment.file, "envs/env.yaml");
  ASSERT_EQ(project->entry_points.size(), 2U);
  const EntryPoint& main = project->entry_points[0];
  EXPECT_EQ(main.name, "main");
  ASSERT_EQ(main.parameters.size(), 6U);
  const std::vector<std::string> names = {"alpha", "epochs", "data", "label", "source", "verbose"};
  const std::vector<ParameterType> types = {ParameterType::FLOAT, ParameterType::INT,
                                            ParameterType::PATH,  ParameterType::STRING,
                                            ParameterType::URI,   ParameterType::STRING};
  for (std::size_t idx = 0; idx < names.size(); ++idx) {
    EXPECT_EQ(main.parameters[idx].name, names[idx]);
    EXPECT_EQ(main.parameters[idx].type, types[idx]) << names[idx];
  }
  EXPECT_EQ(main.parameters[0].default_value, "0.1");
  EXPECT_FALSE(main.parameters[2].default_value.has_value());
  EXPECT_EQ(main.parameters[3].default_value, "it's");
  EXPECT_EQ(main.parameters[5].default_value, "True");  // str() of PyYAML's boolean
  EXPECT_EQ(project->entry_points[1].name, "other");
}

struct EnvironmentCase {
  std::string yaml;
  std::set<std::string> files;
  EnvironmentKind kind;
  std::string file;
  std::string image;
};

TEST(ParseMlProjectTest, ChoosesTheEnvironment) {
  const std::vector<EnvironmentCase> cases = {
      {"name: a", {}, EnvironmentKind::NONE, "", ""},
      {"name: a", {"conda.yaml"}, EnvironmentKind::CONDA_ENV, "conda.yaml", ""},
      {"name: a",
       {"conda.yaml", "python_env.yaml"},
       EnvironmentKind::PYTHON_ENV,
       "python_env.yaml",
       ""},
      {"conda_env: envs/c.yaml",
       {"envs/c.yaml", "python_env.yaml"},
       EnvironmentKind::CONDA_ENV,
       "envs/c.yaml",
       ""},
      {"docker_env:\n  image: repo/img:1\n  volumes: [\"/a:/b\"]\n  environment: [X, [Y, \"1\"]]",
       {"python_env.yaml"},
       EnvironmentKind::DOCKER_ENV,
       "",
       "repo/img:1"},
  };
  for (const EnvironmentCase& test : cases) {
    auto project = ParseMlProject(test.yaml, test.files);
    ASSERT_TRUE(project.has_value()) << test.yaml << ": " << project.error().message;
    EXPECT_EQ(project->environment.kind, test.kind) << test.yaml;
    EXPECT_EQ(project->environment.file, test.file) << test.yaml;
    EXPECT_EQ(project->environment.image, test.image) << test.yaml;
    EXPECT_TRUE(project->entry_points.empty());
  }
}

struct BadSpecCase {
  std::string yaml;
  std::string expected;  ///< in the message
};

TEST(ParseMlProjectTest, RefusesBadSpecsNamingTheKey) {
  const std::vector<BadSpecCase> cases = {
      {"", "must be a mapping"},
      {"- a\n- b", "must be a mapping"},
      {"name: [a", "invalid YAML"},
      {"python_env: python_env.yaml\nconda_env: conda.yaml", "multiple environment fields"},
      {"python_env: missing.yaml", "'missing.yaml' does not exist"},
      {"conda_env: ../outside.yaml", "relative path inside the project"},
      {"conda_env: /etc/conda.yaml", "relative path inside the project"},
      {"python_env: [a]", "'python_env' must be the path"},
      {"docker_env: {volumes: []}", "needs an 'image'"},
      {"docker_env: {image: x, volumes: [[a]]}", "'volumes' of 'docker_env'"},
      {"docker_env: {image: x, environment: [[A, B, C]]}", "'environment' of 'docker_env'"},
      {"name: [a]", "'name' must be a string"},
      {"entry_points: [main]", "'entry_points' must be a mapping"},
      {"entry_points: {main: {parameters: {}}}", "entry point 'main' needs a 'command'"},
      {"entry_points: {main: {command: [x]}}", "needs a 'command'"},
      {"entry_points: {main: {command: x, parameters: {a: decimal}}}",
       "parameter 'a' of entry point 'main' has unknown type 'decimal'"},
      {"entry_points: {main: {command: x, parameters: {a: }}}", "needs a type"},
      {"entry_points: {main: {command: x, parameters: {a: {type: float, default: abc}}}}",
       "'abc' is not a number"},
      {"entry_points: {main: {command: x, parameters: {a: {type: int, default: 1.5}}}}",
       "'1.5' is not an integer"},
      {"entry_points: {main: {command: x, parameters: {a: {type: int, default: [1]}}}}",
       "must be a single value"},
      {"entry_points: {main: {command: x, parameters: {a: {type: [int]}}}}",
       "'type' of parameter 'a'"},
      {"entry_points:\n  main: {command: x}\n  main: {command: y}", "'main' appears twice"},
      {"entry_points: {? [a] : {command: x}}", "keys of 'entry_points' must be strings"},
      {std::string(2 << 20, '#'), "larger than"},
      {std::string(5000, '[') + std::string(5000, ']'), "invalid YAML"},
  };
  for (const BadSpecCase& test : cases) {
    auto project = ParseMlProject(test.yaml, kFiles);
    ASSERT_FALSE(project.has_value()) << test.yaml.substr(0, 80);
    EXPECT_EQ(project.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
    EXPECT_EQ(project.error().message.rfind("MLproject: ", 0), 0U) << project.error().message;
    EXPECT_NE(project.error().message.find(test.expected), std::string::npos)
        << test.yaml.substr(0, 80) << " -> " << project.error().message;
  }
}

TEST(LoadProjectTest, FindsTheMlprojectCaseInsensitively) {
  ArchiveSummary summary;
  summary.files = {"MLProject", "conda.yaml", "train.py"};
  summary.small_files = {{"MLProject", "name: x\nentry_points: {main: {command: python train.py}}"},
                         {"conda.yaml", "deps: []"}};
  auto project = LoadProject(summary);
  ASSERT_TRUE(project.has_value()) << project.error().message;
  EXPECT_EQ(project->name, "x");
  EXPECT_EQ(project->environment.kind, EnvironmentKind::CONDA_ENV);
  ASSERT_EQ(project->entry_points.size(), 1U);

  summary.small_files.erase("MLProject");  // present but too large to keep
  EXPECT_FALSE(LoadProject(summary).has_value());

  summary.files = {"MLproject", "mlproject"};
  auto twice = LoadProject(summary);
  ASSERT_FALSE(twice.has_value());
  EXPECT_NE(twice.error().message.find("several MLproject files"), std::string::npos);

  summary.files = {"sub/MLproject", "python_env.yaml"};
  summary.small_files.clear();
  auto none = LoadProject(summary);
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->entry_points.empty());
  EXPECT_EQ(none->environment.kind, EnvironmentKind::PYTHON_ENV);
}

struct EntryPointCase {
  std::string name;
  std::string rendered;  ///< "" when the lookup must fail
};

TEST(FindEntryPointTest, FallsBackToScriptsThatExist) {
  auto project = ParseMlProject(kFull, kFiles);
  ASSERT_TRUE(project.has_value());
  const std::vector<EntryPointCase> cases = {
      {"train.py", "python train.py"},
      {"./train.py", "python train.py"},
      {"run.sh", "${SHELL:-bash} run.sh"},
      {"model.R", "Rscript model.R"},
      {"dir/it's.py", "python 'dir/it'\"'\"'s.py'"},
      {"weird{x}.py", "python 'weird{x}.py'"},
      {"missing.py", ""},
      {"conda.yaml", ""},
      {"../train.py", ""},
      {"/train.py", ""},
      {"TRAIN.PY", ""},
      {"nothing", ""},
  };
  for (const EntryPointCase& test : cases) {
    auto entry_point = FindEntryPoint(*project, test.name, kFiles);
    if (test.rendered.empty()) {
      ASSERT_FALSE(entry_point.has_value()) << test.name;
      EXPECT_EQ(entry_point.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
      EXPECT_NE(entry_point.error().message.find("['main', 'other']"), std::string::npos)
          << entry_point.error().message;
      continue;
    }
    ASSERT_TRUE(entry_point.has_value()) << test.name << ": " << entry_point.error().message;
    auto rendered = RenderCommand(*entry_point, {});
    ASSERT_TRUE(rendered.has_value()) << test.name << ": " << rendered.error().message;
    EXPECT_EQ(rendered->command, test.rendered) << test.name;
  }
  auto declared = FindEntryPoint(*project, "other", kFiles);
  ASSERT_TRUE(declared.has_value());
  EXPECT_EQ(declared->command, "echo {{literal}} {x}");
}

struct RenderCase {
  std::string label;
  std::map<std::string, std::string> parameters;
  std::string command;  ///< "" when rendering must fail
  std::string error;    ///< in the message when it fails
};

TEST(RenderCommandTest, RendersAsMlflowDoes) {
  auto project = ParseMlProject(kFull, kFiles);
  ASSERT_TRUE(project.has_value());
  const EntryPoint& main = project->entry_points[0];
  const std::string prefix = "python train.py --alpha ";
  const std::vector<RenderCase> cases = {
      {"defaults",
       {{"data", "d.csv"}},
       prefix + "0.1 --epochs 10 --data d.csv --label 'it'\"'\"'s'",
       ""},
      {"quoting",
       {{"data", "my data/$(rm -rf /)"}, {"label", "a b"}, {"alpha", " 2 "}},
       prefix + "' 2 ' --epochs 10 --data 'my data/$(rm -rf /)' --label 'a b'",
       ""},
      {"extras sorted",
       {{"data", "x"}, {"zeta", "last"}, {"beta", "it's"}, {"a b", "v"}},
       prefix + "0.1 --epochs 10 --data x --label 'it'\"'\"'s' '--a b' v --beta 'it'\"'\"'s' " +
           "--zeta last",
       ""},
      {"floats as python",
       {{"data", "x"}, {"alpha", "1e-3"}},
       prefix + "1e-3 --epochs 10 " + "--data x --label 'it'\"'\"'s'",
       ""},
      {"nan",
       {{"data", "x"}, {"alpha", "-NaN"}},
       prefix + "-NaN --epochs 10 --data x --label " + "'it'\"'\"'s'",
       ""},
      {"underscores",
       {{"data", "x"}, {"alpha", "1_000.5"}, {"epochs", "+1_0"}},
       prefix + "1_000.5 --epochs +1_0 --data x --label 'it'\"'\"'s'",
       ""},
      {"empty value",
       {{"data", ""}},
       prefix + "0.1 --epochs 10 --data '' --label 'it'\"'\"'s'",
       ""},
      {"missing", {}, "", "No value given for missing parameters: 'data'"},
      {"bad float", {{"data", "x"}, {"alpha", "1.0.0"}}, "", "'1.0.0' is not a number"},
      {"bad float 2", {{"data", "x"}, {"alpha", "1__0"}}, "", "is not a number"},
      {"empty float", {{"data", "x"}, {"alpha", ""}}, "", "is not a number"},
      {"bad int", {{"data", "x"}, {"epochs", "1e3"}}, "", "'1e3' is not an integer"},
      {"bad uri", {{"data", "x"}, {"source", "/local/path"}}, "", "is not a URI"},
      {"nul", {{"data", std::string("a\0b", 3)}}, "", "NUL"},
  };
  for (const RenderCase& test : cases) {
    auto rendered = RenderCommand(main, test.parameters);
    if (test.command.empty()) {
      ASSERT_FALSE(rendered.has_value()) << test.label;
      EXPECT_EQ(rendered.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
      EXPECT_NE(rendered.error().message.find(test.error), std::string::npos)
          << test.label << ": " << rendered.error().message;
      continue;
    }
    ASSERT_TRUE(rendered.has_value()) << test.label << ": " << rendered.error().message;
    EXPECT_EQ(rendered->command, test.command) << test.label;
  }
  auto effective = RenderCommand(main, {{"data", "d"}, {"extra", "e"}});
  ASSERT_TRUE(effective.has_value());
  EXPECT_EQ(effective->parameters,
            (std::map<std::string, std::string>{{"alpha", "0.1"},
                                                {"data", "d"},
                                                {"epochs", "10"},
                                                {"extra", "e"},
                                                {"label", "it's"},
                                                {"source", "s3://bucket/key"},
                                                {"verbose", "True"}}));
}

TEST(RenderCommandTest, FollowsStrFormatRules) {
  const std::vector<std::pair<std::string, std::string>> good = {
      {"echo {{x}} {x}", "echo {x} 'a b'"},
      {"echo }}{{", "echo }{"},
      {"echo {x!s} {x:}", "echo 'a b' 'a b'"},
  };
  for (const auto& [command, expected] : good) {
    EntryPoint entry_point{"e", command, {{"x", ParameterType::STRING, std::nullopt}}};
    auto rendered = RenderCommand(entry_point, {{"x", "a b"}});
    ASSERT_TRUE(rendered.has_value()) << command << ": " << rendered.error().message;
    EXPECT_EQ(rendered->command, expected);
  }
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"echo {y}", "declares no parameter 'y'"},
      {"echo {}", "positional"},
      {"echo {0}", "positional"},
      {"echo {x", "without a matching '}'"},
      {"echo x}", "single '}'"},
      {"echo {x.upper}", "attribute or index"},
      {"echo {x[0]}", "attribute or index"},
      {"echo {x!r}", "conversion or format spec"},
      {"echo {x:>10}", "conversion or format spec"},
  };
  for (const auto& [command, expected] : bad) {
    EntryPoint entry_point{"e", command, {{"x", ParameterType::STRING, std::nullopt}}};
    auto rendered = RenderCommand(entry_point, {{"x", "a b"}});
    ASSERT_FALSE(rendered.has_value()) << command;
    EXPECT_NE(rendered.error().message.find(expected), std::string::npos)
        << command << ": " << rendered.error().message;
  }
}

TEST(RenderCommandTest, AcceptsWhatPythonFloatIntAndUrlparseAccept) {
  // Each verdict was checked against Python 3.11's float(), int() and urlparse().scheme.
  const std::vector<std::tuple<ParameterType, std::string, bool>> cases = {
      {ParameterType::FLOAT, "1e-3", true},        {ParameterType::FLOAT, " 2 ", true},
      {ParameterType::FLOAT, "\v1\f", true},       {ParameterType::FLOAT, "-NaN", true},
      {ParameterType::FLOAT, "Infinity", true},    {ParameterType::FLOAT, "+inf", true},
      {ParameterType::FLOAT, ".5", true},          {ParameterType::FLOAT, "5.", true},
      {ParameterType::FLOAT, "1e1_0", true},       {ParameterType::FLOAT, "1_000.5", true},
      {ParameterType::FLOAT, ".", false},          {ParameterType::FLOAT, "1e", false},
      {ParameterType::FLOAT, "1_", false},         {ParameterType::FLOAT, "_1", false},
      {ParameterType::FLOAT, "+-1", false},        {ParameterType::FLOAT, "1__0", false},
      {ParameterType::FLOAT, "infinit", false},    {ParameterType::FLOAT, "0x10", false},
      {ParameterType::INT, "007", true},           {ParameterType::INT, " -0 ", true},
      {ParameterType::INT, "+1_0", true},          {ParameterType::INT, "1.5", false},
      {ParameterType::INT, "1e3", false},          {ParameterType::INT, "", false},
      {ParameterType::URI, "s3://b/k", true},      {ParameterType::URI, "c:/x", true},
      {ParameterType::URI, "a+b.c-d:x", true},     {ParameterType::URI, "/local", false},
      {ParameterType::URI, "1a:b", false},         {ParameterType::URI, ":x", false},
      {ParameterType::PATH, "../any/thing", true},
  };
  for (const auto& [type, value, valid] : cases) {
    EntryPoint entry_point{"e", "run {v}", {{"v", type, std::nullopt}}};
    auto rendered = RenderCommand(entry_point, {{"v", value}});
    EXPECT_EQ(rendered.has_value(), valid) << value;
    if (rendered) {
      EXPECT_EQ(rendered->command, "run " + ShellQuote(value));
    }
  }
}

TEST(ShellQuoteTest, MatchesPythonShlexQuote) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "''"},
      {"abc_XYZ-0.9/a@b%c+d=e:f,g", "abc_XYZ-0.9/a@b%c+d=e:f,g"},
      {"a b", "'a b'"},
      {"it's", "'it'\"'\"'s'"},
      {"$(rm -rf /)", "'$(rm -rf /)'"},
      {"`id`;|&<>*?~#!\"\\", "'`id`;|&<>*?~#!\"\\'"},
      {"caf\xc3\xa9", "'caf\xc3\xa9'"},  // non-ASCII is unsafe under re.ASCII
      {"''", "''\"'\"''\"'\"''"},
      {"new\nline", "'new\nline'"},
  };
  for (const auto& [input, expected] : cases) {
    EXPECT_EQ(ShellQuote(input), expected) << input;
  }
}

}  // namespace
}  // namespace mltf::gateway::projects
