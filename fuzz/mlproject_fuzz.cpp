// mlproject_fuzz.cpp - libFuzzer target for the MLproject parser and command rendering.
//
// The input is an MLproject. When it parses, each entry point is looked up by name and
// rendered with no user parameters, then with every declared parameter set to a hostile
// value. Besides crashes, exceptions and sanitizer reports, these invariants abort the run:
// - an entry point is found by its own name and is the declared one;
// - rendering without user parameters succeeds only if every parameter has a default;
// - every value reaches the command shell-quoted: the quoted hostile value appears in it,
//   and the effective parameters hold the raw values.
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "gateway/projects/mlproject.hpp"

namespace {

namespace projects = mltf::gateway::projects;

void Require(bool condition) {
  if (!condition) {
    __builtin_trap();
  }
}

std::size_t Count(std::string_view text, std::string_view needle) {
  std::size_t count = 0;
  for (std::size_t pos = text.find(needle); pos != std::string_view::npos;
       pos = text.find(needle, pos + needle.size())) {
    ++count;
  }
  return count;
}

const std::set<std::string>& ProjectFiles() {
  static const std::set<std::string> kFiles = {"python_env.yaml", "conda.yaml", "envs/env.yaml",
                                               "train.py",        "run.sh",     "model.R"};
  return kFiles;
}

void FuzzEntryPoint(const projects::MlProject& project, const projects::EntryPoint& entry_point) {
  auto found = projects::FindEntryPoint(project, entry_point.name, ProjectFiles());
  Require(found.has_value() && found->command == entry_point.command);

  bool all_defaults = true;
  std::map<std::string, std::string> hostile;
  for (const projects::ParameterSpec& spec : entry_point.parameters) {
    all_defaults = all_defaults && spec.default_value.has_value();
    hostile[spec.name] = "it's $(rm -rf /) `id`";
  }
  auto rendered = projects::RenderCommand(entry_point, {});
  Require(!rendered || all_defaults);

  // Only string and path parameters accept the hostile value; others must refuse it.
  auto with_values = projects::RenderCommand(entry_point, hostile);
  if (with_values) {
    for (const projects::ParameterSpec& spec : entry_point.parameters) {
      Require(spec.type == projects::ParameterType::STRING ||
              spec.type == projects::ParameterType::PATH);
      Require(with_values->parameters.at(spec.name) == hostile[spec.name]);
    }
    if (entry_point.command.find("$(rm") == std::string::npos) {
      // Every "$(rm" in the command comes from a value, so each lies inside a quoted value.
      const std::string quoted = mltf::ShellQuote("it's $(rm -rf /) `id`");
      Require(Count(with_values->command, "$(rm") == Count(with_values->command, quoted));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto project = projects::ParseMlProject(input, ProjectFiles());
  if (project) {
    for (const projects::EntryPoint& entry_point : project->entry_points) {
      FuzzEntryPoint(*project, entry_point);
    }
    // The whole input as an entry point name: found, a script fallback, or a clean error.
    if (auto entry_point = projects::FindEntryPoint(*project, input, ProjectFiles())) {
      (void)projects::RenderCommand(*entry_point, {});
    }
  }
  return 0;
}
