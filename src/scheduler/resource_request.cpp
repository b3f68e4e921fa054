// resource_request.cpp - parsing, checking and rendering of task resource requests.
//
// The facility's users already hold resource files written for SLURM: mlflow-slurm's
// slurm_config.json, the gateway prototype's mltf_config.json and the current client's
// gateway_config.json. Their keys are sbatch option names, so they are accepted as written,
// next to the executor-neutral keys of the task spec. Every string that may later reach a
// batch script is checked here, once, so executors can rely on it: no control characters
// anywhere, and a conservative character set for values that become sbatch option values.
#include "scheduler/resource_request.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string_view>

#include "common/shell_text.hpp"

namespace mltf::scheduler {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxStringLength = 4096;
constexpr std::size_t kMaxOptionLength = 255;
constexpr std::size_t kMaxListLength = 256;
constexpr std::int64_t kSecondsPerMinute = 60;
constexpr std::int64_t kSecondsPerHour = 3600;
constexpr std::int64_t kSecondsPerDay = 86400;
constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kMiB = kKiB * 1024;
constexpr std::uint64_t kGiB = kMiB * 1024;
constexpr std::uint64_t kTiB = kGiB * 1024;

// Keys accepted but with no effect on the request: MLflow injects the first six into every
// backend_config (with any value, often null); the gateway client adds url and auth_token.
constexpr std::string_view kDroppedKeys[] = {"ENV_MANAGER", "SYNCHRONOUS", "DOCKER_ARGS",
                                             "STORAGE_DIR", "build_image", "docker_auth",
                                             "url",         "auth_token"};

// Every key that has a meaning, sorted, for the "unknown key" message.
constexpr std::string_view kAcceptedKeys[] = {"account",
                                              "cpus",
                                              "cpus-per-task",
                                              "debug",
                                              "environment",
                                              "exclusive",
                                              "exports",
                                              "gpu_type",
                                              "gpus",
                                              "gpus_per_node",
                                              "gres",
                                              "job-name",
                                              "job_name",
                                              "mail-type",
                                              "mail-user",
                                              "mem",
                                              "memory",
                                              "modules",
                                              "nodes",
                                              "ntasks",
                                              "ntasks-per-node",
                                              "output",
                                              "partition",
                                              "sbatch-script-file",
                                              "tasks_per_node",
                                              "time"};

Error Invalid(std::string_view key, std::string_view why) {
  return Error::InvalidParameter(
      fmt::format("Invalid resource '{}': {}", QuoteForMessage(key), why));
}

bool IsDigits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char chr) { return chr >= '0' && chr <= '9'; });
}

bool IsAlnum(char chr) {
  return (chr >= 'a' && chr <= 'z') || (chr >= 'A' && chr <= 'Z') || (chr >= '0' && chr <= '9');
}

char ToLower(char chr) {
  return (chr >= 'A' && chr <= 'Z') ? static_cast<char>(chr - 'A' + 'a') : chr;
}

std::string Lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), ToLower);
  return lower;
}

// Any string from the request: bounded, and without control characters (a newline would let
// a value start a new line of a batch script, e.g. "#SBATCH --wrap=...").
Result<void> CheckPlainString(std::string_view key, std::string_view text) {
  if (text.size() > kMaxStringLength) {
    return Fail(Invalid(key, fmt::format("longer than {} bytes", kMaxStringLength)));
  }
  if (const auto byte = FindControlCharacter(text)) {
    return Fail(Invalid(key, fmt::format("'{}' contains a control character (\\x{:02x}); "
                                         "newlines and other control characters are refused",
                                         QuoteForMessage(text), *byte)));
  }
  return {};
}

// A value that becomes an sbatch option value ("--partition=<value>"): a conservative
// character set, never a leading '-' (which would turn it into an option of its own), bounded.
Result<void> CheckOptionValue(std::string_view key, std::string_view text,
                              std::string_view extra_chars, std::string_view what) {
  MLTF_TRY(CheckPlainString(key, text));
  if (text.empty()) {
    return Fail(Invalid(key, "must not be empty"));
  }
  if (text.size() > kMaxOptionLength) {
    return Fail(Invalid(key, fmt::format("longer than {} characters", kMaxOptionLength)));
  }
  if (text.front() == '-') {
    return Fail(Invalid(key, fmt::format("'{}' must not start with '-'", QuoteForMessage(text))));
  }
  for (const char chr : text) {
    if (!IsAlnum(chr) && extra_chars.find(chr) == std::string_view::npos) {
      return Fail(
          Invalid(key, fmt::format("'{}' contains '{}'; {} may contain only letters, "
                                   "digits and '{}'",
                                   QuoteForMessage(text),
                                   QuoteForMessage(std::string_view(&chr, 1)), what, extra_chars)));
    }
  }
  return {};
}

