// tracking_client.hpp - the part of MLflow's REST API the task runner needs: batched metrics,
// tags, run status, and artifact uploads through the proxied artifact API.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/http_client.hpp"
#include "common/error.hpp"

namespace mltf::client {

/// One metric value as MLflow logs it.
struct MetricValue {
  std::string key;
  double value = 0;
  std::int64_t timestamp_ms = 0;
  std::int64_t step = 0;
};

/// A param or tag.
using KeyValue = std::pair<std::string, std::string>;

/// MLflow's log-batch limits (MLflow's `MAX_METRICS_PER_BATCH` etc.).
inline constexpr std::size_t kMaxMetricsPerBatch = 1000;
inline constexpr std::size_t kMaxParamsPerBatch = 100;
inline constexpr std::size_t kMaxTagsPerBatch = 100;
inline constexpr std::size_t kMaxEntriesPerBatch = 1000;

/// Splits a batch into log-batch request bodies that respect MLflow's limits, in order: params
/// and tags go out in the first bodies. No body is produced for an empty batch. NaN and
/// infinities are sent as MLflow's "NaN", "Infinity", "-Infinity". Does not fail.
std::vector<nlohmann::json> SplitLogBatch(const std::string& run_id,
                                          const std::vector<MetricValue>& metrics,
                                          const std::vector<KeyValue>& params,
                                          const std::vector<KeyValue>& tags);

/// The REST path under which artifacts of `artifact_uri` are uploaded, e.g.
/// "mlflow-artifacts:/1/abc/artifacts" -> "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts".
/// Fails with INVALID_PARAMETER_VALUE when the URI is not mlflow-artifacts: (only the proxied
/// artifact API is supported) or has empty, "." or ".." segments.
Result<std::string> ArtifactApiPath(const std::string& artifact_uri);

/// A client of MLflow's tracking REST API. Not thread-safe (it owns one HttpClient).
class TrackingClient {
 public:
  explicit TrackingClient(HttpClient http) : http_(std::move(http)) {}

  /// POST runs/log-batch, split into as many requests as MLflow's limits need. Stops at and
  /// returns the first error (earlier chunks stay logged).
  Result<void> LogBatch(const std::string& run_id, const std::vector<MetricValue>& metrics,
                        const std::vector<KeyValue>& params, const std::vector<KeyValue>& tags);
  /// POST runs/set-tag. Fails with the server's error.
  Result<void> SetTag(const std::string& run_id, const std::string& key, const std::string& value);
  /// POST runs/update with `status` (RUNNING, FINISHED, FAILED, KILLED) and, if given,
  /// `end_time` in ms. Fails with the server's error.
  Result<void> UpdateRun(const std::string& run_id, const std::string& status,
                         std::optional<std::int64_t> end_time_ms);
  /// GET runs/get: the `run` object. Fails with the server's error (RESOURCE_DOES_NOT_EXIST).
  Result<nlohmann::json> GetRun(const std::string& run_id);
  /// PUTs `file` as artifact `artifact_path` (relative, '/'-separated; empty: the file's name)
  /// of the run whose artifact root is `artifact_uri`. Fails on a bad URI or path, an
  /// unreadable file, or the server's error.
  Result<void> UploadArtifact(const std::string& artifact_uri, const std::filesystem::path& file,
                              const std::string& artifact_path);
  /// PUTs every regular file below `dir` as `artifact_subpath/<relative path>` (subpath may be
  /// empty). Symbolic links are neither followed nor uploaded; other special files are skipped.
  /// Stops at the first error.
  Result<void> UploadDirectory(const std::string& artifact_uri, const std::filesystem::path& dir,
                               const std::string& artifact_subpath);

  /// The underlying HTTP client. Does not fail.
  HttpClient& http() { return http_; }

 private:
  HttpClient http_;
};

}  // namespace mltf::client
