// distributed_test.cpp - the layout of multi-node attempts, the paths of requeued attempts and
// of nodes other than the first, with literal environments.
#include "runner/distributed.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace mltf::runner {
namespace {

using gateway::executors::AttemptDescription;

AttemptDescription Attempt(int nodes, int tasks_per_node) {
  AttemptDescription attempt;
  attempt.attempt = 2;
  attempt.nodes = nodes;
  attempt.tasks_per_node = tasks_per_node;
  attempt.work_dir = "/tasks/t1/attempt-2/work";
  attempt.output_dir = "/tasks/t1/attempt-2/output";
  attempt.result_file = "/tasks/t1/attempt-2/result.json";
  attempt.log_file = "/tasks/t1/task.log";
  attempt.checkpoint_dir = "/tasks/t1/checkpoints";
  return attempt;
}

/// A port picker the test can see being called.
struct PortPicker {
  int calls = 0;
  Result<int> operator()() {
    ++calls;
    return 41000;
  }
};

Result<DistributedLayout> Layout(const AttemptDescription& attempt,
                                 const EnvironmentMap& environment) {
  return ComputeLayout(attempt, environment, [] { return Result<int>(41000); });
}

TEST(ComputeLayout, OneProcessOnOneNodeGetsLoopbackAndAFreePort) {
  PortPicker picker;
  auto layout = ComputeLayout(Attempt(1, 1), {}, std::ref(picker));
  ASSERT_TRUE(layout) << layout.error().message;
  EXPECT_EQ(layout->node_rank, 0);
  EXPECT_EQ(layout->nodes, 1);
  EXPECT_EQ(layout->tasks_per_node, 1);
  EXPECT_EQ(layout->world_size, 1);
  EXPECT_EQ(layout->master_addr, "127.0.0.1");
  EXPECT_EQ(layout->master_port, 41000);
  EXPECT_EQ(picker.calls, 1);
}

TEST(ComputeLayout, MasterFromTheEnvironmentWinsAndNoPortIsPicked) {
  PortPicker picker;
  auto layout = ComputeLayout(Attempt(1, 4), {{"MASTER_ADDR", "n01"}, {"MASTER_PORT", "29500"}},
                              std::ref(picker));
  ASSERT_TRUE(layout) << layout.error().message;
  EXPECT_EQ(layout->master_addr, "n01");
  EXPECT_EQ(layout->master_port, 29500);
  EXPECT_EQ(layout->world_size, 4);
  EXPECT_EQ(picker.calls, 0);
}

TEST(ComputeLayout, NodeRankComesFromSlurmNodeId) {
  auto layout =
      Layout(Attempt(3, 2),
             {{"SLURM_NODEID", "2"}, {"MASTER_ADDR", "10.0.0.1"}, {"MASTER_PORT", "29500"}});
  ASSERT_TRUE(layout) << layout.error().message;
  EXPECT_EQ(layout->node_rank, 2);
  EXPECT_EQ(layout->world_size, 6);
  EXPECT_EQ(layout->GlobalRank(0), 4);
  EXPECT_EQ(layout->GlobalRank(1), 5);
}

TEST(ComputeLayout, BadSlurmNodeIdMeansNodeZero) {
  for (const char* bad : {"", "-1", "x", "1x", " 1", "1.5", "99999999999999999999"}) {
    auto layout =
        Layout(Attempt(2, 1),
               {{"SLURM_NODEID", bad}, {"MASTER_ADDR", "10.0.0.1"}, {"MASTER_PORT", "29500"}});
    ASSERT_TRUE(layout) << bad << ": " << layout.error().message;
    EXPECT_EQ(layout->node_rank, 0) << bad;
  }
}

TEST(ComputeLayout, RefusesANodeRankBeyondTheNodes) {
  auto layout =
      Layout(Attempt(2, 1),
             {{"SLURM_NODEID", "2"}, {"MASTER_ADDR", "10.0.0.1"}, {"MASTER_PORT", "29500"}});
  ASSERT_FALSE(layout);
  EXPECT_EQ(layout.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_NE(layout.error().message.find("node 2"), std::string::npos) << layout.error().message;

  auto single = Layout(Attempt(1, 1), {{"SLURM_NODEID", "1"}});
  ASSERT_FALSE(single);
  EXPECT_NE(single.error().message.find("1 node"), std::string::npos) << single.error().message;
}

TEST(ComputeLayout, SeveralNodesNeedMasterAddrAndPort) {
  auto no_addr = Layout(Attempt(2, 1), {{"SLURM_NODEID", "0"}, {"MASTER_PORT", "29500"}});
  ASSERT_FALSE(no_addr);
  EXPECT_NE(no_addr.error().message.find("MASTER_ADDR"), std::string::npos);
  auto empty_addr = Layout(Attempt(2, 1), {{"MASTER_ADDR", ""}, {"MASTER_PORT", "29500"}});
  ASSERT_FALSE(empty_addr);
  EXPECT_NE(empty_addr.error().message.find("MASTER_ADDR"), std::string::npos);
  auto no_port = Layout(Attempt(2, 1), {{"MASTER_ADDR", "10.0.0.1"}});
  ASSERT_FALSE(no_port);
  EXPECT_NE(no_port.error().message.find("MASTER_PORT"), std::string::npos);
}

TEST(ComputeLayout, RefusesAPortThatIsNoPort) {
  for (const char* bad : {"0", "65536", "http", "-5", "80 "}) {
    auto layout = Layout(Attempt(1, 1), {{"MASTER_PORT", bad}});
    ASSERT_FALSE(layout) << bad;
    EXPECT_EQ(layout.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  }
}

TEST(ComputeLayout, PassesOnThePortPickersFailure) {
  auto layout = ComputeLayout(Attempt(1, 1), {},
                              [] { return Result<int>(Fail(Error::Internal("no sockets"))); });
  ASSERT_FALSE(layout);
  EXPECT_EQ(layout.error().message, "no sockets");
}

TEST(ComputeLayout, RefusesCountsBelowOne) {
  EXPECT_FALSE(Layout(Attempt(0, 1), {}));
  EXPECT_FALSE(Layout(Attempt(1, 0), {}));
}

TEST(RankEnvironment, SetsTorchrunsVariables) {
  auto layout =
      Layout(Attempt(2, 4),
             {{"SLURM_NODEID", "1"}, {"MASTER_ADDR", "10.0.0.1"}, {"MASTER_PORT", "29500"}});
  ASSERT_TRUE(layout) << layout.error().message;
  EXPECT_EQ(RankEnvironment(*layout, 3), (EnvironmentMap{{"RANK", "7"},
                                                         {"LOCAL_RANK", "3"},
                                                         {"WORLD_SIZE", "8"},
                                                         {"LOCAL_WORLD_SIZE", "4"},
                                                         {"NODE_RANK", "1"},
                                                         {"GROUP_RANK", "1"},
                                                         {"MASTER_ADDR", "10.0.0.1"},
                                                         {"MASTER_PORT", "29500"},
                                                         {"MLTF_NODE_RANK", "1"},
                                                         {"MLTF_NODES", "2"}}));
}

TEST(RankEnvironment, ASingleProcessIsRankZeroOfOne) {
  auto layout = Layout(Attempt(1, 1), {});
  ASSERT_TRUE(layout) << layout.error().message;
  const auto environment = RankEnvironment(*layout, 0);
  EXPECT_EQ(environment.at("RANK"), "0");
  EXPECT_EQ(environment.at("WORLD_SIZE"), "1");
  EXPECT_EQ(environment.at("LOCAL_WORLD_SIZE"), "1");
  EXPECT_EQ(environment.at("MASTER_ADDR"), "127.0.0.1");
  EXPECT_EQ(environment.at("MASTER_PORT"), "41000");
  EXPECT_EQ(environment.at("MLTF_NODES"), "1");
}

TEST(SlurmRestartCount, ReadsTheCountOrZero) {
  EXPECT_EQ(SlurmRestartCount({}), 0);
  EXPECT_EQ(SlurmRestartCount({{"SLURM_RESTART_COUNT", "0"}}), 0);
  EXPECT_EQ(SlurmRestartCount({{"SLURM_RESTART_COUNT", "3"}}), 3);
  EXPECT_EQ(SlurmRestartCount({{"SLURM_RESTART_COUNT", "-2"}}), 0);
  EXPECT_EQ(SlurmRestartCount({{"SLURM_RESTART_COUNT", "two"}}), 0);
}

TEST(RestartedAttempt, MovesPerAttemptPathsToTheLaterAttempt) {
  const auto restarted = RestartedAttempt(Attempt(1, 1), 3);
  EXPECT_EQ(restarted.attempt, 5);
  EXPECT_EQ(restarted.work_dir, "/tasks/t1/attempt-5/work");
  EXPECT_EQ(restarted.output_dir, "/tasks/t1/attempt-5/output");
  EXPECT_EQ(restarted.result_file, "/tasks/t1/attempt-5/result.json");
  EXPECT_EQ(restarted.log_file, "/tasks/t1/task.log");
  EXPECT_EQ(restarted.checkpoint_dir, "/tasks/t1/checkpoints");
}

TEST(RestartedAttempt, NoRestartChangesNothing) {
  const auto same = RestartedAttempt(Attempt(1, 1), 0);
  EXPECT_EQ(same.attempt, 2);
  EXPECT_EQ(same.work_dir, "/tasks/t1/attempt-2/work");
  EXPECT_EQ(same.result_file, "/tasks/t1/attempt-2/result.json");
}

TEST(RestartedAttempt, OnlyTheAttemptsOwnDirectoryIsRenamed) {
  auto attempt = Attempt(1, 1);
  attempt.work_dir = "/attempt-2/tasks/t1/attempt-2/work";  // an operator's odd root
  attempt.output_dir = "/elsewhere/output";                 // not under attempt-2: stays
  const auto restarted = RestartedAttempt(attempt, 1);
  EXPECT_EQ(restarted.work_dir, "/attempt-2/tasks/t1/attempt-3/work");
  EXPECT_EQ(restarted.output_dir, "/elsewhere/output");
}

TEST(NodeAttempt, LaterNodesGetTheirOwnLogWorkDirAndResult) {
  const auto node = NodeAttempt(Attempt(2, 1), 1);
  EXPECT_EQ(node.log_file, "/tasks/t1/task-node1.log");
  EXPECT_EQ(node.work_dir, "/tasks/t1/attempt-2/work-node1");
  EXPECT_EQ(node.result_file, "/tasks/t1/attempt-2/result-node1.json");
  EXPECT_EQ(node.output_dir, "/tasks/t1/attempt-2/output");  // shared by all nodes
  EXPECT_EQ(node.checkpoint_dir, "/tasks/t1/checkpoints");
  EXPECT_EQ(node.attempt, 2);
}

TEST(NodeAttempt, NodeZeroIsUnchanged) {
  const auto node = NodeAttempt(Attempt(2, 1), 0);
  EXPECT_EQ(node.log_file, "/tasks/t1/task.log");
  EXPECT_EQ(node.work_dir, "/tasks/t1/attempt-2/work");
  EXPECT_EQ(node.result_file, "/tasks/t1/attempt-2/result.json");
}

TEST(NodeAttempt, ARequeuedLaterNodeCombinesBoth) {
  const auto node = NodeAttempt(RestartedAttempt(Attempt(2, 1), 1), 3);
  EXPECT_EQ(node.result_file, "/tasks/t1/attempt-3/result-node3.json");
  EXPECT_EQ(node.work_dir, "/tasks/t1/attempt-3/work-node3");
  EXPECT_EQ(node.log_file, "/tasks/t1/task-node3.log");
}

TEST(NodeLogArtifactPath, NamesTheNode) {
  EXPECT_EQ(NodeLogArtifactPath(0), "mltf/task.log");
  EXPECT_EQ(NodeLogArtifactPath(2), "mltf/task-node2.log");
}

TEST(AttemptDescriptionCounts, RoundTripAndDefaultToOne) {
  auto json = gateway::executors::ToJson(Attempt(3, 2));
  auto read = gateway::executors::AttemptFromJson(json);
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(read->nodes, 3);
  EXPECT_EQ(read->tasks_per_node, 2);

  json.erase("nodes");
  json.erase("tasks_per_node");
  auto older = gateway::executors::AttemptFromJson(json);
  ASSERT_TRUE(older) << older.error().message;
  EXPECT_EQ(older->nodes, 1);
  EXPECT_EQ(older->tasks_per_node, 1);

  json["tasks_per_node"] = 0;
  auto zero = gateway::executors::AttemptFromJson(json);
  ASSERT_FALSE(zero);
  EXPECT_NE(zero.error().message.find("tasks_per_node"), std::string::npos);
  json["tasks_per_node"] = "2";
  EXPECT_FALSE(gateway::executors::AttemptFromJson(json));
}

}  // namespace
}  // namespace mltf::runner
