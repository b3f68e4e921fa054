// slurm_rest.cpp - the SLURM operations through slurmrestd (see the header for the protocol).
#include "gateway/executors/slurm/slurm_rest.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

namespace mltf::gateway::executors::slurm {
namespace {

using nlohmann::json;

/// Beyond this an answer is refused: GET .../jobs of a large cluster stays far below it.
constexpr std::size_t kMaxAnswerBytes = std::size_t{256} << 20U;
constexpr std::size_t kMaxQuotedBody = 200;
constexpr std::int64_t kStatusByte = 0xff;
constexpr std::int64_t kSignalBits = 0x7f;
constexpr int kSecondsPerMinute = 60;
/// slurmctld's "Invalid job id specified": the job is not (any more) in its memory.
constexpr int kInvalidJobId = 2017;
/// What slurmrestd 22.05 reports, with HTTP 500, for a token it does not accept (or 5005).
constexpr int kUnspecifiedError = -1;
constexpr long kHttpOk = 200;
constexpr long kHttpUnauthorized = 401;

std::string Trim(std::string_view text) {
  constexpr std::string_view kBlank = " \t\r\n";
  const std::size_t first = text.find_first_not_of(kBlank);
  if (first == std::string_view::npos) return {};
  return std::string(text.substr(first, text.find_last_not_of(kBlank) - first + 1));
}

std::optional<std::int64_t> ParseCount(std::string_view text) {
  std::int64_t value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || ptr != end || value < 0) return std::nullopt;
  return value;
}

Error Unmappable(std::string_view option, std::string_view why) {
  return Error::InvalidParameter(
      fmt::format("Cannot submit through slurmrestd: the SLURM option '{}' {}", option, why));
}

/// "100M", "2G", "512" (megabytes) as megabytes, rounded up.
std::optional<std::int64_t> Megabytes(std::string_view text) {
  std::int64_t kib_per_unit = 1024;  // M, the default
  if (!text.empty() && (text.back() < '0' || text.back() > '9')) {
    switch (text.back()) {
      case 'K':
      case 'k':
        kib_per_unit = 1;
        break;
      case 'M':
      case 'm':
        break;
      case 'G':
      case 'g':
        kib_per_unit = std::int64_t{1024} * 1024;
        break;
      case 'T':
      case 't':
        kib_per_unit = std::int64_t{1024} * 1024 * 1024;
        break;
      default:
        return std::nullopt;
    }
    text.remove_suffix(1);
  }
  const auto count = ParseCount(text);
  if (!count || *count > (std::int64_t{1} << 42) / kib_per_unit) return std::nullopt;
  return (*count * kib_per_unit + 1023) / 1024;
}

/// sbatch's --time forms ("D-HH:MM:SS", "D-HH:MM", "D-HH", "HH:MM:SS", "MM:SS", "MM") as
/// minutes, rounded up: the API takes whole minutes.
std::optional<std::int64_t> Minutes(std::string_view text) {
  std::optional<std::int64_t> days;
  if (const std::size_t dash = text.find('-'); dash != std::string_view::npos) {
    days = ParseCount(text.substr(0, dash));
    if (!days) return std::nullopt;
    text = text.substr(dash + 1);
  }
  std::vector<std::int64_t> parts;
  while (true) {
    const std::size_t colon = text.find(':');
    const auto part = ParseCount(text.substr(0, colon));
    if (!part || parts.size() == 3) return std::nullopt;
    parts.push_back(*part);
    if (colon == std::string_view::npos) break;
    text = text.substr(colon + 1);
  }
  constexpr std::int64_t kHour = 3600;
  constexpr std::int64_t kDay = 24 * kHour;
  std::int64_t seconds = 0;
  if (days) {
    seconds = *days * kDay;
    constexpr std::array<std::int64_t, 3> kScale{kHour, kSecondsPerMinute, 1};
    for (std::size_t idx = 0; idx < parts.size(); ++idx) seconds += parts[idx] * kScale.at(idx);
  } else if (parts.size() == 3) {
    seconds = parts[0] * kHour + parts[1] * kSecondsPerMinute + parts[2];
  } else if (parts.size() == 2) {
    seconds = parts[0] * kSecondsPerMinute + parts[1];
  } else {
    seconds = parts[0] * kSecondsPerMinute;
  }
  return (seconds + kSecondsPerMinute - 1) / kSecondsPerMinute;
}

/// The fields that take an sbatch option's value as it is.
constexpr std::array<std::pair<std::string_view, std::string_view>, 22> kStringFields = {{
    {"--job-name", "name"},
    {"--chdir", "current_working_directory"},
    {"--output", "standard_output"},
    {"--error", "standard_error"},
    {"--input", "standard_input"},
    {"--open-mode", "open_mode"},
    {"--partition", "partition"},
    {"--account", "account"},
    {"--qos", "qos"},
    {"--gres", "gres"},
    {"--mail-user", "mail_user"},
    {"--mail-type", "mail_type"},
    {"--reservation", "reservation"},
    {"--constraint", "constraints"},
    {"--comment", "comment"},
    {"--wckey", "wckey"},
    {"--licenses", "licenses"},
    {"--gpus", "gpus"},
    {"--gpus-per-node", "gpus_per_node"},
    {"--gpus-per-task", "gpus_per_task"},
    {"--dependency", "dependency"},
    {"--prefer", "prefer"},
}};

constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kCountFields = {{
    {"--cpus-per-task", "cpus_per_task"},
    {"--ntasks-per-node", "tasks_per_node"},
    {"--ntasks", "tasks"},
    {"--nice", "nice"},
}};

constexpr std::array<std::pair<std::string_view, std::string_view>, 3> kMemoryFields = {{
    {"--mem", "memory_per_node"},
    {"--mem-per-cpu", "memory_per_cpu"},
    {"--mem-per-gpu", "memory_per_gpu"},
}};

template <std::size_t N>
std::optional<std::string_view> FieldOf(
    const std::array<std::pair<std::string_view, std::string_view>, N>& table,
    std::string_view option) {
  for (const auto& [name, field] : table) {
    if (name == option) return field;
  }
  return std::nullopt;
}

Result<void> MapOption(std::string_view option, json& job) {
  const std::size_t equals = option.find('=');
  const std::string_view name = option.substr(0, equals);
  const bool has_value = equals != std::string_view::npos;
  const std::string_view value = has_value ? option.substr(equals + 1) : std::string_view();
  auto needs_value = [&]() -> Result<void> {
    if (!has_value || value.empty()) return Fail(Unmappable(option, "needs a value"));
    return {};
  };
  if (const auto field = FieldOf(kStringFields, name)) {
    MLTF_TRY(needs_value());
    job[std::string(*field)] = std::string(value);
    return {};
  }
  if (const auto field = FieldOf(kCountFields, name)) {
    MLTF_TRY(needs_value());
    const auto count = ParseCount(value);
    if (!count || *count > (std::int64_t{1} << 31)) {
      return Fail(Unmappable(option, "needs a whole number"));
    }
    job[std::string(*field)] = *count;
    return {};
  }
  if (const auto field = FieldOf(kMemoryFields, name)) {
    MLTF_TRY(needs_value());
    const auto megabytes = Megabytes(value);
    if (!megabytes) return Fail(Unmappable(option, "needs a size such as 100M or 2G"));
    job[std::string(*field)] = *megabytes;
    return {};
  }
  if (name == "--time") {
    MLTF_TRY(needs_value());
    const auto minutes = Minutes(value);
    if (!minutes) return Fail(Unmappable(option, "needs a time such as 1-00:00:00 or 30"));
    job["time_limit"] = *minutes;
    return {};
  }
  if (name == "--nodes") {
    MLTF_TRY(needs_value());
    const std::size_t dash = value.find('-');
    const auto low = ParseCount(value.substr(0, dash));
    const auto high = dash == std::string_view::npos ? low : ParseCount(value.substr(dash + 1));
    if (!low || !high || *low < 1 || *high < *low) {
      return Fail(Unmappable(option, "needs a node count or a range such as 2-4"));
    }
    job["nodes"] = json::array({*low, *high});
    return {};
  }
  if (name == "--exclusive") {
    if (has_value && value != "user" && value != "mcs") {
      return Fail(Unmappable(option, "takes no value but 'user' or 'mcs'"));
    }
    job["exclusive"] = has_value ? std::string(value) : "true";
    return {};
  }
  if ((name == "--requeue" || name == "--no-requeue" || name == "--hold") && !has_value) {
    if (name == "--hold") {
      job["hold"] = true;
    } else {
      job["requeue"] = name == "--requeue";
    }
    return {};
  }
  if (name == "--kill-on-invalid-dep" && (value == "yes" || value == "no")) {
    job["kill_on_invalid_dependency"] = value == "yes";
    return {};
  }
  if (name == "--signal") {
    MLTF_TRY(needs_value());
    if (value.starts_with("B:")) {
      return Fail(Unmappable(option,
                             "asks for a signal to the batch shell, which slurmrestd 22.05 "
                             "cannot; only the job's steps (srun) can be signalled"));
    }
    job["signal"] = std::string(value);
    return {};
  }
  return Fail(Unmappable(option,
                         "has no field in slurmrestd 22.05's job description; remove it "
                         "or submit with SLURM's programs (slurm-rest-url empty)"));
}

/// Whether SLURM error `number` is about reaching slurmctld rather than the request: none given,
/// -1 (what a refused token gives), the communication and protocol errors (1000-1999) and the
/// socket errors (5000-5999; a refused token can give 5005 "Zero Bytes were transmitted").
bool IsTransportError(int number) {
  constexpr int kProtocolFirst = 1000;
  constexpr int kProtocolLast = 1999;
  constexpr int kSocketFirst = 5000;
  constexpr int kSocketLast = 5999;
  return number == kUnspecifiedError || number == 0 ||
         (number >= kProtocolFirst && number <= kProtocolLast) ||
         (number >= kSocketFirst && number <= kSocketLast);
}

/// SLURM's errors[] entries: (number, words).
std::vector<std::pair<int, std::string>> ErrorsOf(const json& answer) {
  std::vector<std::pair<int, std::string>> errors;
  if (!answer.is_object() || !answer.contains("errors") || !answer["errors"].is_array()) {
    return errors;
  }
  for (const auto& entry : answer["errors"]) {
    if (!entry.is_object()) continue;
    int number = 0;
    for (const char* key : {"error_number", "error_code"}) {
      if (entry.contains(key) && entry[key].is_number_integer()) number = entry[key].get<int>();
    }
    std::string words;
    for (const char* key : {"error", "description"}) {
      if (!entry.contains(key) || !entry[key].is_string()) continue;
      const auto text = entry[key].get<std::string>();
      if (text.empty() || text == words) continue;
      words += words.empty() ? text : " (" + text + ")";
    }
    errors.emplace_back(number, std::move(words));
  }
  return errors;
}

json ParseBody(std::string_view body) { return json::parse(body, nullptr, false); }

std::string StringField(const json& object, const char* key) {
  if (!object.contains(key)) return {};
  const json& value = object[key];
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_integer()) return std::to_string(value.get<std::int64_t>());
  return {};
}

