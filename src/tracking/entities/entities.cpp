// entities.cpp - enum spellings on the wire.
#include "tracking/entities/entities.hpp"

namespace mltf::tracking {

std::string_view LifecycleStageName(LifecycleStage stage) {
  return stage == LifecycleStage::ACTIVE ? "active" : "deleted";
}

std::optional<LifecycleStage> ParseLifecycleStage(std::string_view text) {
  if (text == "active") return LifecycleStage::ACTIVE;
  if (text == "deleted") return LifecycleStage::DELETED;
  return std::nullopt;
}

std::string_view RunStatusName(RunStatus status) {
  switch (status) {
    case RunStatus::RUNNING:
      return "RUNNING";
    case RunStatus::SCHEDULED:
      return "SCHEDULED";
    case RunStatus::FINISHED:
      return "FINISHED";
    case RunStatus::FAILED:
      return "FAILED";
    case RunStatus::KILLED:
      return "KILLED";
  }
  return "RUNNING";
}

std::optional<RunStatus> ParseRunStatus(std::string_view text) {
  for (auto status : {RunStatus::RUNNING, RunStatus::SCHEDULED, RunStatus::FINISHED,
                      RunStatus::FAILED, RunStatus::KILLED}) {
    if (RunStatusName(status) == text) return status;
  }
  return std::nullopt;
}

std::optional<ViewType> ParseViewType(std::string_view text) {
  if (text == "ACTIVE_ONLY") return ViewType::ACTIVE_ONLY;
  if (text == "DELETED_ONLY") return ViewType::DELETED_ONLY;
  if (text == "ALL") return ViewType::ALL;
  return std::nullopt;
}

bool IsTerminal(RunStatus status) {
  return status == RunStatus::FINISHED || status == RunStatus::FAILED ||
         status == RunStatus::KILLED;
}

}  // namespace mltf::tracking
