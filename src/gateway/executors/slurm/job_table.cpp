// job_table.cpp - parsers of squeue, sacct and sbatch output for batched polling.
#include "gateway/executors/slurm/job_table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <utility>

namespace mltf::gateway::executors::slurm {
namespace {

constexpr std::size_t kSqueueFields = 4;
constexpr std::size_t kSacctFields = 8;
constexpr std::size_t kMaxJobIdLength = 64;
constexpr std::size_t kMaxQuotedLength = 80;

bool IsDigit(char chr) { return chr >= '0' && chr <= '9'; }

std::string_view Trim(std::string_view text) {
  constexpr std::string_view kBlank = " \t\r\n";
  const std::size_t first = text.find_first_not_of(kBlank);
  if (first == std::string_view::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(kBlank) - first + 1);
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    const std::size_t at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) {
      return parts;
    }
    text = text.substr(at + 1);
  }
}

std::vector<std::string_view> Lines(std::string_view output) { return Split(output, '\n'); }

std::string Quote(std::string_view text) {
  std::string quoted;
  for (const char chr : text.substr(0, std::min(text.size(), kMaxQuotedLength))) {
    const auto byte = static_cast<unsigned char>(chr);
    quoted += (byte < 0x20 || byte >= 0x7f) ? fmt::format("\\x{:02x}", byte) : std::string(1, chr);
  }
  return text.size() > kMaxQuotedLength ? quoted + "..." : quoted;
}

// "123.batch" -> true when the part before the dot is a job id.
bool IsStepOf(std::string_view text) {
  const std::size_t dot = text.find('.');
  return dot != std::string_view::npos && dot + 1 < text.size() &&
         IsSlurmJobId(text.substr(0, dot));
}

}  // namespace

JobOutcome SlurmJobRecord::outcome() const {
  return OutcomeOf(phase, exit_code, derived_exit_code);
}

bool IsSlurmJobId(std::string_view text) {
  if (text.empty() || text.size() > kMaxJobIdLength) {
    return false;
  }
  std::size_t at = 0;
  while (at < text.size() && IsDigit(text[at])) {
    ++at;
  }
  if (at == 0) {
    return false;
  }
  if (at == text.size()) {
    return true;
  }
  // One suffix: "_<index>" (array task) or "+<offset>" (het-job component).
  if (text[at] != '_' && text[at] != '+') {
    return false;
  }
  const std::string_view rest = text.substr(at + 1);
  return !rest.empty() && std::all_of(rest.begin(), rest.end(), IsDigit);
}

std::string JobIdList(const std::vector<std::string>& job_ids) {
  std::string list;
  std::set<std::string_view> seen;
  for (const auto& id : job_ids) {
    if (!IsSlurmJobId(id) || !seen.insert(id).second) {
      continue;
    }
    list += list.empty() ? "" : ",";
    list += id;
  }
  return list;
}

std::vector<std::string> SqueueArguments(const std::vector<std::string>& job_ids) {
  return {"--noheader", "--states=all", fmt::format("--jobs={}", JobIdList(job_ids)),
          fmt::format("--format={}", kSqueueFormat)};
}

std::vector<std::string> SacctArguments(const std::vector<std::string>& job_ids) {
  return {"--noheader", "--parsable2", "--duplicates", fmt::format("--jobs={}", JobIdList(job_ids)),
          fmt::format("--format={}", kSacctFormat)};
}

SlurmJobTable ParseSqueue(std::string_view output) {
  SlurmJobTable table;
  for (const auto raw : Lines(output)) {
    const std::string_view line = Trim(raw);
    if (line.empty()) {
      continue;
    }
    const auto fields = Split(line, '|');
    const std::string_view id = fields.empty() ? std::string_view() : Trim(fields[0]);
    if (fields.size() != kSqueueFields || !IsSlurmJobId(id)) {
      ++table.skipped_lines;
      continue;
    }
    SlurmJobRecord record;
    record.job_id = std::string(id);
    record.state = std::string(Trim(fields[1]));
    record.phase = ParseSlurmState(record.state);
    record.reason = std::string(Trim(fields[2]));
    record.node_list = std::string(Trim(fields[3]));
    table.jobs[record.job_id] = std::move(record);
  }
  return table;
}

SlurmJobTable ParseSacct(std::string_view output) {
  SlurmJobTable table;
  for (const auto raw : Lines(output)) {
    const std::string_view line = Trim(raw);
    if (line.empty()) {
      continue;
    }
    const auto fields = Split(line, '|');
    const std::string_view id = fields.empty() ? std::string_view() : Trim(fields[0]);
    if (fields.size() != kSacctFields) {
      ++table.skipped_lines;
      continue;
    }
    if (IsStepOf(id)) {
      continue;
    }
    if (!IsSlurmJobId(id)) {
      ++table.skipped_lines;
      continue;
    }
    SlurmJobRecord record;
    record.job_id = std::string(id);
    record.state = std::string(Trim(fields[1]));
    record.phase = ParseSlurmState(record.state);
    record.exit_code = std::string(Trim(fields[2]));
    record.derived_exit_code = std::string(Trim(fields[3]));
    record.reason = std::string(Trim(fields[4]));
    record.node_list = std::string(Trim(fields[5]));
    record.start = std::string(Trim(fields[6]));
    record.end = std::string(Trim(fields[7]));
    auto [it, inserted] = table.jobs.try_emplace(record.job_id);
    if (!inserted) {
      // sacct --duplicates lists a requeued job's attempts in order: the last row is the latest.
      record.earlier_phases = std::move(it->second.earlier_phases);
      record.earlier_phases.push_back(it->second.phase);
    }
    it->second = std::move(record);
  }
  return table;
}

Result<SubmittedJob> ParseSbatchOutput(std::string_view output) {
  std::string_view last;
  for (const auto raw : Lines(output)) {
    if (const auto line = Trim(raw); !line.empty()) {
      last = line;
    }
  }
  SubmittedJob job;
  const std::size_t semicolon = last.find(';');
  const std::string_view id = Trim(last.substr(0, semicolon));
  if (!IsSlurmJobId(id) || id.find_first_of("_+") != std::string_view::npos) {
    return Fail(Error::Internal(
        fmt::format("sbatch --parsable printed '{}' instead of a job id", Quote(Trim(output)))));
  }
  job.job_id = std::string(id);
  if (semicolon != std::string_view::npos) {
    job.cluster = std::string(Trim(last.substr(semicolon + 1)));
  }
  return job;
}

}  // namespace mltf::gateway::executors::slurm