std::string JobIdOf(const json& object) {
  if (!object.contains("job_id")) return {};
  const json& id = object["job_id"];
  if (id.is_number_unsigned() || id.is_number_integer()) {
    return std::to_string(id.get<std::int64_t>());
  }
  return id.is_string() ? id.get<std::string>() : std::string();
}

/// slurmdb's {"status": ..., "return_code": N, "signal": {"signal_id": S}} where it can be
/// trusted: a signal always, a return code only with status FAILED.
std::string DbExitCode(const json& exit_code) {
  if (!exit_code.is_object()) return {};
  const std::string status = StringField(exit_code, "status");
  if (status == "SIGNALED" && exit_code.contains("signal") && exit_code["signal"].is_object()) {
    const std::string signal = StringField(exit_code["signal"], "signal_id");
    if (!signal.empty()) return "0:" + signal;
  }
  if (status == "FAILED") {
    const std::string code = StringField(exit_code, "return_code");
    if (!code.empty() && code != "0") return code + ":0";
  }
  return {};
}

std::once_flag curl_initialised;

std::size_t CollectBody(char* data, std::size_t size, std::size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  const std::size_t bytes = size * count;
  if (body->size() + bytes > kMaxAnswerBytes) return 0;  // aborts the transfer
  body->append(data, bytes);
  return bytes;
}