Result<std::string> GetString(std::string_view key, const json& value) {
  if (!value.is_string()) {
    return Fail(Invalid(key, fmt::format("must be a string, not {}", value.type_name())));
  }
  auto text = value.get<std::string>();
  MLTF_TRY(CheckPlainString(key, text));
  return text;
}

// An integer from a JSON number (an integral float is fine) or a string of digits, with an
// optional '-' so that a negative value is reported as out of range rather than malformed.
Result<std::int64_t> GetInteger(std::string_view key, const json& value) {
  constexpr std::size_t kMaxDigits = 18;  // fits int64 without overflow checks
  if (value.is_number_unsigned()) {
    const auto number = value.get<std::uint64_t>();
    if (number > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return Fail(Invalid(key, "is too large"));
    }
    return static_cast<std::int64_t>(number);
  }
  if (value.is_number_integer()) {
    return value.get<std::int64_t>();
  }
  if (value.is_number_float()) {
    const double number = value.get<double>();
    constexpr double kLimit = 1e18;
    if (!std::isfinite(number) || std::trunc(number) != number || std::fabs(number) > kLimit) {
      return Fail(Invalid(key, fmt::format("{} is not a whole number", number)));
    }
    return static_cast<std::int64_t>(number);
  }
  if (value.is_string()) {
    MLTF_ASSIGN_OR_RETURN(text, GetString(key, value));
    std::string_view digits = text;
    const bool negative = !digits.empty() && digits.front() == '-';
    if (negative) {
      digits.remove_prefix(1);
    }
    if (!IsDigits(digits)) {
      return Fail(Invalid(key, fmt::format("'{}' is not a whole number", QuoteForMessage(text))));
    }
    if (digits.size() > kMaxDigits) {
      return Fail(Invalid(key, fmt::format("'{}' is too large", QuoteForMessage(text))));
    }
    std::int64_t number = 0;
    for (const char chr : digits) {
      number = number * 10 + (chr - '0');
    }
    return negative ? -number : number;
  }
  return Fail(Invalid(key, fmt::format("must be a number, not {}", value.type_name())));
}

Result<int> GetBoundedInt(std::string_view key, const json& value, std::int64_t min,
                          std::int64_t max) {
  MLTF_ASSIGN_OR_RETURN(number, GetInteger(key, value));
  if (number < min || number > max) {
    return Fail(Invalid(
        key, fmt::format("{} is out of range; it must be between {} and {}", number, min, max)));
  }
  return static_cast<int>(number);
}

Result<bool> GetBool(std::string_view key, const json& value) {
  if (value.is_boolean()) {
    return value.get<bool>();
  }
  if (value.is_number_integer() &&
      (value.get<std::int64_t>() == 0 || value.get<std::int64_t>() == 1)) {
    return value.get<std::int64_t>() == 1;
  }
  if (value.is_string()) {
    const std::string lower = Lower(value.get<std::string>());
    if (lower == "true" || lower == "yes" || lower == "1") {
      return true;
    }
    if (lower == "false" || lower == "no" || lower == "0") {
      return false;
    }
  }
  return Fail(Invalid(
      key, fmt::format("'{}' is not a boolean (true or false)", QuoteForMessage(value.dump()))));
}

// A list of strings, or one string split at commas and whitespace.
Result<std::vector<std::string>> GetStringList(std::string_view key, const json& value,
                                               bool allow_string) {
  std::vector<std::string> items;
  if (value.is_string() && allow_string) {
    MLTF_ASSIGN_OR_RETURN(text, GetString(key, value));
    std::string current;
    for (const char chr : text + ",") {
      if (chr == ',' || chr == ' ') {
        if (!current.empty()) {
          items.push_back(std::move(current));
          current.clear();
        }
      } else {
        current += chr;
      }
    }
  } else if (value.is_array()) {
    for (const auto& item : value) {
      MLTF_ASSIGN_OR_RETURN(text, GetString(key, item));
      items.push_back(std::move(text));
    }
  } else {
    return Fail(Invalid(key, fmt::format("must be a list of strings{}, not {}",
                                         allow_string ? " or a string" : "", value.type_name())));
  }
  if (items.size() > kMaxListLength) {
    return Fail(Invalid(key, fmt::format("more than {} entries", kMaxListLength)));
  }
  return items;
}

