// distributed.cpp - the layout of a multi-node attempt and the paths of a requeued one.
#include "runner/distributed.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

namespace mltf::runner {
namespace {

namespace fs = std::filesystem;
using gateway::executors::AttemptDescription;

/// A decimal number >= 0 that fits an int, and nothing else ("", "-1", "3x", " 3" are not).
std::optional<int> ParseCount(std::string_view text) {
  int value = 0;
  const auto* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || stop != end || value < 0) return std::nullopt;
  return value;
}

const std::string* Find(const EnvironmentMap& environment, const std::string& name) {
  const auto found = environment.find(name);
  return found == environment.end() ? nullptr : &found->second;
}

/// `path` with its last component named `from` renamed to `to`; unchanged when it has none.
fs::path RenameComponent(const fs::path& path, const std::string& from, const std::string& to) {
  std::vector<fs::path> parts(path.begin(), path.end());
  for (auto part = parts.rbegin(); part != parts.rend(); ++part) {
    if (part->native() == from) {
      *part = to;
      fs::path out;
      for (const auto& each : parts) out /= each;
      return out;
    }
  }
  return path;
}

/// dir/name.ext -> dir/name<suffix>.ext (dir/name -> dir/name<suffix> without an extension).
fs::path WithSuffix(const fs::path& path, const std::string& suffix) {
  return path.parent_path() / (path.stem().string() + suffix + path.extension().string());
}

}  // namespace

Result<DistributedLayout> ComputeLayout(const AttemptDescription& attempt,
                                        const EnvironmentMap& environment,
                                        const std::function<Result<int>()>& free_port) {
  DistributedLayout layout;
  layout.nodes = attempt.nodes;
  layout.tasks_per_node = attempt.tasks_per_node;
  if (attempt.nodes < 1 || attempt.tasks_per_node < 1 ||
      std::int64_t{attempt.nodes} * attempt.tasks_per_node > std::numeric_limits<int>::max()) {
    return Fail(Error::InvalidParameter(
        fmt::format("cannot run {} node(s) x {} task(s)", attempt.nodes, attempt.tasks_per_node)));
  }
  layout.world_size = attempt.nodes * attempt.tasks_per_node;
  if (const auto* node_id = Find(environment, "SLURM_NODEID")) {
    layout.node_rank = ParseCount(*node_id).value_or(0);
  }
  if (layout.node_rank >= layout.nodes) {
    return Fail(Error::InvalidParameter(
        fmt::format("this runner is node {} (SLURM_NODEID) but the attempt has {} node{}",
                    layout.node_rank, layout.nodes, layout.nodes == 1 ? "" : "s")));
  }
  const auto* master_addr = Find(environment, "MASTER_ADDR");
  if (master_addr != nullptr && !master_addr->empty()) {
    layout.master_addr = *master_addr;
  } else if (layout.nodes > 1) {
    return Fail(Error::InvalidParameter(fmt::format(
        "the attempt runs on {} nodes but MASTER_ADDR (the first node) is not set", layout.nodes)));
  }
  const auto* master_port = Find(environment, "MASTER_PORT");
  if (master_port != nullptr && !master_port->empty()) {
    const auto port = ParseCount(*master_port);
    if (!port || *port < 1 || *port > 65535) {
      return Fail(Error::InvalidParameter(
          fmt::format("MASTER_PORT '{}' is not a port number (1 to 65535)", *master_port)));
    }
    layout.master_port = *port;
  } else if (layout.nodes > 1) {
    return Fail(Error::InvalidParameter(
        fmt::format("the attempt runs on {} nodes but MASTER_PORT is not set", layout.nodes)));
  } else {
    MLTF_ASSIGN_OR_RETURN(port, free_port());
    layout.master_port = port;
  }
  return layout;
}

EnvironmentMap RankEnvironment(const DistributedLayout& layout, int local_rank) {
  return {
      {"RANK", std::to_string(layout.GlobalRank(local_rank))},
      {"LOCAL_RANK", std::to_string(local_rank)},
      {"WORLD_SIZE", std::to_string(layout.world_size)},
      {"LOCAL_WORLD_SIZE", std::to_string(layout.tasks_per_node)},
      {"NODE_RANK", std::to_string(layout.node_rank)},
      {"GROUP_RANK", std::to_string(layout.node_rank)},
      {"MASTER_ADDR", layout.master_addr},
      {"MASTER_PORT", std::to_string(layout.master_port)},
      {"MLTF_NODE_RANK", std::to_string(layout.node_rank)},
      {"MLTF_NODES", std::to_string(layout.nodes)},
  };
}

int SlurmRestartCount(const EnvironmentMap& environment) {
  const auto* count = Find(environment, "SLURM_RESTART_COUNT");
  return count == nullptr ? 0 : ParseCount(*count).value_or(0);
}

AttemptDescription RestartedAttempt(const AttemptDescription& attempt, int restart_count) {
  AttemptDescription restarted = attempt;
  if (restart_count <= 0) return restarted;
  restarted.attempt = attempt.attempt + restart_count;
  const std::string from = fmt::format("attempt-{}", attempt.attempt);
  const std::string to = fmt::format("attempt-{}", restarted.attempt);
  restarted.work_dir = RenameComponent(attempt.work_dir, from, to);
  restarted.output_dir = RenameComponent(attempt.output_dir, from, to);
  restarted.result_file = RenameComponent(attempt.result_file, from, to);
  return restarted;
}

AttemptDescription NodeAttempt(const AttemptDescription& attempt, int node_rank) {
  AttemptDescription node = attempt;
  if (node_rank <= 0) return node;
  const std::string suffix = fmt::format("-node{}", node_rank);
  node.log_file = WithSuffix(attempt.log_file, suffix);
  node.work_dir = WithSuffix(attempt.work_dir, suffix);
  node.result_file = WithSuffix(attempt.result_file, suffix);
  return node;
}

std::string NodeLogArtifactPath(int node_rank) {
  return node_rank <= 0 ? "mltf/task.log" : fmt::format("mltf/task-node{}.log", node_rank);
}

}  // namespace mltf::runner