/// The URL without "user:password@", for messages.
std::string Redacted(std::string_view url) {
  const std::size_t scheme = url.find("://");
  const std::size_t start = scheme == std::string_view::npos ? 0 : scheme + 3;
  const std::size_t at = url.find('@', start);
  const std::size_t slash = url.find('/', start);
  if (at == std::string_view::npos || (slash != std::string_view::npos && at > slash)) {
    return std::string(url);
  }
  return std::string(url.substr(0, start)) + std::string(url.substr(at + 1));
}

}  // namespace

// ---- transport ----------------------------------------------------------------------------

CurlRestTransport::CurlRestTransport(std::string base_url, std::chrono::milliseconds timeout)
    : base_url_(std::move(base_url)), timeout_(timeout) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  std::call_once(curl_initialised, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Result<RestResponse> CurlRestTransport::Send(std::string_view method,
                                             std::string_view path_and_query,
                                             const RestHeaders& headers, std::string_view body) {
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) return Fail(Error::Internal("cannot start an HTTP request (libcurl)"));
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> header_list(nullptr, &curl_slist_free_all);
  auto add_header = [&header_list](const std::string& line) {
    header_list.reset(curl_slist_append(header_list.release(), line.c_str()));
  };
  for (const auto& [name, value] : headers) add_header(fmt::format("{}: {}", name, value));
  if (!body.empty()) add_header("Content-Type: application/json");
  add_header("Expect:");
  const std::string url = base_url_ + std::string(path_and_query);
  const std::string method_text(method);
  RestResponse response;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_CUSTOMREQUEST, method_text.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, header_list.get());
  if (!body.empty() || method == "POST") {
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, &CollectBody);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  const CURLcode code = curl_easy_perform(curl.get());
  if (code != CURLE_OK) {
    return Fail(Error::Unavailable(fmt::format("slurmrestd at {} did not answer: {}",
                                               Redacted(base_url_), curl_easy_strerror(code))));
  }
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