// Digits followed by an optional K/M/G/T (and an optional B or iB after it).
Result<std::uint64_t> ParseMemoryText(std::string_view key, std::string_view text) {
  constexpr std::size_t kMaxDigits = 15;
  std::size_t digit_count = 0;
  while (digit_count < text.size() && text[digit_count] >= '0' && text[digit_count] <= '9') {
    ++digit_count;
  }
  const std::string_view digits = text.substr(0, digit_count);
  const std::string suffix = Lower(text.substr(digit_count));
  std::uint64_t unit = 0;
  if (suffix.empty()) {
    unit = kMiB;  // SLURM: a bare number is megabytes
  } else {
    switch (suffix.front()) {
      case 'k':
        unit = kKiB;
        break;
      case 'm':
        unit = kMiB;
        break;
      case 'g':
        unit = kGiB;
        break;
      case 't':
        unit = kTiB;
        break;
      default:
        break;
    }
    const std::string_view rest = std::string_view(suffix).substr(1);
    if (!rest.empty() && rest != "b" && rest != "ib") {
      unit = 0;
    }
  }
  if (digits.empty() || unit == 0) {
    return Fail(Invalid(key, fmt::format("'{}' is not a memory size; write megabytes (\"8192\") "
                                         "or a number with a unit (\"4G\", \"512M\", \"1TB\")",
                                         QuoteForMessage(text))));
  }
  if (digits.size() > kMaxDigits) {
    return Fail(Invalid(key, fmt::format("'{}' is larger than 64 TiB", QuoteForMessage(text))));
  }
  std::uint64_t number = 0;
  for (const char chr : digits) {
    number = number * 10 + static_cast<std::uint64_t>(chr - '0');
  }
  if (number > kMaxMemoryBytes / unit) {
    return Fail(Invalid(key, fmt::format("'{}' is larger than 64 TiB", QuoteForMessage(text))));
  }
  if (number == 0) {
    return Fail(Invalid(key,
                        "0 (SLURM's \"all the memory of the node\") is not supported; ask "
                        "for an amount, or leave the key out for no reservation"));
  }
  return number * unit;
}

// A field of a SLURM time: digits only, at most 9 of them (no overflow).
Result<std::int64_t> TimeField(std::string_view key, std::string_view whole, std::string_view field,
                               std::int64_t limit) {
  constexpr std::size_t kMaxDigits = 9;
  if (!IsDigits(field) || field.size() > kMaxDigits) {
    return Fail(Invalid(key, fmt::format("'{}' is not a time limit; use seconds (3600) or "
                                         "SLURM's \"MM:SS\", \"HH:MM:SS\", \"D-HH\", \"D-HH:MM\", "
                                         "\"D-HH:MM:SS\", or \"UNLIMITED\"",
                                         QuoteForMessage(whole))));
  }
  std::int64_t number = 0;
  for (const char chr : field) {
    number = number * 10 + (chr - '0');
  }
  if (limit > 0 && number >= limit) {
    return Fail(Invalid(key, fmt::format("'{}': field '{}' must be below {}",
                                         QuoteForMessage(whole), field, limit)));
  }
  return number;
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? text.npos : end - start));
    if (end == std::string_view::npos) {
      return parts;
    }
    start = end + 1;
  }
}

// SLURM's forms with a colon or a day count. The first field is unbounded, as in SLURM
// ("90:00" is ninety minutes); the ones after it must be below 60 (24 for hours after days).
Result<std::int64_t> ParseSlurmTime(std::string_view key, std::string_view text) {
  std::int64_t days = 0;
  std::string_view clock = text;
  const std::size_t dash = text.find('-');
  if (dash != std::string_view::npos) {
    MLTF_ASSIGN_OR_RETURN(day_count, TimeField(key, text, text.substr(0, dash), 0));
    days = day_count;
    clock = text.substr(dash + 1);
    const auto parts = Split(clock, ':');
    if (parts.size() > 3) {
      return Fail(Invalid(key, fmt::format("'{}' has too many ':' fields", QuoteForMessage(text))));
    }
    constexpr std::int64_t kUnits[] = {kSecondsPerHour, kSecondsPerMinute, 1};
    constexpr std::int64_t kLimits[] = {24, 60, 60};
    std::int64_t seconds = days * kSecondsPerDay;
    for (std::size_t idx = 0; idx < parts.size(); ++idx) {
      MLTF_ASSIGN_OR_RETURN(field, TimeField(key, text, parts[idx], kLimits[idx]));
      seconds += field * kUnits[idx];
    }
    return seconds;
  }
  const auto parts = Split(clock, ':');
  if (parts.size() == 2) {  // MM:SS
    MLTF_ASSIGN_OR_RETURN(minutes, TimeField(key, text, parts[0], 0));
    MLTF_ASSIGN_OR_RETURN(seconds, TimeField(key, text, parts[1], 60));
    return minutes * kSecondsPerMinute + seconds;
  }
  if (parts.size() == 3) {  // HH:MM:SS
    MLTF_ASSIGN_OR_RETURN(hours, TimeField(key, text, parts[0], 0));
    MLTF_ASSIGN_OR_RETURN(minutes, TimeField(key, text, parts[1], 60));
    MLTF_ASSIGN_OR_RETURN(seconds, TimeField(key, text, parts[2], 60));
    return hours * kSecondsPerHour + minutes * kSecondsPerMinute + seconds;
  }
  return TimeField(key, text, "", 0);  // reports the accepted forms
}

