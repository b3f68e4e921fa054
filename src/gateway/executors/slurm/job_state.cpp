// job_state.cpp - SLURM state names and codes to phases, and phases to attempt outcomes.
#include "gateway/executors/slurm/job_state.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

namespace mltf::gateway::executors::slurm {
namespace {

constexpr int kSignalBase = 128;
constexpr int kMaxSignal = 64;
constexpr int kSigterm = 143;
constexpr int kSigkill = 137;

// Every state of squeue(1) "JOB STATE CODES", long name and short code, and what it is to MLTF.
struct StateName {
  std::string_view name;
  std::string_view code;
  SlurmJobPhase phase;
};
constexpr std::array<StateName, 25> kStates = {{
    {"PENDING", "PD", SlurmJobPhase::PENDING},
    {"CONFIGURING", "CF", SlurmJobPhase::PENDING},  // nodes booting: the runner is not up yet
    {"RESV_DEL_HOLD", "RD", SlurmJobPhase::PENDING},
    {"REQUEUE_FED", "RF", SlurmJobPhase::REQUEUED},
    {"REQUEUE_HOLD", "RH", SlurmJobPhase::REQUEUED},
    {"REQUEUED", "RQ", SlurmJobPhase::REQUEUED},
    {"RUNNING", "R", SlurmJobPhase::RUNNING},
    {"COMPLETING", "CG", SlurmJobPhase::RUNNING},  // the final state comes after
    {"RESIZING", "RS", SlurmJobPhase::RUNNING},
    {"SIGNALING", "SI", SlurmJobPhase::RUNNING},
    {"STAGE_OUT", "SO", SlurmJobPhase::RUNNING},
    {"SUSPENDED", "S", SlurmJobPhase::SUSPENDED},
    {"STOPPED", "ST", SlurmJobPhase::SUSPENDED},
    {"COMPLETED", "CD", SlurmJobPhase::COMPLETED},
    {"FAILED", "F", SlurmJobPhase::FAILED},
    {"SPECIAL_EXIT", "SE", SlurmJobPhase::FAILED},
    {"CANCELLED", "CA", SlurmJobPhase::CANCELLED},
    {"REVOKED", "RV", SlurmJobPhase::CANCELLED},  // a federation sibling started elsewhere
    {"TIMEOUT", "TO", SlurmJobPhase::TIMEOUT},
    {"OUT_OF_MEMORY", "OOM", SlurmJobPhase::OUT_OF_MEMORY},
    {"NODE_FAIL", "NF", SlurmJobPhase::NODE_FAIL},
    {"PREEMPTED", "PR", SlurmJobPhase::PREEMPTED},
    {"BOOT_FAIL", "BF", SlurmJobPhase::BOOT_FAIL},
    {"DEADLINE", "DL", SlurmJobPhase::DEADLINE},
    {"UNKNOWN", "", SlurmJobPhase::UNKNOWN},
}};

char ToUpper(char chr) {
  return (chr >= 'a' && chr <= 'z') ? static_cast<char>(chr - 'a' + 'A') : chr;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' ||
                           text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}

std::optional<int> ParseNumber(std::string_view text) {
  int value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || ptr != end || value < 0) {
    return std::nullopt;
  }
  return value;
}

// The job's own nonzero status from ExitCode, else from DerivedExitCode.
std::optional<int> OwnStatus(std::string_view exit_code, std::string_view derived_exit_code) {
  for (const auto text : {exit_code, derived_exit_code}) {
    if (const auto code = ParseExitCode(text); code && *code != 0) {
      return code;
    }
  }
  return std::nullopt;
}

std::string StatusReason(int code) {
  if (code > kSignalBase && code <= kSignalBase + kMaxSignal) {
    return fmt::format("exit code {} (signal {})", code, code - kSignalBase);
  }
  return fmt::format("exit code {}", code);
}

JobOutcome Ended(std::optional<int> own, int stand_in, std::string reason, bool final) {
  JobOutcome outcome;
  outcome.finished = true;
  outcome.exit_code = own.value_or(stand_in);
  outcome.reason = std::move(reason);
  outcome.final = final;
  return outcome;
}

}  // namespace

