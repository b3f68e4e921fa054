// request_message.cpp - typed field access over simdjson objects and query parameters.
#include "http/request_message.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <limits>

namespace mltf::http {
namespace {

simdjson::dom::parser& ThreadParser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

Error WrongType(std::string_view name, std::string_view expected) {
  return Error::InvalidParameter(
      fmt::format("Invalid value for parameter '{}' supplied: expected {}.", name, expected));
}

std::optional<std::int64_t> ParseInt64(std::string_view text) {
  std::int64_t value = 0;
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::optional<double> ParseDoubleText(std::string_view text) {
  if (text == "NaN" || text == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (text == "Infinity" || text == "inf") return std::numeric_limits<double>::infinity();
  if (text == "-Infinity" || text == "-inf") return -std::numeric_limits<double>::infinity();
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::optional<bool> ParseBool(std::string_view text) {
  if (text == "true" || text == "True") return true;
  if (text == "false" || text == "False") return false;
  return std::nullopt;
}

bool QueryNameMatches(std::string_view key, std::string_view name) {
  return key == name ||
         (key.size() == name.size() + 2 && key.starts_with(name) && key.ends_with("[]"));
}

}  // namespace

Error MissingParameter(std::string_view name) {
  return Error::InvalidParameter(
      fmt::format("Missing value for required parameter '{}'. See the API docs for more "
                  "information about request parameters.",
                  name));
}

Result<double> JsonToDouble(simdjson::dom::element element, std::string_view name) {
  double value = 0;
  if (element.get_double().get(value) == simdjson::SUCCESS) return value;
  std::string_view text;
  if (element.get_string().get(text) == simdjson::SUCCESS) {
    if (auto parsed = ParseDoubleText(text)) return *parsed;
  }
  return Fail(WrongType(name, "a number"));
}

Result<std::int64_t> JsonToInt64(simdjson::dom::element element, std::string_view name) {
  std::int64_t value = 0;
  if (element.get_int64().get(value) == simdjson::SUCCESS) return value;
  double as_double = 0;
  if (element.get_double().get(as_double) == simdjson::SUCCESS && std::isfinite(as_double) &&
      std::trunc(as_double) == as_double && std::fabs(as_double) < 9.2e18) {
    return static_cast<std::int64_t>(as_double);
  }
  std::string_view text;
  if (element.get_string().get(text) == simdjson::SUCCESS) {
    if (auto parsed = ParseInt64(text)) return *parsed;
  }
  return Fail(WrongType(name, "an integer"));
}

Result<std::optional<std::string_view>> JsonStringField(simdjson::dom::object object,
                                                        std::string_view name) {
  simdjson::dom::element element;
  if (object.at_key(name).get(element) != simdjson::SUCCESS || element.is_null()) {
    return std::optional<std::string_view>{};
  }
  std::string_view text;
  if (element.get_string().get(text) != simdjson::SUCCESS) return Fail(WrongType(name, "a string"));
  return std::optional<std::string_view>{text};
}

Result<RequestMessage> RequestMessage::FromJson(std::string_view body) {
  RequestMessage message;
  std::size_t start = body.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) {
    // An empty body is an empty message, as Flask's get_json(silent=True) yields None.
    static const QueryParams kNoParams;
    message.query_ = &kNoParams;
    return message;
  }
  simdjson::dom::element document;
  if (auto error = ThreadParser().parse(body.data(), body.size(), true).get(document);
      error != simdjson::SUCCESS) {
    return Fail(Error::InvalidParameter(
        fmt::format("Malformed JSON request body: {}", simdjson::error_message(error))));
  }
  simdjson::dom::object object;
  if (document.get_object().get(object) != simdjson::SUCCESS) {
    return Fail(Error::InvalidParameter("The request body must be a JSON object."));
  }
  message.object_ = object;
  return message;
}

RequestMessage RequestMessage::FromQuery(const QueryParams& query) {
  RequestMessage message;
  message.query_ = &query;
  return message;
}

Result<RequestMessage> RequestMessage::From(const Request& request) {
  if (request.method == Method::GET || request.method == Method::HEAD) {
    return FromQuery(request.query);
  }
  return FromJson(request.body);
}

bool RequestMessage::Has(std::string_view name) const {
  if (object_) {
    simdjson::dom::element element;
    return object_->at_key(name).get(element) == simdjson::SUCCESS && !element.is_null();
  }
  for (const auto& [key, value] : *query_) {
    if (QueryNameMatches(key, name)) return true;
  }
  return false;
}

Result<std::optional<std::string>> RequestMessage::String(std::string_view name) const {
  if (object_) {
    MLTF_ASSIGN_OR_RETURN(text, JsonStringField(*object_, name));
    if (!text) return std::optional<std::string>{};
    return std::optional<std::string>{std::string(*text)};
  }
  for (const auto& [key, value] : *query_) {
    if (QueryNameMatches(key, name)) return std::optional<std::string>{value};
  }
  return std::optional<std::string>{};
}

Result<std::string> RequestMessage::RequiredString(std::string_view name) const {
  MLTF_ASSIGN_OR_RETURN(value, String(name));
  if (!value || value->empty()) return Fail(MissingParameter(name));
  return std::move(*value);
}

Result<std::optional<std::int64_t>> RequestMessage::Int64(std::string_view name) const {
  if (object_) {
    simdjson::dom::element element;
    if (object_->at_key(name).get(element) != simdjson::SUCCESS || element.is_null()) {
      return std::optional<std::int64_t>{};
    }
    MLTF_ASSIGN_OR_RETURN(value, JsonToInt64(element, name));
    return std::optional<std::int64_t>{value};
  }
  for (const auto& [key, value] : *query_) {
    if (!QueryNameMatches(key, name)) continue;
    auto parsed = ParseInt64(value);
    if (!parsed) return Fail(WrongType(name, "an integer"));
    return std::optional<std::int64_t>{*parsed};
  }
  return std::optional<std::int64_t>{};
}

Result<std::optional<double>> RequestMessage::Double(std::string_view name) const {
  if (object_) {
    simdjson::dom::element element;
    if (object_->at_key(name).get(element) != simdjson::SUCCESS || element.is_null()) {
      return std::optional<double>{};
    }
    MLTF_ASSIGN_OR_RETURN(value, JsonToDouble(element, name));
    return std::optional<double>{value};
  }
  for (const auto& [key, value] : *query_) {
    if (!QueryNameMatches(key, name)) continue;
    auto parsed = ParseDoubleText(value);
    if (!parsed) return Fail(WrongType(name, "a number"));
    return std::optional<double>{*parsed};
  }
  return std::optional<double>{};
}

Result<std::optional<bool>> RequestMessage::Bool(std::string_view name) const {
  if (object_) {
    simdjson::dom::element element;
    if (object_->at_key(name).get(element) != simdjson::SUCCESS || element.is_null()) {
      return std::optional<bool>{};
    }
    bool value = false;
    if (element.get_bool().get(value) == simdjson::SUCCESS) return std::optional<bool>{value};
    std::string_view text;
    if (element.get_string().get(text) == simdjson::SUCCESS) {
      if (auto parsed = ParseBool(text)) return std::optional<bool>{*parsed};
    }
    return Fail(WrongType(name, "a boolean"));
  }
  for (const auto& [key, value] : *query_) {
    if (!QueryNameMatches(key, name)) continue;
    auto parsed = ParseBool(value);
    if (!parsed) return Fail(WrongType(name, "a boolean"));
    return std::optional<bool>{*parsed};
  }
  return std::optional<bool>{};
}

Result<std::vector<std::string>> RequestMessage::StringList(std::string_view name) const {
  std::vector<std::string> values;
  if (object_) {
    simdjson::dom::element element;
    if (object_->at_key(name).get(element) != simdjson::SUCCESS || element.is_null()) {
      return values;
    }
    simdjson::dom::array array;
    if (element.get_array().get(array) != simdjson::SUCCESS) {
      return Fail(WrongType(name, "a list of strings"));
    }
    for (simdjson::dom::element item : array) {
      std::string_view text;
      if (item.get_string().get(text) != simdjson::SUCCESS) {
        return Fail(WrongType(name, "a list of strings"));
      }
      values.emplace_back(text);
    }
    return values;
  }
  for (const auto& [key, value] : *query_) {
    if (QueryNameMatches(key, name)) values.push_back(value);
  }
  return values;
}

Result<std::vector<KeyValue>> RequestMessage::KeyValues(std::string_view name) const {
  std::vector<KeyValue> pairs;
  MLTF_ASSIGN_OR_RETURN(array, Array(name));
  if (!array) return pairs;
  for (simdjson::dom::element item : *array) {
    simdjson::dom::object object;
    if (item.get_object().get(object) != simdjson::SUCCESS) {
      return Fail(WrongType(name, "a list of {key, value} objects"));
    }
    MLTF_ASSIGN_OR_RETURN(key, JsonStringField(object, "key"));
    MLTF_ASSIGN_OR_RETURN(value, JsonStringField(object, "value"));
    if (!key || key->empty()) return Fail(MissingParameter("key"));
    pairs.push_back({std::string(*key), std::string(value.value_or(""))});
  }
  return pairs;
}

Result<std::optional<simdjson::dom::array>> RequestMessage::Array(std::string_view name) const {
  if (!object_) {
    if (Has(name)) return Fail(WrongType(name, "a list in a JSON body"));
    return std::optional<simdjson::dom::array>{};
  }
  simdjson::dom::element element;
  if (object_->at_key(name).get(element) != simdjson::SUCCESS || element.is_null()) {
    return std::optional<simdjson::dom::array>{};
  }
  simdjson::dom::array array;
  if (element.get_array().get(array) != simdjson::SUCCESS) return Fail(WrongType(name, "a list"));
  return std::optional<simdjson::dom::array>{array};
}

}  // namespace mltf::http
