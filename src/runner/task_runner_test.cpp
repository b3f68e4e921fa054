// task_runner_test.cpp - how the runner starts an entry point (a checkpoint request, SIGUSR1 to
// the whole process group, reaches a program that handles it and leaves the shell running), and
// whole attempts run by RunTask in a forked child: ranks, a failing rank, a SLURM requeue.
#include "runner/task_runner.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "gateway/executors/attempt_description.hpp"
#include "runner/process/process_group.hpp"

namespace mltf::runner {
namespace {

constexpr const char* kPython = "/usr/bin/python3";

/// A Python program that handles SIGUSR1 the way a training script asks for a checkpoint:
/// it says it is ready, waits up to 10 s for the signal, and reports what it saw.
const std::string kHandlesUsr1 =
    std::string(kPython) +
    " -c 'import signal, time\n"
    "got = []\n"
    "signal.signal(signal.SIGUSR1, lambda *_: got.append(1))\n"
    "print(\"ready\", flush=True)\n"
    "deadline = time.time() + 10\n"
    "while not got and time.time() < deadline: time.sleep(0.01)\n"
    "print(\"checkpoint requested\" if got else \"no signal\", flush=True)'";

/// Output of `group` until its end (at most 20 s); calls `on_ready` once when "ready" shows.
std::string OutputUntilEnd(ProcessGroup& group, const std::function<void()>& on_ready) {
  std::string output;
  bool ready = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    auto eof = PumpOutputFor(group.output_fd(), std::chrono::milliseconds(100),
                             [&](std::string_view bytes) { output.append(bytes); });
    if (!eof) return output + "<read error>";
    if (!ready && output.find("ready\n") != std::string::npos) {
      ready = true;
      on_ready();
    }
    if (*eof) break;
  }
  return output;
}

Result<ProcessGroup> StartEntryPoint(const std::string& command) {
  return ProcessGroup::Start({.argv = EntryPointArgv(command),
                              .environment = {{"PATH", "/usr/bin:/bin"}},
                              .working_directory = {},
                              .merge_stderr = true});
}

TEST(EntryPoint, AChildThatHandlesSigusr1KeepsRunningAndSeesIt) {
  if (::access(kPython, X_OK) != 0) GTEST_SKIP() << kPython << " is not installed";
  // The trailing command keeps the shell alive as the group's leader while Python runs.
  auto group = StartEntryPoint(kHandlesUsr1 + "; echo shell still there");
  ASSERT_TRUE(group) << group.error().message;
  const std::string output = OutputUntilEnd(*group, [&] { group->Signal(SIGUSR1); });
  const ExitStatus status = group->Wait();
  EXPECT_EQ(output, "ready\ncheckpoint requested\nshell still there\n");
  EXPECT_TRUE(status.Succeeded()) << status.Describe();
}

TEST(EntryPoint, TheLastCommandOfTheShellHandlesSigusr1Too) {
  if (::access(kPython, X_OK) != 0) GTEST_SKIP() << kPython << " is not installed";
  auto group = StartEntryPoint(kHandlesUsr1);
  ASSERT_TRUE(group) << group.error().message;
  const std::string output = OutputUntilEnd(*group, [&] { group->Signal(SIGUSR1); });
  const ExitStatus status = group->Wait();
  EXPECT_EQ(output, "ready\ncheckpoint requested\n");
  EXPECT_TRUE(status.Succeeded()) << status.Describe();
}

TEST(EntryPoint, WithoutTheTrapTheShellWouldDieOfSigusr1) {
  if (::access(kPython, X_OK) != 0) GTEST_SKIP() << kPython << " is not installed";
  // Why EntryPointArgv traps it: a bare `sh -c` ends by SIGUSR1, and its group with it.
  auto group = ProcessGroup::Start({.argv = {"/bin/sh", "-c", kHandlesUsr1 + "; echo after"},
                                    .environment = {{"PATH", "/usr/bin:/bin"}},
                                    .working_directory = {},
                                    .merge_stderr = true});
  ASSERT_TRUE(group) << group.error().message;
  OutputUntilEnd(*group, [&] { group->Signal(SIGUSR1); });
  const ExitStatus status = group->Wait();
  EXPECT_EQ(status.signal, SIGUSR1) << status.Describe();
}

TEST(EntryPoint, AProgramThatDoesNotHandleSigusr1EndsByIt) {
  // Programs start with the default action, as under SLURM: the trap is the shell's only.
  // "ready" comes from the program the shell became, so the signal cannot reach the shell.
  auto group = StartEntryPoint("exec /bin/sh -c 'echo ready; sleep 10'");
  ASSERT_TRUE(group) << group.error().message;
  OutputUntilEnd(*group, [&] { group->Signal(SIGUSR1); });
  const ExitStatus status = group->Wait();
  EXPECT_EQ(status.signal, SIGUSR1) << status.Describe();
}

TEST(EntryPoint, RunsTheCommandWithTheShell) {
  auto group = StartEntryPoint("echo \"$0\" one; exit 3");
  ASSERT_TRUE(group) << group.error().message;
  const std::string output = OutputUntilEnd(*group, [] {});
  EXPECT_EQ(output, "/bin/sh one\n");
  EXPECT_EQ(group->Wait().exit_code, 3);
}

namespace fs = std::filesystem;
using gateway::executors::AttemptDescription;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// A task directory with a packed project, and RunTask run on it in a forked child (RunTask
/// blocks signals and prints on stdout, so it gets a process of its own). The tracking server
/// is unreachable: uploads fail, which the runner notes in the log and otherwise ignores.
class RunTaskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    task_dir_ =
        fs::temp_directory_path() / fmt::format("mltf-run-task-{}-{}", ::getpid(), info->name());
    fs::remove_all(task_dir_);
    fs::create_directories(task_dir_ / "project");
    std::ofstream(task_dir_ / "project" / "MLproject") << "name: test\n";
    const std::string pack =
        fmt::format("tar -C '{}' -cf '{}' MLproject", (task_dir_ / "project").string(),
                    (task_dir_ / "project.tar").string());
    ASSERT_EQ(std::system(pack.c_str()), 0);  // NOLINT(cert-env33-c): a fixed command
  }
  void TearDown() override { fs::remove_all(task_dir_); }

  AttemptDescription Attempt(const std::string& command, int nodes, int tasks_per_node) {
    AttemptDescription attempt;
    attempt.task_id = "t1";
    attempt.attempt = 1;
    attempt.run_id = "r1";
    attempt.experiment_id = "0";
    attempt.artifact_uri = "mlflow-artifacts:/0/r1/artifacts";
    attempt.tracking_uri = "http://127.0.0.1:9";
    attempt.project_archive = task_dir_ / "project.tar";
    attempt.command = command;
    attempt.env_manager = "local";
    attempt.work_dir = task_dir_ / "attempt-1" / "work";
    attempt.output_dir = task_dir_ / "attempt-1" / "output";
    attempt.checkpoint_dir = task_dir_ / "checkpoints";
    attempt.log_file = task_dir_ / "task.log";
    attempt.result_file = task_dir_ / "attempt-1" / "result.json";
    attempt.grace_ms = 2000;
    attempt.nodes = nodes;
    attempt.tasks_per_node = tasks_per_node;
    return attempt;
  }

  /// Starts RunTask on `attempt` with `variables` added to the environment; returns its pid.
  pid_t Start(const AttemptDescription& attempt,
              const std::map<std::string, std::string>& variables = {}) {
    fs::create_directories(task_dir_ / "attempt-1");
    const fs::path attempt_file = task_dir_ / "attempt-1" / "attempt.json";
    EXPECT_TRUE(gateway::executors::WriteAttemptFile(attempt_file, attempt));
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int null_fd = ::open("/dev/null", O_WRONLY);
      ::dup2(null_fd, STDOUT_FILENO);
      ::dup2(null_fd, STDERR_FILENO);  // "cannot upload": no server, by design
      // As if no SLURM job ran this test, whatever ran it.
      for (const char* name :
           {"SLURM_NODEID", "SLURM_RESTART_COUNT", "MASTER_ADDR", "MASTER_PORT"}) {
        ::unsetenv(name);
      }
      for (const auto& [name, value] : variables) ::setenv(name.c_str(), value.c_str(), 1);
      ::_exit(RunTask(attempt_file));
    }
    return pid;
  }

  /// Waits for the runner `pid` to end (at most 60 s); its exit code, or -1.
  static int Wait(pid_t pid) {
    for (int tries = 0; tries < 6000; ++tries) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return -1;
  }

  /// Waits until `path` contains `text` (at most 20 s).
  static bool WaitForText(const fs::path& path, const std::string& text) {
    for (int tries = 0; tries < 2000; ++tries) {
      if (ReadFile(path).find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  fs::path task_dir_;
};

TEST_F(RunTaskTest, ASingleProcessGetsRankVariablesAndUnmarkedOutput) {
  const pid_t runner =
      Start(Attempt("echo rank=$RANK local=$LOCAL_RANK world=$WORLD_SIZE/$LOCAL_WORLD_SIZE "
                    "node=$NODE_RANK/$GROUP_RANK/$MLTF_NODE_RANK/$MLTF_NODES master=$MASTER_ADDR",
                    1, 1));
  EXPECT_EQ(Wait(runner), 0);
  const std::string log = ReadFile(task_dir_ / "task.log");
  EXPECT_NE(log.find("\nrank=0 local=0 world=1/1 node=0/0/0/1 master=127.0.0.1\n"),
            std::string::npos)
      << log;
  const auto result =
      gateway::executors::ReadAttemptResult(task_dir_ / "attempt-1" / "result.json");
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->reason, "exit code 0");
}

TEST_F(RunTaskTest, RanksAreMarkedAndAFailingRankStopsTheOthers) {
  // Rank 1 fails once rank 0 has printed; rank 0 would sleep for a minute unless stopped.
  const pid_t runner = Start(Attempt(
      "echo rank=$RANK local=$LOCAL_RANK world=$WORLD_SIZE/$LOCAL_WORLD_SIZE port=$MASTER_PORT; "
      "if [ $RANK = 1 ]; then until [ -e \"$MLTF_OUTPUT_DIR/0\" ]; do sleep 0.01; done; exit 3; "
      "fi; "
      "touch \"$MLTF_OUTPUT_DIR/0\"; sleep 60",
      1, 2));
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(Wait(runner), 3);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30));
  const std::string log = ReadFile(task_dir_ / "task.log");
  EXPECT_NE(log.find("[rank 0] rank=0 local=0 world=2/2 port="), std::string::npos) << log;
  EXPECT_NE(log.find("[rank 1] rank=1 local=1 world=2/2 port="), std::string::npos) << log;
  EXPECT_NE(log.find("rank 1 ended with exit code 3; stopping the entry point"), std::string::npos)
      << log;
  const auto result =
      gateway::executors::ReadAttemptResult(task_dir_ / "attempt-1" / "result.json");
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->exit_code, 3);
  EXPECT_EQ(result->reason, "rank 1: exit code 3");
}