// A GPU count with an optional type, as found in gres and gpus_per_node.
struct GpuAsk {
  int count = 0;
  std::string type;
};

Result<std::string> CheckGpuType(std::string_view key, std::string_view type) {
  MLTF_TRY(CheckOptionValue(key, type, "._-", "a GPU type"));
  return std::string(type);
}

// gres: "gpu", "gpu:2", "gpu:a100", "gpu:nvidia_rtx_a6000:1", or a comma list of such
// entries in which only the gpu entry sets the GPUs; the others are kept in `rest`.
Result<std::optional<GpuAsk>> ParseGres(std::string_view key, std::string_view text,
                                        std::string& rest) {
  MLTF_TRY(CheckOptionValue(key, text, "._:,-", "gres"));
  std::optional<GpuAsk> gpu;
  for (const std::string_view entry : Split(text, ',')) {
    if (entry.empty() || entry.front() == ':' || entry.front() == '-') {
      return Fail(
          Invalid(key, fmt::format("'{}' has an empty or malformed entry", QuoteForMessage(text))));
    }
    const auto fields = Split(entry, ':');
    if (fields[0] != "gpu") {
      rest += rest.empty() ? "" : ",";
      rest += entry;
      continue;
    }
    if (gpu) {
      return Fail(
          Invalid(key, fmt::format("'{}' names gpu more than once", QuoteForMessage(text))));
    }
    GpuAsk ask{1, ""};
    if (fields.size() > 3) {
      return Fail(Invalid(
          key, fmt::format("'{}': a gpu entry is gpu[:type][:count]", QuoteForMessage(text))));
    }
    if (fields.size() == 3) {
      MLTF_ASSIGN_OR_RETURN(type, CheckGpuType(key, fields[1]));
      ask.type = std::move(type);
      MLTF_ASSIGN_OR_RETURN(count, GetBoundedInt(key, json(std::string(fields[2])), 0, kMaxGpus));
      ask.count = count;
    } else if (fields.size() == 2) {
      if (IsDigits(fields[1])) {
        MLTF_ASSIGN_OR_RETURN(count, GetBoundedInt(key, json(std::string(fields[1])), 0, kMaxGpus));
        ask.count = count;
      } else {
        MLTF_ASSIGN_OR_RETURN(type, CheckGpuType(key, fields[1]));
        ask.type = std::move(type);
      }
    }
    gpu = ask;
  }
  return gpu;
}

// gpus_per_node: 2, "2" or "a100:2" (SLURM's --gpus-per-node=[type:]count).
Result<GpuAsk> ParseGpusPerNode(std::string_view key, const json& value) {
  if (!value.is_string()) {
    MLTF_ASSIGN_OR_RETURN(count, GetBoundedInt(key, value, 0, kMaxGpus));
    return GpuAsk{count, ""};
  }
  MLTF_ASSIGN_OR_RETURN(text, GetString(key, value));
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos) {
    MLTF_ASSIGN_OR_RETURN(count, GetBoundedInt(key, value, 0, kMaxGpus));
    return GpuAsk{count, ""};
  }
  MLTF_ASSIGN_OR_RETURN(type, CheckGpuType(key, std::string_view(text).substr(0, colon)));
  MLTF_ASSIGN_OR_RETURN(count, GetBoundedInt(key, json(text.substr(colon + 1)), 0, kMaxGpus));
  return GpuAsk{count, std::move(type)};
}

std::string FormatMemory(std::uint64_t bytes) {
  constexpr std::pair<std::uint64_t, std::string_view> kUnits[] = {
      {kTiB, "TiB"}, {kGiB, "GiB"}, {kMiB, "MiB"}, {kKiB, "KiB"}};
  for (const auto& [unit, name] : kUnits) {
    if (bytes >= unit && bytes % unit == 0) {
      return fmt::format("{} {}", bytes / unit, name);
    }
  }
  return fmt::format("{} bytes", bytes);
}