// ---- token --------------------------------------------------------------------------------

TokenFile::TokenFile(std::filesystem::path path) : path_(std::move(path)) {}

Result<std::string> TokenFile::Token() {
  std::lock_guard lock(mutex_);
  std::error_code ec;
  const auto modified = std::filesystem::last_write_time(path_, ec);
  const auto size = ec ? 0 : std::filesystem::file_size(path_, ec);
  if (ec) {
    return Fail(Error::InvalidParameter(
        fmt::format("cannot read the slurmrestd token file {}: {}", path_.string(), ec.message())));
  }
  if (!token_.empty() && modified == read_at_modification_ && size == read_at_size_) {
    return token_;
  }
  std::ifstream in(path_);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    return Fail(Error::InvalidParameter(
        fmt::format("cannot read the slurmrestd token file {}", path_.string())));
  }
  std::string token = Trim(text.str());
  if (token.starts_with("SLURM_JWT="))
    token = Trim(token.substr(std::string_view("SLURM_JWT=").size()));
  const bool printable =
      std::all_of(token.begin(), token.end(), [](char chr) { return chr > ' ' && chr < 0x7f; });
  if (token.empty() || !printable) {
    return Fail(Error::InvalidParameter(fmt::format(
        "the slurmrestd token file {} holds no token (one line, as `scontrol token` prints it)",
        path_.string())));
  }
  token_ = std::move(token);
  read_at_modification_ = modified;
  read_at_size_ = size;
  return token_;
}

// ---- pure parts ---------------------------------------------------------------------------

Result<json> RestJobSubmission(const BatchJob& job,
                               const std::map<std::string, std::string>& environment) {
  json properties = json::object();
  for (const auto& option : job.options) MLTF_TRY(MapOption(option, properties));
  if (!properties.contains("tasks") && properties.contains("tasks_per_node") &&
      properties.contains("nodes")) {
    // sbatch derives the task count from these; the API wants it said.
    properties["tasks"] = properties["nodes"][0].get<std::int64_t>() *
                          properties["tasks_per_node"].get<std::int64_t>();
  }
  properties["environment"] = json::object();
  for (const auto& [name, value] : environment) properties["environment"][name] = value;
  return json{{"job", std::move(properties)}, {"script", job.script}};
}

std::string WaitStatusExitCode(std::int64_t status) {
  if (status < 0) return {};
  return fmt::format("{}:{}", (status >> 8) & kStatusByte, status & kSignalBits);
}

SlurmJobTable ParseRestJobs(const json& answer, const std::vector<std::string>& job_ids) {
  SlurmJobTable table;
  const std::set<std::string> wanted(job_ids.begin(), job_ids.end());
  if (!answer.is_object() || !answer.contains("jobs") || !answer["jobs"].is_array()) return table;
  for (const auto& entry : answer["jobs"]) {
    const std::string id = entry.is_object() ? JobIdOf(entry) : std::string();
    if (!IsSlurmJobId(id)) {
      ++table.skipped_lines;
      continue;
    }
    if (!wanted.contains(id)) continue;
    SlurmJobRecord record;
    record.job_id = id;
    record.state = StringField(entry, "job_state");
    record.phase = ParseSlurmState(record.state);
    record.reason = StringField(entry, "state_reason");
    record.node_list = StringField(entry, "nodes");
    // Only a finished job's status means anything; a running one shows 0.
    const JobOutcome outcome = OutcomeOf(record.phase, "", "");
    if (outcome.finished && !outcome.requeued) {
      for (const auto& [key, into] : {std::pair{"exit_code", &record.exit_code},
                                      std::pair{"derived_exit_code", &record.derived_exit_code}}) {
        if (entry.contains(key) && entry[key].is_number_integer()) {
          *into = WaitStatusExitCode(entry[key].get<std::int64_t>());
        }
      }
    }
    table.jobs[id] = std::move(record);
  }
  return table;
}

