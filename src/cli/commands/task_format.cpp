// task_format.cpp - tables and details of tasks for the terminal.
#include "cli/commands/task_format.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <ctime>
#include <optional>
#include <vector>

namespace mltf::cli {
namespace {

std::string Clean(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) c = ' ';
  }
  return out;
}

std::optional<std::int64_t> IntField(const nlohmann::json& object, std::string_view key) {
  if (!object.is_object()) return std::nullopt;
  const auto it = object.find(key);
  if (it == object.end()) return std::nullopt;
  if (it->is_number_integer() && !it->is_number_unsigned()) return it->get<std::int64_t>();
  if (it->is_number_unsigned()) {
    const auto value = it->get<std::uint64_t>();
    if (value > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(value);
  }
  if (it->is_number_float()) {
    const double value = it->get<double>();
    // Outside this range the conversion is undefined; no real time stamp is near it.
    if (!(value > -9e18 && value < 9e18)) return std::nullopt;
    return static_cast<std::int64_t>(value);
  }
  return std::nullopt;
}

std::string TimeField(const nlohmann::json& object, std::string_view key) {
  const auto value = IntField(object, key);
  return value ? FormatLocalTime(*value) : "-";
}

}  // namespace

bool IsTerminalState(std::string_view state) {
  return state == "SUCCEEDED" || state == "FAILED" || state == "CANCELLED";
}

std::string FormatDuration(std::int64_t ms) {
  if (ms < 0) return "-";
  const std::int64_t seconds = ms / 1000;
  if (seconds < 60) return fmt::format("{}s", seconds);
  if (seconds < 3600) return fmt::format("{}m {:02}s", seconds / 60, seconds % 60);
  if (seconds < 86400) return fmt::format("{}h {:02}m", seconds / 3600, seconds % 3600 / 60);
  return fmt::format("{}d {:02}h", seconds / 86400, seconds % 86400 / 3600);
}

std::string FormatLocalTime(std::int64_t epoch_ms) {
  const std::time_t seconds = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm local{};
  if (localtime_r(&seconds, &local) == nullptr) return "-";
  std::array<char, 32> buffer{};
  const auto length = std::strftime(buffer.data(), buffer.size(), "%Y-%m-%d %H:%M:%S", &local);
  return length == 0 ? "-" : std::string(buffer.data(), length);
}

std::string DisplayField(const nlohmann::json& object, std::string_view key) {
  if (!object.is_object()) return "-";
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return "-";
  if (it->is_string()) {
    const auto& text = it->get_ref<const std::string&>();
    return text.empty() ? "-" : Clean(text);
  }
  return Clean(it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string TaskDuration(const nlohmann::json& task, std::int64_t now_ms) {
  const auto started = IntField(task, "started_at");
  if (!started) return "-";
  const auto ended = IntField(task, "ended_at");
  return FormatDuration(ended.value_or(now_ms) - *started);
}

std::string FormatTaskTable(const nlohmann::json& tasks, std::int64_t now_ms) {
  std::vector<std::array<std::string, 8>> rows = {
      {"TASK ID", "STATE", "USER", "EXPERIMENT", "RUN ID", "ENTRY", "SUBMITTED", "DURATION"}};
  if (tasks.is_array()) {
    for (const auto& task : tasks) {
      if (!task.is_object()) continue;
      rows.push_back({DisplayField(task, "task_id"), DisplayField(task, "state"),
                      DisplayField(task, "user"), DisplayField(task, "experiment_id"),
                      DisplayField(task, "run_id"), DisplayField(task, "entry_point"),
                      TimeField(task, "submitted_at"), TaskDuration(task, now_ms)});
    }
  }
  std::array<std::size_t, 8> widths{};
  for (const auto& row : rows) {
    for (std::size_t column = 0; column < row.size(); ++column) {
      widths[column] = std::max(widths[column], row[column].size());
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t column = 0; column < row.size(); ++column) {
      if (column + 1 == row.size()) {
        line += row[column];
      } else {
        line += fmt::format("{:<{}}  ", row[column], widths[column]);
      }
    }
    out += line + "\n";
  }
  return out;
}

std::string FormatTaskDetails(const nlohmann::json& task, std::int64_t now_ms) {
  std::string out;
  auto line = [&out](std::string_view label, const std::string& value) {
    out += fmt::format("{:<13} {}\n", std::string(label) + ":", value);
  };
  line("Task", DisplayField(task, "task_id"));
  line("State", DisplayField(task, "state"));
  if (const auto reason = DisplayField(task, "reason"); reason != "-") line("Reason", reason);
  line("User", DisplayField(task, "user"));
  line("Experiment", DisplayField(task, "experiment_id"));
  line("Run", DisplayField(task, "run_id"));
  line("Project", DisplayField(task, "project"));
  line("Entry point", DisplayField(task, "entry_point"));
  line("Parameters", DisplayField(task, "parameters"));
  line("Command", DisplayField(task, "command"));
  line("Resources", DisplayField(task, "resources"));
  line("Executor", DisplayField(task, "executor"));
  if (const auto gpus = DisplayField(task, "gpus"); gpus != "-") line("GPUs", gpus);
  line("Priority", DisplayField(task, "priority"));
  line("Attempt", fmt::format("{} (max retries {})", DisplayField(task, "attempt"),
                              DisplayField(task, "max_retries")));
  line("Submitted", TimeField(task, "submitted_at"));
  line("Started", TimeField(task, "started_at"));
  line("Ended", TimeField(task, "ended_at"));
  line("Duration", TaskDuration(task, now_ms));
  if (const auto code = DisplayField(task, "exit_code"); code != "-") line("Exit code", code);

  const nlohmann::json attempts =
      task.is_object() ? task.value("attempts", nlohmann::json()) : nlohmann::json();
  if (attempts.is_array() && !attempts.empty()) {
    out += "\nAttempts:\n";
    for (const auto& attempt : attempts) {
      if (!attempt.is_object()) continue;
      out += fmt::format("  #{} {} started {} ended {} exit {} executor id {}",
                         DisplayField(attempt, "attempt"), DisplayField(attempt, "state"),
                         TimeField(attempt, "started_at"), TimeField(attempt, "ended_at"),
                         DisplayField(attempt, "exit_code"), DisplayField(attempt, "executor_id"));
      if (const auto reason = DisplayField(attempt, "reason"); reason != "-") {
        out += " (" + reason + ")";
      }
      out += "\n";
    }
  }
  const nlohmann::json events =
      task.is_object() ? task.value("events", nlohmann::json()) : nlohmann::json();
  if (events.is_array() && !events.empty()) {
    out += "\nEvents:\n";
    for (const auto& event : events) {
      if (!event.is_object()) continue;
      out += fmt::format("  {}  {:<10} {}\n", TimeField(event, "time"),
                         DisplayField(event, "state"), DisplayField(event, "reason"));
    }
  }
  return out;
}

}  // namespace mltf::cli
