// distributed.hpp - where one runner sits in a multi-node, multi-process attempt, and what a
// SLURM requeue changes (pure: the runner's environment in, a layout and paths out).
//
// A task asks for `nodes` x `tasks_per_node` processes. One runner runs per node (the SLURM
// batch script starts them with srun, which numbers them with SLURM_NODEID) and starts
// `tasks_per_node` copies of the entry point, each with the variables torchrun sets, so that
// torch.distributed's env:// rendezvous finds the first node at MASTER_ADDR:MASTER_PORT.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "common/error.hpp"
#include "gateway/executors/attempt_description.hpp"

namespace mltf::runner {

/// This runner's place in the attempt: node `node_rank` of `nodes`, each running
/// `tasks_per_node` processes; global ranks are node_rank * tasks_per_node + local rank.
struct DistributedLayout {
  int node_rank = 0;
  int nodes = 1;
  int tasks_per_node = 1;
  int world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;

  /// The global rank of local rank `local_rank` of this node.
  [[nodiscard]] int GlobalRank(int local_rank) const {
    return node_rank * tasks_per_node + local_rank;
  }
};

/// The runner's environment, as name -> value.
using EnvironmentMap = std::map<std::string, std::string>;

/// Computes the layout from the attempt's node and task counts and the runner's environment:
/// SLURM_NODEID (0 when unset or not a non-negative number), MASTER_ADDR and MASTER_PORT.
/// With one node and no MASTER_ADDR the master is 127.0.0.1, and with no MASTER_PORT the port
/// is `free_port()` (called only then). Fails with INVALID_PARAMETER_VALUE when the node rank
/// is not below `nodes`, when several nodes lack MASTER_ADDR or MASTER_PORT, when MASTER_PORT
/// is not a port number, or with what `free_port` fails with.
Result<DistributedLayout> ComputeLayout(const gateway::executors::AttemptDescription& attempt,
                                        const EnvironmentMap& environment,
                                        const std::function<Result<int>()>& free_port);

/// The variables of local rank `local_rank`: RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE,
/// NODE_RANK, GROUP_RANK, MASTER_ADDR, MASTER_PORT (as torchrun sets them), MLTF_NODE_RANK
/// and MLTF_NODES. Set for a single process too (WORLD_SIZE=1), so env:// works there.
EnvironmentMap RankEnvironment(const DistributedLayout& layout, int local_rank);

/// SLURM_RESTART_COUNT: how often SLURM requeued this job; 0 when unset or not a number.
int SlurmRestartCount(const EnvironmentMap& environment);

/// The attempt this run is when SLURM requeued the job `restart_count` times: attempt N + k,
/// whose per-attempt paths (work dir, output dir, result file, under <task>/attempt-N/) move to
/// the sibling directory attempt-(N+k). The log file and the checkpoint directory belong to the
/// task and stay. A path without an attempt-N directory stays as it is. Does not fail.
gateway::executors::AttemptDescription RestartedAttempt(
    const gateway::executors::AttemptDescription& attempt, int restart_count);

/// The paths of node `node_rank` (> 0) of a multi-node attempt, which shares its directories
/// with node 0 on a shared file system: its own log (task.log -> task-node<k>.log), work
/// directory (work -> work-node<k>) and result file (result.json -> result-node<k>.json).
/// Node 0 and the output and checkpoint directories are unchanged. Does not fail.
gateway::executors::AttemptDescription NodeAttempt(
    const gateway::executors::AttemptDescription& attempt, int node_rank);

/// The artifact path of node `node_rank`'s log: mltf/task.log, or mltf/task-node<k>.log.
std::string NodeLogArtifactPath(int node_rank);

}  // namespace mltf::runner
