// process_group_test.cpp - unit tests of process groups with real /bin/sh children: output,
// exit codes, exec failures, termination of whole trees, clean environments, long lines.
#include "runner/process/process_group.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

namespace mltf::runner {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

ProcessSpec Shell(std::string script) {
  ProcessSpec spec;
  spec.argv = {"sh", "-c", std::move(script)};
  spec.environment = {{"PATH", "/usr/bin:/bin"}};
  return spec;
}

// Runs to completion and returns the output lines.
std::vector<std::string> RunLines(const ProcessSpec& spec, ExitStatus* status) {
  std::vector<std::string> lines;
  auto result = RunProcess(
      spec, [&](std::string_view line) { lines.emplace_back(line); }, std::chrono::seconds(20));
  EXPECT_TRUE(result.has_value()) << result.error().message;
  if (result && status != nullptr) {
    *status = *result;
  }
  return lines;
}

// True while `pid` exists and is not a zombie (an orphan's zombie waits for init to reap it).
bool Alive(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) {
    return false;
  }
  std::ifstream stat_file("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat_file, line);
  std::size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

TEST(ProcessGroupTest, CollectsMergedOutputAndExitCode) {
  ExitStatus status;
  auto lines = RunLines(Shell("echo out; echo err >&2; exit 3"), &status);
  EXPECT_THAT(lines, ElementsAre("out", "err"));
  EXPECT_EQ(status.exit_code, 3);
  EXPECT_FALSE(status.signal);
  EXPECT_FALSE(status.Succeeded());
  EXPECT_EQ(status.Describe(), "exit code 3");
}

TEST(ProcessGroupTest, SeparatesStderrWhenAsked) {
  ProcessSpec spec = Shell("echo out; echo err >&2");
  spec.merge_stderr = false;
  auto group = ProcessGroup::Start(spec);
  ASSERT_TRUE(group) << group.error().message;
  ASSERT_GE(group->error_fd(), 0);
  std::vector<std::string> out;
  std::vector<std::string> err;
  auto out_eof = PumpOutput(group->output_fd(), {}, [&](auto line) { out.emplace_back(line); });
  auto err_eof = PumpOutput(group->error_fd(), {}, [&](auto line) { err.emplace_back(line); });
  ASSERT_TRUE(out_eof && *out_eof);
  ASSERT_TRUE(err_eof && *err_eof);
  EXPECT_THAT(out, ElementsAre("out"));
  EXPECT_THAT(err, ElementsAre("err"));
  EXPECT_TRUE(group->Wait().Succeeded());
}

TEST(ProcessGroupTest, MissingProgramIsAClearError) {
  ProcessSpec spec = Shell("");
  spec.argv = {"mltf-no-such-program-here"};
  auto group = ProcessGroup::Start(spec);
  ASSERT_FALSE(group);
  EXPECT_EQ(group.error().code, ErrorCode::INVALID_PARAMETER_VALUE);
  EXPECT_THAT(group.error().message,
              HasSubstr("cannot run 'mltf-no-such-program-here': No such file or directory"));

  spec.argv = {"/nonexistent/mltf-program"};
  group = ProcessGroup::Start(spec);
  ASSERT_FALSE(group);
  EXPECT_EQ(group.error().message,
            "cannot run '/nonexistent/mltf-program': No such file or directory");

  spec.argv = {"/etc/hostname"};  // exists, cannot be executed: reported by the status pipe
  group = ProcessGroup::Start(spec);
  ASSERT_FALSE(group);
  EXPECT_THAT(group.error().message, HasSubstr("cannot run '/etc/hostname': "));

  spec.argv = {};
  EXPECT_FALSE(ProcessGroup::Start(spec));
}

TEST(ProcessGroupTest, MissingWorkingDirectoryIsAClearError) {
  ProcessSpec spec = Shell("true");
  spec.argv[0] = "/bin/sh";
  spec.working_directory = "/nonexistent-mltf-dir";
  auto group = ProcessGroup::Start(spec);
  ASSERT_FALSE(group);
  EXPECT_THAT(group.error().message, HasSubstr("cannot enter working directory"));
}

TEST(ProcessGroupTest, InputPipeFeedsStdin) {
  ProcessSpec spec;
  spec.argv = {"/bin/cat"};
  spec.environment = {{"PATH", "/usr/bin:/bin"}};
  spec.input_pipe = true;
  auto group = ProcessGroup::Start(spec);
  ASSERT_TRUE(group) << group.error().message;
  ASSERT_GE(group->input_fd(), 0);
  ASSERT_EQ(::write(group->input_fd(), "hello\n", 6), 6);
  group->CloseInput();
  std::string output;
  auto done = PumpOutput(group->output_fd(), [&](std::string_view bytes) { output += bytes; }, {});
  ASSERT_TRUE(done);
  EXPECT_EQ(output, "hello\n");
  EXPECT_EQ(group->Wait().exit_code, 0);
}

TEST(ProcessGroupTest, RunsInWorkingDirectory) {
  ProcessSpec spec = Shell("pwd");
  spec.working_directory = "/tmp";
  EXPECT_THAT(RunLines(spec, nullptr), ElementsAre("/tmp"));
}

TEST(ProcessGroupTest, EnvironmentIsExactlyTheGivenOne) {
  ProcessSpec spec;
  spec.argv = {"/usr/bin/env"};
  spec.environment = {{"A", "1"}, {"B", "two words"}};
  ::setenv("MLTF_TEST_SHOULD_NOT_LEAK", "x", 1);
  EXPECT_THAT(RunLines(spec, nullptr), UnorderedElementsAre("A=1", "B=two words"));

  spec.environment = {{"A=B", "1"}};
  EXPECT_FALSE(ProcessGroup::Start(spec));
}

TEST(ProcessGroupTest, NoDescriptorLeaksIntoTheChild) {
  // Only 0, 1, 2 and the descriptor ls itself opens for /proc/self/fd.
  ExitStatus status;
  auto lines = RunLines(Shell("ls /proc/self/fd | wc -l"), &status);
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(std::stoi(lines[0]), 4);
}

TEST(ProcessGroupTest, ChildIsLeaderOfItsOwnGroup) {
  ExitStatus status;
  auto lines = RunLines(Shell("ps -o pgid= -p $$ | tr -d ' '; echo $$"), &status);
  ASSERT_EQ(lines.size(), 2U);
  EXPECT_EQ(lines[0], lines[1]);
  EXPECT_NE(lines[0], std::to_string(::getpgrp()));
}

TEST(ProcessGroupTest, TerminateEscalatesToSigkillAfterGrace) {
  auto group = ProcessGroup::Start(Shell("trap '' TERM; echo ready; sleep 100"));
  ASSERT_TRUE(group) << group.error().message;
  // Wait until the trap is installed.
  std::vector<std::string> lines;
  LineReader reader([&](std::string_view line) { lines.emplace_back(line); });
  while (lines.empty()) {
    ASSERT_TRUE(PumpOutputFor(group->output_fd(), std::chrono::seconds(5),
                              [&](std::string_view bytes) { reader.Feed(bytes); }));
  }
  auto start = std::chrono::steady_clock::now();
  ExitStatus status = group->Terminate(std::chrono::milliseconds(300));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(status.timed_out_grace);
  EXPECT_EQ(status.signal, SIGKILL);
  EXPECT_EQ(status.exit_code, 128 + SIGKILL);
  EXPECT_EQ(status.Describe(), "killed by signal 9 (SIGKILL)");
  EXPECT_GE(took, std::chrono::milliseconds(300));
  EXPECT_LT(took, std::chrono::seconds(5));
  // A second call answers from the recorded status.
  EXPECT_EQ(group->Terminate(std::chrono::milliseconds(1)).signal, SIGKILL);
}

TEST(ProcessGroupTest, TerminateWithinGraceUsesSigterm) {
  auto group = ProcessGroup::Start(Shell("exec sleep 100"));
  ASSERT_TRUE(group);
  ExitStatus status = group->Terminate(std::chrono::seconds(10));
  EXPECT_FALSE(status.timed_out_grace);
  EXPECT_EQ(status.signal, SIGTERM);
  EXPECT_EQ(status.exit_code, 128 + SIGTERM);
}

TEST(ProcessGroupTest, TerminateLeavesNoGrandchildAlive) {
  auto group = ProcessGroup::Start(Shell("sleep 100 & echo $!; sleep 100 & echo $!; wait"));
  ASSERT_TRUE(group);
  std::vector<pid_t> pids;
  LineReader reader([&](std::string_view line) { pids.push_back(std::stoi(std::string(line))); });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (pids.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(PumpOutputFor(group->output_fd(), std::chrono::milliseconds(100),
                              [&](std::string_view bytes) { reader.Feed(bytes); }));
  }
  ASSERT_EQ(pids.size(), 2U);
  EXPECT_TRUE(Alive(pids[0]));
  group->Terminate(std::chrono::seconds(2));
  // The grandchildren were re-parented to init, which reaps them; give it a moment.
  for (pid_t pid : pids) {
    for (int attempt = 0; attempt < 200 && Alive(pid); ++attempt) {
      ::usleep(10000);
    }
    EXPECT_FALSE(Alive(pid)) << pid;
  }
}

TEST(ProcessGroupTest, LeaderExitKillsTheRestOfTheGroup) {
  ExitStatus status;
  // The background sleep keeps the pipe open; the group kill after the leader exits ends it.
  auto start = std::chrono::steady_clock::now();
  auto lines = RunLines(Shell("sleep 100 & echo $!; exit 0"), &status);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  ASSERT_EQ(lines.size(), 1U);
  pid_t pid = std::stoi(lines[0]);
  for (int attempt = 0; attempt < 200 && Alive(pid); ++attempt) {
    ::usleep(10000);
  }
  EXPECT_FALSE(Alive(pid));
  EXPECT_TRUE(status.Succeeded());
}

TEST(ProcessGroupTest, DestructorKillsARunningGroup) {
  pid_t pid = 0;
  {
    auto group = ProcessGroup::Start(Shell("exec sleep 100"));
    ASSERT_TRUE(group);
    pid = group->pid();
    EXPECT_FALSE(group->TryWait());
    ProcessGroup moved = std::move(*group);
    EXPECT_EQ(moved.pid(), pid);
  }
  EXPECT_FALSE(Alive(pid));
}

TEST(ProcessGroupTest, RunProcessTimesOut) {
  auto start = std::chrono::steady_clock::now();
  auto result = RunProcess(Shell("sleep 100"), {}, std::chrono::milliseconds(300));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::TEMPORARILY_UNAVAILABLE);
  EXPECT_THAT(result.error().message, HasSubstr("did not finish"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(ProcessGroupTest, ReapOrphansKillsEscapedDescendants) {
  // Fork a helper process so that becoming a subreaper does not affect the test binary.
  pid_t helper = ::fork();
  ASSERT_GE(helper, 0);
  if (helper == 0) {
    if (!BecomeSubreaper()) {
      ::_exit(10);
    }
    // setsid() takes the sleeper out of the group: the group kill cannot reach it.
    auto group = ProcessGroup::Start(Shell("setsid sleep 100 & exit 0"));
    if (!group) {
      ::_exit(11);
    }
    group->Wait();
    ::usleep(200000);  // let the re-parenting happen
    ::_exit(ReapOrphans() >= 1 && ReapOrphans() == 0 ? 0 : 12);
  }
  int wait_status = 0;
  ASSERT_EQ(::waitpid(helper, &wait_status, 0), helper);
  ASSERT_TRUE(WIFEXITED(wait_status));
  EXPECT_EQ(WEXITSTATUS(wait_status), 0);
}

TEST(LineReaderTest, SplitsLinesAcrossChunks) {
  std::vector<std::string> lines;
  LineReader reader([&](std::string_view line) { lines.emplace_back(line); }, 8);
  reader.Feed("ab");
  reader.Feed("c\nde\r\n\nf");
  reader.Feed("ghijklmnopq");
  reader.Finish();
  EXPECT_THAT(lines, ElementsAre("abc", "de", "", "fghijklm", "nopq"));
}

TEST(LineReaderTest, OneMegabyteWithoutNewlineIsSplit) {
  std::vector<std::size_t> sizes;
  ProcessSpec spec = Shell("head -c 1048576 /dev/zero | tr '\\0' x; echo; echo end");
  auto result = RunProcess(
      spec, [&](std::string_view line) { sizes.push_back(line.size()); }, std::chrono::seconds(20));
  ASSERT_TRUE(result);
  // 16 full pieces, the last ended by the newline right after it (however the pipe split the
  // bytes), then "end".
  ASSERT_EQ(sizes.size(), 1048576 / LineReader::kDefaultMaxLineBytes + 1);
  std::size_t total = 0;
  for (std::size_t idx = 0; idx + 1 < sizes.size(); ++idx) {
    EXPECT_EQ(sizes[idx], LineReader::kDefaultMaxLineBytes);
    total += sizes[idx];
  }
  EXPECT_EQ(total, 1048576U);
  EXPECT_EQ(sizes.back(), 3U);
}

TEST(LineReaderTest, LinesDoNotDependOnHowTheBytesWereSplit) {
  const std::string text = std::string(8, 'x') + "\n" + std::string(20, 'y') + "\nz";
  std::vector<std::string> whole;
  LineReader at_once([&](std::string_view line) { whole.emplace_back(line); }, 8);
  at_once.Feed(text);
  at_once.Finish();
  EXPECT_EQ(whole, (std::vector<std::string>{std::string(8, 'x'), std::string(8, 'y'),
                                             std::string(8, 'y'), std::string(4, 'y'), "z"}));
  for (std::size_t cut = 1; cut < text.size(); ++cut) {
    std::vector<std::string> split;
    LineReader in_two([&](std::string_view line) { split.emplace_back(line); }, 8);
    in_two.Feed(std::string_view(text).substr(0, cut));
    in_two.Feed(std::string_view(text).substr(cut));
    in_two.Finish();
    EXPECT_EQ(split, whole) << "split at " << cut;
  }
}

TEST(PumpOutputTest, StopsWhenRequested) {
  auto group = ProcessGroup::Start(Shell("exec sleep 100"));
  ASSERT_TRUE(group);
  std::stop_source stop;
  stop.request_stop();
  auto eof = PumpOutput(group->output_fd(), {}, {}, stop.get_token());
  ASSERT_TRUE(eof);
  EXPECT_FALSE(*eof);
  auto timed = PumpOutputFor(group->output_fd(), std::chrono::milliseconds(50), {});
  ASSERT_TRUE(timed);
  EXPECT_FALSE(*timed);
}

}  // namespace
}  // namespace mltf::runner