// A memory size, so that conflicts print it with its unit.
struct Bytes {
  std::uint64_t value = 0;
  friend bool operator==(const Bytes&, const Bytes&) = default;
};

std::string Show(int value) { return std::to_string(value); }
std::string Show(const std::string& value) { return QuoteForMessage(value); }
std::string Show(Bytes bytes) { return FormatMemory(bytes.value); }

// One field that several keys may set: remembers which key set it, so that a second key
// with a different value is reported as a conflict naming both.
template <typename T>
class Slot {
 public:
  Result<void> Set(T value, std::string_view key) {
    if (value_ && *value_ != value) {
      return Fail(Error::InvalidParameter(
          fmt::format("Conflicting resources: '{}' asks for {} but '{}' asks for {}", key_,
                      Show(*value_), QuoteForMessage(key), Show(value))));
    }
    if (!value_) {
      value_ = std::move(value);
      key_ = std::string(key);
    }
    return {};
  }
  const std::optional<T>& value() const { return value_; }

 private:
  std::optional<T> value_;
  std::string key_;
};

// Everything read from the object before the fields are reconciled.
struct Collected {
  Slot<int> cpus;
  Slot<Bytes> memory;
  Slot<int> gpus;
  Slot<std::string> gpu_type;
  Slot<int> nodes;
  Slot<int> tasks_per_node;
  std::optional<int> ntasks;
  Slot<std::string> job_name;
};

Result<void> CheckModule(std::string_view key, std::string_view name) {
  return CheckOptionValue(key, name, "._+/-", "a module name");
}

Result<void> ReadEnvironment(std::string_view key, const json& value, ResourceRequest& request) {
  std::vector<std::pair<std::string, std::string>> pairs;
  if (value.is_object()) {
    for (const auto& [name, item] : value.items()) {
      MLTF_ASSIGN_OR_RETURN(text, GetString(key, item));
      pairs.emplace_back(name, std::move(text));
    }
  } else {
    MLTF_ASSIGN_OR_RETURN(items, GetStringList(key, value, false));
    for (const auto& item : items) {
      const std::size_t equals = item.find('=');
      if (equals == std::string::npos) {
        return Fail(Invalid(key, fmt::format("'{}' is not NAME=VALUE", QuoteForMessage(item))));
      }
      pairs.emplace_back(item.substr(0, equals), item.substr(equals + 1));
    }
  }
  if (pairs.size() > kMaxListLength) {
    return Fail(Invalid(key, fmt::format("more than {} entries", kMaxListLength)));
  }
  for (const auto& [name, text] : pairs) {
    MLTF_TRY(CheckPlainString(key, name));
    if (!IsShellIdentifier(name)) {
      return Fail(Invalid(key, fmt::format("'{}' is not a valid variable name (letters, digits "
                                           "and '_', not starting with a digit)",
                                           QuoteForMessage(name))));
    }
    MLTF_TRY(CheckPlainString(key, text));
  }
  request.environment = std::move(pairs);
  return {};
}

Result<void> ReadExports(std::string_view key, const json& value, ResourceRequest& request) {
  MLTF_ASSIGN_OR_RETURN(names, GetStringList(key, value, true));
  for (const auto& name : names) {
    if (!IsShellIdentifier(name)) {
      return Fail(Invalid(key, fmt::format("'{}' is not a valid variable name (letters, digits "
                                           "and '_', not starting with a digit)",
                                           QuoteForMessage(name))));
    }
  }
  request.exports = std::move(names);
  return {};
}

std::string AcceptedKeyList() {
  std::string list;
  for (const auto key : kAcceptedKeys) {
    list += list.empty() ? "" : ", ";
    list += key;
  }
  return list;
}

