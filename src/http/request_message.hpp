// request_message.hpp - the fields of an API request, from a JSON body (POST/PATCH/DELETE) or the
// query string (GET), with MLflow's proto3-JSON typing rules and error messages.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "http/request.hpp"

namespace mltf::http {

/// A `{"key": ..., "value": ...}` pair as tags and params travel.
struct KeyValue {
  std::string key;
  std::string value;
};

/// Typed access to request fields. Missing and `null` fields read as nullopt; a field of the
/// wrong type is an INVALID_PARAMETER_VALUE error naming the field. int64 fields accept numbers
/// and decimal strings (proto3 JSON); doubles accept numbers and "NaN"/"Infinity"/"-Infinity".
/// Not thread-safe; a JSON message borrows a per-thread parser, so at most one JSON message per
/// thread may be alive at a time.
class RequestMessage {
 public:
  /// Parses a JSON object body (an empty body is an empty object). Fails with
  /// INVALID_PARAMETER_VALUE on malformed JSON or a non-object document.
  static Result<RequestMessage> FromJson(std::string_view body);
  /// Fields from query parameters; `name[]=v` is the same as `name=v`.
  static RequestMessage FromQuery(const QueryParams& query);
  /// The request's JSON body for POST/PATCH/DELETE, its query string otherwise.
  static Result<RequestMessage> From(const Request& request);

  [[nodiscard]] bool Has(std::string_view name) const;
  [[nodiscard]] Result<std::optional<std::string>> String(std::string_view name) const;
  /// A string that must be present and non-empty, as MLflow's `_assert_required`.
  [[nodiscard]] Result<std::string> RequiredString(std::string_view name) const;
  [[nodiscard]] Result<std::optional<std::int64_t>> Int64(std::string_view name) const;
  [[nodiscard]] Result<std::optional<double>> Double(std::string_view name) const;
  [[nodiscard]] Result<std::optional<bool>> Bool(std::string_view name) const;
  /// A repeated string field; absent reads as empty.
  [[nodiscard]] Result<std::vector<std::string>> StringList(std::string_view name) const;
  /// A repeated `{key, value}` field; absent reads as empty. `key` is required in each item.
  [[nodiscard]] Result<std::vector<KeyValue>> KeyValues(std::string_view name) const;
  /// A repeated message field (JSON bodies only); absent reads as an empty array.
  [[nodiscard]] Result<std::optional<simdjson::dom::array>> Array(std::string_view name) const;

 private:
  RequestMessage() = default;

  std::optional<simdjson::dom::object> object_;  // JSON body
  const QueryParams* query_ = nullptr;           // or query string
};

/// The error for a missing required field, worded as MLflow does.
Error MissingParameter(std::string_view name);

/// Reads a metric value from a JSON element: a number, or "NaN"/"Infinity"/"-Infinity".
Result<double> JsonToDouble(simdjson::dom::element element, std::string_view name);
/// Reads an int64 from a JSON element: an integer number or a decimal string.
Result<std::int64_t> JsonToInt64(simdjson::dom::element element, std::string_view name);
/// Reads a string field of a JSON object: nullopt when missing or null.
Result<std::optional<std::string_view>> JsonStringField(simdjson::dom::object object,
                                                        std::string_view name);

}  // namespace mltf::http
