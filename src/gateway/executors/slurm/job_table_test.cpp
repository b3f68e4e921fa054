// job_table_test.cpp - squeue, sacct and sbatch output as SLURM 22.05 prints it, and garbage.
#include "gateway/executors/slurm/job_table.hpp"

#include <gtest/gtest.h>

namespace mltf::gateway::executors::slurm {
namespace {

TEST(IsSlurmJobId, JobsArraysAndHetJobsButNotSteps) {
  for (const auto* id : {"1", "123", "123_4", "123+0"}) {
    EXPECT_TRUE(IsSlurmJobId(id)) << id;
  }
  for (const auto* id :
       {"", "a", "123.batch", "123.0", "123_", "_1", "12 3", "123;x", "-1", "123_[1-5]", "1,2"}) {
    EXPECT_FALSE(IsSlurmJobId(id)) << id;
  }
}

TEST(JobIdList, JoinsDistinctValidIds) {
  EXPECT_EQ(JobIdList({}), "");
  EXPECT_EQ(JobIdList({"1", "2", "3"}), "1,2,3");
  EXPECT_EQ(JobIdList({"3", "1", "3", "2_1"}), "3,1,2_1");
  EXPECT_EQ(JobIdList({"1", "--wrap=id", "2;x", "", "4"}), "1,4");
}

TEST(PollArguments, OneCallForAllJobs) {
  const std::vector<std::string> squeue = {"--noheader", "--states=all", "--jobs=1,2",
                                           "--format=%i|%T|%r|%N"};
  EXPECT_EQ(SqueueArguments({"1", "2"}), squeue);
  const std::vector<std::string> sacct = {
      "--noheader", "--parsable2", "--duplicates", "--jobs=7",
      "--format=JobID,State,ExitCode,DerivedExitCode,Reason,NodeList,Start,End"};
  EXPECT_EQ(SacctArguments({"7"}), sacct);
}

TEST(ParseSqueue, RecordsAndGarbage) {
  const std::string output =
      "101|RUNNING|None|n1\n"
      "102|PENDING|Resources|\n"
      "103|COMPLETED|NonZeroExitCode|n2\n"
      "\n"
      "104_3|CANCELLED|None|n[1-2]\n"
      "slurm_load_jobs error: Invalid job id specified\n"
      "105|RUNNING|None\n"
      "x|RUNNING|None|n1\n"
      "106|WEIRD|None|n1\r\n";
  const auto table = ParseSqueue(output);
  EXPECT_EQ(table.skipped_lines, 3U);
  ASSERT_EQ(table.jobs.size(), 5U);
  EXPECT_EQ(table.jobs.at("101").phase, SlurmJobPhase::RUNNING);
  EXPECT_EQ(table.jobs.at("101").node_list, "n1");
  EXPECT_EQ(table.jobs.at("102").phase, SlurmJobPhase::PENDING);
  EXPECT_EQ(table.jobs.at("102").reason, "Resources");
  EXPECT_EQ(table.jobs.at("103").phase, SlurmJobPhase::COMPLETED);
  EXPECT_EQ(table.jobs.at("104_3").phase, SlurmJobPhase::CANCELLED);
  EXPECT_EQ(table.jobs.at("104_3").node_list, "n[1-2]");
  EXPECT_EQ(table.jobs.at("106").phase, SlurmJobPhase::UNKNOWN);
  EXPECT_EQ(table.jobs.at("106").node_list, "n1");
  EXPECT_TRUE(ParseSqueue("").jobs.empty());
}

TEST(ParseSacct, AllocationLinesStepsAndGarbage) {
  const std::string output =
      "201|COMPLETED|0:0|0:0|None|n1|2024-05-01T10:00:00|2024-05-01T10:00:05\n"
      "201.batch|COMPLETED|0:0||None|n1|2024-05-01T10:00:00|2024-05-01T10:00:05\n"
      "201.extern|COMPLETED|0:0||None|n1|2024-05-01T10:00:00|2024-05-01T10:00:05\n"
      "202|FAILED|3:0|0:0|NonZeroExitCode|n2|2024-05-01T10:00:00|2024-05-01T10:00:01\n"
      "202.batch|FAILED|3:0||None|n2|2024-05-01T10:00:00|2024-05-01T10:00:01\n"
      "203|CANCELLED by 0|0:0|0:0|None|n1|2024-05-01T10:00:00|2024-05-01T10:00:02\n"
      "203.batch|CANCELLED|0:15||None|n1|2024-05-01T10:00:00|2024-05-01T10:00:02\n"
      "204|OUT_OF_MEMORY|0:125|0:0|OutOfMemory|n1|2024-05-01T10:00:00|2024-05-01T10:00:03\n"
      "205|TIMEOUT|0:0|0:0|TimeLimit|n1|2024-05-01T10:00:00|2024-05-01T10:01:00\n"
      "206|PENDING|0:0|0:0|None|None assigned|Unknown|Unknown\n"
      "207|RUNNING|0:0|0:0|None|n[1-2]|2024-05-01T10:00:00|Unknown\n"
      "207.0|RUNNING|0:0||None|n[1-2]|2024-05-01T10:00:00|Unknown\n"
      "Slurm accounting storage is disabled\n"
      "208|COMPLETED|0:0\n"
      "abc|COMPLETED|0:0|0:0|None|n1|x|y\n"
      ".batch|COMPLETED|0:0|0:0|None|n1|x|y\n";
  const auto table = ParseSacct(output);
  EXPECT_EQ(table.skipped_lines, 4U);
  ASSERT_EQ(table.jobs.size(), 7U);
  const auto& completed = table.jobs.at("201");
  EXPECT_EQ(completed.phase, SlurmJobPhase::COMPLETED);
  EXPECT_EQ(completed.start, "2024-05-01T10:00:00");
  EXPECT_EQ(completed.end, "2024-05-01T10:00:05");
  EXPECT_TRUE(completed.earlier_phases.empty());
  EXPECT_EQ(completed.outcome().exit_code, 0);

  const auto failed = table.jobs.at("202").outcome();
  EXPECT_TRUE(failed.finished);
  EXPECT_EQ(failed.exit_code, 3);
  EXPECT_EQ(failed.reason, "exit code 3");

  const auto& cancelled = table.jobs.at("203");
  EXPECT_EQ(cancelled.state, "CANCELLED by 0");
  EXPECT_TRUE(cancelled.outcome().cancelled);

  EXPECT_EQ(table.jobs.at("204").outcome().reason, "out of memory");
  EXPECT_TRUE(table.jobs.at("205").outcome().final);
  EXPECT_EQ(table.jobs.at("205").outcome().reason, "walltime exceeded");
  EXPECT_FALSE(table.jobs.at("206").outcome().finished);
  EXPECT_EQ(table.jobs.at("206").node_list, "None assigned");
  EXPECT_EQ(table.jobs.at("207").phase, SlurmJobPhase::RUNNING);
}

TEST(ParseSacct, DuplicatesOfARequeuedJobKeepTheLatest) {
  const std::string output =
      "301|PREEMPTED|0:0|0:0|None|n1|2024-05-01T10:00:00|2024-05-01T10:00:30\n"
      "301.batch|CANCELLED|0:15||None|n1|2024-05-01T10:00:00|2024-05-01T10:00:30\n"
      "301|REQUEUED|0:0|0:0|None|n1|2024-05-01T10:00:31|2024-05-01T10:00:31\n"
      "301|COMPLETED|0:0|0:0|None|n2|2024-05-01T10:01:00|2024-05-01T10:02:00\n"
      "301.batch|COMPLETED|0:0||None|n2|2024-05-01T10:01:00|2024-05-01T10:02:00\n"
      "302|PREEMPTED|0:0|0:0|None|n1|2024-05-01T10:00:00|2024-05-01T10:00:30\n"
      "302|RUNNING|0:0|0:0|None|n3|2024-05-01T10:01:00|Unknown\n";
  const auto table = ParseSacct(output);
  EXPECT_EQ(table.skipped_lines, 0U);
  const auto& done = table.jobs.at("301");
  EXPECT_EQ(done.phase, SlurmJobPhase::COMPLETED);
  EXPECT_EQ(done.node_list, "n2");
  const std::vector<SlurmJobPhase> earlier = {SlurmJobPhase::PREEMPTED, SlurmJobPhase::REQUEUED};
  EXPECT_EQ(done.earlier_phases, earlier);
  const auto& running = table.jobs.at("302");
  EXPECT_EQ(running.phase, SlurmJobPhase::RUNNING);
  EXPECT_EQ(running.earlier_phases, std::vector<SlurmJobPhase>{SlurmJobPhase::PREEMPTED});
}

TEST(ParseSbatchOutput, IdAndCluster) {
  auto job = ParseSbatchOutput("123\n");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->job_id, "123");
  EXPECT_EQ(job->cluster, "");
  job = ParseSbatchOutput("456;cluster1\n");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->job_id, "456");
  EXPECT_EQ(job->cluster, "cluster1");
  job = ParseSbatchOutput("sbatch: warning: something\n789\n\n");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->job_id, "789");

  for (const auto* bad : {"", "\n", "Submitted batch job 123", "abc", "12_3", "-1", ";x"}) {
    const auto failed = ParseSbatchOutput(bad);
    ASSERT_FALSE(failed) << bad;
    EXPECT_EQ(failed.error().code, ErrorCode::INTERNAL_ERROR);
    EXPECT_NE(failed.error().message.find("sbatch --parsable printed"), std::string::npos);
  }
}

}  // namespace
}  // namespace mltf::gateway::executors::slurm
