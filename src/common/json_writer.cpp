// json_writer.cpp - escaping and number formatting for JsonWriter.
#include "common/json_writer.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <limits>

namespace mltf {
namespace {

// Which bytes need escaping: control characters, the quote and the backslash.
constexpr std::array<bool, 256> MakeEscapeTable() {
  std::array<bool, 256> table{};
  for (int ch = 0; ch < 0x20; ++ch) table[static_cast<std::size_t>(ch)] = true;
  table['"'] = true;
  table['\\'] = true;
  return table;
}
constexpr std::array<bool, 256> kNeedsEscape = MakeEscapeTable();

void AppendNumber(std::string& out, auto value) {
  std::array<char, 32> buffer{};
  auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  out.append(buffer.data(), end);
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view value) {
  out.push_back('"');
  std::size_t run_start = 0;
  for (std::size_t idx = 0; idx < value.size(); ++idx) {
    auto byte = static_cast<unsigned char>(value[idx]);
    if (!kNeedsEscape[byte]) continue;
    out.append(value.data() + run_start, idx - run_start);
    run_start = idx + 1;
    switch (byte) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default: {
        constexpr std::string_view kHex = "0123456789abcdef";
        out.append("\\u00");
        out.push_back(kHex[byte >> 4]);
        out.push_back(kHex[byte & 0xF]);
      }
    }
  }
  out.append(value.data() + run_start, value.size() - run_start);
  out.push_back('"');
}

void JsonWriter::Key(std::string_view name) {
  Separate();
  AppendJsonString(out_, name);
  out_.push_back(':');
  comma_ = false;
}

void JsonWriter::String(std::string_view value) {
  Separate();
  AppendJsonString(out_, value);
  comma_ = true;
}

void JsonWriter::Int(std::int64_t value) {
  Separate();
  AppendNumber(out_, value);
  comma_ = true;
}

void JsonWriter::Bool(bool value) {
  Separate();
  out_.append(value ? "true" : "false");
  comma_ = true;
}

void JsonWriter::Null() {
  Separate();
  out_.append("null");
  comma_ = true;
}

void JsonWriter::MetricDouble(double value) {
  Separate();
  AppendMetricDouble(value);
  comma_ = true;
}

void JsonWriter::AppendMetricDouble(double value) {
  if (std::isnan(value)) {
    out_.append("\"NaN\"");
    return;
  }
  if (std::isinf(value)) {
    value = value > 0 ? std::numeric_limits<double>::max() : std::numeric_limits<double>::lowest();
  }
  std::size_t before = out_.size();
  AppendNumber(out_, value);
  // Keep doubles recognisable as floats to clients that distinguish (Python's json: 1 vs 1.0).
  std::string_view text(out_.data() + before, out_.size() - before);
  if (text.find_first_of(".eE") == std::string_view::npos) out_.append(".0");
}

void JsonWriter::AppendInt(std::int64_t value) { AppendNumber(out_, value); }

void JsonWriter::Double(double value) {
  if (!std::isfinite(value)) {
    Null();
    return;
  }
  Separate();
  AppendMetricDouble(value);
  comma_ = true;
}

void JsonWriter::Raw(std::string_view json) {
  Separate();
  out_.append(json);
  comma_ = true;
}

}  // namespace mltf