Result<void> ReadKey(const std::string& key, const json& value, Collected& seen,
                     ResourceRequest& request) {
  if (key == "cpus" || key == "cpus-per-task") {
    MLTF_ASSIGN_OR_RETURN(cpus, GetBoundedInt(key, value, 1, kMaxCpus));
    return seen.cpus.Set(cpus, key);
  }
  if (key == "memory" || key == "mem") {
    MLTF_ASSIGN_OR_RETURN(bytes, ParseMemory(value, key));
    return seen.memory.Set(Bytes{bytes}, key);
  }
  if (key == "gpus") {
    MLTF_ASSIGN_OR_RETURN(gpus, GetBoundedInt(key, value, 0, kMaxGpus));
    return seen.gpus.Set(gpus, key);
  }
  if (key == "gpu_type") {
    MLTF_ASSIGN_OR_RETURN(text, GetString(key, value));
    MLTF_ASSIGN_OR_RETURN(type, CheckGpuType(key, text));
    return seen.gpu_type.Set(type, key);
  }
  if (key == "gres" || key == "gpus_per_node") {
    std::optional<GpuAsk> ask;
    if (key == "gres") {
      MLTF_ASSIGN_OR_RETURN(text, GetString(key, value));
      std::string rest;
      MLTF_ASSIGN_OR_RETURN(gres, ParseGres(key, text, rest));
      ask = gres;
      if (!rest.empty()) {
        request.other["gres"] = rest;
      }
    } else {
      MLTF_ASSIGN_OR_RETURN(gpus_per_node, ParseGpusPerNode(key, value));
      ask = gpus_per_node;
    }
    if (ask) {
      MLTF_TRY(seen.gpus.Set(ask->count, key));
      if (!ask->type.empty()) {
        MLTF_TRY(seen.gpu_type.Set(ask->type, key));
      }
    }
    return {};
  }
  if (key == "nodes") {
    MLTF_ASSIGN_OR_RETURN(nodes, GetBoundedInt(key, value, 1, kMaxNodes));
    return seen.nodes.Set(nodes, key);
  }
  if (key == "tasks_per_node" || key == "ntasks-per-node") {
    MLTF_ASSIGN_OR_RETURN(tasks, GetBoundedInt(key, value, 1, kMaxTasksPerNode));
    return seen.tasks_per_node.Set(tasks, key);
  }
  if (key == "ntasks") {
    MLTF_ASSIGN_OR_RETURN(tasks,
                          GetBoundedInt(key, value, 1, std::int64_t{kMaxTasksPerNode} * kMaxNodes));
    seen.ntasks = tasks;
    return {};
  }
  if (key == "time") {
    MLTF_ASSIGN_OR_RETURN(limit, ParseTimeLimit(value, key));
    request.time_seconds = limit;
    return {};
  }
  if (key == "partition") {
    // SLURM takes a comma list of partitions, the first one that can start the job wins.
    MLTF_ASSIGN_OR_RETURN(text, GetString(key, value));
    MLTF_TRY(CheckOptionValue(key, text, "._,-", "a partition"));
    request.partition = std::move(text);
    return {};
  }
  if (key == "account") {
    MLTF_ASSIGN_OR_RETURN(text, GetString(key, value));
    MLTF_TRY(CheckOptionValue(key, text, "._-", "an account"));
    request.account = std::move(text);
    return {};
  }
  if (key == "job-name" || key == "job_name") {
    MLTF_ASSIGN_OR_RETURN(text, GetString(key, value));
    MLTF_TRY(CheckOptionValue(key, text, "._+-", "a job name"));
    return seen.job_name.Set(text, key);
  }
  if (key == "output") {
    // A relative path with SLURM's %-patterns ("slurm-%j.out"), kept inside the task's work
    // directory: absolute paths and '..' would let a task write where the service can.
    MLTF_ASSIGN_OR_RETURN(text, GetString(key, value));
    MLTF_TRY(CheckOptionValue(key, text, "._/%-", "an output path"));
    if (text.front() == '/') {
      return Fail(Invalid(key, "must be a relative path (inside the task's work directory)"));
    }
    for (const auto component : Split(text, '/')) {
      if (component == "..") {
        return Fail(Invalid(key,
                            "must not contain '..' (it stays inside the task's work "
                            "directory)"));
      }
    }
    request.output = std::move(text);
    return {};
  }
  if (key == "mail-user") {
    MLTF_ASSIGN_OR_RETURN(text, GetString(key, value));
    MLTF_TRY(CheckOptionValue(key, text, "._%+@-", "a mail address"));
    request.mail_user = std::move(text);
    return {};
  }
  if (key == "mail-type") {
    MLTF_ASSIGN_OR_RETURN(text, GetString(key, value));
    MLTF_TRY(CheckOptionValue(key, text, "_,", "a mail type"));
    request.mail_type = std::move(text);
    return {};
  }
  if (key == "exclusive") {
    MLTF_ASSIGN_OR_RETURN(exclusive, GetBool(key, value));
    request.exclusive = exclusive;
    return {};
  }
  if (key == "modules") {
    MLTF_ASSIGN_OR_RETURN(modules, GetStringList(key, value, true));
    for (const auto& module : modules) {
      MLTF_TRY(CheckModule(key, module));
    }
    request.modules = std::move(modules);
    return {};
  }
  if (key == "environment") {
    return ReadEnvironment(key, value, request);
  }
  if (key == "exports") {
    return ReadExports(key, value, request);
  }
  if (key == "sbatch-script-file") {
    MLTF_ASSIGN_OR_RETURN(text, GetString(key, value));
    if (text.empty()) {
      return Fail(Invalid(key, "must not be empty"));
    }
    request.sbatch_script_file = std::move(text);
    return {};
  }
  if (key == "debug") {
    request.other["debug"] = value.dump();
    return {};
  }
  return Fail(Error::InvalidParameter(fmt::format("Unknown resource key '{}'. Accepted keys: {}",
                                                  QuoteForMessage(key), AcceptedKeyList())));
}

