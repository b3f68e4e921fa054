// runner_pool_test.cpp - the runner pool's protocol, with a pool forked from the test and a
// fake attempt that reports what it saw.
#include "runner/runner_pool.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mltf::runner {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

/// The fake attempt: writes its environment variable X and its process group into the file
/// named by the attempt, then exits with the number written in the file's name (".../7").
int FakeAttempt(const fs::path& attempt_file) {
  const char* value = std::getenv("X");
  std::ofstream(attempt_file.string() + ".seen")
      << (value != nullptr ? value : "") << " " << (::getpgrp() == ::getpid()) << "\n";
  return std::stoi(attempt_file.filename().string());
}

/// A pool in a forked child, talking through two pipes.
class PoolProcess {
 public:
  PoolProcess() {
    int to_pool[2];
    int from_pool[2];
    EXPECT_EQ(::pipe(to_pool), 0);
    EXPECT_EQ(::pipe(from_pool), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(to_pool[0], STDIN_FILENO);
      ::dup2(from_pool[1], STDOUT_FILENO);
      for (int fd : {to_pool[0], to_pool[1], from_pool[0], from_pool[1]}) ::close(fd);
      ::_exit(ServeAttempts(FakeAttempt));
    }
    ::close(to_pool[0]);
    ::close(from_pool[1]);
    input_ = to_pool[1];
    output_ = from_pool[0];
  }
  PoolProcess(const PoolProcess&) = delete;
  PoolProcess& operator=(const PoolProcess&) = delete;
  ~PoolProcess() {
    CloseInput();
    ::close(output_);
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  void Send(const json& request) { SendRaw(request.dump() + "\n"); }
  void SendRaw(const std::string& text) {
    ASSERT_EQ(::write(input_, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
  void CloseInput() {
    if (input_ >= 0) ::close(input_);
    input_ = -1;
  }
  /// The next protocol message (the "@mltf " prefix removed); null at the end or after 10 s.
  json Next() {
    while (true) {
      const auto newline = buffer_.find('\n');
      if (newline != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        EXPECT_EQ(line.rfind("@mltf ", 0), 0U) << line;
        return json::parse(line.substr(6), nullptr, false);
      }
      pollfd fd{.fd = output_, .events = POLLIN, .revents = 0};
      if (::poll(&fd, 1, 10000) <= 0) return nullptr;
      char chunk[4096];
      const ssize_t got = ::read(output_, chunk, sizeof chunk);
      if (got <= 0) return nullptr;
      buffer_.append(chunk, static_cast<std::size_t>(got));
    }
  }
  int WaitForExit() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  int input_ = -1;
  int output_ = -1;
  std::string buffer_;
};

class RunnerPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mltf-pool-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(RunnerPoolTest, ForksAChildPerAttemptAndReportsStartAndExit) {
  PoolProcess pool;
  pool.Send({{"attempt_file", (dir_ / "3").string()}, {"environment", {{"X", "first"}}}});
  pool.Send({{"attempt_file", (dir_ / "0").string()}, {"environment", {{"X", "second"}}}});
  std::map<int, std::string> started;  // pid -> attempt file
  std::map<int, int> exited;           // pid -> exit code
  while (exited.size() < 2) {
    const json message = pool.Next();
    ASSERT_TRUE(message.is_object()) << "the pool stopped answering";
    if (message["event"] == "started") {
      started[message["pid"].get<int>()] = message["attempt_file"].get<std::string>();
    } else if (message["event"] == "exited") {
      EXPECT_TRUE(started.contains(message["pid"].get<int>())) << "exit before start";
      exited[message["pid"].get<int>()] = message["exit_code"].get<int>();
    }
  }
  for (const auto& [pid, file] : started) {
    EXPECT_EQ(exited.at(pid), file.ends_with("/3") ? 3 : 0);
  }
  std::ifstream first(dir_ / "3.seen");
  std::string value;
  int own_group = 0;
  first >> value >> own_group;
  EXPECT_EQ(value, "first");
  EXPECT_EQ(own_group, 1) << "each runner leads its own process group";
  std::ifstream second(dir_ / "0.seen");
  second >> value;
  EXPECT_EQ(value, "second");

  pool.CloseInput();
  EXPECT_EQ(pool.WaitForExit(), 0);
}

TEST_F(RunnerPoolTest, MalformedRequestsAreIgnored) {
  PoolProcess pool;
  pool.SendRaw("not json\n{\"no_attempt\": 1}\n[]\n");
  pool.Send({{"attempt_file", (dir_ / "5").string()}});
  pool.CloseInput();
  json message;
  int exit_code = -1;
  while ((message = pool.Next()).is_object()) {
    if (message["event"] == "exited") exit_code = message["exit_code"].get<int>();
  }
  EXPECT_EQ(exit_code, 5);
  EXPECT_EQ(pool.WaitForExit(), 0);
}

TEST(RunningAnnouncementTest, IsAProtocolLine) {
  const std::string line = RunningAnnouncement("/data/tasks/t/attempt-1/attempt.json");
  ASSERT_EQ(line.rfind("@mltf ", 0), 0U);
  const json message = json::parse(line.substr(6));
  EXPECT_EQ(message["event"], "running");
  EXPECT_EQ(message["attempt_file"], "/data/tasks/t/attempt-1/attempt.json");
}

}  // namespace
}  // namespace mltf::runner
