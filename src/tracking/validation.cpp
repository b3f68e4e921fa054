// validation.cpp - the rules and MLflow's wording of their errors.
#include "tracking/validation.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <set>

namespace mltf::tracking {
namespace {

bool IsNameByte(unsigned char byte) {
  // Python's \w is Unicode-aware: every non-ASCII letter passes, so UTF-8 bytes do too.
  return std::isalnum(byte) != 0 || byte == '_' || byte == '/' || byte == '.' || byte == '-' ||
         byte == ' ' || byte >= 0x80;
}

/// True when the name would resolve to another name as a path (posixpath.normpath(name) != name).
bool PathNotUnique(std::string_view name) {
  if (name.empty()) return false;
  if (name.front() == '/' || name.back() == '/') return true;
  if (name == "." || name.starts_with("./") || name.find("//") != std::string_view::npos) {
    return true;
  }
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t slash = name.find('/', start);
    std::string_view part =
        name.substr(start, slash == std::string_view::npos ? name.npos : slash - start);
    if (part == "." || part == "..") return true;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return false;
}

Result<void> ValidateLength(std::string_view what, std::string_view value, std::size_t limit) {
  if (value.size() <= limit) return {};
  return Fail(Error::InvalidParameter(
      fmt::format("{} '{}' had length {}, which exceeded length limit of {}", what,
                  value.substr(0, 250), value.size(), limit)));
}

}  // namespace

Result<void> ValidateKey(std::string_view kind, std::string_view key) {
  if (key.empty()) {
    return Fail(Error::InvalidParameter(fmt::format(
        "Missing value for required parameter 'key'. A {} name must not be empty.", kind)));
  }
  for (char ch : key) {
    if (!IsNameByte(static_cast<unsigned char>(ch))) {
      return Fail(Error::InvalidParameter(fmt::format(
          "Invalid {} name: '{}'. Names may only contain alphanumerics, underscores (_), dashes "
          "(-), periods (.), spaces ( ), and slashes (/).",
          kind, key)));
    }
  }
  if (PathNotUnique(key)) {
    return Fail(Error::InvalidParameter(fmt::format(
        "Invalid {} name: '{}'. Names may be treated as files in certain cases, and must not "
        "resolve to other names when treated as such.",
        kind, key)));
  }
  return ValidateLength(fmt::format("{} name", kind), key, kMaxKeyLength);
}

Result<void> ValidateParam(const Param& param) {
  MLTF_TRY(ValidateKey("param", param.key));
  return ValidateLength("Param value", param.value, kMaxParamValueLength);
}

Result<void> ValidateTag(const Tag& tag) {
  MLTF_TRY(ValidateKey("tag", tag.key));
  return ValidateLength("Tag value", tag.value, kMaxTagValueLength);
}

Result<void> ValidateExperimentTag(const Tag& tag) {
  MLTF_TRY(ValidateKey("tag", tag.key));
  return ValidateLength("Tag value", tag.value, kMaxExperimentTagValueLength);
}

Result<void> ValidateMetric(const Metric& metric) { return ValidateKey("metric", metric.key); }

Result<void> ValidateBatch(const std::vector<Metric>& metrics, const std::vector<Param>& params,
                           const std::vector<Tag>& tags) {
  auto too_many = [](std::string_view what, std::size_t limit, std::size_t got) {
    return Fail(Error::InvalidParameter(
        fmt::format("A batch logging request can contain at most {} {}. Got {} {}. Please split "
                    "up {} across multiple requests and try again.",
                    limit, what, got, what, what)));
  };
  if (metrics.size() > kMaxMetricsPerBatch) {
    return too_many("metrics", kMaxMetricsPerBatch, metrics.size());
  }
  if (params.size() > kMaxParamsTagsPerBatch) {
    return too_many("params", kMaxParamsTagsPerBatch, params.size());
  }
  if (tags.size() > kMaxParamsTagsPerBatch) {
    return too_many("tags", kMaxParamsTagsPerBatch, tags.size());
  }
  std::size_t total = metrics.size() + params.size() + tags.size();
  if (total > kMaxEntitiesPerBatch) {
    return Fail(Error::InvalidParameter(fmt::format(
        "A batch logging request can contain at most {} total metrics, params, and tags. Got {} "
        "entities. Please split up the request across multiple requests and try again.",
        kMaxEntitiesPerBatch, total)));
  }
  for (const auto& metric : metrics) MLTF_TRY(ValidateMetric(metric));
  std::set<std::string_view> param_keys;
  std::vector<std::string_view> duplicates;
  for (const auto& param : params) {
    MLTF_TRY(ValidateParam(param));
    if (!param_keys.insert(param.key).second) duplicates.push_back(param.key);
  }
  if (!duplicates.empty()) {
    return Fail(Error::InvalidParameter(fmt::format(
        "Duplicate parameter keys have been submitted: {}. Please ensure the request contains "
        "only one param value per param key.",
        fmt::join(duplicates, ", "))));
  }
  for (const auto& tag : tags) MLTF_TRY(ValidateTag(tag));
  return {};
}

Result<void> ValidateRunId(std::string_view run_id) {
  bool valid = !run_id.empty() && run_id.size() <= 256 &&
               std::isalnum(static_cast<unsigned char>(run_id.front())) != 0;
  for (char ch : run_id) {
    auto byte = static_cast<unsigned char>(ch);
    if (std::isalnum(byte) == 0 && byte != '_' && byte != '-') valid = false;
  }
  if (!valid) return Fail(Error::InvalidParameter(fmt::format("Invalid run ID: '{}'", run_id)));
  return {};
}

Result<void> ValidateMaxResults(std::int64_t max_results, std::int64_t limit) {
  if (max_results < 1) {
    return Fail(Error::InvalidParameter(fmt::format(
        "Invalid value for request parameter max_results. It must be a positive integer, but "
        "got {}",
        max_results)));
  }
  if (max_results > limit) {
    return Fail(Error::InvalidParameter(fmt::format(
        "Invalid value for request parameter max_results. It must be at most {}, but got value "
        "{}",
        limit, max_results)));
  }
  return {};
}

}  // namespace mltf::tracking