SlurmJobTable ParseRestAccounting(const json& answer) {
  SlurmJobTable table;
  if (!answer.is_object() || !answer.contains("jobs") || !answer["jobs"].is_array()) return table;
  for (const auto& entry : answer["jobs"]) {
    const std::string id = entry.is_object() ? JobIdOf(entry) : std::string();
    if (!IsSlurmJobId(id)) {
      ++table.skipped_lines;
      continue;
    }
    SlurmJobRecord record;
    record.job_id = id;
    if (entry.contains("state") && entry["state"].is_object()) {
      record.state = StringField(entry["state"], "current");
      record.reason = StringField(entry["state"], "reason");
    }
    record.phase = ParseSlurmState(record.state);
    record.node_list = StringField(entry, "nodes");
    if (entry.contains("exit_code")) record.exit_code = DbExitCode(entry["exit_code"]);
    if (record.exit_code.empty() && entry.contains("steps") && entry["steps"].is_array()) {
      // A signal that killed the batch step is recorded there, not on the job.
      for (const auto& step : entry["steps"]) {
        if (step.is_object() && step.contains("exit_code")) {
          if (auto code = DbExitCode(step["exit_code"]); !code.empty()) {
            record.exit_code = std::move(code);
            break;
          }
        }
      }
    }
    if (record.exit_code.empty() && record.phase == SlurmJobPhase::COMPLETED) {
      record.exit_code = "0:0";
    }
    auto [it, inserted] = table.jobs.try_emplace(id);
    if (!inserted) {
      record.earlier_phases = std::move(it->second.earlier_phases);
      record.earlier_phases.push_back(it->second.phase);
    }
    it->second = std::move(record);
  }
  return table;
}

std::string RestErrorText(const RestResponse& response) {
  std::string text;
  for (const auto& [number, words] : ErrorsOf(ParseBody(response.body))) {
    text += text.empty() ? "" : "; ";
    text += number == 0 ? words : fmt::format("{} (error {})", words, number);
  }
  if (!text.empty()) return text;
  std::string body = Trim(response.body.substr(0, kMaxQuotedBody));
  std::replace_if(
      body.begin(), body.end(), [](char chr) { return chr < ' '; }, ' ');
  return body.empty() ? "no details" : body;
}

bool HasRestError(const RestResponse& response, int number) {
  const auto errors = ErrorsOf(ParseBody(response.body));
  return std::any_of(errors.begin(), errors.end(),
                     [number](const auto& error) { return error.first == number; });
}

Error RestFailure(const RestResponse& response, std::string_view doing) {
  if (response.status == kHttpUnauthorized) {
    return Error::Unavailable(fmt::format(
        "{}: slurmrestd did not take the credentials (HTTP 401); check slurm-rest-user and the "
        "token file",
        doing));
  }
  const std::string details = RestErrorText(response);
  std::string message = fmt::format("{}: {} (HTTP {})", doing, details, response.status);
  const auto errors = ErrorsOf(ParseBody(response.body));
  const bool slurm_refused =
      !errors.empty() && std::none_of(errors.begin(), errors.end(), [](const auto& error) {
        return IsTransportError(error.first) || IsTransientSlurmError(error.second);
      });
  if (slurm_refused) return Error::InvalidParameter(std::move(message));
  if (std::any_of(errors.begin(), errors.end(), [](const auto& error) {
        return error.first != 0 && IsTransportError(error.first);
      })) {
    message += "; a token slurmrestd does not accept (expired, or another user's) looks like this";
  }
  return Error::Unavailable(std::move(message));
}

// ---- controller ---------------------------------------------------------------------------

RestSlurmController::RestSlurmController(RestSlurmOptions options,
                                         std::shared_ptr<RestTransport> transport)
    : options_(std::move(options)), transport_(std::move(transport)), token_(options_.token_file) {}

