// json_writer.hpp - a fast, append-only JSON writer for responses (no DOM, no allocation per
// value).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mltf {

/// Writes JSON text into one growing string. Commas are placed automatically; the caller keeps
/// objects and arrays balanced. Not thread-safe.
class JsonWriter {
 public:
  JsonWriter() { out_.reserve(256); }

  void BeginObject() { Open('{'); }
  void EndObject() { Close('}'); }
  void BeginArray() { Open('['); }
  void EndArray() { Close(']'); }

  /// Writes `"name":`; the next call writes its value.
  void Key(std::string_view name);

  void String(std::string_view value);
  void Int(std::int64_t value);
  void Bool(bool value);
  void Null();
  /// A metric value as MLflow writes it: NaN as the string "NaN", ±inf as ±DBL_MAX, otherwise
  /// the shortest text that reads back to the same double.
  void MetricDouble(double value);
  /// A plain JSON number (non-finite values are written as null).
  void Double(double value);
  /// Inserts already-serialised JSON as one value (e.g. a stored JSON document).
  void Raw(std::string_view json);

  // Conveniences for `"name": value` pairs.
  void Field(std::string_view name, std::string_view value) { Key(name), String(value); }
  void Field(std::string_view name, const char* value) { Key(name), String(value); }
  void Field(std::string_view name, std::int64_t value) { Key(name), Int(value); }
  void Field(std::string_view name, bool value) { Key(name), Bool(value); }

  /// Makes room for `bytes` more bytes of output (avoids regrowth of large answers).
  void Reserve(std::size_t bytes) { out_.reserve(out_.size() + bytes); }
  /// Appends text verbatim, without separators: for callers that frame JSON themselves.
  void AppendVerbatim(std::string_view text) { out_.append(text); }
  /// Appends a number verbatim (see AppendVerbatim).
  void AppendInt(std::int64_t value);
  /// Appends a metric value verbatim (see MetricDouble, AppendVerbatim).
  void AppendMetricDouble(double value);
  /// Marks that a value was written by the Append* calls, so the next value gets a comma.
  void ValueWritten() { comma_ = true; }

  [[nodiscard]] const std::string& str() const { return out_; }
  /// Moves the text out; the writer is empty afterwards.
  std::string Take() {
    comma_ = false;
    return std::move(out_);
  }

 private:
  void Separate() {
    if (comma_) out_.push_back(',');
  }
  void Open(char bracket) {
    Separate();
    out_.push_back(bracket);
    comma_ = false;
  }
  void Close(char bracket) {
    out_.push_back(bracket);
    comma_ = true;
  }

  std::string out_;
  bool comma_ = false;  // true when the next value needs a leading comma
};

/// Appends `value` to `out` as a quoted, escaped JSON string.
void AppendJsonString(std::string& out, std::string_view value);

}  // namespace mltf
