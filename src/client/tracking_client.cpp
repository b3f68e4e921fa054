// tracking_client.cpp - MLflow REST calls over HttpClient; artifact paths are checked and
// percent-encoded one segment at a time so a file name can never change the request's target.
#include "client/tracking_client.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string_view>

namespace mltf::client {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kArtifactScheme = "mlflow-artifacts:";
constexpr std::string_view kArtifactApi = "/api/2.0/mlflow-artifacts/artifacts";

nlohmann::json MetricJson(const MetricValue& metric) {
  nlohmann::json value;
  if (std::isnan(metric.value)) {
    value = "NaN";
  } else if (std::isinf(metric.value)) {
    value = metric.value > 0 ? "Infinity" : "-Infinity";
  } else {
    value = metric.value;
  }
  return {{"key", metric.key},
          {"value", std::move(value)},
          {"timestamp", metric.timestamp_ms},
          {"step", metric.step}};
}

// Splits a '/'-separated relative path into encoded segments; refuses "", "." and "..".
Result<std::string> EncodeRelativePath(std::string_view path, std::string_view what) {
  std::string out;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto end = std::min(path.find('/', start), path.size());
    const auto segment = path.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..") {
      return Fail(Error::InvalidParameter(fmt::format(
          "{} '{}' must be a relative path without empty, '.' or '..' parts", what, path)));
    }
    out += '/';
    out += PercentEncode(segment);
    start = end + 1;
  }
  return out;
}

Result<void> ExpectOk(Result<HttpResponse> response) {
  if (!response) return Fail(std::move(response).error());
  MLTF_TRY(ParseJsonResponse(*response));
  return {};
}

}  // namespace

std::vector<nlohmann::json> SplitLogBatch(const std::string& run_id,
                                          const std::vector<MetricValue>& metrics,
                                          const std::vector<KeyValue>& params,
                                          const std::vector<KeyValue>& tags) {
  std::vector<nlohmann::json> bodies;
  std::size_t metric_idx = 0;
  std::size_t param_idx = 0;
  std::size_t tag_idx = 0;
  while (metric_idx < metrics.size() || param_idx < params.size() || tag_idx < tags.size()) {
    nlohmann::json body = {{"run_id", run_id},
                           {"metrics", nlohmann::json::array()},
                           {"params", nlohmann::json::array()},
                           {"tags", nlohmann::json::array()}};
    std::size_t entries = 0;
    for (std::size_t count = 0; param_idx < params.size() && count < kMaxParamsPerBatch;
         ++count, ++param_idx, ++entries) {
      body["params"].push_back(
          {{"key", params[param_idx].first}, {"value", params[param_idx].second}});
    }
    for (std::size_t count = 0; tag_idx < tags.size() && count < kMaxTagsPerBatch;
         ++count, ++tag_idx, ++entries) {
      body["tags"].push_back({{"key", tags[tag_idx].first}, {"value", tags[tag_idx].second}});
    }
    for (std::size_t count = 0; metric_idx < metrics.size() && count < kMaxMetricsPerBatch &&
                                entries < kMaxEntriesPerBatch;
         ++count, ++metric_idx, ++entries) {
      body["metrics"].push_back(MetricJson(metrics[metric_idx]));
    }
    bodies.push_back(std::move(body));
  }
  return bodies;
}

Result<std::string> ArtifactApiPath(const std::string& artifact_uri) {
  std::string_view rest(artifact_uri);
  if (!rest.starts_with(kArtifactScheme)) {
    return Fail(Error::InvalidParameter(fmt::format(
        "artifact URI '{}' is not an mlflow-artifacts: URI; only runs whose artifacts go "
        "through the tracking server (--serve-artifacts) can be uploaded to",
        artifact_uri)));
  }
  rest.remove_prefix(kArtifactScheme.size());
  if (rest.starts_with("//")) {  // mlflow-artifacts://host:port/path names the server too.
    const auto slash = rest.find('/', 2);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  }
  while (rest.starts_with('/')) rest.remove_prefix(1);
  while (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.empty()) return std::string(kArtifactApi);
  MLTF_ASSIGN_OR_RETURN(encoded, EncodeRelativePath(rest, "artifact URI path"));
  return std::string(kArtifactApi) + encoded;
}

Result<void> TrackingClient::LogBatch(const std::string& run_id,
                                      const std::vector<MetricValue>& metrics,
                                      const std::vector<KeyValue>& params,
                                      const std::vector<KeyValue>& tags) {
  for (const auto& body : SplitLogBatch(run_id, metrics, params, tags)) {
    MLTF_TRY(ExpectOk(http_.PostJson("/api/2.0/mlflow/runs/log-batch", body)));
  }
  return {};
}

Result<void> TrackingClient::SetTag(const std::string& run_id, const std::string& key,
                                    const std::string& value) {
  return ExpectOk(http_.PostJson("/api/2.0/mlflow/runs/set-tag",
                                 {{"run_id", run_id}, {"key", key}, {"value", value}}));
}

Result<void> TrackingClient::UpdateRun(const std::string& run_id, const std::string& status,
                                       std::optional<std::int64_t> end_time_ms) {
  nlohmann::json body = {{"run_id", run_id}, {"status", status}};
  if (end_time_ms) body["end_time"] = *end_time_ms;
  return ExpectOk(http_.PostJson("/api/2.0/mlflow/runs/update", body));
}

Result<nlohmann::json> TrackingClient::GetRun(const std::string& run_id) {
  MLTF_ASSIGN_OR_RETURN(response,
                        http_.Get("/api/2.0/mlflow/runs/get?run_id=" + PercentEncode(run_id)));
  MLTF_ASSIGN_OR_RETURN(json, ParseJsonResponse(response));
  const auto run = json.find("run");
  if (run == json.end() || !run->is_object()) {
    return Fail(Error::Internal("runs/get answered without a `run` object"));
  }
  return *run;
}

Result<void> TrackingClient::UploadArtifact(const std::string& artifact_uri, const fs::path& file,
                                            const std::string& artifact_path) {
  MLTF_ASSIGN_OR_RETURN(base, ArtifactApiPath(artifact_uri));
  const std::string relative = artifact_path.empty() ? file.filename().string() : artifact_path;
  MLTF_ASSIGN_OR_RETURN(encoded, EncodeRelativePath(relative, "artifact path"));
  return ExpectOk(http_.UploadFile("PUT", base + encoded, file, "application/octet-stream", {}));
}

Result<void> TrackingClient::UploadDirectory(const std::string& artifact_uri, const fs::path& dir,
                                             const std::string& artifact_subpath) {
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(dir, ec))) {
    return Fail(Error::InvalidParameter(
        fmt::format("{} is not a directory (symbolic links are not followed)", dir.string())));
  }
  std::string prefix = artifact_subpath;
  while (prefix.ends_with('/')) prefix.pop_back();
  std::vector<fs::path> files;
  // The iterator does not descend into linked directories by default; links to files are
  // skipped below by looking at the entry itself, not its target.
  fs::recursive_directory_iterator it(dir, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const auto status = it->symlink_status(ec);
    if (!ec && fs::is_regular_file(status)) files.push_back(it->path());
  }
  if (ec) {
    return Fail(Error::Internal(fmt::format("cannot list {}: {}", dir.string(), ec.message())));
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    std::string destination = prefix;
    if (!destination.empty()) destination += '/';
    destination += file.lexically_relative(dir).generic_string();
    MLTF_TRY(UploadArtifact(artifact_uri, file, destination));
  }
  return {};
}

}  // namespace mltf::client
