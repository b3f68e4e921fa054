// slurm_commands.cpp - SLURM's client programs as child processes, stdout and stderr apart.
#include "gateway/executors/slurm/slurm_commands.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>

#include "runner/process/process_group.hpp"

namespace mltf::gateway::executors::slurm {
namespace {

/// Output beyond this is dropped: squeue for thousands of jobs stays far below it.
constexpr std::size_t kMaxOutputBytes = std::size_t{64} << 20U;
constexpr std::chrono::milliseconds kKillGrace{2000};

/// Reads what is available on `fd` into `into`; false at end of stream or on an error.
bool Drain(int fd, std::string& into) {
  std::array<char, 65536> buffer{};
  while (true) {
    const ssize_t got = ::read(fd, buffer.data(), buffer.size());
    if (got > 0) {
      if (into.size() < kMaxOutputBytes) into.append(buffer.data(), static_cast<std::size_t>(got));
      continue;
    }
    if (got < 0 && errno == EINTR) continue;
    return got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
}

}  // namespace

ProcessSlurmCommands::ProcessSlurmCommands(std::filesystem::path bin_dir,
                                           std::map<std::string, std::string> environment,
                                           std::chrono::milliseconds timeout)
    : bin_dir_(std::move(bin_dir)), environment_(std::move(environment)), timeout_(timeout) {}

Result<CommandOutput> ProcessSlurmCommands::Run(std::string_view program,
                                                const std::vector<std::string>& arguments) {
  runner::ProcessSpec spec{.environment = environment_, .merge_stderr = false};
  spec.argv.push_back(bin_dir_.empty() ? std::string(program) : (bin_dir_ / program).string());
  spec.argv.insert(spec.argv.end(), arguments.begin(), arguments.end());
  MLTF_ASSIGN_OR_RETURN(process, runner::ProcessGroup::Start(spec));

  CommandOutput output;
  bool out_open = true;
  bool err_open = true;
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  while (out_open || err_open) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      process.Terminate(kKillGrace);
      return Fail(Error::Unavailable(
          fmt::format("{} did not end within {} s", program, timeout_.count() / 1000)));
    }
    std::array<pollfd, 2> fds{{{.fd = out_open ? process.output_fd() : -1, .events = POLLIN},
                               {.fd = err_open ? process.error_fd() : -1, .events = POLLIN}}};
    if (::poll(fds.data(), fds.size(), static_cast<int>(left.count())) < 0 && errno != EINTR) {
      return Fail(Error::Internal(fmt::format("cannot watch {}: {}", program, strerror(errno))));
    }
    if (out_open && fds[0].revents != 0) out_open = Drain(process.output_fd(), output.out);
    if (err_open && fds[1].revents != 0) err_open = Drain(process.error_fd(), output.err);
  }
  output.exit_code = process.Wait().exit_code;
  return output;
}

}  // namespace mltf::gateway::executors::slurm