// The same size in SLURM's spelling, largest exact unit ("4G", "1536M").
std::string SlurmMemory(std::uint64_t bytes) {
  constexpr std::pair<std::uint64_t, std::string_view> kUnits[] = {
      {kTiB, "T"}, {kGiB, "G"}, {kMiB, "M"}, {kKiB, "K"}};
  for (const auto& [unit, name] : kUnits) {
    if (bytes >= unit && bytes % unit == 0) {
      return fmt::format("{}{}", bytes / unit, name);
    }
  }
  return fmt::format("{}K", (bytes + kKiB - 1) / kKiB);
}

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> words;
  std::string current;
  for (const char chr : text) {
    if (IsAlnum(chr)) {
      current += ToLower(chr);
    } else if (!current.empty()) {
      words.push_back(std::move(current));
      current.clear();
    }
  }
  if (!current.empty()) {
    words.push_back(std::move(current));
  }
  return words;
}

}  // namespace

Result<std::uint64_t> ParseMemory(const nlohmann::json& value, std::string_view key) {
  if (value.is_number()) {
    MLTF_ASSIGN_OR_RETURN(megabytes, GetInteger(key, value));
    if (megabytes < 0) {
      return Fail(Invalid(key, fmt::format("{} is negative", megabytes)));
    }
    return ParseMemoryText(key, std::to_string(megabytes));
  }
  MLTF_ASSIGN_OR_RETURN(text, GetString(key, value));
  return ParseMemoryText(key, text);
}

// A bare number is SECONDS, unlike SLURM's --time where it is minutes: MLTF's
// gateway_config.json and mltf_config.json write the limit in seconds ("time": 3600), and the
// facility's users hold those files. SLURM's own string forms keep SLURM's meaning.
Result<std::optional<std::int64_t>> ParseTimeLimit(const nlohmann::json& value,
                                                   std::string_view key) {
  std::int64_t seconds = 0;
  if (value.is_number()) {
    MLTF_ASSIGN_OR_RETURN(number, GetInteger(key, value));
    seconds = number;
  } else {
    MLTF_ASSIGN_OR_RETURN(text, GetString(key, value));
    const std::string lower = Lower(text);
    if (lower == "unlimited" || lower == "infinite") {
      return std::optional<std::int64_t>();
    }
    if (IsDigits(text)) {
      MLTF_ASSIGN_OR_RETURN(number, GetInteger(key, value));
      seconds = number;
    } else {
      MLTF_ASSIGN_OR_RETURN(number, ParseSlurmTime(key, text));
      seconds = number;
    }
  }
  if (seconds <= 0) {
    return Fail(Invalid(key, fmt::format("{} must be more than 0 seconds (write \"UNLIMITED\" "
                                         "for no limit)",
                                         seconds)));
  }
  return std::optional<std::int64_t>(seconds);
}

Result<ResourceRequest> ParseResourceRequest(const nlohmann::json& object) {
  if (!object.is_object()) {
    return Fail(Error::InvalidParameter(
        fmt::format("Invalid resources: expected a JSON object, got {}", object.type_name())));
  }
  ResourceRequest request;
  Collected seen;
  for (const auto& [key, value] : object.items()) {
    if (std::find(std::begin(kDroppedKeys), std::end(kDroppedKeys), key) !=
        std::end(kDroppedKeys)) {
      continue;
    }
    MLTF_TRY(ReadKey(key, value, seen, request));
  }
  request.cpus = seen.cpus.value().value_or(1);
  request.memory_bytes = seen.memory.value().value_or(Bytes{}).value;
  request.gpus = seen.gpus.value().value_or(0);
  request.gpu_type = seen.gpu_type.value().value_or("");
  request.nodes = seen.nodes.value().value_or(1);
  request.job_name = seen.job_name.value().value_or("");
  if (seen.ntasks) {
    // ntasks is the total over all nodes (what sbatch does with it, whatever mlflow-slurm's
    // README says); spread it evenly, rounding up as SLURM's block distribution does.
    const int per_node = (*seen.ntasks + request.nodes - 1) / request.nodes;
    if (per_node > kMaxTasksPerNode) {
      return Fail(Invalid("ntasks", fmt::format("{} tasks on {} node(s) is more than {} per node",
                                                *seen.ntasks, request.nodes, kMaxTasksPerNode)));
    }
    MLTF_TRY(seen.tasks_per_node.Set(per_node, "ntasks"));
  }
  request.tasks_per_node = seen.tasks_per_node.value().value_or(1);
  if (!request.gpu_type.empty() && request.gpus == 0) {
    return Fail(Invalid("gpu_type", fmt::format("asks for GPU type '{}' but for no GPUs; set "
                                                "gpus (or gres: gpu:{}:1)",
                                                request.gpu_type, request.gpu_type)));
  }
  return request;
}

