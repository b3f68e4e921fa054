// task_format.hpp - how the task commands show tasks to people: the `mltf tasks` table, the
// `mltf show` details, durations and local times. Pure functions of the server's JSON.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace mltf::cli {

/// True for SUCCEEDED, FAILED and CANCELLED. Does not fail.
bool IsTerminalState(std::string_view state);

/// A duration in ms, to the second: "42s", "3m 07s", "2h 05m", "3d 04h"; "-" when negative.
/// Does not fail.
std::string FormatDuration(std::int64_t ms);

/// Epoch ms as local "YYYY-MM-DD HH:MM:SS" (the TZ of the process). Does not fail.
std::string FormatLocalTime(std::int64_t epoch_ms);

/// A field of the server's JSON for display: strings as they are, numbers as written, "-"
/// when absent or null. Control characters become spaces, so a hostile server cannot drive
/// the terminal. Does not fail.
std::string DisplayField(const nlohmann::json& object, std::string_view key);

/// How long a task ran: started_at to ended_at, or to `now_ms` while it runs; "-" when it
/// has not started. Does not fail.
std::string TaskDuration(const nlohmann::json& task, std::int64_t now_ms);

/// The `mltf tasks` table (TASK ID, STATE, USER, EXPERIMENT, RUN ID, ENTRY, SUBMITTED,
/// DURATION), columns as wide as their widest cell, one line per task, ending in a newline.
/// Entries that are not objects are skipped. Does not fail.
std::string FormatTaskTable(const nlohmann::json& tasks, std::int64_t now_ms);

/// `mltf show`: the task's fields, then its attempts and events, one per line. Does not fail.
std::string FormatTaskDetails(const nlohmann::json& task, std::int64_t now_ms);

}  // namespace mltf::cli