std::string_view SlurmJobPhaseName(SlurmJobPhase phase) {
  switch (phase) {
    case SlurmJobPhase::PENDING:
      return "PENDING";
    case SlurmJobPhase::RUNNING:
      return "RUNNING";
    case SlurmJobPhase::COMPLETED:
      return "COMPLETED";
    case SlurmJobPhase::FAILED:
      return "FAILED";
    case SlurmJobPhase::CANCELLED:
      return "CANCELLED";
    case SlurmJobPhase::TIMEOUT:
      return "TIMEOUT";
    case SlurmJobPhase::OUT_OF_MEMORY:
      return "OUT_OF_MEMORY";
    case SlurmJobPhase::NODE_FAIL:
      return "NODE_FAIL";
    case SlurmJobPhase::PREEMPTED:
      return "PREEMPTED";
    case SlurmJobPhase::REQUEUED:
      return "REQUEUED";
    case SlurmJobPhase::BOOT_FAIL:
      return "BOOT_FAIL";
    case SlurmJobPhase::DEADLINE:
      return "DEADLINE";
    case SlurmJobPhase::SUSPENDED:
      return "SUSPENDED";
    case SlurmJobPhase::UNKNOWN:
      return "UNKNOWN";
  }
  return "UNKNOWN";
}

SlurmJobPhase ParseSlurmState(std::string_view text) {
  text = Trim(text);
  // sacct: "CANCELLED by 1000"; without --parsable2 a cut name ends in '+'.
  text = text.substr(0, text.find(' '));
  if (!text.empty() && text.back() == '+') {
    text.remove_suffix(1);
  }
  if (text.empty()) {
    return SlurmJobPhase::UNKNOWN;
  }
  std::string upper(text);
  std::transform(upper.begin(), upper.end(), upper.begin(), ToUpper);
  for (const auto& state : kStates) {
    if (upper == state.name || upper == state.code) {
      return state.phase;
    }
  }
  return SlurmJobPhase::UNKNOWN;
}

std::optional<int> ParseExitCode(std::string_view text) {
  text = Trim(text);
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return std::nullopt;
  }
  const auto code = ParseNumber(text.substr(0, colon));
  const auto signal = ParseNumber(text.substr(colon + 1));
  if (!code || !signal || *code > 255) {
    return std::nullopt;
  }
  if (*signal == 0) {
    return code;
  }
  if (*signal > kMaxSignal) {
    return std::nullopt;
  }
  return kSignalBase + *signal;
}

JobOutcome OutcomeOf(SlurmJobPhase phase, std::string_view exit_code,
                     std::string_view derived_exit_code) {
  const auto own = OwnStatus(exit_code, derived_exit_code);
  switch (phase) {
    case SlurmJobPhase::PENDING:
    case SlurmJobPhase::RUNNING:
    case SlurmJobPhase::SUSPENDED:
    case SlurmJobPhase::UNKNOWN:
      return JobOutcome{};
    case SlurmJobPhase::COMPLETED:
      return Ended(0, 0, "completed", false);
    case SlurmJobPhase::FAILED: {
      const int code = own.value_or(1);
      return Ended(code, 1, StatusReason(code), false);
    }
    case SlurmJobPhase::TIMEOUT:
      return Ended(own, kSigterm, "walltime exceeded", true);
    case SlurmJobPhase::OUT_OF_MEMORY:
      return Ended(own, kSigkill, "out of memory", true);
    case SlurmJobPhase::NODE_FAIL:
      return Ended(own, kSigkill, "node failure", false);
    case SlurmJobPhase::BOOT_FAIL:
      return Ended(own, 1, "node boot failure", false);
    case SlurmJobPhase::DEADLINE:
      return Ended(own, kSigterm, "deadline passed", true);
    case SlurmJobPhase::CANCELLED: {
      JobOutcome outcome = Ended(own, kSigterm, "cancelled", false);
      outcome.cancelled = true;
      return outcome;
    }
    case SlurmJobPhase::PREEMPTED:
    case SlurmJobPhase::REQUEUED: {
      JobOutcome outcome;
      outcome.finished = true;
      outcome.requeued = true;
      outcome.reason = phase == SlurmJobPhase::PREEMPTED ? "preempted" : "requeued";
      return outcome;
    }
  }
  return JobOutcome{};
}

}  // namespace mltf::gateway::executors::slurm