nlohmann::json ToJson(const ResourceRequest& request) {
  json out = json::object();
  out["cpus"] = request.cpus;
  if (request.memory_bytes > 0) {
    out["memory"] = SlurmMemory(request.memory_bytes);
  }
  out["gpus"] = request.gpus;
  if (!request.gpu_type.empty()) {
    out["gpu_type"] = request.gpu_type;
  }
  out["nodes"] = request.nodes;
  out["tasks_per_node"] = request.tasks_per_node;
  if (request.time_seconds) {
    out["time"] = *request.time_seconds;
  }
  const std::pair<std::string_view, const std::string*> option_strings[] = {
      {"partition", &request.partition},
      {"account", &request.account},
      {"job-name", &request.job_name},
      {"output", &request.output},
      {"mail-user", &request.mail_user},
      {"mail-type", &request.mail_type},
      {"sbatch-script-file", &request.sbatch_script_file}};
  for (const auto& [key, text] : option_strings) {
    if (!text->empty()) {
      out[std::string(key)] = *text;
    }
  }
  if (request.exclusive) {
    out["exclusive"] = true;
  }
  if (!request.modules.empty()) {
    out["modules"] = request.modules;
  }
  if (!request.environment.empty()) {
    json environment = json::array();
    for (const auto& [name, text] : request.environment) {
      environment.push_back(fmt::format("{}={}", name, text));
    }
    out["environment"] = std::move(environment);
  }
  if (!request.exports.empty()) {
    out["exports"] = request.exports;
  }
  for (const auto& [key, text] : request.other) {
    if (key == "debug") {
      out[key] = json::parse(text, nullptr, false);
    } else {
      out[key] = text;
    }
  }
  return out;
}

std::string FormatTimeLimit(std::int64_t seconds) {
  const std::int64_t days = seconds / kSecondsPerDay;
  const std::int64_t hours = (seconds % kSecondsPerDay) / kSecondsPerHour;
  const std::int64_t minutes = (seconds % kSecondsPerHour) / kSecondsPerMinute;
  const std::int64_t secs = seconds % kSecondsPerMinute;
  if (days > 0) {
    return fmt::format("{}-{:02}:{:02}:{:02}", days, hours, minutes, secs);
  }
  return fmt::format("{}:{:02}:{:02}", hours, minutes, secs);
}

std::string DescribeResources(const ResourceRequest& request) {
  std::vector<std::string> parts;
  if (request.nodes > 1) {
    parts.push_back(fmt::format("{} nodes", request.nodes));
  }
  if (request.tasks_per_node > 1) {
    parts.push_back(fmt::format("{} tasks/node", request.tasks_per_node));
  }
  parts.push_back(fmt::format("{} cpu{}", request.cpus, request.cpus == 1 ? "" : "s"));
  if (request.memory_bytes > 0) {
    parts.push_back(FormatMemory(request.memory_bytes));
  }
  if (request.gpus > 0) {
    std::string gpus = fmt::format("{} gpu{}", request.gpus, request.gpus == 1 ? "" : "s");
    if (!request.gpu_type.empty()) {
      gpus += fmt::format(" ({})", request.gpu_type);
    }
    parts.push_back(std::move(gpus));
  }
  parts.push_back(request.time_seconds ? FormatTimeLimit(*request.time_seconds)
                                       : std::string("no time limit"));
  if (!request.partition.empty()) {
    parts.push_back("partition " + request.partition);
  }
  if (!request.account.empty()) {
    parts.push_back("account " + request.account);
  }
  if (request.exclusive) {
    parts.emplace_back("exclusive");
  }
  return fmt::format("{}", fmt::join(parts, ", "));
}

bool GpuTypeMatches(std::string_view device_name, std::string_view gpu_type) {
  const auto wanted = Words(gpu_type);
  if (wanted.empty()) {
    return true;
  }
  const auto have = Words(device_name);
  return std::search(have.begin(), have.end(), wanted.begin(), wanted.end()) != have.end();
}

}  // namespace mltf::scheduler
