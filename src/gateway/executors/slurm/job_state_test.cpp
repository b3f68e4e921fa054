// job_state_test.cpp - SLURM state spellings to phases, and phases with exit codes to outcomes.
#include "gateway/executors/slurm/job_state.hpp"

#include <gtest/gtest.h>

namespace mltf::gateway::executors::slurm {
namespace {

TEST(ParseSlurmState, LongNamesShortCodesAndSacctForms) {
  const std::vector<std::pair<std::string, SlurmJobPhase>> cases = {
      {"PENDING", SlurmJobPhase::PENDING},
      {"PD", SlurmJobPhase::PENDING},
      {"CONFIGURING", SlurmJobPhase::PENDING},
      {"CF", SlurmJobPhase::PENDING},
      {"RUNNING", SlurmJobPhase::RUNNING},
      {"R", SlurmJobPhase::RUNNING},
      {"COMPLETING", SlurmJobPhase::RUNNING},
      {"CG", SlurmJobPhase::RUNNING},
      {"COMPLETED", SlurmJobPhase::COMPLETED},
      {"CD", SlurmJobPhase::COMPLETED},
      {"FAILED", SlurmJobPhase::FAILED},
      {"F", SlurmJobPhase::FAILED},
      {"CANCELLED", SlurmJobPhase::CANCELLED},
      {"CA", SlurmJobPhase::CANCELLED},
      {"CANCELLED by 0", SlurmJobPhase::CANCELLED},
      {"CANCELLED by 1000", SlurmJobPhase::CANCELLED},
      {"CANCELLED+", SlurmJobPhase::CANCELLED},
      {"TIMEOUT", SlurmJobPhase::TIMEOUT},
      {"TO", SlurmJobPhase::TIMEOUT},
      {"OUT_OF_MEMORY", SlurmJobPhase::OUT_OF_MEMORY},
      {"OOM", SlurmJobPhase::OUT_OF_MEMORY},
      {"NODE_FAIL", SlurmJobPhase::NODE_FAIL},
      {"NF", SlurmJobPhase::NODE_FAIL},
      {"PREEMPTED", SlurmJobPhase::PREEMPTED},
      {"PR", SlurmJobPhase::PREEMPTED},
      {"REQUEUED", SlurmJobPhase::REQUEUED},
      {"RQ", SlurmJobPhase::REQUEUED},
      {"REQUEUE_HOLD", SlurmJobPhase::REQUEUED},
      {"RH", SlurmJobPhase::REQUEUED},
      {"SUSPENDED", SlurmJobPhase::SUSPENDED},
      {"S", SlurmJobPhase::SUSPENDED},
      {"STOPPED", SlurmJobPhase::SUSPENDED},
      {"BOOT_FAIL", SlurmJobPhase::BOOT_FAIL},
      {"BF", SlurmJobPhase::BOOT_FAIL},
      {"DEADLINE", SlurmJobPhase::DEADLINE},
      {"DL", SlurmJobPhase::DEADLINE},
      {"running", SlurmJobPhase::RUNNING},
      {"  COMPLETED \n", SlurmJobPhase::COMPLETED},
      {"", SlurmJobPhase::UNKNOWN},
      {"OUT_OF_ME+", SlurmJobPhase::UNKNOWN},
      {"BOGUS", SlurmJobPhase::UNKNOWN},
      {"+", SlurmJobPhase::UNKNOWN},
      {"RUNNINGX", SlurmJobPhase::UNKNOWN},
  };
  for (const auto& [text, phase] : cases) {
    EXPECT_EQ(ParseSlurmState(text), phase)
        << "'" << text << "' gave " << SlurmJobPhaseName(ParseSlurmState(text));
  }
}

TEST(ParseExitCode, CodeOrSignal) {
  EXPECT_EQ(ParseExitCode("0:0"), 0);
  EXPECT_EQ(ParseExitCode("3:0"), 3);
  EXPECT_EQ(ParseExitCode("255:0"), 255);
  EXPECT_EQ(ParseExitCode("0:9"), 137);
  EXPECT_EQ(ParseExitCode("0:15"), 143);
  EXPECT_EQ(ParseExitCode(" 1:0 "), 1);
  EXPECT_EQ(ParseExitCode("0:125"), std::nullopt);  // sacct's OUT_OF_MEMORY
  EXPECT_EQ(ParseExitCode(""), std::nullopt);
  EXPECT_EQ(ParseExitCode("3"), std::nullopt);
  EXPECT_EQ(ParseExitCode("a:b"), std::nullopt);
  EXPECT_EQ(ParseExitCode("-1:0"), std::nullopt);
  EXPECT_EQ(ParseExitCode("300:0"), std::nullopt);
  EXPECT_EQ(ParseExitCode("1:"), std::nullopt);
  EXPECT_EQ(ParseExitCode("99999999999:0"), std::nullopt);
}

struct OutcomeCase {
  SlurmJobPhase phase;
  std::string exit_code;
  std::string derived;
  bool finished;
  bool requeued;
  std::optional<int> code;
  std::string reason;
  bool cancelled;
  bool final;
};

TEST(OutcomeOf, EveryPhase) {
  using P = SlurmJobPhase;
  const std::vector<OutcomeCase> cases = {
      {P::PENDING, "", "", false, false, std::nullopt, "", false, false},
      {P::RUNNING, "0:0", "0:0", false, false, std::nullopt, "", false, false},
      {P::SUSPENDED, "", "", false, false, std::nullopt, "", false, false},
      {P::UNKNOWN, "", "", false, false, std::nullopt, "", false, false},
      {P::COMPLETED, "0:0", "0:0", true, false, 0, "completed", false, false},
      {P::FAILED, "3:0", "0:0", true, false, 3, "exit code 3", false, false},
      {P::FAILED, "0:9", "0:0", true, false, 137, "exit code 137 (signal 9)", false, false},
      {P::FAILED, "0:0", "2:0", true, false, 2, "exit code 2", false, false},
      {P::FAILED, "", "", true, false, 1, "exit code 1", false, false},
      {P::TIMEOUT, "0:0", "0:0", true, false, 143, "walltime exceeded", false, true},
      {P::TIMEOUT, "0:15", "", true, false, 143, "walltime exceeded", false, true},
      {P::OUT_OF_MEMORY, "0:125", "0:0", true, false, 137, "out of memory", false, true},
      {P::NODE_FAIL, "0:0", "", true, false, 137, "node failure", false, false},
      {P::CANCELLED, "0:15", "0:0", true, false, 143, "cancelled", true, false},
      {P::CANCELLED, "0:0", "0:0", true, false, 143, "cancelled", true, false},
      {P::PREEMPTED, "0:0", "", true, true, std::nullopt, "preempted", false, false},
      {P::REQUEUED, "", "", true, true, std::nullopt, "requeued", false, false},
      {P::BOOT_FAIL, "", "", true, false, 1, "node boot failure", false, false},
      {P::DEADLINE, "", "", true, false, 143, "deadline passed", false, true},
  };
  for (const auto& test : cases) {
    const auto outcome = OutcomeOf(test.phase, test.exit_code, test.derived);
    const std::string name = std::string(SlurmJobPhaseName(test.phase)) + " " + test.exit_code;
    EXPECT_EQ(outcome.finished, test.finished) << name;
    EXPECT_EQ(outcome.requeued, test.requeued) << name;
    EXPECT_EQ(outcome.exit_code, test.code) << name;
    EXPECT_EQ(outcome.reason, test.reason) << name;
    EXPECT_EQ(outcome.cancelled, test.cancelled) << name;
    EXPECT_EQ(outcome.final, test.final) << name;
  }
}

}  // namespace
}  // namespace mltf::gateway::executors::slurm