Result<RestResponse> RestSlurmController::Send(std::string_view method,
                                               const std::string& path_and_query,
                                               std::string_view body) {
  auto token = token_.Token();
  if (!token) return Fail(Error::Unavailable(token.error().message));  // a renewal may fix it
  const RestHeaders headers{{"X-SLURM-USER-NAME", options_.user},
                            {"X-SLURM-USER-TOKEN", std::move(*token)}};
  return transport_->Send(method, path_and_query, headers, body);
}

Result<void> RestSlurmController::Ping() {
  MLTF_ASSIGN_OR_RETURN(response, Send("GET", fmt::format("{}/ping", kSlurmRestPrefix)));
  if (response.status != kHttpOk) return Fail(RestFailure(response, "slurmrestd's ping failed"));
  const json answer = ParseBody(response.body);
  if (answer.is_object() && answer.contains("pings") && answer["pings"].is_array()) {
    for (const auto& ping : answer["pings"]) {
      if (ping.is_object() && StringField(ping, "ping") == "UP") return {};
    }
  }
  return Fail(Error::Unavailable(
      fmt::format("slurmrestd's ping reports no slurmctld UP: {}", RestErrorText(response))));
}

Result<void> RestSlurmController::CheckJob(const BatchJob& job) const {
  MLTF_TRY(RestJobSubmission(job, options_.job_environment));
  return {};
}

Result<std::string> RestSlurmController::Submit(const BatchJob& job,
                                                const std::filesystem::path& /*script_path*/) {
  MLTF_ASSIGN_OR_RETURN(submission, RestJobSubmission(job, options_.job_environment));
  MLTF_ASSIGN_OR_RETURN(
      response, Send("POST", fmt::format("{}/job/submit", kSlurmRestPrefix), submission.dump()));
  const json answer = ParseBody(response.body);
  const std::string id = JobIdOf(answer.is_object() ? answer : json::object());
  if (response.status == kHttpOk && IsSlurmJobId(id)) return id;
  if (response.status == kHttpOk) {
    return Fail(Error::Internal(fmt::format("slurmrestd accepted the job but named no job id: {}",
                                            RestErrorText(response))));
  }
  return Fail(RestFailure(response, "slurmrestd refused the job"));
}

Result<SlurmJobTable> RestSlurmController::Queue(const std::vector<std::string>& job_ids) {
  MLTF_ASSIGN_OR_RETURN(response, Send("GET", fmt::format("{}/jobs", kSlurmRestPrefix)));
  if (response.status != kHttpOk) return Fail(RestFailure(response, "listing the jobs failed"));
  const json answer = ParseBody(response.body);
  if (answer.is_discarded()) {
    return Fail(Error::Unavailable("listing the jobs failed: slurmrestd's answer is not JSON"));
  }
  return ParseRestJobs(answer, job_ids);
}

Result<SlurmJobTable> RestSlurmController::Accounting(const std::vector<std::string>& job_ids) {
  SlurmJobTable table;
  for (const auto& id : job_ids) {
    if (!IsSlurmJobId(id)) continue;
    MLTF_ASSIGN_OR_RETURN(response, Send("GET", fmt::format("{}/job/{}", kSlurmDbRestPrefix, id)));
    // "Nothing found" (9003) comes with 200 and no jobs: not recorded yet.
    if (response.status != kHttpOk && !HasRestError(response, kInvalidJobId)) {
      return Fail(RestFailure(response, fmt::format("reading job {} from slurmdb failed", id)));
    }
    for (auto& [job_id, record] : ParseRestAccounting(ParseBody(response.body)).jobs) {
      if (job_id == id) table.jobs[job_id] = std::move(record);
    }
  }
  return table;
}

Result<void> RestSlurmController::Delete(const std::string& job_id, std::string_view query,
                                         std::string_view doing) {
  if (!IsSlurmJobId(job_id)) {
    return Fail(Error::InvalidParameter(fmt::format("'{}' is not a SLURM job id", job_id)));
  }
  MLTF_ASSIGN_OR_RETURN(
      response, Send("DELETE", fmt::format("{}/job/{}{}", kSlurmRestPrefix, job_id, query)));
  if (response.status == kHttpOk) return {};
  return Fail(RestFailure(response, fmt::format("{} job {} failed", doing, job_id)));
}

Result<void> RestSlurmController::Terminate(const std::string& job_id) {
  return Delete(job_id, "?signal=SIGTERM", "signalling");
}

Result<void> RestSlurmController::Cancel(const std::string& job_id) {
  return Delete(job_id, "", "cancelling");
}

}  // namespace mltf::gateway::executors::slurm
