// metric_patterns.cpp - parsing of metric pattern specs and matching of output lines.
#include "runner/process/metric_patterns.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <utility>

namespace mltf::runner {
namespace {

constexpr std::size_t kMaxMetricNameLength = 250;

Result<std::regex> Compile(const std::string& pattern, std::size_t min_groups,
                           std::string_view where) {
  if (pattern.empty()) {
    return Fail(Error::InvalidParameter(fmt::format("{}: the regex is empty", where)));
  }
  if (pattern.size() > MetricLineMatcher::kMaxPatternLength) {
    return Fail(Error::InvalidParameter(
        fmt::format("{}: the regex is {} characters long; at most {} are allowed", where,
                    pattern.size(), MetricLineMatcher::kMaxPatternLength)));
  }
  std::regex regex;
  try {
    regex = std::regex(pattern, std::regex::ECMAScript | std::regex::optimize);
  } catch (const std::regex_error& e) {
    return Fail(Error::InvalidParameter(
        fmt::format("{}: the regex '{}' does not compile: {}", where, pattern, e.what())));
  }
  if (regex.mark_count() < min_groups) {
    return Fail(Error::InvalidParameter(
        fmt::format("{}: the regex '{}' has {} capture group(s) but needs {}{}", where, pattern,
                    regex.mark_count(), min_groups,
                    min_groups == 1 ? " (the value)" : " (1: the metric name, 2: the value)")));
  }
  return regex;
}

// A value as Python's float() reads it, but only finite numbers and NaN.
std::optional<double> ParseValue(std::string_view text) {
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
  }
  if (text.empty()) {
    return std::nullopt;
  }
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || std::isinf(value)) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

bool IsValidMetricName(std::string_view name) {
  if (name.empty() || name.size() > kMaxMetricNameLength) {
    return false;
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == '/' || c == ' ';
    if (!ok) {
      return false;
    }
  }
  // MLflow refuses names that posixpath.normpath would change or that leave the run.
  if (name.front() == '/' || name.back() == '/') {
    return false;
  }
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t slash = name.find('/', start);
    std::string_view part =
        name.substr(start, slash == std::string_view::npos ? name.npos : slash - start);
    if (part.empty() || part == "." || part == "..") {
      return false;
    }
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  return true;
}

Result<MetricLineMatcher> MetricLineMatcher::Parse(const nlohmann::json& spec) {
  MetricLineMatcher matcher;
  if (spec.is_null()) {
    return matcher;
  }
  if (!spec.is_array()) {
    return Fail(Error::InvalidParameter(
        "metric patterns must be a list of regex strings, {\"name\": ..., \"regex\": ...} "
        "objects, or \"default\""));
  }
  if (spec.size() > kMaxPatterns) {
    return Fail(Error::InvalidParameter(fmt::format(
        "{} metric patterns given; at most {} are allowed", spec.size(), kMaxPatterns)));
  }
  for (std::size_t idx = 0; idx < spec.size(); ++idx) {
    const nlohmann::json& item = spec[idx];
    std::string where = fmt::format("metric pattern {}", idx);
    if (item.is_string()) {
      std::string text = item.get<std::string>();
      if (text == "default") {
        text = kKatibDefaultPattern;
      }
      MLTF_ASSIGN_OR_RETURN(regex, Compile(text, 2, where));
      matcher.patterns_.push_back({std::move(regex), std::nullopt});
      continue;
    }
    if (!item.is_object()) {
      return Fail(Error::InvalidParameter(fmt::format(
          "{}: must be a regex string or an object with \"name\" and \"regex\"", where)));
    }
    for (const auto& [field, value] : item.items()) {
      if (field != "name" && field != "regex") {
        return Fail(Error::InvalidParameter(fmt::format(
            "{}: unknown field '{}' (only \"name\" and \"regex\" are allowed)", where, field)));
      }
    }
    auto name_it = item.find("name");
    auto regex_it = item.find("regex");
    if (name_it == item.end() || !name_it->is_string() || regex_it == item.end() ||
        !regex_it->is_string()) {
      return Fail(Error::InvalidParameter(
          fmt::format("{}: \"name\" and \"regex\" must both be strings", where)));
    }
    std::string name = name_it->get<std::string>();
    if (!IsValidMetricName(name)) {
      return Fail(Error::InvalidParameter(fmt::format(
          "{}: invalid metric name '{}': use 1-{} letters, digits, '_', '-', '.', ' ' and "
          "'/'-separated parts",
          where, name.substr(0, kMaxMetricNameLength + 1), kMaxMetricNameLength)));
    }
    MLTF_ASSIGN_OR_RETURN(regex, Compile(regex_it->get<std::string>(), 1, where));
    matcher.patterns_.push_back({std::move(regex), std::move(name)});
  }
  return matcher;
}

void MetricLineMatcher::Add(std::vector<MetricSample>& out, std::string key, std::string_view value,
                            std::int64_t timestamp_ms) {
  std::optional<double> number = ParseValue(value);
  if (!number || !IsValidMetricName(key)) {
    return;
  }
  std::int64_t& step = next_step_[key];
  out.push_back({std::move(key), *number, step++, timestamp_ms});
}

std::vector<MetricSample> MetricLineMatcher::Match(std::string_view line,
                                                   std::int64_t timestamp_ms) {
  std::vector<MetricSample> samples;
  if (line.size() > kMaxLineLength || patterns_.empty()) {
    return samples;
  }
  using Iterator = std::regex_iterator<std::string_view::const_iterator>;
  for (const Pattern& pattern : patterns_) {
    try {
      if (pattern.name) {
        std::match_results<std::string_view::const_iterator> match;
        if (std::regex_search(line.begin(), line.end(), match, pattern.regex) && match[1].matched) {
          Add(samples, *pattern.name, std::string_view(match[1].first, match[1].second),
              timestamp_ms);
        }
        continue;
      }
      for (Iterator it(line.begin(), line.end(), pattern.regex), end; it != end; ++it) {
        const auto& match = *it;
        if (match[1].matched && match[2].matched) {
          Add(samples, match[1].str(), std::string_view(match[2].first, match[2].second),
              timestamp_ms);
        }
      }
    } catch (const std::regex_error&) {
      // error_complexity / error_stack on a pathological pattern: this line yields nothing.
      continue;
    }
  }
  return samples;
}

}  // namespace mltf::runner
