// metric_patterns.hpp - metrics scraped from the output lines of code that does not use mlflow.
//
// Two styles of pattern, as a task's JSON gives them:
//  - SageMaker's metric definitions: {"name": "loss", "regex": "loss=([-+0-9.eE]+)"}; the first
//    capture group of the first match in a line is the value of metric `name`.
//  - Katib's stdout collector: a regex string whose group 1 is the metric name and group 2 the
//    value, every match in the line counting; the string "default" stands for Katib's default
//    pattern, which reads `name=value` pairs.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace mltf::runner {

/// One metric value read from a line.
struct MetricSample {
  std::string key;
  double value = 0;
  std::int64_t step = 0;
  std::int64_t timestamp_ms = 0;

  friend bool operator==(const MetricSample&, const MetricSample&) = default;
};

/// Turns output lines into metric samples. Not thread-safe (it counts steps per metric).
class MetricLineMatcher {
 public:
  /// Katib's default metrics pattern (`name=value`).
  static constexpr std::string_view kKatibDefaultPattern =
      R"(([\w|-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?))";
  /// At most this many patterns per task.
  static constexpr std::size_t kMaxPatterns = 50;
  /// At most this many characters per pattern.
  static constexpr std::size_t kMaxPatternLength = 1000;
  /// Longer lines are not matched: std::regex backtracks recursively, so its time and stack
  /// depth grow with the input; bounding the line bounds both, whatever the pattern.
  static constexpr std::size_t kMaxLineLength = 4096;

  /// Parses a JSON list of patterns (see the file comment). Fails with
  /// INVALID_PARAMETER_VALUE naming the bad item: not a list, too many or too long patterns,
  /// a regex that does not compile or has too few groups, an invalid metric name.
  static Result<MetricLineMatcher> Parse(const nlohmann::json& spec);

  /// The samples in `line`, each stamped with `timestamp_ms` and the next step of its metric
  /// (0, 1, 2, ... per metric name). Values that are not numbers, or are infinite, and names
  /// MLflow would refuse are skipped. Does not fail.
  std::vector<MetricSample> Match(std::string_view line, std::int64_t timestamp_ms);

  /// True when there are no patterns (Match never finds anything).
  [[nodiscard]] bool empty() const { return patterns_.empty(); }

 private:
  struct Pattern {
    std::regex regex;
    std::optional<std::string> name;  // set: SageMaker style; unset: Katib style (group 1)
  };

  void Add(std::vector<MetricSample>& out, std::string key, std::string_view value,
           std::int64_t timestamp_ms);

  std::vector<Pattern> patterns_;
  std::map<std::string, std::int64_t> next_step_;
};

/// True if MLflow accepts `name` as a metric key: 1-250 characters among alphanumerics,
/// '_', '-', '.', '/', ' ', and not a path that normalizes to something else ("a/../b", "/a").
bool IsValidMetricName(std::string_view name);

}  // namespace mltf::runner