TEST_F(RunTaskTest, Sigusr1IsACheckpointRequestForEveryRank) {
  if (::access(kPython, X_OK) != 0) GTEST_SKIP() << kPython << " is not installed";
  const pid_t runner = Start(Attempt(kHandlesUsr1, 1, 2));
  const fs::path log_file = task_dir_ / "task.log";
  ASSERT_TRUE(WaitForText(log_file, "[rank 0] ready") && WaitForText(log_file, "[rank 1] ready"))
      << ReadFile(log_file);
  ::kill(runner, SIGUSR1);
  EXPECT_EQ(Wait(runner), 0);
  const std::string log = ReadFile(log_file);
  EXPECT_NE(log.find("[mltf] received SIGUSR1: checkpoint requested"), std::string::npos) << log;
  EXPECT_NE(log.find("[rank 0] checkpoint requested"), std::string::npos) << log;
  EXPECT_NE(log.find("[rank 1] checkpoint requested"), std::string::npos) << log;
}

TEST_F(RunTaskTest, ALaterNodeOfARequeuedJobUsesItsOwnFilesInTheLaterAttempt) {
  const pid_t runner =
      Start(Attempt("echo rank=$RANK attempt=$MLTF_ATTEMPT out=$MLTF_OUTPUT_DIR", 2, 1),
            {{"SLURM_NODEID", "1"},
             {"SLURM_RESTART_COUNT", "2"},
             {"MASTER_ADDR", "127.0.0.1"},
             {"MASTER_PORT", "29500"}});
  EXPECT_EQ(Wait(runner), 0);
  const std::string log = ReadFile(task_dir_ / "task-node1.log");
  EXPECT_NE(log.find("[mltf] requeued by SLURM (restart 2): this is attempt 3"), std::string::npos)
      << log;
  EXPECT_NE(log.find(fmt::format("[rank 1] rank=1 attempt=3 out={}",
                                 (task_dir_ / "attempt-3" / "output").string())),
            std::string::npos)
      << log;
  EXPECT_FALSE(fs::exists(task_dir_ / "task.log"));
  EXPECT_TRUE(fs::is_directory(task_dir_ / "attempt-3" / "work-node1"));
  EXPECT_FALSE(fs::exists(task_dir_ / "attempt-3" / "user.pgid"));  // node 0's
  const auto result =
      gateway::executors::ReadAttemptResult(task_dir_ / "attempt-3" / "result-node1.json");
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->exit_code, 0);
}

TEST_F(RunTaskTest, SeveralNodesWithoutAMasterAreRefused) {
  const pid_t runner = Start(Attempt("true", 2, 1), {{"SLURM_NODEID", "0"}});
  EXPECT_EQ(Wait(runner), 2);
}

}  // namespace
}  // namespace mltf::runner
