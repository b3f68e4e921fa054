// validation.hpp - MLflow's input rules (mlflow/utils/validation.py): names, lengths, batch limits.
#pragma once

#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "tracking/entities/entities.hpp"

namespace mltf::tracking {

inline constexpr std::size_t kMaxKeyLength = 250;
inline constexpr std::size_t kMaxParamValueLength = 6000;
inline constexpr std::size_t kMaxTagValueLength = 5000;
inline constexpr std::size_t kMaxExperimentTagValueLength = 5000;
inline constexpr std::size_t kMaxMetricsPerBatch = 1000;
inline constexpr std::size_t kMaxParamsTagsPerBatch = 100;
inline constexpr std::size_t kMaxEntitiesPerBatch = 1000;
inline constexpr std::int64_t kMaxSearchResults = 50000;
inline constexpr std::int64_t kDefaultSearchResults = 1000;

/// `kind` is "metric", "param" or "tag" (used in messages). Fails with INVALID_PARAMETER_VALUE.
Result<void> ValidateKey(std::string_view kind, std::string_view key);
Result<void> ValidateParam(const Param& param);
Result<void> ValidateTag(const Tag& tag);
Result<void> ValidateExperimentTag(const Tag& tag);
Result<void> ValidateMetric(const Metric& metric);
/// Counts and uniqueness of a log-batch request.
Result<void> ValidateBatch(const std::vector<Metric>& metrics, const std::vector<Param>& params,
                           const std::vector<Tag>& tags);
/// MLflow's run id rule: `^[a-zA-Z0-9][\w\-]{0,255}$`.
Result<void> ValidateRunId(std::string_view run_id);
/// 1 <= max_results <= 50000.
Result<void> ValidateMaxResults(std::int64_t max_results, std::int64_t limit = kMaxSearchResults);

}  // namespace mltf::tracking
